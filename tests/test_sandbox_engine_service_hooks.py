"""The small engine additions the service builds on: a typed full-session-table error, `Sandbox.stats()`,
typed session-loss flags, and files written into a session's scratch directory."""

from __future__ import annotations

import pytest
import pytest_asyncio

from sandbox import Sandbox, SandboxConfig, SandboxError, SandboxStats, SessionLimitReached, Status
from sandbox.backend import SandboxBackend, SessionHandle, StatsSource


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sb():
    async with Sandbox(SandboxConfig(workers=1, timeout_s=5, max_sessions=1)) as box:
        yield box


async def test_sandbox_implements_the_backend_protocol(sb):
    assert isinstance(sb, SandboxBackend) and isinstance(sb, StatsSource)
    assert isinstance(sb.session(), SessionHandle)


async def test_full_session_table_is_typed(sb):
    async with sb.session():
        with pytest.raises(SessionLimitReached, match="max_sessions=1"):
            await sb.session().start()
    assert issubclass(SessionLimitReached, SandboxError)


async def test_stats(sb):
    stats = sb.stats()
    assert isinstance(stats, SandboxStats) and stats.workers_live >= 1 and stats.sessions_live == 0
    async with sb.session():
        assert sb.stats().sessions_live == 1 and sb.stats().workers_live >= 1


async def test_session_flags_and_files(sb):
    async with sb.session(timeout_s=1, files={"a/b.txt": b"7"}) as s:
        r = await s.run("v = int(open('a/b.txt').read()); print(v)")
        assert r.stdout == "7\n" and not s.interpreter_lost and not s.state_reset
        r = await s.run("while True: pass")
        assert r.status is Status.TIMEOUT and s.interpreter_lost
        r = await s.run("print('v' in globals(), open('a/b.txt').read())")  # files come back with the new one
        assert r.stdout == "False 7\n" and s.state_reset and not s.interpreter_lost
    with pytest.raises(SandboxError, match="relative path"):
        sb.session(files={"/etc/x": b""})
