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
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from .engines.base import Engine, EngineError, Generation, SamplingConfig
from .parsing import CALL_FORMATS, TOOL_NAME, CallFormat, ParsedCall, needs_continuation, parse_calls, stop_strings
from .tool import INVALID, SKIPPED, ToolResult, encode_text, invalid_result, skipped_result, truncate_tokens

if TYPE_CHECKING:
    from .tool import CodeInterpreterTool

__all__ = [
    "RolloutConfig",
    "TrajectoryStatus",
    "ToolCallRecord",
    "Trajectory",
    "rollout",
    "render_prompt",
    "chat_template_ids",
]

ObservationFormat = Literal["chat", "interpreter"]
INTERPRETER_OPEN = "\n<interpreter>\n"
INTERPRETER_CLOSE = "\n</interpreter>\n"

# Markers put into chat-template renderings to find where the assistant turn ends and where each
# tool message's content goes; private-use code points never occur in real templates.
_ASSISTANT_SENTINEL = "\ue000retool-assistant\ue001"
_OBSERVATION_PLACEHOLDER = "\ue000retool-observation-{}\ue001"


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
    call_format: CallFormat = "hermes"
    observation_format: ObservationFormat = "chat"
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    stop_at_call_end: bool = True
    declare_tools: bool = True
    chat_template_kwargs: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.call_format not in CALL_FORMATS:
            raise ValueError(f"call_format must be one of {CALL_FORMATS}, not {self.call_format!r}")
        if self.observation_format not in ("chat", "interpreter"):
            raise ValueError(f"observation_format must be 'chat' or 'interpreter', not {self.observation_format!r}")
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


@dataclass
class ToolCallRecord:
    """One attempted call, for metrics and debugging. ``observation`` is the text the model was shown
    (after the per-observation token budget)."""

    turn: int
    code: str | None
    status: str  # a sandbox Status value, "invalid" (malformed call) or "skipped" (over max_tool_calls)
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
    end_reason: str | None = None  # completed, max_turns, context, max_new_tokens, prompt_too_long,
    # engine_error (the engine call raised), engine_abort (the engine aborted the request), exception

    @property
    def num_tool_calls(self) -> int:
        """Calls that reached the sandbox (malformed and over-budget calls are not counted)."""
        return sum(1 for r in self.tool_calls if r.status not in (INVALID, SKIPPED))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["status"] = self.status.value
        d["num_tool_calls"] = self.num_tool_calls
        return d


async def rollout(
    engine: Engine,
    messages: Sequence[Mapping[str, Any]],
    config: RolloutConfig = RolloutConfig(),
    *,
    tool: "CodeInterpreterTool",
    prompt_token_ids: Sequence[int] | None = None,
) -> Trajectory:
    """Generate one trajectory for ``messages``.

    ``prompt_token_ids`` replaces the rendering of ``messages`` when the caller already has the prompt
    as ids (slime hands over a prompt string it rendered itself); ``messages`` are then only used as
    context for rendering chat-format observations and may be empty. ``tool`` needs only
    ``async execute(code) -> ToolResult`` (and ``schema`` for hermes tool declaration).
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
        tool: Any,
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
        self.end_reason: str | None = None
        self.finish_reason: str | None = None
        self.turns = 0
        self.in_turn = False
        self.turn_start = 0  # index in response_ids where the current assistant turn began
        self.executed_calls = 0
        self.generation_s = 0.0
        self.tool_s = 0.0
        self.pending_calls: list[ParsedCall] = []
        self.turn_closed_by: int | None = None  # the special token that ended the last turn, if any
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
                    state = self._prepare()
                elif state is _State.GENERATING:
                    state = await self._generate()
                elif state is _State.TOOLS:
                    state = await self._run_tools()
                else:  # pragma: no cover - exhaustive
                    raise AssertionError(f"unknown state {state}")
        except Exception as exc:  # noqa: BLE001 - our bug must not take the batch down
            self._end(TrajectoryStatus.FAILED, "exception", f"{type(exc).__name__}: {exc}")
        return self._trajectory()

    def _prepare(self) -> _State:
        if self.given_prompt_ids is not None:
            self.prompt_ids = self.given_prompt_ids
        else:
            self.prompt_ids = render_prompt(self.tok, self.messages, self.cfg, self.tool)
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
                TrajectoryStatus.TRUNCATED, "prompt_too_long",
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
            return self._end(TrajectoryStatus.TRUNCATED, "context" if remaining <= 0 else "max_new_tokens")

        started = time.monotonic()
        try:
            gen = await self.engine.generate(self.prompt_ids + self.response_ids, replace(self.sampling, max_new_tokens=budget))
        except EngineError as exc:
            self.generation_s += time.monotonic() - started
            return self._end(TrajectoryStatus.ABORTED, "engine_error", f"engine error: {exc}")
        self.generation_s += time.monotonic() - started

        ids, lps, finish = list(gen.token_ids), [float(x) for x in gen.logprobs], gen.finish_reason
        if len(ids) > budget:  # an engine that ignored max_new_tokens: keep the budget, call it length
            ids, lps, finish = ids[:budget], lps[:budget], "length"
        self._append(ids, 1, lps)
        self.finish_reason = finish

        if finish == "abort":
            return self._end(TrajectoryStatus.ABORTED, "engine_abort", "the engine aborted the request")
        if finish == "length":
            at_context = self._remaining() <= 0
            return self._end(TrajectoryStatus.TRUNCATED, "context" if at_context else "max_new_tokens")

        turn_ids = self.response_ids[self.turn_start:]
        text = self.tok.decode(turn_ids, skip_special_tokens=False)
        if ids and self._stopped_on_call_end(gen, text) and needs_continuation(text, self.cfg.call_format):
            return _State.GENERATING  # the stop string fired inside a call; the turn goes on

        self.in_turn = False
        calls = parse_calls(text, self.cfg.call_format, tool_name=getattr(self.tool, "name", TOOL_NAME))
        if not calls:
            return self._end(TrajectoryStatus.COMPLETED, "completed")
        if self.turns >= self.cfg.max_turns:
            return self._end(TrajectoryStatus.TRUNCATED, "max_turns")
        last = turn_ids[-1] if turn_ids else None
        self.turn_closed_by = last if last is not None and last in _special_ids(self.tok) else None
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

        texts = [truncate_tokens(r.observation, self.tok, self.cfg.max_observation_tokens) for r in results]
        for call, result, text in zip(calls, results, texts):
            self.records.append(ToolCallRecord(self.turns, call.code, result.status, result.duration_s, text))

        obs = self._observation_ids(texts)
        remaining = self._remaining()
        if len(obs) > remaining:
            self._append(obs[:remaining], 0)
            self.finish_reason = "length"
            return self._end(TrajectoryStatus.TRUNCATED, "context")
        self._append(obs, 0)
        return _State.GENERATING

    # ------------------------------------------------------------------ observations
    def _observation_ids(self, texts: list[str]) -> list[int]:
        if self.cfg.observation_format == "interpreter":
            ids: list[int] = []
            for text in texts:
                ids += self._encode_glue(INTERPRETER_OPEN) + encode_text(self.tok, text) + self._encode_glue(INTERPRETER_CLOSE)
            return ids
        return self._chat_observation_ids(texts)

    def _chat_observation_ids(self, texts: list[str]) -> list[int]:
        """What the chat template puts between this assistant turn's content and the next one's:
        the end of the assistant turn (unless the model already emitted it), the tool messages, and the
        generation prompt. Found as the difference of two renderings around a sentinel assistant
        content, so that the template's own rendering of earlier turns cannot shift it."""
        base = list(self.messages) or [{"role": "user", "content": "?"}]
        assistant = {"role": "assistant", "content": _ASSISTANT_SENTINEL}
        placeholders = [_OBSERVATION_PLACEHOLDER.format(i) for i in range(len(texts))]
        name = getattr(self.tool, "name", TOOL_NAME)
        tool_msgs = [
            {"role": "tool", "name": name, "tool_call_id": f"call_{self.turns}_{i}", "content": p}
            for i, p in enumerate(placeholders)
        ]
        closed = _render(self.tok, base + [assistant], False, self.template_kwargs)
        full = _render(self.tok, base + [assistant] + tool_msgs, True, self.template_kwargs)
        a, b = closed.rfind(_ASSISTANT_SENTINEL), full.rfind(_ASSISTANT_SENTINEL)
        if a < 0 or b < 0:
            raise RuntimeError("the chat template dropped the assistant message; cannot place tool messages")
        end_of_turn = closed[a + len(_ASSISTANT_SENTINEL):]
        after = full[b + len(_ASSISTANT_SENTINEL):]
        if not after.startswith(end_of_turn):
            raise RuntimeError(
                "the chat template renders the assistant turn's end differently when tool messages follow "
                f"({end_of_turn!r} vs {after[:len(end_of_turn)]!r}); use observation_format='interpreter'"
            )
        glue = after
        if self.turn_closed_by is not None:  # the model emitted the end-of-turn token itself
            closer = self.tok.decode([self.turn_closed_by], skip_special_tokens=False)
            if closer and glue.startswith(closer):
                glue = glue[len(closer):]
        pieces = re.split("(" + "|".join(map(re.escape, placeholders)) + ")", glue)
        by_placeholder = dict(zip(placeholders, texts))
        missing = [p for p in placeholders if p not in pieces]
        if missing:
            raise RuntimeError("the chat template did not render the tool message content")
        ids: list[int] = []
        for piece in pieces:
            if piece in by_placeholder:
                ids += encode_text(self.tok, by_placeholder[piece])
            elif piece:
                ids += self._encode_glue(piece)
        return ids

    def _encode_glue(self, text: str) -> list[int]:
        """Template text: special-token strings in it are the real special tokens."""
        return list(self.tok.encode(text, add_special_tokens=False))

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

    def _end(self, status: TrajectoryStatus, reason: str, error: str | None = None) -> _State:
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
                self._end(TrajectoryStatus.FAILED, "exception", f"decode failed: {type(exc).__name__}: {exc}")
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
        return ToolResult(observation=f"[tool error: {type(outcome).__name__}: {outcome}]", status="sandbox_error", duration_s=0.0)
    return outcome


def render_prompt(tokenizer: Any, messages: Sequence[Mapping[str, Any]], config: RolloutConfig, tool: Any) -> list[int]:
    """The prompt ids `rollout` would use for ``messages`` (the tool declared in hermes mode)."""
    return chat_template_ids(tokenizer, messages, **_template_kwargs(config, tool))


def _template_kwargs(config: RolloutConfig, tool: Any) -> dict[str, Any]:
    kwargs = dict(config.chat_template_kwargs)
    if config.call_format == "hermes" and config.declare_tools and getattr(tool, "schema", None):
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


def _render(tokenizer: Any, messages: list[Mapping[str, Any]], generation_prompt: bool, kwargs: Mapping[str, Any]) -> str:
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt, **kwargs)
    if not isinstance(text, str):
        raise TypeError(f"apply_chat_template(tokenize=False) returned {type(text).__name__}, not str")
    return text


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
