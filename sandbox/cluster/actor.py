"""The Ray actor on each node: one `Sandbox` sized to the node, and the sessions opened on it.

A plain class: `cluster.py` wraps it with `ray.remote` when it deploys, so importing this module
needs no Ray. Every reply to a run carries how many runs the actor has in flight (from all
routers), which the routers use as that node's load.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from ..config import SandboxConfig
from ..engine import Sandbox, Session
from ..types import ExecResult, SessionClosed


class SandboxActor:
    def __init__(self, config: SandboxConfig) -> None:
        # The driver's interpreter path means nothing on another node: use this node's own
        # interpreter (the one running the actor) unless the configured one exists here.
        if not os.path.exists(config.python):
            config = config.with_(python=sys.executable)
        self.config = config
        self.sandbox = Sandbox(config)
        self.sessions: dict[str, Session] = {}
        self.inflight = 0

    async def start(self) -> dict:
        """Start the sandbox; what it runs with (isolation, workers, node, pid) for the driver."""
        await self.sandbox.start()
        return self.info()

    def info(self) -> dict:
        import ray

        return {
            "node_id": ray.get_runtime_context().get_node_id(),
            "pid": os.getpid(),
            "workers": self.sandbox.config.worker_count,
            "isolation": self.sandbox.isolation,
            "sessions": len(self.sessions),
            "inflight": self.inflight,
        }

    async def ping(self) -> int:
        return self.inflight

    async def describe(self) -> dict:
        return {**self.sandbox.describe(), **self.info()}

    async def run(self, code: str | bytes, timeout_s: float | None, memory_mb: int | None,
                  stdin: str | bytes | None, files: Mapping[str, str | bytes] | None,
                  output_bytes: int | None) -> tuple[ExecResult, int]:
        self.inflight += 1
        try:
            result = await self.sandbox.run(code, timeout_s=timeout_s, memory_mb=memory_mb, stdin=stdin,
                                            files=files, output_bytes=output_bytes)
        finally:
            self.inflight -= 1
        return result, self.inflight

    async def session_open(self, session_id: str, memory_mb: int | None, timeout_s: float | None,
                           display: bool, wait_s: float | None,
                           files: Mapping[str, str | bytes] | None = None) -> None:
        extra = {"files": files} if files else {}  # session files: only engines that take them get any
        session = self.sandbox.session(memory_mb=memory_mb, timeout_s=timeout_s, display=display, wait_s=wait_s,
                                       **extra)
        await session.start()
        self.sessions[session_id] = session

    async def session_run(self, session_id: str, code: str | bytes, timeout_s: float | None,
                          display: bool | None) -> tuple[ExecResult, bool, bool]:
        """The result, and the session's interpreter_lost / state_reset flags after it (False where the
        engine's Session does not carry them)."""
        session = self.sessions.get(session_id)
        if session is None:
            raise SessionClosed(f"session {session_id} is not open on this node (closed or expired)")
        self.inflight += 1
        try:
            result = await session.run(code, timeout_s=timeout_s, display=display)
            return (result, bool(getattr(session, "interpreter_lost", False)),
                    bool(getattr(session, "state_reset", False)))
        except SessionClosed:
            self.sessions.pop(session_id, None)
            raise
        finally:
            self.inflight -= 1

    async def session_close(self, session_id: str) -> None:
        session = self.sessions.pop(session_id, None)
        if session is not None:
            await session.close()

    async def close(self) -> None:
        self.sessions.clear()
        await self.sandbox.close()
