"""The engine protocol: token ids in; token ids, logprobs and a finish reason out.

The rollout loop works on token ids only, so what the trainer gets is exactly what the model
produced (no re-tokenisation). Every engine (vLLM in-process, HTTP to vLLM or SGLang, transformers)
implements `Engine`; tests use a scripted engine that follows the same contract.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

FinishReason = Literal["stop", "length", "abort"]


@dataclass(frozen=True)
class SamplingConfig:
    """Engine-neutral sampling settings for one generation call.

    `stop` strings end generation and are kept at the end of the output (the rollout needs the
    closing `</tool_call>` / `</code>` in the tokens it trains on). Engines map these fields to their
    own parameters (vLLM `SamplingParams(include_stop_str_in_output=True)`, SGLang `no_stop_trim`).
    """

    max_new_tokens: int = 1024
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = -1
    stop: tuple[str, ...] = ()
    stop_token_ids: tuple[int, ...] = ()
    seed: int | None = None
    logprobs: bool = True
    extra: dict[str, Any] = field(default_factory=dict)  # engine-specific passthrough


@dataclass(frozen=True)
class Generation:
    """One engine call's output. `logprobs` has one entry per token in `token_ids`."""

    token_ids: list[int]
    logprobs: list[float]
    finish_reason: FinishReason
    stop_reason: str | int | None = None  # the stop string or token id that ended it, if any

    def __post_init__(self) -> None:
        if len(self.token_ids) != len(self.logprobs):
            raise ValueError(f"engine returned {len(self.token_ids)} tokens but {len(self.logprobs)} logprobs")


class EngineError(RuntimeError):
    """The engine failed (server down, bad response). The rollout marks the trajectory aborted."""


@runtime_checkable
class Engine(Protocol):
    """What the rollout needs from an inference engine.

    `tokenizer` is a Hugging Face tokenizer (or anything with `encode`, `decode`,
    `apply_chat_template` and `eos_token_id`) matching the model.
    """

    tokenizer: Any

    async def generate(self, prompt_token_ids: list[int], sampling: SamplingConfig) -> Generation: ...

    async def close(self) -> None: ...
