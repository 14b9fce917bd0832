"""The fallback backend: same contract, weaker isolation, and it says so."""

from __future__ import annotations

import asyncio

import psutil
import pytest_asyncio

from sandbox import Sandbox, SandboxConfig, Status


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sb():
    async with Sandbox(SandboxConfig(isolation="process", workers=2, timeout_s=3, memory_mb=256)) as box:
        yield box


async def test_reports_weaker_isolation(sb):
    info = sb.describe()
    assert info["isolation"] == "process" and any("WEAKER ISOLATION" in w for w in info["warnings"])


async def test_statuses(sb):
    cases = {"print(1)": Status.OK, "1/0": Status.ERROR, "while True: pass": Status.TIMEOUT,
             "x = bytearray(2**33)": Status.MEMORY, "while True: print('x' * 999)": Status.OUTPUT_LIMIT,
             "().__class__.__mro__": Status.REJECTED}
    results = await asyncio.gather(*(sb.run(c, timeout_s=1) for c in cases))
    assert [r.status for r in results] == list(cases.values())


async def test_environment_is_scrubbed(sb, monkeypatch):
    r = await sb.run("import sys\nprint(sorted(__import__('json').dumps(1)))")
    assert r.status is Status.REJECTED  # __import__ is refused by the policy
    r = await sb.run("import sys\nprint(sys.flags.isolated)")
    assert r.stdout == "1\n"


async def test_nothing_a_run_started_survives(sb):
    cfg = SandboxConfig(isolation="process", workers=1, policy=False,
                        allowed_modules=frozenset({"os", "time", "signal"}))
    async with Sandbox(cfg) as box:
        code = ("import os, time\nfor _ in range(3):\n    if os.fork() == 0:\n        os.setsid()\n"
                "        if os.fork() == 0:\n            time.sleep(60)\n        os._exit(0)\nprint('spawned')")
        r = await box.run(code)
        assert r.stdout == "spawned\n"
        worker = next(iter(box._pool._workers))
        kids = psutil.Process(worker.proc.pid).children(recursive=True)
        assert kids == []
        assert (await box.run("print(2)")).stdout == "2\n"
