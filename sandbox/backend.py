"""The one interface every execution backend offers: the in-process `Sandbox`, the Ray cluster
(`sandbox.cluster`) and the HTTP `SandboxClient`.

The service (`sandbox.service`) and the consumers (`retool.CodeInterpreterTool`) are written against
these Protocols, not against `Sandbox`, so any backend can sit behind ``python -m sandbox serve`` or
in front of a trainer by changing one object. The signatures are exactly `Sandbox.run` and
`Sandbox.session`; a backend that also reports counts for metrics implements `StatsSource`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from .types import ExecResult, SandboxStats


@runtime_checkable
class SessionHandle(Protocol):
    """A stateful interpreter: variables persist across `run` calls until `close`.

    Implementations set ``interpreter_lost`` (the latest run ended the interpreter) and
    ``state_reset`` (the latest run started in a fresh interpreter after a loss) after each run.
    """

    interpreter_lost: bool
    state_reset: bool

    async def start(self) -> None: ...

    async def run(self, code: str | bytes, timeout_s: float | None = None, *,
                  display: bool | None = None) -> ExecResult: ...

    async def close(self) -> None: ...

    async def __aenter__(self) -> "SessionHandle": ...

    async def __aexit__(self, *exc) -> None: ...


@runtime_checkable
class SandboxBackend(Protocol):
    """Runs programs; never raises for anything a program does (only for misuse or capacity)."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def run(
        self,
        code: str | bytes,
        timeout_s: float | None = None,
        memory_mb: int | None = None,
        stdin: str | bytes | None = None,
        files: Mapping[str, str | bytes] | None = None,
        *,
        output_bytes: int | None = None,
    ) -> ExecResult: ...

    def session(self, *, memory_mb: int | None = None, timeout_s: float | None = None,
                display: bool = False, wait_s: float | None = None,
                files: Mapping[str, str | bytes] | None = None) -> SessionHandle: ...


@runtime_checkable
class StatsSource(Protocol):
    """A backend that can say how many workers and sessions it holds (for /metrics)."""

    def stats(self) -> SandboxStats: ...


__all__ = ["SandboxBackend", "SessionHandle", "StatsSource"]
