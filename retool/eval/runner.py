"""The evaluation runner: concurrent rollouts with the code interpreter, scored by the reward.

`evaluate(engine, problems, config)` takes any `Engine` and returns an `EvalReport`; it raises nothing
for a sample (a reward failure scores 0) and leaves exiting to the CLI.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any, Sequence

from ..settings import ToolConfig
from .data import Problem, RowError
from .metrics import EvalRecord, summarize

__all__ = ["EvalConfig", "EvalReport", "evaluate"]


@dataclass(frozen=True)
class EvalConfig:
    n_samples: int = 1
    max_turns: int = 4
    max_tool_calls: int = 8
    max_new_tokens: int = 256
    max_context_tokens: int = 2048
    max_observation_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    concurrency: int = 16
    call_format: str = "hermes"
    observation_format: str | None = None  # None: "chat" for hermes, "interpreter" for code/python
    prompt_style: str = "fewshot"  # fewshot | plain
    tool_timeout_s: float = ToolConfig.timeout_s  # the tool's limits' one home: retool.settings.ToolConfig
    tool_memory_mb: int = ToolConfig.memory_mb

    def __post_init__(self) -> None:
        if self.n_samples < 1:
            raise ValueError("n_samples must be at least 1")
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if self.prompt_style not in ("fewshot", "plain"):
            raise ValueError("prompt_style must be 'fewshot' or 'plain'")

    @property
    def obs_format(self) -> str:
        if self.observation_format:
            return self.observation_format
        return "chat" if self.call_format == "hermes" else "interpreter"

    def rollout_config(self):
        from ..engines.base import SamplingConfig
        from ..agent_loop import RolloutConfig

        return RolloutConfig(
            max_turns=self.max_turns,
            max_tool_calls=self.max_tool_calls,
            max_context_tokens=self.max_context_tokens,
            max_new_tokens=self.max_new_tokens,
            max_observation_tokens=self.max_observation_tokens,
            call_format=self.call_format,  # type: ignore[arg-type]
            observation_format=self.obs_format,  # type: ignore[arg-type]
            sampling=SamplingConfig(max_new_tokens=self.max_new_tokens, temperature=self.temperature,
                                    top_p=self.top_p, seed=self.seed),
            # the few-shot system prompt already describes the tool; a plain prompt relies on the
            # model's chat template declaring it (Qwen-style `tools=`)
            declare_tools=self.prompt_style == "plain",
        )

    def messages(self, problem: Problem) -> list[dict]:
        from ..data.fewshot import build_messages

        if isinstance(problem.prompt, list):
            return [dict(m) for m in problem.prompt]
        if self.prompt_style == "plain":
            return [{"role": "user", "content": problem.prompt}]
        return build_messages(problem.prompt, True, call_format=self.call_format, observation_format=self.obs_format)

@dataclass
class EvalReport:
    records: list[EvalRecord]
    summary: dict[str, Any]
    row_errors: list[RowError] = field(default_factory=list)


class _Progress:
    """tqdm when installed, else a one-line counter on stderr."""

    def __init__(self, total: int, enabled: bool, stream: IO[str] | None = None):
        self.total, self.enabled, self.done, self.correct = total, enabled, 0, 0
        self.stream = stream or sys.stderr
        self.bar = None
        if enabled:
            try:
                from tqdm.auto import tqdm

                self.bar = tqdm(total=total, desc="eval", unit="sample", file=self.stream, dynamic_ncols=True)
            except ImportError:
                self.bar = None

    def update(self, acc: bool) -> None:
        self.done += 1
        self.correct += int(bool(acc))
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.set_postfix(acc=f"{self.correct / self.done:.2f}", refresh=False)
            self.bar.update(1)
        else:
            end = "\n" if self.done == self.total else ""
            print(f"\r[eval] {self.done}/{self.total} samples, acc {self.correct / self.done:.2f}",
                  end=end, file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class _OrderedWriter:
    """Writes records to the JSONL in (problem, sample) order as soon as all earlier ones are done."""

    def __init__(self, fh: IO[str] | None, n_samples: int):
        self.fh, self.n = fh, n_samples
        self.pending: dict[int, EvalRecord] = {}
        self.next = 0

    def add(self, slot: int, record: EvalRecord) -> None:
        self.pending[slot] = record
        while self.next in self.pending:
            rec = self.pending.pop(self.next)
            if self.fh is not None:
                self.fh.write(json.dumps(rec.to_dict(), ensure_ascii=False) + "\n")
                self.fh.flush()
            self.next += 1


async def evaluate(
    engine: Any,
    problems: Sequence[Problem],
    config: EvalConfig = EvalConfig(),
    *,
    tool: Any = None,
    output: str | Path | None = None,
    progress: bool = False,
    row_errors: Sequence[RowError] = (),
) -> EvalReport:
    """Run `config.n_samples` rollouts per problem through `engine` (any `Engine`), score them, summarise.

    `tool` defaults to a `CodeInterpreterTool` with its own sandbox (closed at the end); a tool passed
    in is left open. Results go to `output` (JSONL, input order) when given.
    """
    from ..reward import ascore
    from ..agent_loop import rollout

    rcfg = config.rollout_config()
    own_tool = tool is None
    if own_tool:
        from ..tool import CodeInterpreterTool

        tool = CodeInterpreterTool(timeout_s=config.tool_timeout_s, memory_mb=config.tool_memory_mb)
    jobs = [(p, s) for p in problems for s in range(config.n_samples)]
    sem = asyncio.Semaphore(config.concurrency)
    bar = _Progress(len(jobs), progress)
    fh = open(output, "w", encoding="utf-8") if output is not None else None  # noqa: SIM115
    writer = _OrderedWriter(fh, config.n_samples)
    records: list[EvalRecord | None] = [None] * len(jobs)

    async def one(slot: int, problem: Problem, sample: int) -> None:
        async with sem:
            started = time.monotonic()
            cfg = rcfg
            if config.seed is not None:  # distinct, reproducible seed per sample
                cfg = replace(rcfg, sampling=replace(rcfg.sampling, seed=config.seed + slot))
            traj = await rollout(engine, config.messages(problem), cfg, tool=tool)
            r0 = time.monotonic()
            try:
                res = await ascore(traj.response_text, problem.label, tool_calls=traj.num_tool_calls)
                score, acc, pred, reason = res.score, bool(res.acc), res.pred, res.reason
            except Exception as exc:  # noqa: BLE001 - a reward failure scores 0, never stops the run
                score, acc, pred, reason = 0.0, False, None, f"reward error: {type(exc).__name__}: {exc}"
            reward_s = time.monotonic() - r0
        rec = EvalRecord(
            id=problem.id,
            index=problem.index,
            sample=sample,
            line=problem.line,
            prompt=problem.prompt if isinstance(problem.prompt, str) else _last_user(problem.prompt),
            label=problem.label,
            status=traj.status.value,
            end_reason=None if traj.end_reason is None else traj.end_reason.value,
            score=score,
            acc=acc,
            pred=pred,
            reward_reason=reason,
            num_tool_calls=traj.num_tool_calls,
            tool_calls=[
                {"turn": c.turn, "status": c.status.value, "duration_s": round(c.duration_s, 4), "code": c.code,
                 "observation": c.observation}
                for c in traj.tool_calls
            ],
            turns=traj.turns,
            finish_reason=traj.finish_reason,
            prompt_tokens=len(traj.prompt_token_ids),
            response_tokens=len(traj.response_token_ids),
            generated_tokens=traj.generated_tokens,
            generation_s=round(traj.generation_s, 4),
            tool_s=round(traj.tool_s, 4),
            reward_s=round(reward_s, 4),
            total_s=round(time.monotonic() - started, 4),
            response=traj.response_text,
            error=traj.error,
        )
        records[slot] = rec
        writer.add(slot, rec)
        bar.update(acc)

    t0 = time.monotonic()
    try:
        await asyncio.gather(*(one(i, p, s) for i, (p, s) in enumerate(jobs)))
    finally:
        bar.close()
        if fh is not None:
            fh.close()
        if own_tool:
            await tool.close()
    wall = time.monotonic() - t0
    done = [r for r in records if r is not None]
    summary = summarize(done, n_samples=config.n_samples, wall_s=wall, skipped_rows=len(row_errors))
    return EvalReport(done, summary, list(row_errors))


def _last_user(messages: list[dict]) -> str:
    users = [m.get("content") for m in messages if m.get("role") == "user"]
    return str(users[-1]) if users else ""
