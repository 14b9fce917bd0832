"""The ``code_interpreter`` tool: the OpenAI function schema, execution in the sandbox, and the text
the model reads back.

The observation is what the policy learns from, so it must always say something: the program's
stdout, then its traceback, then a short bracketed note when the run did not finish normally
(timeout, memory, refusal), or ``[no output]`` when a program printed nothing (an empty observation
reads as "the tool is broken" and models learn to stop calling it). Long output is cut in the middle,
keeping the head (where a program's progress starts) and the tail (where the result and the error are).
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from .formats import TOOL_NAME, tool_schema
from .settings import ToolConfig
from .tool_protocol import ToolResult, ToolStatus, invalid_result, skipped_result

if TYPE_CHECKING:  # the sandbox is imported only when a tool first runs code
    from sandbox import ExecResult, Sandbox, SandboxConfig

__all__ = [
    "CodeInterpreterTool",
    "ToolResult",
    "ToolStatus",
    "invalid_result",
    "skipped_result",
    "format_observation",
    "truncate_middle",
]

NO_OUTPUT = "[no output]"
_DEFAULTS = ToolConfig()  # the limits' one home is retool.settings.ToolConfig


class CodeInterpreterTool:
    """Runs model-written code through a `sandbox.Sandbox`.

    Pass a running sandbox to share its warm workers between tools; otherwise the tool uses the
    service at ``$RETOOL_SANDBOX_URL`` when that is set (a `sandbox.client.SandboxClient`, same
    interface), else starts its own sandbox on first use; `close` stops what it started. Each call
    is independent (no session), matching how ReTool and slime run code; one slow program only
    occupies one sandbox worker, never the caller's event loop.
    """

    name = TOOL_NAME

    def __init__(
        self,
        sandbox: "Sandbox | None" = None,
        *,
        config: "SandboxConfig | None" = None,
        timeout_s: float = _DEFAULTS.timeout_s,
        memory_mb: int = _DEFAULTS.memory_mb,
        max_observation_chars: int = _DEFAULTS.max_observation_chars,
    ) -> None:
        if max_observation_chars < 1:
            raise ValueError("max_observation_chars must be at least 1")
        self.timeout_s = float(timeout_s)
        self.memory_mb = int(memory_mb)
        self.max_observation_chars = int(max_observation_chars)
        self._sandbox = sandbox
        self._owns_sandbox = sandbox is None
        self._config = config
        self._start_lock = asyncio.Lock()

    @property
    def schema(self) -> dict[str, Any]:
        """OpenAI function-tool schema (also what chat templates render into the system prompt)."""
        return tool_schema(self.name)

    async def execute(self, code: str, *, timeout_s: float | None = None) -> ToolResult:
        """Run ``code``; never raises for anything the program or the sandbox does (only cancellation).
        ``timeout_s`` (a caller's or a model's request) can only shorten the configured limit."""
        started = time.monotonic()
        if not isinstance(code, str) or not code.strip():
            return self.invalid("the 'code' argument is empty")
        limit = self.timeout_s if timeout_s is None or timeout_s <= 0 else min(float(timeout_s), self.timeout_s)
        try:
            sandbox = await self._get_sandbox()
            result = await sandbox.run(code, timeout_s=limit, memory_mb=self.memory_mb)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a sandbox failure is an observation, not a crash
            return ToolResult(
                observation=self._clip(f"[sandbox error: {type(exc).__name__}: {exc}]"),
                status=ToolStatus.SANDBOX_ERROR,
                duration_s=time.monotonic() - started,
            )
        return ToolResult(
            observation=self._clip(format_observation(result)),
            status=ToolStatus.of(result.status),
            duration_s=time.monotonic() - started,
            exec_result=result,
        )

    def invalid(self, error: str) -> ToolResult:
        """The answer to a malformed call, worded so the model can fix the call next turn."""
        return invalid_result(error, self.max_observation_chars)

    async def close(self) -> None:
        """Stop the sandbox if this tool started it; a sandbox passed in belongs to the caller."""
        if self._owns_sandbox and self._sandbox is not None:
            sandbox, self._sandbox = self._sandbox, None
            await sandbox.close()

    async def _get_sandbox(self) -> "Sandbox":
        if self._sandbox is not None:
            return self._sandbox
        async with self._start_lock:  # concurrent first calls must not start several sandboxes
            if self._sandbox is None:
                from sandbox.client import client_from_env  # RETOOL_SANDBOX_URL: a remote service

                remote = client_from_env(default_timeout_s=self.timeout_s)
                if remote is not None:
                    await remote.start()
                    self._sandbox = remote
            if self._sandbox is None:
                from sandbox import Sandbox, SandboxConfig

                config = self._config or SandboxConfig(timeout_s=self.timeout_s, memory_mb=self.memory_mb)
                sandbox = Sandbox(config)
                await sandbox.start()
                self._sandbox = sandbox
        return self._sandbox

    def _clip(self, text: str) -> str:
        return truncate_middle(text, self.max_observation_chars)


def format_observation(result: "ExecResult") -> str:
    """stdout, then stderr, then a note for a run that did not end normally; never empty."""
    status = str(getattr(result.status, "value", result.status))
    parts = [p.rstrip("\n") for p in (result.stdout or "", result.stderr or "") if p and p.strip()]
    note = _status_note(status, result, "\n".join(parts))
    if note:
        parts.append(note)
    return "\n".join(parts) if parts else NO_OUTPUT


def _status_note(status: str, result: "ExecResult", text: str) -> str | None:
    error = (result.error or "").strip()
    if status == "ok":
        return None
    if status == "error":
        if result.stderr and result.stderr.strip():
            return None
        return f"[error: exit code {result.exit_code}]" if result.exit_code is not None else "[error]"
    if status == "timeout":
        return f"[timeout: {error}]" if error else "[timeout: time limit exceeded]"
    if status == "memory":
        return f"[memory limit exceeded: {error}]" if error else "[memory limit exceeded]"
    if status == "rejected":
        if not error:
            return "[refused]"
        return f"[{error}]" if error.lower().startswith("refused") else f"[refused: {error}]"
    if status == "output_limit":
        return None if "[output truncated" in text else "[output truncated]"
    return f"[{status}: {error}]" if error else f"[{status}]"


def truncate_middle(text: str, max_chars: int) -> str:
    """At most ``max_chars`` characters: head and tail halves around an "omitted" marker."""
    if len(text) <= max_chars:
        return text
    # The digit count of the real number omitted is at most that of len(text): size the marker for that.
    keep = max_chars - len(f"\n...[{len(text)} characters omitted]...\n")
    if keep <= 0:
        return text[:max_chars]
    marker = f"\n...[{len(text) - keep} characters omitted]...\n"
    head = keep - keep // 2
    tail = keep // 2
    return text[:head] + marker + (text[-tail:] if tail else "")
