"""Bad input never crashes the engine: every case gets a clear status, and the engine keeps serving."""

from __future__ import annotations

import asyncio

import pytest
import pytest_asyncio

from sandbox import Sandbox, SandboxConfig, Status


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sb():
    async with Sandbox(SandboxConfig(workers=2, timeout_s=3, memory_mb=256, max_code_bytes=1 << 20)) as box:
        yield box


async def still_serves(sb):
    r = await sb.run("print(sum(range(10)))")
    assert (r.status, r.stdout) == (Status.OK, "45\n")


async def test_empty_code(sb):
    for code in ("", "   \n\n", "# only a comment\n"):
        r = await sb.run(code)
        assert (r.status, r.stdout, r.stderr, r.exit_code) == (Status.OK, "", "", 0)


async def test_invalid_utf8(sb):
    r = await sb.run(b"print('\xff\xfe')")
    assert r.status is Status.REJECTED and "not valid UTF-8" in r.error and "0xff" in r.error
    await still_serves(sb)


async def test_ten_megabytes_of_code(sb):
    r = await sb.run("x = 1\n" * (10 * 1024 * 1024 // 6))
    assert r.status is Status.REJECTED and "limit" in r.error
    await still_serves(sb)


async def test_nul_bytes(sb):
    r = await sb.run("print(1)\x00")
    assert r.status is Status.ERROR and "null bytes" in r.stderr and r.exit_code == 1


async def test_wrong_type(sb):
    r = await sb.run(12345)
    assert r.status is Status.REJECTED and "str or bytes" in r.error


async def test_closes_stdout(sb):
    r = await sb.run("import sys\nprint('before')\nsys.stdout.flush()\nsys.stdout.close()\nprint('after')")
    assert r.status is Status.ERROR and r.stdout == "before\n" and "closed file" in r.stderr
    await still_serves(sb)


async def test_writes_binary(sb):
    r = await sb.run("import sys\nsys.stdout.buffer.write(bytes(range(256)))")
    assert r.status is Status.OK and len(r.stdout) == 256 and "\ufffd" in r.stdout


async def test_sleeps_forever(sb):
    r = await sb.run("import time\ntime.sleep(10**6)", timeout_s=0.5)
    assert r.status is Status.TIMEOUT
    await still_serves(sb)


async def test_allocates_100_gb(sb):
    r = await sb.run("x = bytearray(100 * 2**30)")
    assert r.status is Status.MEMORY
    r = await sb.run("import numpy as np\nx = np.ones(10**11)")
    assert r.status is Status.MEMORY
    r = await sb.run("xs = []\nwhile True:\n    xs.append(' ' * 10**6)")
    assert r.status is Status.MEMORY
    await still_serves(sb)


async def test_floods_output(sb):
    r = await sb.run("while True:\n    print('spam' * 100)")
    assert r.status is Status.OUTPUT_LIMIT and r.truncated
    r2 = await sb.run("import sys\nwhile True:\n    sys.stderr.write('e' * 1000)")
    assert r2.status is Status.OUTPUT_LIMIT
    await still_serves(sb)


async def test_fills_the_disk(sb):
    r = await sb.run("with open('big', 'wb') as f:\n    while True:\n        f.write(b'0' * 2**20)")
    assert r.status is Status.ERROR and ("No space left" in r.stderr or "File too large" in r.stderr)
    r = await sb.run("print(open('big').read())")
    assert "FileNotFoundError" in r.stderr  # the next run starts with an empty scratch
    await still_serves(sb)


async def test_forks_and_threads(sb):
    code = ("import threading, time\n"
            "ts = [threading.Thread(target=time.sleep, args=(0.05,)) for _ in range(8)]\n"
            "[t.start() for t in ts]; [t.join() for t in ts]\nprint('joined')")
    r = await sb.run(code)
    assert (r.status, r.stdout) == (Status.OK, "joined\n")


async def test_deep_nesting_does_not_crash_the_checker(sb):
    r = await sb.run("x = " + "(" * 5000 + "1" + ")" * 5000)
    assert r.status in (Status.REJECTED, Status.ERROR)
    await still_serves(sb)


async def test_bad_runs_do_not_disturb_concurrent_good_ones(sb):
    bad = ["while True: pass", "x = bytearray(100 * 2**30)", "while True: print('x' * 1000)", "1/0"]
    good = [f"print({i} * {i})" for i in range(40)]
    results = await asyncio.gather(*(sb.run(c, timeout_s=1) for c in bad + good))
    for i, r in enumerate(results[len(bad):]):
        assert (r.status, r.stdout) == (Status.OK, f"{i * i}\n")
