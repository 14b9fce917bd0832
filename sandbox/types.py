"""The result contract every caller reads: one status, the program's exact output, and why."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass


class Status(str, enum.Enum):
    """What happened to a run; a str enum so it serialises as its value in JSON."""

    OK = "ok"  # ran, exit 0
    ERROR = "error"  # ran, raised or exited non-zero; the traceback is in stderr
    TIMEOUT = "timeout"  # wall-clock or CPU time limit hit
    MEMORY = "memory"  # memory limit hit
    REJECTED = "rejected"  # refused before running (policy, encoding, size); `error` says which rule/line
    OUTPUT_LIMIT = "output_limit"  # output cut at the cap
    SANDBOX_ERROR = "sandbox_error"  # our fault, not the program's

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class ExecResult:
    status: Status
    stdout: str = ""
    stderr: str = ""
    exit_code: int | None = None
    duration_s: float = 0.0
    truncated: bool = False
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is Status.OK

    def to_dict(self) -> dict:
        d = asdict(self)
        d["status"] = self.status.value
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ExecResult":
        fields = {k: d[k] for k in ("stdout", "stderr", "exit_code", "duration_s", "truncated", "error") if k in d}
        return cls(status=Status(d["status"]), **fields)


class SandboxError(Exception):
    """Raised for misuse of the API (bad configuration, closed sandbox); never for a program's failure."""


class SessionClosed(SandboxError):
    """The session was closed (explicitly, by the idle timeout, or with its sandbox)."""


class SessionLimitReached(SandboxError):
    """Every session slot (``max_sessions``) is taken: a capacity condition to retry later, not a bad config."""


@dataclass(frozen=True)
class SandboxStats:
    """A snapshot for metrics: how many warm workers are live, how many were replaced, live sessions."""

    workers_live: int = 0
    worker_restarts: int = 0
    sessions_live: int = 0
