"""A trajectory stepped by text: parse the model's turn, run its calls in the sandbox, answer with the
observation; score the whole response with our reward when it ends.

Frameworks whose own loop generates (OpenRLHF's ``MultiTurnAgentExecutor``, SkyRL's ``BaseTextEnv``)
hand us the model's text turn by turn instead of letting `retool.rollout` drive. `TextEnv` is that
same trajectory logic for them, with the same formats (`retool.formats`), the same limits
(`RolloutConfig`: ``max_turns``, ``max_tool_calls``, ``max_observation_tokens``) and the same reward:

- a turn without a call ends the trajectory (``completed``), and so does a turn at ``max_turns``;
- malformed calls are answered with what to fix, calls past ``max_tool_calls`` with "give the answer";
- ``feedback`` is the text to append before the model's next turn: the chat template's end-of-turn,
  tool messages and generation prompt (``chat``; needs the tokenizer), or ReTool's ``<interpreter>``
  tags (``interpreter``). Adapters whose framework renders messages itself use ``observations``.

`astep` is for event loops (the calls of a turn run concurrently, the reward off the loop); `step` is
for synchronous callers. Both run code through a `ToolHost`, whose loop owns the sandbox.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .agent_loop import EndReason
from .formats import (
    ObservationFormat,
    TOOL_NAME,
    ParsedCall,
    Piece,
    closing_token,
    needs_continuation,
    observation_pieces,
    parse_calls,
    truncate_observation,
)
from .settings import IntegrationSettings
from .tool_host import ToolHost
from .tool_protocol import ToolResult, ToolStatus, invalid_result, skipped_result

__all__ = ["TextEnv", "StepOutcome"]

_CONTINUE = object()


@dataclass(frozen=True)
class StepOutcome:
    """What one model turn led to. ``reward``/``acc``/``pred`` are set when ``done``."""

    feedback: str  # text to append before the next turn ("" when done)
    observations: list[str]  # the output text of each call, as shown
    statuses: list[ToolStatus]
    done: bool
    end_reason: EndReason | None = None
    reward: float | None = None
    acc: bool | None = None
    pred: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    pieces: list[Piece] = field(default_factory=list)  # the feedback as glue/output pieces (for observation_ids)


class TextEnv:
    """One trajectory's state. ``tokenizer`` is needed for the chat format's feedback text and for the
    per-call token budget; ``messages`` (the prompt as chat messages, if known) is context for the chat
    template."""

    def __init__(self, label: Any, *, settings: IntegrationSettings, host: ToolHost, tokenizer: Any = None,
                 messages: Sequence[Mapping[str, Any]] = (), tool_name: str = TOOL_NAME) -> None:
        self.label = label
        self.settings = settings
        self.cfg = settings.rollout
        self.host = host
        self.tokenizer = tokenizer
        self.messages = list(messages)
        self.tool_name = tool_name
        self.turns = 0
        self.executed_calls = 0
        self.statuses: list[ToolStatus] = []
        self.response = ""  # every action and feedback so far: what the reward reads
        self.done = False
        self._reason: EndReason | None = None
        self._partial = ""  # a turn cut by a stop string inside a call

    @property
    def num_tool_calls(self) -> int:
        return sum(1 for s in self.statuses if s.executed)

    async def astep(self, action: str) -> StepOutcome:
        calls = self._begin(action)
        if calls is _CONTINUE:
            return self._continue()
        if calls is None:
            return await self._aend()
        results = await asyncio.gather(*(self._arun(c) for c in calls))
        return await asyncio.to_thread(self._feedback, list(results))

    def step(self, action: str) -> StepOutcome:
        calls = self._begin(action)
        if calls is _CONTINUE:
            return self._continue()
        if calls is None:
            return self._end_sync()
        return self._feedback([self._run(c) for c in calls])

    # ------------------------------------------------------------------
    def _begin(self, action: str) -> Any:
        """The calls to answer (None marks a call over the budget); None when the trajectory ends;
        `_CONTINUE` when a stop string fired inside a call and the same turn must go on."""
        if self.done:
            raise RuntimeError("step() after the trajectory ended; start a new environment")
        self.response += action
        text = self._partial + action
        if needs_continuation(text, self.cfg.call_format):
            self._partial = text
            return _CONTINUE
        self._partial = ""
        self.turns += 1
        calls = parse_calls(text, self.cfg.call_format, tool_name=self.tool_name)
        if not calls:
            self._reason = EndReason.COMPLETED
            return None
        if self.turns >= self.cfg.max_turns:
            self._reason = EndReason.MAX_TURNS
            return None
        plan: list[ParsedCall | None] = []
        for call in calls:
            if call.code is not None and self.executed_calls >= self.cfg.max_tool_calls:
                plan.append(None)
                continue
            self.executed_calls += call.code is not None
            plan.append(call)
        return plan

    def _continue(self) -> StepOutcome:
        return StepOutcome("", [], [], done=False, extra={"tool_calls": self.num_tool_calls})

    async def _arun(self, call: ParsedCall | None) -> ToolResult:
        if call is None:
            return skipped_result(self.cfg.max_tool_calls)
        if call.code is None:
            return invalid_result(call.error or "malformed call")
        return await self.host.arun(call.code)

    def _run(self, call: ParsedCall | None) -> ToolResult:
        if call is None:
            return skipped_result(self.cfg.max_tool_calls)
        if call.code is None:
            return invalid_result(call.error or "malformed call")
        return self.host.run(call.code)

    def _feedback(self, results: list[ToolResult]) -> StepOutcome:
        outputs = [r.observation for r in results]
        if self.tokenizer is not None:
            outputs = [truncate_observation(o, self.tokenizer, self.cfg.max_observation_tokens) for o in outputs]
        self.statuses += [r.status for r in results]
        pieces: list[Piece] = []
        if self.tokenizer is not None or self.cfg.observation_format is ObservationFormat.INTERPRETER:
            pieces = observation_pieces(
                self.cfg.observation_format, self.tokenizer, outputs, self.messages, turn=self.turns,
                closed_by=closing_token(self.tokenizer, self.response), tool_name=self.tool_name,
            )
        feedback = "".join(p.text for p in pieces)
        self.response += feedback
        return StepOutcome(feedback, outputs, [r.status for r in results], done=False,
                           extra={"tool_calls": self.num_tool_calls}, pieces=pieces)

    async def _aend(self) -> StepOutcome:
        from .reward import ascore

        result = await ascore(self.response, self.label, tool_calls=self.num_tool_calls,
                              **self.settings.reward.options())
        return self._finish(result)

    def _end_sync(self) -> StepOutcome:
        from .reward import score

        return self._finish(score(self.response, self.label, tool_calls=self.num_tool_calls,
                                  **self.settings.reward.options()))

    def _finish(self, result: Any) -> StepOutcome:
        self.done = True
        return StepOutcome("", [], [], done=True, end_reason=self._reason, reward=float(result.score),
                           acc=bool(result.acc), pred=result.pred,
                           extra={"tool_calls": self.num_tool_calls, "turns": self.turns, "acc": float(bool(result.acc))})

