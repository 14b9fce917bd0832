"""A deterministic `Engine` that replays scripted turns, for testing the rollout loop without a model.

Each ``generate`` call consumes the next script item: a string is "what the model writes next", cut
the way a real engine would (after the first stop string, which is kept; after the first stop token
or eos; at ``max_new_tokens``), a `Generation` is returned as is, an exception is raised. Logprobs are
fake but distinct per position (``-0.01 * (i + 1)``) so tests can tell model tokens from observation
tokens. Every call is recorded in ``calls`` for assertions on what the rollout sent.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Sequence

from ..engines.base import EngineError, Generation, SamplingConfig

__all__ = ["ScriptedEngine", "ScriptedCall"]


@dataclass(frozen=True)
class ScriptedCall:
    """One recorded ``generate`` call."""

    prompt_token_ids: list[int]
    sampling: SamplingConfig
    generation: Generation | None  # None when the scripted item was an exception


class ScriptedEngine:
    """Replays ``script`` in order. ``delay_s`` sleeps (asynchronously) before each answer."""

    def __init__(self, tokenizer: Any, script: Sequence[str | Generation | BaseException], *, delay_s: float = 0.0) -> None:
        self.tokenizer = tokenizer
        self.script = list(script)
        self.delay_s = delay_s
        self.calls: list[ScriptedCall] = []
        self.closed = False

    @property
    def prompts(self) -> list[list[int]]:
        return [c.prompt_token_ids for c in self.calls]

    async def generate(self, prompt_token_ids: list[int], sampling: SamplingConfig) -> Generation:
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if not self.script:
            raise EngineError("the script is exhausted")
        item = self.script.pop(0)
        if isinstance(item, BaseException):
            self.calls.append(ScriptedCall(list(prompt_token_ids), sampling, None))
            raise item
        gen = item if isinstance(item, Generation) else self._cut(item, sampling)
        self.calls.append(ScriptedCall(list(prompt_token_ids), sampling, gen))
        return gen

    async def close(self) -> None:
        self.closed = True

    def _cut(self, text: str, sampling: SamplingConfig) -> Generation:
        finish, stop_reason = "stop", None
        hits = [(text.find(s), s) for s in sampling.stop if s and s in text]
        if hits:
            at, stop = min(hits, key=lambda h: (h[0], -len(h[1])))
            text, stop_reason = text[: at + len(stop)], stop
        ids = list(self.tokenizer.encode(text, add_special_tokens=False))
        enders = set(sampling.stop_token_ids)
        eos = getattr(self.tokenizer, "eos_token_id", None)
        if isinstance(eos, int):
            enders.add(eos)
        for i, t in enumerate(ids):
            if t in enders:
                ids = ids[: i + 1]
                stop_reason = None if t == eos else t
                break
        if len(ids) > sampling.max_new_tokens:
            ids, finish, stop_reason = ids[: sampling.max_new_tokens], "length", None
        return Generation(ids, [round(-0.01 * (i + 1), 6) for i in range(len(ids))], finish, stop_reason)
