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

from .cli import DEFAULT_NOTE, ENGINES, build_parser, main, run
from .data import EvalDataError, Problem, RowError, bundled_problems_path, load_problems
from .metrics import TOOL_ERROR_STATUSES, TOOL_TIMEOUT_STATUSES, EvalRecord, format_summary, pass_at_k, summarize
from .runner import EvalConfig, EvalReport, _Progress, evaluate  # noqa: F401 - _Progress for tests

__all__ = [
    "EvalConfig", "EvalDataError", "EvalRecord", "EvalReport", "Problem", "RowError", "load_problems", "pass_at_k",
    "summarize", "format_summary", "evaluate", "run", "main", "build_parser", "bundled_problems_path", "DEFAULT_NOTE",
    "ENGINES", "TOOL_ERROR_STATUSES", "TOOL_TIMEOUT_STATUSES",
]
