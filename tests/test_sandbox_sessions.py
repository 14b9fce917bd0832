"""Stateful sessions: state persists, limits apply per cell, a lost interpreter is reported, slots are capped."""

from __future__ import annotations

import asyncio

import pytest
import pytest_asyncio

from sandbox import Sandbox, SandboxConfig, SandboxError, SessionClosed, Status


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sb():
    async with Sandbox(SandboxConfig(workers=2, timeout_s=5, max_sessions=3, session_idle_s=30)) as box:
        yield box


async def test_variables_persist(sb):
    async with sb.session() as s:
        assert (await s.run("x = 41\nimport sympy as sp\ny = sp.Symbol('y')")).status is Status.OK
        r = await s.run("print(x + 1, sp.expand((y + 1)**2))")
        assert r.stdout == "42 y**2 + 2*y + 1\n"
        r = await s.run("def f(n):\n    return n * x\n")
        r = await s.run("print(f(2))")
        assert r.stdout == "82\n"


async def test_a_session_used_without_async_with_starts_at_its_first_run(sb):
    s = sb.session()
    try:
        assert (await s.run("x = 6")).status is Status.OK
        assert (await s.run("print(x * 7)")).stdout == "42\n"
    finally:
        await s.close()
    with pytest.raises(SessionClosed):
        await s.run("print(x)")


async def test_a_cell_larger_than_a_pipe_reaches_a_stopped_interpreter(sb):
    # Between cells the interpreter is stopped; a cell bigger than the command pipe must still arrive.
    async with sb.session() as s:
        r = await s.run("x = 0\n" + "x += 1\n" * 30_000 + "print(x)")
        assert (r.status, r.stdout) == (Status.OK, "30000\n"), r
        assert (await s.run("print(x * 2)")).stdout == "60000\n"


async def test_errors_keep_the_state(sb):
    async with sb.session() as s:
        await s.run("total = 10")
        r = await s.run("total += 1\nraise ValueError('oops')")
        assert r.status is Status.ERROR and "ValueError: oops" in r.stderr
        assert (await s.run("print(total)")).stdout == "11\n"


async def test_traceback_through_an_earlier_cell(sb):
    async with sb.session() as s:
        await s.run("def g(n):\n    return 1 // n\n")
        r = await s.run("g(0)")
        assert 'File "cell_1.py", line 2, in g' in r.stderr and "return 1 // n" in r.stderr


async def test_timeout_ends_the_interpreter_and_says_so(sb):
    async with sb.session() as s:
        await s.run("keep = 1")
        r = await s.run("while True: pass", timeout_s=0.5)
        assert r.status is Status.TIMEOUT and "interpreter ended" in r.error
        r = await s.run("print('keep' in dir())")
        assert r.stdout == "False\n" and "earlier state is gone" in r.error
        r = await s.run("print(2)")
        assert r.stdout == "2\n" and r.error is None


async def test_each_cell_has_its_own_output(sb):
    async with sb.session() as s:
        outs = [(await s.run(f"print({i})")).stdout for i in range(5)]
        assert outs == [f"{i}\n" for i in range(5)]


async def test_cap_on_live_sessions(sb):
    opened = []
    try:
        for _ in range(3):
            s = sb.session()
            await s.start()
            opened.append(s)
        with pytest.raises(SandboxError, match="too many live sessions"):
            await sb.session().start()
    finally:
        for s in opened:
            await s.close()
    async with sb.session() as s:  # slots come back on close
        assert (await s.run("print(1)")).stdout == "1\n"


async def test_a_session_can_wait_for_a_slot(sb):
    opened = [sb.session() for _ in range(3)]
    for s in opened:
        await s.start()
    try:
        with pytest.raises(SandboxError, match="waited"):
            await sb.session(wait_s=0.2).start()
        later = sb.session(wait_s=10)
        opened.append(later)
        waiting = asyncio.create_task(later.start())
        await asyncio.sleep(0.2)
        assert not waiting.done()
        await opened.pop(0).close()  # a slot frees up: the waiting session gets it
        await asyncio.wait_for(waiting, 10)
        assert (await later.run("print(3)")).stdout == "3\n"
    finally:
        for s in opened:
            await s.close()


async def test_closed_session_refuses_runs(sb):
    s = sb.session()
    await s.start()
    await s.close()
    with pytest.raises(SessionClosed):
        await s.run("print(1)")


async def test_idle_timeout_closes_the_session():
    async with Sandbox(SandboxConfig(workers=1, session_idle_s=0.3)) as box:
        s = box.session()
        await s.start()
        await asyncio.sleep(0.8)
        with pytest.raises(SessionClosed, match="idle timeout"):
            await s.run("print(1)")
        assert (await box.run("print(1)")).stdout == "1\n"  # the pool still serves


async def test_sessions_do_not_share_state(sb):
    async with sb.session() as a, sb.session() as b:
        await a.run("secret = 'a'")
        r = await b.run("print('secret' in dir())")
        assert r.stdout == "False\n"


async def test_a_cleanly_closed_session_worker_is_reused_with_nothing_left_behind():
    # the spare is the same zygote (no new jail), but the session's files, processes and variables are gone
    from sandbox import DEFAULT_ALLOWED_MODULES

    config = SandboxConfig(workers=1, timeout_s=5, max_sessions=2,
                           allowed_modules=DEFAULT_ALLOWED_MODULES | {"os"})
    async with Sandbox(config) as box:
        async with box.session() as s:
            first = s._worker
            planted = await s.run("secret = 7\nimport os, time\nopen('left.txt', 'w').write('x')\n"
                                  "pid = os.fork()\nif pid == 0:\n    time.sleep(60)\nprint(pid)")
            assert planted.status is Status.OK, planted
            child = int(planted.stdout)
            assert "secret" in (await s.run("print(dir())")).stdout
        async with box.session() as s:
            assert s._worker is first  # no start-up for the second session
            r = await s.run(f"import os\nprint('secret' in dir(), sorted(os.listdir('.')), os.path.exists('/proc/{child}'))")
            assert r.stdout == "False ['cell_1.py'] False\n", r  # only this cell's own source file


async def test_a_session_that_lost_its_worker_is_not_reused():
    async with Sandbox(SandboxConfig(workers=1, timeout_s=5, max_sessions=2)) as box:
        async with box.session() as s:
            first = s._worker
            first.kill()
            r = await s.run("print(1)")
            assert r.status is Status.SANDBOX_ERROR
        async with box.session() as s:
            assert s._worker is not first and (await s.run("print(2)")).stdout == "2\n"


async def test_closing_the_sandbox_ends_its_sessions_and_gives_back_their_slots():
    box = Sandbox(SandboxConfig(workers=1, timeout_s=5, max_sessions=2))
    await box.start()
    first, second = box.session(), box.session()
    await first.start()
    await second.start()
    assert box.stats().sessions_live == 2
    await first.close()
    await first.close()  # a second close releases nothing twice
    third = box.session()
    await third.start()  # the freed slot, exactly one
    with pytest.raises(SandboxError):
        await box.session().start()
    await box.close()
    assert box.stats().sessions_live == 0
    for s in (second, third):
        with pytest.raises(SessionClosed):
            await s.run("print(1)")
