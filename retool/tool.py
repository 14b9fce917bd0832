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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the sandbox is imported only when a tool first runs code
    from sandbox import ExecResult, Sandbox, SandboxConfig

__all__ = [
    "CodeInterpreterTool",
    "ToolResult",
    "INVALID",
    "SKIPPED",
    "invalid_result",
    "skipped_result",
    "format_observation",
    "truncate_middle",
    "truncate_tokens",
    "encode_text",
]

INVALID = "invalid"  # ToolResult.status of a malformed call (never reached the sandbox)
SKIPPED = "skipped"  # ToolResult.status of a call refused because the call budget was spent
NO_OUTPUT = "[no output]"

DESCRIPTION = (
    "Execute Python 3 code in a sandbox and return what it prints (stdout, then stderr). Each call "
    "runs in a fresh process: variables do not persist between calls, so print every value you need. "
    "numpy, sympy, scipy, mpmath and networkx are available; there is no network or file system access."
)


@dataclass(frozen=True)
class ToolResult:
    """One call's outcome: the text shown to the model and what happened, for metrics and rewards."""

    observation: str
    status: str  # a sandbox Status value, INVALID or SKIPPED
    duration_s: float
    exec_result: "ExecResult | None" = None


class CodeInterpreterTool:
    """Runs model-written code through a `sandbox.Sandbox`.

    Pass a running sandbox to share its warm workers between tools; otherwise the tool uses the
    service at ``$RETOOL_SANDBOX_URL`` when that is set (a `sandbox.client.SandboxClient`, same
    interface), else starts its own sandbox on first use; `close` stops what it started. Each call
    is independent (no session), matching how ReTool and slime run code; one slow program only
    occupies one sandbox worker, never the caller's event loop.
    """

    name = "code_interpreter"

    def __init__(
        self,
        sandbox: "Sandbox | None" = None,
        *,
        config: "SandboxConfig | None" = None,
        timeout_s: float = 10.0,
        memory_mb: int = 1024,
        max_observation_chars: int = 4096,
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
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": DESCRIPTION,
                "parameters": {
                    "type": "object",
                    "properties": {
                        "code": {
                            "type": "string",
                            "description": "The Python source to run. Print the values you want to see.",
                        }
                    },
                    "required": ["code"],
                },
            },
        }

    async def execute(self, code: str) -> ToolResult:
        """Run ``code``; never raises for anything the program or the sandbox does (only cancellation)."""
        started = time.monotonic()
        if not isinstance(code, str) or not code.strip():
            return self.invalid("the 'code' argument is empty")
        try:
            sandbox = await self._get_sandbox()
            result = await sandbox.run(code, timeout_s=self.timeout_s, memory_mb=self.memory_mb)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a sandbox failure is an observation, not a crash
            return ToolResult(
                observation=self._clip(f"[sandbox error: {type(exc).__name__}: {exc}]"),
                status="sandbox_error",
                duration_s=time.monotonic() - started,
            )
        return ToolResult(
            observation=self._clip(format_observation(result)),
            status=str(getattr(result.status, "value", result.status)),
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


def invalid_result(error: str, max_chars: int = 4096) -> ToolResult:
    """A malformed call's answer: never reaches the sandbox, tells the model what to fix."""
    return ToolResult(observation=truncate_middle(f"Error: {error}", max_chars), status=INVALID, duration_s=0.0)


def skipped_result(limit: int) -> ToolResult:
    """A call beyond the trajectory's call budget: not run, and the model is told to answer."""
    return ToolResult(
        observation=f"Error: the limit of {limit} tool calls was reached; this call was not run. "
        "Give the final answer without calling the tool.",
        status=SKIPPED,
        duration_s=0.0,
    )


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


def encode_text(tokenizer: Any, text: str) -> list[int]:
    """Token ids of ``text`` as plain text: a program that prints ``<|im_end|>`` must not end the turn."""
    if not text:
        return []
    try:
        return list(tokenizer.encode(text, add_special_tokens=False, split_special_tokens=True))
    except TypeError:  # tokenizers without split_special_tokens
        return list(tokenizer.encode(text, add_special_tokens=False))


def truncate_tokens(text: str, tokenizer: Any, max_tokens: int) -> str:
    """``text`` cut in the middle so that `encode_text` of the result has at most ``max_tokens`` ids.

    Cuts on token boundaries, then re-checks, because a decoded head and tail can re-tokenise a little
    differently from the original ids.
    """
    if max_tokens <= 0:
        return ""
    ids = encode_text(tokenizer, text)
    if len(ids) <= max_tokens:
        return text
    keep = max_tokens
    for _ in range(8):
        marker = f"\n...[{len(ids) - keep} tokens omitted]...\n"
        keep_now = keep - len(encode_text(tokenizer, marker))
        if keep_now <= 0:
            candidate = tokenizer.decode(ids[:max_tokens])
        else:
            head = keep_now - keep_now // 2
            tail = keep_now // 2
            candidate = tokenizer.decode(ids[:head]) + marker + (tokenizer.decode(ids[-tail:]) if tail else "")
        excess = len(encode_text(tokenizer, candidate)) - max_tokens
        if excess <= 0:
            return candidate
        keep -= max(excess, 1)
        if keep <= 0:
            break
    # Fall back to a plain head cut that is certain to fit.
    head_ids = ids[:max_tokens]
    while head_ids:
        candidate = tokenizer.decode(head_ids)
        if len(encode_text(tokenizer, candidate)) <= max_tokens:
            return candidate
        head_ids = head_ids[:-1]
    return ""
