"""HTTP sessions: ids for the backend's stateful interpreters, idle expiry, and closing them all.

A session lives on the server process that created it (its ``instance`` id is returned so clients
pin it); after a restart its id is unknown and the answer says the session was lost, so a caller
never replays cells against a fresh interpreter without knowing.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field

from ..backend import SandboxBackend, SessionHandle


class UnknownSession(KeyError):
    """No such session here: never created, closed, expired, or lost in a restart."""


class TooManySessions(Exception):
    """The service's session table is full."""


@dataclass
class _Entry:
    handle: SessionHandle
    last_used: float = field(default_factory=time.monotonic)
    busy: int = 0


class SessionTable:
    def __init__(self, backend: SandboxBackend, *, idle_s: float, max_sessions: int) -> None:
        self.backend = backend
        self.idle_s = idle_s
        self.max_sessions = max_sessions
        self.instance = secrets.token_hex(8)
        self._entries: dict[str, _Entry] = {}
        self._sweeper: asyncio.Task | None = None

    def __len__(self) -> int:
        return len(self._entries)

    def start(self) -> None:
        self._sweeper = asyncio.create_task(self._sweep())

    async def create(self, **kwargs) -> str:
        """Start a backend session; raises TooManySessions, or the backend's own errors."""
        if len(self._entries) >= self.max_sessions:
            raise TooManySessions(f"too many live sessions (max {self.max_sessions}); close one first")
        handle = self.backend.session(**kwargs)
        await handle.start()
        session_id = f"{self.instance}-{secrets.token_hex(12)}"
        self._entries[session_id] = _Entry(handle)
        return session_id

    def get(self, session_id: str) -> _Entry:
        entry = self._entries.get(session_id)
        if entry is None:
            raise UnknownSession(session_id)
        entry.last_used = time.monotonic()
        return entry

    async def close(self, session_id: str) -> None:
        entry = self._entries.pop(session_id, None)
        if entry is None:
            raise UnknownSession(session_id)
        await entry.handle.close()

    async def close_all(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        entries, self._entries = list(self._entries.values()), {}
        await asyncio.gather(*(e.handle.close() for e in entries), return_exceptions=True)

    async def _sweep(self) -> None:
        interval = max(0.5, min(self.idle_s / 4, 30.0))
        while True:
            await asyncio.sleep(interval)
            cutoff = time.monotonic() - self.idle_s
            stale = [sid for sid, e in self._entries.items() if e.busy == 0 and e.last_used < cutoff]
            for sid in stale:
                entry = self._entries.pop(sid, None)
                if entry is not None:
                    await entry.handle.close()


__all__ = ["SessionTable", "TooManySessions", "UnknownSession"]
