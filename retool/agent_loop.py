"""One multi-turn rollout with the code interpreter, over token ids, as an explicit state machine.

    PENDING -> GENERATING -> TOOLS -> GENERATING -> ... -> DONE

Everything the trainer needs is built from token ids, never from re-tokenised text: the prompt ids,
then per turn the engine's own ids and logprobs (loss mask 1), then the observation ids the tool
produced (loss mask 0, logprob 0.0). ``decode(response_token_ids) == response_text`` holds because the
text is derived from the ids, not the other way round.

The loop is framework-neutral (slime's `retool.generate`, the eval CLI and the benchmark all call
`rollout`) and holds no shared state: each call owns its buffers, the engine and the tool are the only
things shared between concurrent rollouts, and neither takes a global lock, so a slow program in one
trajectory never delays generation in another.

Model behaviour never raises out of `rollout`: malformed calls become error observations, limits end
the trajectory as ``truncated``, an engine failure as ``aborted`` (keeping what was generated), and
a bug on our side as ``failed`` with the error recorded.
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from .engines.base import Engine, EngineError, Generation, SamplingConfig
from .formats import (
    CALL_FORMATS,
    CallFormat,
    ObservationFormat,
    ParsedCall,
    needs_continuation,
    observation_ids,
    observation_pieces,
    parse_calls,
    stop_strings,
    truncate_observation,
)
from .tool_protocol import Tool, ToolResult, ToolStatus, invalid_result, skipped_result

__all__ = [
    "RolloutConfig",
    "TrajectoryStatus",
    "EndReason",
    "ToolCallRecord",
    "Trajectory",
    "rollout",
    "render_prompt",
    "chat_template_ids",
]


@dataclass(frozen=True)
class RolloutConfig:
    """Limits and formats of one rollout.

    ``max_context_tokens`` bounds prompt + response; each turn's ``max_new_tokens`` is clamped to what
    is left of it. ``max_observation_tokens`` bounds the tool output of each call (template glue such
    as ``<tool_response>`` tags is not counted). With ``stop_at_call_end`` the engine stops right after
    a call (ReTool, slime); without it a turn runs to end-of-sequence and every call in it is run (the
    Qwen/verl parallel-call style). ``declare_tools`` passes the tool schema to the chat template in
    hermes mode, which is how Qwen-style templates put the tool into the system prompt.
    """

    max_turns: int = 8
    max_tool_calls: int = 16
    max_context_tokens: int = 4096
    max_new_tokens: int = 1024
    max_observation_tokens: int = 512
    call_format: CallFormat = CallFormat.HERMES
    observation_format: ObservationFormat = ObservationFormat.CHAT
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    stop_at_call_end: bool = True
    declare_tools: bool = True
    chat_template_kwargs: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "call_format", CallFormat(self.call_format))
        except ValueError:
            raise ValueError(f"call_format must be one of {CALL_FORMATS}, not {self.call_format!r}") from None
        try:
            object.__setattr__(self, "observation_format", ObservationFormat(self.observation_format))
        except ValueError:
            raise ValueError(f"observation_format must be one of {tuple(f.value for f in ObservationFormat)}, "
                             f"not {self.observation_format!r}") from None
        for name in ("max_turns", "max_context_tokens", "max_new_tokens", "max_observation_tokens"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.max_tool_calls < 0:
            raise ValueError("max_tool_calls must be at least 0")


class TrajectoryStatus(str, enum.Enum):
    COMPLETED = "completed"  # the model ended a turn without calling the tool
    TRUNCATED = "truncated"  # a limit ended it: context, max_new_tokens, max_turns
    ABORTED = "aborted"  # the engine failed or aborted the request; what was generated is kept
    FAILED = "failed"  # an error on our side; `error` says what

    def __str__(self) -> str:
        return self.value


class EndReason(str, enum.Enum):
    """Why a trajectory ended (finer than `TrajectoryStatus`)."""

    COMPLETED = "completed"  # a turn without a call
    MAX_TURNS = "max_turns"
    CONTEXT = "context"  # prompt + response reached max_context_tokens
    MAX_NEW_TOKENS = "max_new_tokens"  # one turn used its whole budget
    PROMPT_TOO_LONG = "prompt_too_long"
    ENGINE_ERROR = "engine_error"  # the engine call raised
    ENGINE_ABORT = "engine_abort"  # the engine aborted the request
    EXCEPTION = "exception"  # our bug; Trajectory.error says what

    def __str__(self) -> str:
        return self.value


@dataclass
class ToolCallRecord:
    """One attempted call, for metrics and debugging. ``observation`` is the text the model was shown
    (after the per-observation token budget)."""

    turn: int
    code: str | None
    status: ToolStatus
    duration_s: float
    observation: str


@dataclass
class Trajectory:
    prompt_token_ids: list[int]
    response_token_ids: list[int]  # everything after the prompt: model tokens and observation tokens
    loss_mask: list[int]  # per response token: 1 = model, 0 = tool observation / template glue
    logprobs: list[float]  # per response token; 0.0 where the mask is 0
    response_text: str  # tokenizer.decode(response_token_ids)
    status: TrajectoryStatus
    turns: int  # assistant turns started
    tool_calls: list[ToolCallRecord]
    finish_reason: str | None  # the last engine finish reason ("length" when the budget ran out)
    generation_s: float  # wall time inside engine.generate
    tool_s: float  # wall time of the tool phases (calls of a turn run concurrently)
    generated_tokens: int  # model tokens, i.e. sum(loss_mask)
    error: str | None = None
    end_reason: EndReason | None = None

    @property
    def num_tool_calls(self) -> int:
        """Calls that reached the sandbox (malformed and over-budget calls are not counted)."""
        return sum(1 for r in self.tool_calls if r.status.executed)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["status"] = self.status.value
        d["end_reason"] = self.end_reason.value if self.end_reason is not None else None
        for rec in d["tool_calls"]:
            rec["status"] = str(rec["status"])
        d["num_tool_calls"] = self.num_tool_calls
        return d


async def rollout(
    engine: Engine,
    messages: Sequence[Mapping[str, Any]],
    config: RolloutConfig = RolloutConfig(),
    *,
    tool: Tool,
    prompt_token_ids: Sequence[int] | None = None,
) -> Trajectory:
    """Generate one trajectory for ``messages``.

    ``prompt_token_ids`` replaces the rendering of ``messages`` when the caller already has the prompt
    as ids (slime hands over a prompt string it rendered itself); ``messages`` are then only used as
    context for rendering chat-format observations and may be empty. ``tool`` is any `Tool`
    (``name``, ``schema``, ``async execute(code) -> ToolResult``).
    """
    return await _Rollout(engine, list(messages), config, tool, prompt_token_ids).run()


class _State(enum.Enum):
    PENDING = "pending"
    GENERATING = "generating"
    TOOLS = "tools"
    DONE = "done"


class _Rollout:
    """The mutable state of one trajectory; a fresh instance per `rollout` call."""

    def __init__(
        self,
        engine: Engine,
        messages: list[Mapping[str, Any]],
        config: RolloutConfig,
        tool: Tool,
        prompt_token_ids: Sequence[int] | None,
    ) -> None:
        self.engine = engine
        self.tok = engine.tokenizer
        self.messages = messages
        self.cfg = config
        self.tool = tool
        self.given_prompt_ids = None if prompt_token_ids is None else [int(t) for t in prompt_token_ids]
        self.prompt_ids: list[int] = []
        self.response_ids: list[int] = []
        self.mask: list[int] = []
        self.logprobs: list[float] = []
        self.records: list[ToolCallRecord] = []
        self.status: TrajectoryStatus | None = None
        self.error: str | None = None
        self.end_reason: EndReason | None = None
        self.finish_reason: str | None = None
        self.turns = 0
        self.in_turn = False
        self.turn_start = 0  # index in response_ids where the current assistant turn began
        self.executed_calls = 0
        self.generation_s = 0.0
        self.tool_s = 0.0
        self.pending_calls: list[ParsedCall] = []
        self.turn_closed_by: str | None = None  # the end-of-turn token text the model emitted, if any
        self.sampling = config.sampling
        self.call_stops: tuple[str, ...] = stop_strings(config.call_format) if config.stop_at_call_end else ()
        self.call_stop_ids: tuple[int, ...] = ()
        self.template_kwargs = _template_kwargs(config, tool)

    # ------------------------------------------------------------------ the machine
    async def run(self) -> Trajectory:
        state = _State.PENDING
        try:
            while state is not _State.DONE:
                if state is _State.PENDING:
                    state = await self._prepare()
                elif state is _State.GENERATING:
                    state = await self._generate()
                elif state is _State.TOOLS:
                    state = await self._run_tools()
                else:  # pragma: no cover - exhaustive
                    raise AssertionError(f"unknown state {state}")
        except Exception as exc:  # noqa: BLE001 - our bug must not take the batch down
            self._end(TrajectoryStatus.FAILED, EndReason.EXCEPTION, f"{type(exc).__name__}: {exc}")
        return await asyncio.to_thread(self._trajectory)

    # Tokenizer work (template renders, encodes, decodes) runs in worker threads via asyncio.to_thread,
    # so that a long prompt or a large observation in one trajectory never stalls the event loop that
    # every other trajectory's generation and tool calls share. The tokenizer is only read there
    # (observations use formats' private plain-text copy), so concurrent threads are safe.
    async def _prepare(self) -> _State:
        if self.given_prompt_ids is not None:
            self.prompt_ids = self.given_prompt_ids
        else:
            self.prompt_ids = await asyncio.to_thread(render_prompt, self.tok, self.messages, self.cfg, self.tool)
        added = _added_vocab(self.tok)
        self.call_stop_ids = tuple(added[s] for s in self.call_stops if s in added)
        base = self.cfg.sampling
        self.sampling = replace(
            base,
            stop=tuple(dict.fromkeys((*base.stop, *self.call_stops))),
            stop_token_ids=tuple(dict.fromkeys((*base.stop_token_ids, *self.call_stop_ids))),
        )
        if len(self.prompt_ids) >= self.cfg.max_context_tokens:
            self.finish_reason = "length"
            return self._end(
                TrajectoryStatus.TRUNCATED, EndReason.PROMPT_TOO_LONG,
                f"the prompt has {len(self.prompt_ids)} tokens; max_context_tokens is {self.cfg.max_context_tokens}",
            )
        return _State.GENERATING

    async def _generate(self) -> _State:
        if not self.in_turn:
            self.in_turn = True
            self.turns += 1
            self.turn_start = len(self.response_ids)
        turn_tokens = len(self.response_ids) - self.turn_start
        remaining = self._remaining()
        budget = min(self.cfg.max_new_tokens - turn_tokens, remaining)
        if budget <= 0:
            self.finish_reason = "length"
            return self._end(TrajectoryStatus.TRUNCATED, EndReason.CONTEXT if remaining <= 0 else EndReason.MAX_NEW_TOKENS)

        started = time.monotonic()
        try:
            gen = await self.engine.generate(self.prompt_ids + self.response_ids, replace(self.sampling, max_new_tokens=budget))
        except EngineError as exc:
            self.generation_s += time.monotonic() - started
            return self._end(TrajectoryStatus.ABORTED, EndReason.ENGINE_ERROR, f"engine error: {exc}")
        self.generation_s += time.monotonic() - started

        ids, lps, finish = list(gen.token_ids), [float(x) for x in gen.logprobs], gen.finish_reason
        if len(ids) > budget:  # an engine that ignored max_new_tokens: keep the budget, call it length
            ids, lps, finish = ids[:budget], lps[:budget], "length"
        self._append(ids, 1, lps)
        self.finish_reason = finish

        if finish == "abort":
            return self._end(TrajectoryStatus.ABORTED, EndReason.ENGINE_ABORT, "the engine aborted the request")
        if finish == "length":
            at_context = self._remaining() <= 0
            return self._end(TrajectoryStatus.TRUNCATED, EndReason.CONTEXT if at_context else EndReason.MAX_NEW_TOKENS)

        turn_ids = self.response_ids[self.turn_start:]
        text = await asyncio.to_thread(self.tok.decode, turn_ids, skip_special_tokens=False)
        if ids and self._stopped_on_call_end(gen, text) and needs_continuation(text, self.cfg.call_format):
            return _State.GENERATING  # the stop string fired inside a call; the turn goes on

        self.in_turn = False
        calls = parse_calls(text, self.cfg.call_format, tool_name=self.tool.name)
        if not calls:
            return self._end(TrajectoryStatus.COMPLETED, EndReason.COMPLETED)
        if self.turns >= self.cfg.max_turns:
            return self._end(TrajectoryStatus.TRUNCATED, EndReason.MAX_TURNS)
        last = turn_ids[-1] if turn_ids else None
        self.turn_closed_by = (
            self.tok.decode([last], skip_special_tokens=False)
            if last is not None and last in _special_ids(self.tok) else None
        )
        self.pending_calls = calls
        return _State.TOOLS

    async def _run_tools(self) -> _State:
        calls, self.pending_calls = self.pending_calls, []
        started = time.monotonic()
        results: list[ToolResult | None] = []
        jobs = []
        for call in calls:
            if call.error is not None:
                results.append(invalid_result(call.error))
            elif self.executed_calls >= self.cfg.max_tool_calls:
                results.append(skipped_result(self.cfg.max_tool_calls))
            else:
                self.executed_calls += 1
                results.append(None)
                jobs.append(self.tool.execute(call.code))
        # All calls of the turn at once. A tool that raises (a custom tool; CodeInterpreterTool never
        # does) becomes an observation rather than a failed trajectory.
        done = iter(await asyncio.gather(*jobs, return_exceptions=True))
        results = [r if r is not None else _as_result(next(done)) for r in results]
        self.tool_s += time.monotonic() - started

        texts, obs = await asyncio.to_thread(self._observation, [r.observation for r in results])
        for call, result, text in zip(calls, results, texts):
            self.records.append(ToolCallRecord(self.turns, call.code, result.status, result.duration_s, text))

        remaining = self._remaining()
        if len(obs) > remaining:
            self._append(obs[:remaining], 0)
            self.finish_reason = "length"
            return self._end(TrajectoryStatus.TRUNCATED, EndReason.CONTEXT)
        self._append(obs, 0)
        return _State.GENERATING

    # ------------------------------------------------------------------ observations
    def _observation(self, outputs: list[str]) -> tuple[list[str], list[int]]:
        """(the texts shown, after the per-call token budget; their ids with the format's glue)."""
        texts = [truncate_observation(o, self.tok, self.cfg.max_observation_tokens) for o in outputs]
        pieces = observation_pieces(
            self.cfg.observation_format, self.tok, texts, self.messages, turn=self.turns,
            closed_by=self.turn_closed_by, tool_name=self.tool.name, template_kwargs=self.template_kwargs,
        )
        return texts, observation_ids(self.tok, pieces)

    # ------------------------------------------------------------------ helpers
    def _stopped_on_call_end(self, gen: Generation, text: str) -> bool:
        if gen.finish_reason != "stop" or not self.call_stops:
            return False
        reason = gen.stop_reason
        if isinstance(reason, str) and reason in self.call_stops:
            return True
        if isinstance(reason, int) and not isinstance(reason, bool) and reason in self.call_stop_ids:
            return True
        tail = text.rstrip()
        return any(tail.endswith(s.strip()) for s in self.call_stops)

    def _remaining(self) -> int:
        return self.cfg.max_context_tokens - len(self.prompt_ids) - len(self.response_ids)

    def _append(self, ids: list[int], mask: int, logprobs: list[float] | None = None) -> None:
        lps = logprobs if logprobs is not None else [0.0] * len(ids)
        if len(lps) != len(ids):
            raise ValueError(f"{len(ids)} tokens but {len(lps)} logprobs")
        self.response_ids.extend(ids)
        self.mask.extend([mask] * len(ids))
        self.logprobs.extend(lps)

    def _end(self, status: TrajectoryStatus, reason: EndReason, error: str | None = None) -> _State:
        self.status, self.end_reason, self.error = status, reason, error
        return _State.DONE

    def _trajectory(self) -> Trajectory:
        n = min(len(self.response_ids), len(self.mask), len(self.logprobs))  # equal unless a bug struck mid-append
        ids = self.response_ids[:n]
        try:
            text = self.tok.decode(ids, skip_special_tokens=False)
        except Exception as exc:  # noqa: BLE001
            text = ""
            if self.status is not TrajectoryStatus.FAILED:
                self._end(TrajectoryStatus.FAILED, EndReason.EXCEPTION, f"decode failed: {type(exc).__name__}: {exc}")
        return Trajectory(
            prompt_token_ids=list(self.prompt_ids),
            response_token_ids=ids,
            loss_mask=self.mask[:n],
            logprobs=self.logprobs[:n],
            response_text=text,
            status=self.status or TrajectoryStatus.FAILED,
            turns=self.turns,
            tool_calls=self.records,
            finish_reason=self.finish_reason,
            generation_s=self.generation_s,
            tool_s=self.tool_s,
            generated_tokens=sum(self.mask[:n]),
            error=self.error,
            end_reason=self.end_reason,
        )


def _as_result(outcome: Any) -> ToolResult:
    if isinstance(outcome, asyncio.CancelledError):
        raise outcome
    if isinstance(outcome, BaseException):
        return ToolResult(observation=f"[tool error: {type(outcome).__name__}: {outcome}]",
                          status=ToolStatus.SANDBOX_ERROR, duration_s=0.0)
    if not isinstance(outcome, ToolResult):
        return ToolResult(observation=f"[tool error: execute() returned {type(outcome).__name__}, not a ToolResult]",
                          status=ToolStatus.SANDBOX_ERROR, duration_s=0.0)
    return outcome


def render_prompt(tokenizer: Any, messages: Sequence[Mapping[str, Any]], config: RolloutConfig, tool: Tool) -> list[int]:
    """The prompt ids `rollout` would use for ``messages`` (the tool declared in hermes mode)."""
    return chat_template_ids(tokenizer, messages, **_template_kwargs(config, tool))


def _template_kwargs(config: RolloutConfig, tool: Tool) -> dict[str, Any]:
    kwargs = dict(config.chat_template_kwargs)
    if config.call_format is CallFormat.HERMES and config.declare_tools:
        kwargs.setdefault("tools", [tool.schema])
    return kwargs


def chat_template_ids(tokenizer: Any, messages: Sequence[Mapping[str, Any]], **kwargs: Any) -> list[int]:
    """Prompt ids with the generation prompt; accepts the list, dict and `BatchEncoding` returns of
    the transformers 4 and 5 `apply_chat_template`."""
    out = tokenizer.apply_chat_template(list(messages), tokenize=True, add_generation_prompt=True, **kwargs)
    if isinstance(out, Mapping) or hasattr(out, "keys"):
        out = out["input_ids"]
    if hasattr(out, "tolist"):
        out = out.tolist()
    if out and isinstance(out[0], (list, tuple)):
        out = out[0]
    return [int(t) for t in out]


def _added_vocab(tokenizer: Any) -> dict[str, int]:
    try:
        return dict(tokenizer.get_added_vocab())
    except Exception:  # noqa: BLE001 - tokenizers without added tokens
        return {}


def _special_ids(tokenizer: Any) -> set[int]:
    ids = set(getattr(tokenizer, "all_special_ids", None) or ())
    eos = getattr(tokenizer, "eos_token_id", None)
    if isinstance(eos, int):
        ids.add(eos)
    return ids
