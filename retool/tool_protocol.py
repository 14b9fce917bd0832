"""What the rollout needs from a tool: the `Tool` protocol and its typed result.

The rollout takes any object with a ``name``, a ``schema`` (the OpenAI function schema a chat template
declares) and ``async execute(code) -> ToolResult``; `retool.tool.CodeInterpreterTool` is ours, a test
or a user may bring another. ``ToolStatus`` says what happened to one call, as an enum rather than a
string so that metrics, rewards and adapters cannot disagree on the spelling.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from sandbox import ExecResult

__all__ = ["Tool", "ToolResult", "ToolStatus", "invalid_result", "skipped_result"]


class ToolStatus(str, enum.Enum):
    """One call's outcome: the sandbox's statuses, plus two the rollout decides without running code."""

    OK = "ok"
    ERROR = "error"  # the program raised or exited non-zero
    TIMEOUT = "timeout"
    MEMORY = "memory"
    REJECTED = "rejected"  # the sandbox's policy refused the program
    OUTPUT_LIMIT = "output_limit"
    SANDBOX_ERROR = "sandbox_error"  # our fault, not the program's: retryable
    INVALID = "invalid"  # a malformed call; never reached the sandbox
    SKIPPED = "skipped"  # over the trajectory's call budget; not run

    def __str__(self) -> str:
        return self.value

    @classmethod
    def of(cls, status: Any) -> "ToolStatus":
        """A sandbox ``Status`` (or its value) as a `ToolStatus`; an unknown value is our error."""
        value = getattr(status, "value", status)
        try:
            return cls(value)
        except ValueError:
            return cls.SANDBOX_ERROR

    @property
    def executed(self) -> bool:
        """Whether the call reached the sandbox (malformed and over-budget calls did not)."""
        return self not in (ToolStatus.INVALID, ToolStatus.SKIPPED)


@dataclass(frozen=True)
class ToolResult:
    """One call's outcome: the text shown to the model and what happened, for metrics and rewards."""

    observation: str
    status: ToolStatus
    duration_s: float
    exec_result: "ExecResult | None" = None


@runtime_checkable
class Tool(Protocol):
    """Anything the rollout can call. ``execute`` should not raise for what the program does; the
    rollout turns an exception into a ``sandbox_error`` observation rather than failing the trajectory."""

    name: str

    @property
    def schema(self) -> dict[str, Any]: ...

    async def execute(self, code: str) -> ToolResult: ...


def invalid_result(error: str, max_chars: int = 4096) -> ToolResult:
    """A malformed call's answer: never reaches the sandbox, tells the model what to fix."""
    from .tool import truncate_middle

    return ToolResult(observation=truncate_middle(f"Error: {error}", max_chars), status=ToolStatus.INVALID,
                      duration_s=0.0)


def skipped_result(limit: int) -> ToolResult:
    """A call beyond the trajectory's call budget: not run, and the model is told to answer."""
    return ToolResult(
        observation=f"Error: the limit of {limit} tool calls was reached; this call was not run. "
        "Give the final answer without calling the tool.",
        status=ToolStatus.SKIPPED,
        duration_s=0.0,
    )
