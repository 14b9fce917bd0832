"""The service's own settings: where it listens, who may call it, and how much work it admits.

Per-run limits (timeout, memory) are capped here too, because a request may name any value and the
backend behind the service may be a cluster with its own defaults.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ..types import SandboxError

LOOPBACK_NAMES = frozenset({"localhost", "ip6-localhost"})


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServiceConfig:
    """Admission, limits and safety settings of one `python -m sandbox serve` process."""

    host: str = "127.0.0.1"
    port: int = 8080
    token: str | None = None  # bearer token; required when host is not a loopback address
    max_inflight: int = 64  # runs handed to the backend at once (the engine keeps its workers busy)
    max_queued: int = 2048  # runs waiting for an in-flight slot; beyond this: 429 + Retry-After
    max_queue_wait_s: float = 60.0  # a run that waited this long is answered 503 (retryable), not run
    max_body_bytes: int = 32 * 1024 * 1024
    max_batch: int = 4096  # programs in one /v1/batch request
    max_timeout_s: float = 300.0  # cap on a request's run timeout
    max_memory_mb: int = 8192  # cap on a request's memory limit
    default_timeout_s: float = 10.0
    session_idle_s: float = 300.0  # an HTTP session unused this long is closed
    max_sessions: int = 64  # also bounded by the backend's own session table
    drain_s: float = 30.0  # on SIGTERM: time in-flight requests get to finish
    access_log: bool = True  # one JSON line per request on stderr

    def __post_init__(self) -> None:
        positive = {
            "max_inflight": self.max_inflight, "max_body_bytes": self.max_body_bytes,
            "max_batch": self.max_batch, "max_timeout_s": self.max_timeout_s,
            "max_memory_mb": self.max_memory_mb, "default_timeout_s": self.default_timeout_s,
            "session_idle_s": self.session_idle_s, "max_sessions": self.max_sessions,
            "max_queue_wait_s": self.max_queue_wait_s,
        }
        bad = [k for k, v in positive.items() if not v > 0]
        if bad or self.max_queued < 0 or self.drain_s < 0:
            raise SandboxError(f"invalid ServiceConfig value(s): {', '.join(bad) or 'max_queued/drain_s'}")
        if not is_loopback(self.host) and not self.token:
            raise SandboxError(f"binding {self.host!r} (not a loopback address) requires a token: pass --token "
                               "or set RETOOL_SANDBOX_TOKEN, so that only your trainers can run code here")

    def cap_timeout(self, value: float | None) -> float:
        """A request's timeout, defaulted and capped (never an error: the cap is the server's policy)."""
        if value is None or value <= 0:
            return min(self.default_timeout_s, self.max_timeout_s)
        return min(float(value), self.max_timeout_s)

    def cap_memory(self, value: int | None) -> int | None:
        """A request's memory limit, capped; None (or SandboxFusion's -1) means the backend's default."""
        if value is None or value <= 0:
            return None
        return max(16, min(int(value), self.max_memory_mb))


__all__ = ["ServiceConfig", "is_loopback"]
