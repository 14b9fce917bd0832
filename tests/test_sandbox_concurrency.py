"""Hundreds of concurrent runs: results never mixed up, backpressure holds, cancellation is clean."""

from __future__ import annotations

import asyncio

import pytest_asyncio

from sandbox import Sandbox, SandboxConfig, Status


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sb():
    async with Sandbox(SandboxConfig(workers=4, timeout_s=10, max_pending=64)) as box:
        yield box


async def test_hundreds_of_concurrent_runs_are_matched(sb):
    n = 400
    codes = [f"import sys\nprint({i})\nprint('e{i}', file=sys.stderr)\n" + ("1/0" if i % 7 == 0 else "")
             for i in range(n)]
    results = await asyncio.gather(*(sb.run(c, stdin=str(i)) for i, c in enumerate(codes)))
    for i, r in enumerate(results):
        assert r.stdout == f"{i}\n"
        assert r.stderr.startswith(f"e{i}\n")
        assert r.status is (Status.ERROR if i % 7 == 0 else Status.OK)


async def test_stdin_is_per_run(sb):
    results = await asyncio.gather(*(sb.run("print(input()[::-1])", stdin=f"abc{i}\n") for i in range(50)))
    assert [r.stdout for r in results] == [f"{i}"[::-1] + "cba\n" for i in range(50)]


async def test_backpressure_bounds_the_queue(sb):
    # 64 may queue for a worker; the rest wait in run() itself. All finish, none is lost.
    results = await asyncio.gather(*(sb.run(f"print({i})") for i in range(300)))
    assert [r.stdout for r in results] == [f"{i}\n" for i in range(300)]


async def test_cancelled_runs_leave_the_pool_healthy(sb):
    tasks = [asyncio.create_task(sb.run("import time\ntime.sleep(5)")) for _ in range(6)]
    await asyncio.sleep(0.3)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    results = await asyncio.gather(*(sb.run(f"print({i})") for i in range(20)))
    assert [r.stdout for r in results] == [f"{i}\n" for i in range(20)]


async def test_slow_runs_do_not_block_fast_ones(sb):
    slow = [asyncio.create_task(sb.run("import time\ntime.sleep(1.5)")) for _ in range(2)]
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    fast = await asyncio.gather(*(sb.run("print(1)") for _ in range(20)))
    assert loop.time() - t0 < 1.4 and all(r.stdout == "1\n" for r in fast)
    await asyncio.gather(*slow)
