"""A sandbox for model-written Python: isolated, limited, warm.

    from sandbox import Sandbox, SandboxConfig, ExecResult, Status

    async with Sandbox(SandboxConfig(timeout_s=10, memory_mb=1024)) as sb:
        r = await sb.run("print(1 + 1)")

This package imports nothing else of the project's; `retool` and `sft` use only what is exported here.
"""

from .config import DEFAULT_ALLOWED_MODULES, DEFAULT_PRELOAD, SandboxConfig
from .engine import Sandbox, Session
from .types import ExecResult, SandboxError, SandboxStats, SessionClosed, SessionLimitReached, Status

__all__ = [
    "DEFAULT_ALLOWED_MODULES",
    "DEFAULT_PRELOAD",
    "ExecResult",
    "Sandbox",
    "SandboxConfig",
    "SandboxError",
    "SandboxStats",
    "Session",
    "SessionClosed",
    "SessionLimitReached",
    "Status",
]
