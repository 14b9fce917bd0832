"""Evaluation metrics: one `EvalRecord` per sample, unbiased pass@k, and the summary table."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

from ..tool_protocol import ToolStatus

__all__ = ["EvalRecord", "TOOL_ERROR_STATUSES", "TOOL_TIMEOUT_STATUSES", "pass_at_k", "summarize", "format_summary"]

TOOL_ERROR_STATUSES = frozenset({ToolStatus.ERROR, ToolStatus.INVALID, ToolStatus.REJECTED, ToolStatus.MEMORY,
                                 ToolStatus.SANDBOX_ERROR})
TOOL_TIMEOUT_STATUSES = frozenset({ToolStatus.TIMEOUT})


@dataclass
class EvalRecord:
    """One (problem, sample): what the results JSONL holds, one line each (`to_dict`)."""

    id: str
    index: int
    sample: int
    line: int
    prompt: str
    label: str
    status: str  # a TrajectoryStatus value
    end_reason: str | None
    score: float
    acc: bool
    pred: str | None
    reward_reason: str | None
    num_tool_calls: int
    tool_calls: list[dict[str, Any]] = field(default_factory=list)  # turn, status, duration_s, code, observation
    turns: int = 0
    finish_reason: str | None = None
    prompt_tokens: int = 0
    response_tokens: int = 0
    generated_tokens: int = 0
    generation_s: float = 0.0
    tool_s: float = 0.0
    reward_s: float = 0.0
    total_s: float = 0.0
    response: str = ""
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples of which c are correct (Chen et al., 2021): 1 - C(n-c, k) / C(n, k)."""
    if k < 1 or k > n:
        raise ValueError(f"k must be in 1..n (n={n}), got {k}")
    if c < 0 or c > n:
        raise ValueError(f"c must be in 0..n (n={n}), got {c}")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def summarize(records: Sequence[EvalRecord], *, n_samples: int, wall_s: float,
              skipped_rows: int = 0) -> dict[str, Any]:
    """The summary numbers from the result records (one per sample)."""
    by_problem: dict[str, list[EvalRecord]] = {}
    for r in records:
        by_problem.setdefault(r.id, []).append(r)
    n = len(records)
    accs = [1.0 if r.acc else 0.0 for r in records]
    pass_k: dict[str, float] = {}
    for k in range(1, n_samples + 1):
        vals = [pass_at_k(len(rs), sum(1 for r in rs if r.acc), k) for rs in by_problem.values() if len(rs) >= k]
        if vals:
            pass_k[f"pass@{k}"] = sum(vals) / len(vals)
    calls = [c for r in records for c in r.tool_calls]
    call_statuses = Counter(ToolStatus(c["status"]) for c in calls)
    gen_tokens = sum(r.generated_tokens for r in records)
    gen_s = sum(r.generation_s for r in records)
    tool_s = sum(r.tool_s for r in records)
    reward_s = sum(r.reward_s for r in records)
    busy = gen_s + tool_s
    return {
        "problems": len(by_problem),
        "samples": n,
        "skipped_rows": skipped_rows,
        "accuracy": sum(accs) / n if n else 0.0,
        **pass_k,
        "mean_tool_calls": len(calls) / n if n else 0.0,
        "mean_executed_tool_calls": sum(r.num_tool_calls for r in records) / n if n else 0.0,
        "samples_with_tool_call": sum(1 for r in records if r.tool_calls) / n if n else 0.0,
        "tool_calls": len(calls),
        "tool_error_rate": sum(v for s, v in call_statuses.items() if s in TOOL_ERROR_STATUSES) / len(calls) if calls else 0.0,
        "tool_timeout_rate": sum(v for s, v in call_statuses.items() if s in TOOL_TIMEOUT_STATUSES) / len(calls) if calls else 0.0,
        "tool_call_statuses": {s.value: n for s, n in sorted(call_statuses.items())},
        "trajectory_statuses": dict(sorted(Counter(r.status for r in records).items())),
        "mean_turns": sum(r.turns for r in records) / n if n else 0.0,
        "generated_tokens": gen_tokens,
        "mean_response_tokens": sum(r.response_tokens for r in records) / n if n else 0.0,
        "tokens_per_s": gen_tokens / wall_s if wall_s > 0 else 0.0,
        "generation_s": gen_s,
        "tool_s": tool_s,
        "reward_s": reward_s,
        "generation_share": gen_s / busy if busy > 0 else 0.0,
        "tool_share": tool_s / busy if busy > 0 else 0.0,
        "wall_s": wall_s,
    }


def format_summary(summary: dict[str, Any]) -> str:
    """A plain two-column table."""
    rows: list[tuple[str, str]] = [
        ("problems / samples", f"{summary['problems']} / {summary['samples']}"
         + (f"  ({summary['skipped_rows']} malformed rows skipped)" if summary.get("skipped_rows") else "")),
        ("accuracy (mean acc)", f"{summary['accuracy']:.3f}"),
    ]
    for key in sorted((k for k in summary if k.startswith("pass@")), key=lambda k: int(k[5:])):
        rows.append((key, f"{summary[key]:.3f}"))
    rows += [
        ("mean tool calls / sample", f"{summary['mean_tool_calls']:.2f}  (executed {summary['mean_executed_tool_calls']:.2f};"
         f" {summary['samples_with_tool_call']:.0%} of samples call the tool)"),
        ("tool error rate", f"{summary['tool_error_rate']:.3f}  (of {summary['tool_calls']} calls)"),
        ("tool timeout rate", f"{summary['tool_timeout_rate']:.3f}"),
        ("tool call statuses", _fmt_counts(summary["tool_call_statuses"])),
        ("trajectory statuses", _fmt_counts(summary["trajectory_statuses"])),
        ("mean turns", f"{summary['mean_turns']:.2f}"),
        ("generated tokens", f"{summary['generated_tokens']}  (mean response {summary['mean_response_tokens']:.0f} tokens)"),
        ("generated tokens/s", f"{summary['tokens_per_s']:.1f}  (over wall time, all samples together)"),
        ("time in generation", f"{summary['generation_s']:.1f} s  ({summary['generation_share']:.0%})"),
        ("time in tools", f"{summary['tool_s']:.1f} s  ({summary['tool_share']:.0%})"),
        ("time in reward", f"{summary['reward_s']:.1f} s"),
        ("wall time", f"{summary['wall_s']:.1f} s"),
    ]
    width = max(len(k) for k, _ in rows)
    line = "-" * (width + 2 + max(len(v) for _, v in rows))
    out = [line] + [f"{k.ljust(width)}  {v}" for k, v in rows] + [line,
           "generation/tool times are summed over samples (they overlap when samples run concurrently)."]
    return "\n".join(out)


def _fmt_counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "-"
