"""SFT data pipeline throughput: ``python -m sft prepare`` rows/s and ``python -m sft verify`` cells/s.

Builds N ReTool-SFT rows deterministically in the upstream layout (``messages`` = [user, assistant],
ReTool's instructions and ``*user question:*``, 1-6 code cells per trace with reasoning of realistic
length; the real train_2000.parquet averages a few thousand characters per trace) and writes them
as one parquet file, as the hub ships them. The recorded outputs are what the code really prints
(computed when the rows are built), so verify should agree on every cell.

Measured in this process, in one run, end to end (read parquet, convert, write):
  * baseline: slime's own processing, a ``datasets.map`` that copies role/content and writes parquet
    (no parsing, no checks) -- the floor for touching every row through ``datasets``;
  * ours: ``prepare_file`` for the slime and openai formats (parse, validate, render, write);
  * verify: ``verify_traces`` on a slice of the rows (every cell through the sandbox, cells of a row
    in one session), reported as cells/s and rows/s.

Target (issue 5): prepare at least 2,000 rows/s on this machine for slime and openai.
Writes bench/results/sft_prepare.json and prints a table.

Usage: python bench/sft_prepare.py [--rows 2000] [--verify-rows 200] [--seed 0]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from sft_data import cell, output, retool_row  # noqa: E402  (the fixture layout the tests use)

WORDS = ("we", "the", "sum", "of", "roots", "so", "let", "compute", "value", "each", "term", "thus",
         "integer", "divisible", "prime", "factor", "count", "case", "check", "therefore", "equation")

PROGRAMS = [
    lambda r: f"total = sum(i * i for i in range(1, {r.randint(10, 500)}))\nprint(total)",
    lambda r: f"import math\nprint(math.comb({r.randint(10, 40)}, {r.randint(2, 9)}))",
    lambda r: f"import sympy as sp\nx = sp.symbols('x')\nprint(sp.factor(x**2 - {r.randint(1, 30) ** 2}))",
    lambda r: f"n = {r.randint(100, 10**6)}\nprint([d for d in range(1, 50) if n % d == 0])",
    lambda r: f"from fractions import Fraction\nprint(Fraction({r.randint(1, 99)}, {r.randint(100, 999)}) + Fraction(1, 3))",
    lambda r: f"vals = [k ** 0.5 for k in range({r.randint(2, 9)})]\nprint(round(sum(vals), 6))",
]


def _sentence(r: random.Random, n: int) -> str:
    return " ".join(r.choice(WORDS) for _ in range(n)).capitalize() + "."


def _run_locally(code: str) -> str:
    """The recorded output: our own generated program run here (trusted, tiny)."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(compile(code, "<bench>", "exec"), {})
    return buf.getvalue().rstrip("\n")


def build_rows(n: int, seed: int) -> tuple[list[dict], int]:
    r = random.Random(seed)
    cache: dict[str, str] = {}
    rows, cells = [], 0
    for i in range(n):
        parts = [_sentence(r, r.randint(150, 400))]
        for _ in range(r.randint(1, 6)):
            code = r.choice(PROGRAMS)(r)
            if code not in cache:
                cache[code] = _run_locally(code)
            parts.append(cell(code) + "\n" + output(cache[code]) + "\n" + _sentence(r, r.randint(60, 200)))
            cells += 1
        parts.append(f"<answer>\n\\boxed{{{r.randint(0, 999)}}}\n</answer>")
        rows.append(retool_row(f"Problem {i}: " + _sentence(r, r.randint(20, 60)), "\n\n".join(parts)))
    return rows, cells


def bench_baseline(src: Path, out: Path) -> float:
    """slime's examples/retool/sft_data_processing.py, on a local file: role rename via datasets.map."""
    import datasets

    datasets.disable_progress_bars()
    started = time.perf_counter()
    ds = datasets.load_dataset("parquet", data_files=str(src), split="train", keep_in_memory=True)

    def convert(sample):
        return {"messages": [{"role": t["role"], "content": t["content"]} for t in sample["messages"]]}

    ds = ds.map(convert, keep_in_memory=True)
    ds.to_parquet(str(out))
    return time.perf_counter() - started


def bench_prepare(src: Path, out: Path, fmt: str) -> tuple[float, dict]:
    from sft.prepare import PrepareOptions, prepare_file

    started = time.perf_counter()
    report = prepare_file(str(src), str(out), PrepareOptions(fmt))
    return time.perf_counter() - started, report.as_dict()


async def _verify(traces, concurrency: int):
    from sft.verify import VerifyConfig, verify_traces

    return await verify_traces(traces, VerifyConfig(concurrency=concurrency))


def bench_verify(rows: list[dict], concurrency: int) -> dict:
    from sft.retool_format import parse_row

    try:
        import sft.verify  # noqa: F401
    except ImportError as exc:
        return {"skipped": f"sft.verify is not available: {exc}"}
    if not rows:
        return {"skipped": "--verify-rows 0"}
    traces = [parse_row(r) for r in rows]
    cells = sum(len(t.cells) for t in traces)
    started = time.perf_counter()
    verdicts = asyncio.run(_verify(traces, concurrency))
    wall = time.perf_counter() - started
    passed = sum(1 for v in verdicts if v.passed)
    return {"rows": len(traces), "cells": cells, "wall_s": wall, "cells_per_s": cells / wall,
            "rows_per_s": len(traces) / wall, "rows_passed": passed, "concurrency": concurrency,
            "note": "includes sandbox start-up (warm workers with numpy+sympy preloaded)"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=2000)
    ap.add_argument("--verify-rows", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "sft_prepare.json"))
    args = ap.parse_args()

    from sft_data import write_parquet

    rows, cells = build_rows(args.rows, args.seed)
    chars = sum(len(r["messages"][1]["content"]) for r in rows)
    results: dict = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "input": {"rows": len(rows), "code_cells": cells, "mean_assistant_chars": chars / len(rows)},
    }
    with tempfile.TemporaryDirectory() as tmp:
        src = write_parquet(rows, Path(tmp) / "train.parquet")
        base_s = bench_baseline(src, Path(tmp) / "baseline.parquet")
        results["baseline_slime_datasets_map"] = {"wall_s": base_s, "rows_per_s": len(rows) / base_s}
        for fmt in ("slime", "openai"):
            wall, report = bench_prepare(src, Path(tmp) / f"{fmt}.parquet", fmt)
            results[f"prepare_{fmt}"] = {"wall_s": wall, "rows_per_s": len(rows) / wall,
                                         "rows_out": report["rows_out"], "rows_dropped": report["rows_dropped"],
                                         "vs_baseline": base_s / wall}
    results["verify"] = bench_verify(rows[: args.verify_rows], args.concurrency)
    results["targets"] = {f"prepare_{fmt}_at_least_2000_rows_per_s": results[f"prepare_{fmt}"]["rows_per_s"] >= 2000
                          for fmt in ("slime", "openai")}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")

    print(f"{len(rows)} rows, {cells} code cells, {chars / len(rows):.0f} chars per trace")
    print(f"{'step':<34}{'rows/s':>10}{'wall s':>9}")
    print(f"{'slime datasets.map (baseline)':<34}{len(rows) / base_s:>10.0f}{base_s:>9.2f}")
    for fmt in ("slime", "openai"):
        r = results[f"prepare_{fmt}"]
        print(f"{'prepare --format ' + fmt:<34}{r['rows_per_s']:>10.0f}{r['wall_s']:>9.2f}")
    v = results["verify"]
    if "skipped" in v:
        print("verify:", v["skipped"])
    else:
        print(f"verify: {v['cells']} cells in {v['rows']} rows, {v['cells_per_s']:.1f} cells/s, "
              f"{v['rows_passed']}/{v['rows']} rows agree, {v['wall_s']:.1f} s")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
