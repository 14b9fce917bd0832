"""A host that dies mid-run (a Ray actor killed, a trainer OOM-killed, `kill -9`) takes its runs with it.

The real fault: a host process with a warm sandbox starts a program that would sleep for a minute,
then is SIGKILLed. Its workers (nsjail and the zygote, or the zygote alone in the process backend) must
notice the closed protocol pipe and end the run and themselves within seconds, not at the program's
own time limit.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[1]

HOST = r"""
import asyncio, json, os, sys
from sandbox import Sandbox, SandboxConfig

SLEEPER = "import time\nprint('started', flush=True)\ntime.sleep(60)"

async def main():
    async with Sandbox(SandboxConfig(workers=1, isolation=sys.argv[1])) as sb:
        assert (await sb.run("print(1)")).stdout == "1\n"
        if sys.argv[2] == "session":
            session = sb.session(timeout_s=90)
            assert (await session.run("x = 1")).ok
            task = asyncio.ensure_future(session.run(SLEEPER))
        else:
            task = asyncio.ensure_future(sb.run(SLEEPER, timeout_s=90))
        await asyncio.sleep(0.5)
        print(json.dumps({"ready": True}), flush=True)
        await task

asyncio.run(main())
"""


def _isolations():
    from sandbox import Sandbox, SandboxConfig  # noqa: F401
    from sandbox.isolation.nsjail_backend import nsjail_binary

    out = ["process"]
    if nsjail_binary() is not None and os.geteuid() == 0:
        out.append("nsjail")
    return out


@pytest.mark.parametrize("isolation, kind", [("process", "run"), ("nsjail", "run"), ("nsjail", "session")])
def test_runs_end_when_their_host_is_killed(isolation, kind):
    if isolation not in _isolations():
        pytest.skip("nsjail needs its binary and root here")
    host = subprocess.Popen([sys.executable, "-c", HOST, isolation, kind], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = host.stdout.readline()
        assert json.loads(line)["ready"], host.stderr.read()
        tree = psutil.Process(host.pid).children(recursive=True)
        assert tree, "the host started no worker"
        os.kill(host.pid, signal.SIGKILL)
        host.wait(10)
        killed_at = time.monotonic()
        alive = tree
        while time.monotonic() - killed_at < 15:
            alive = [p for p in tree if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
            if not alive:
                break
            time.sleep(0.1)
        assert not alive, [(p.pid, p.name()) for p in alive]
        assert time.monotonic() - killed_at < 15  # the program itself would have slept 60 s
    finally:
        if host.poll() is None:
            host.kill()
            host.wait()
