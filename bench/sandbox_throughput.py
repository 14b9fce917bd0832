"""Sandbox throughput and latency, three ways side by side in one run.

(a) the engine with full isolation (nsjail when available, warm workers);
(b) a cold `python3 prog.py` subprocess per program, no isolation (what slime's tool_sandbox does);
(c) the bound: each program in a process forked from one warm interpreter (numpy and sympy
    imported, the same warm-up), no isolation, no policy.

All three run the same corpus (bench/corpus/*.py) at the same concurrency. Also measured: sequential
p50 latency for `print(1)` and for a small sympy solve through the engine, and cold for reference.
Writes bench/results/sandbox_throughput.json.

    .venv/bin/python bench/sandbox_throughput.py [--concurrency 32] [--rounds 2] [--workers N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sandbox import Sandbox, SandboxConfig, Status  # noqa: E402
from sandbox.config import DEFAULT_WARMUP  # noqa: E402

CORPUS = ROOT / "bench" / "corpus"
RESULTS = ROOT / "bench" / "results" / "sandbox_throughput.json"
SMALL_SOLVE = "import sympy as sp\nx = sp.symbols('x')\nprint(sp.solve(x**2 - 5*x + 6, x))"

# The bound (c): a forkserver that imports what the engine preloads, runs the same warm-up, then
# forks one child per program (up to `concurrency` at a time) and reports per-program latency.
FORKSERVER = r'''
import gc, json, os, sys, time, select
import numpy, sympy
exec(compile(sys.argv[2], "<warm-up>", "exec"), {"__name__": "__warmup__"})
gc.collect(); gc.freeze()
programs = json.load(open(sys.argv[1]))
conc = int(sys.argv[3])
queue = list(enumerate(programs))
running = {}
lat = [None] * len(programs)
ok = [False] * len(programs)
t0 = time.perf_counter()
while queue or running:
    while queue and len(running) < conc:
        i, code = queue.pop(0)
        r, w = os.pipe()
        start = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            os.dup2(w, 1); os.dup2(w, 2)
            import random; random.seed(); numpy.random.seed()
            try:
                exec(compile(code, "main.py", "exec"), {"__name__": "__main__"})
                rc = 0
            except SystemExit as e:
                rc = e.code if isinstance(e.code, int) else 1
            except BaseException:
                import traceback; traceback.print_exc(); rc = 1
            sys.stdout.flush(); sys.stderr.flush()
            os._exit(rc)
        os.close(w)
        running[pid] = (i, start, r)
    pid, st = os.wait()
    i, start, r = running.pop(pid)
    while os.read(r, 65536):
        pass
    os.close(r)
    lat[i] = time.perf_counter() - start
    ok[i] = os.waitstatus_to_exitcode(st) == 0
print(json.dumps({"elapsed": time.perf_counter() - t0, "latencies": lat, "ok": ok}))
'''


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q / 100 * (len(s) - 1))))]


def summary(name: str, elapsed: float, latencies: list[float], ok: int, n: int) -> dict:
    return {
        "name": name,
        "programs": n,
        "ok": ok,
        "elapsed_s": round(elapsed, 3),
        "programs_per_s": round(n / elapsed, 2),
        "p50_ms": round(pct(latencies, 50) * 1000, 2),
        "p99_ms": round(pct(latencies, 99) * 1000, 2),
    }


async def run_engine(sb: Sandbox, programs: list[str], concurrency: int) -> dict:
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []

    async def one(code: str):
        async with gate:
            t = time.perf_counter()
            r = await sb.run(code, timeout_s=30)
            latencies.append(time.perf_counter() - t)
            return r

    t0 = time.perf_counter()
    results = await asyncio.gather(*(one(c) for c in programs))
    elapsed = time.perf_counter() - t0
    ok = sum(r.status is Status.OK for r in results)
    return summary(f"(a) engine, isolation={sb.isolation}", elapsed, latencies, ok, len(programs))


async def run_cold(programs: list[str], concurrency: int, workdir: Path) -> dict:
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    files = []
    for i, code in enumerate(programs):
        f = workdir / f"prog_{i}.py"
        f.write_text(code)
        files.append(f)

    async def one(f: Path) -> bool:
        async with gate:
            t = time.perf_counter()
            p = await asyncio.create_subprocess_exec(sys.executable, str(f), stdout=asyncio.subprocess.PIPE,
                                                     stderr=asyncio.subprocess.PIPE, cwd=workdir)
            await p.communicate()
            latencies.append(time.perf_counter() - t)
            return p.returncode == 0

    t0 = time.perf_counter()
    oks = await asyncio.gather(*(one(f) for f in files))
    return summary("(b) cold python3 per program, no isolation", time.perf_counter() - t0, latencies, sum(oks),
                   len(programs))


async def run_forkserver(programs: list[str], concurrency: int, workdir: Path) -> dict:
    src = workdir / "programs.json"
    src.write_text(json.dumps(programs))
    p = await asyncio.create_subprocess_exec(sys.executable, "-c", FORKSERVER, str(src), DEFAULT_WARMUP,
                                             str(concurrency), stdout=asyncio.subprocess.PIPE)
    out, _ = await p.communicate()
    d = json.loads(out)
    return summary("(c) bound: fork from one warm interpreter, no isolation", d["elapsed"], d["latencies"],
                   sum(d["ok"]), len(programs))


async def sequential_latency(sb: Sandbox, code: str, n: int) -> dict:
    lat = []
    for _ in range(n):
        t = time.perf_counter()
        r = await sb.run(code)
        lat.append(time.perf_counter() - t)
        assert r.status is Status.OK, r
    return {"p50_ms": round(pct(lat, 50) * 1000, 2), "p99_ms": round(pct(lat, 99) * 1000, 2), "n": n}


async def cold_latency(code: str, n: int, workdir: Path) -> dict:
    f = workdir / "lat.py"
    f.write_text(code)
    lat = []
    for _ in range(n):
        t = time.perf_counter()
        p = await asyncio.create_subprocess_exec(sys.executable, str(f), stdout=asyncio.subprocess.DEVNULL)
        await p.wait()
        lat.append(time.perf_counter() - t)
    return {"p50_ms": round(pct(lat, 50) * 1000, 2), "n": n}


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=2, help="the corpus is run this many times per mode")
    ap.add_argument("--workers", type=int, default=None, help="engine workers (default: SandboxConfig's)")
    ap.add_argument("--isolation", default="auto", choices=("auto", "nsjail", "process"))
    ap.add_argument("--output", type=Path, default=RESULTS)
    args = ap.parse_args()

    corpus = [p.read_text() for p in sorted(CORPUS.glob("*.py"))]
    programs = corpus * args.rounds
    cfg = SandboxConfig(isolation=args.isolation, workers=args.workers, timeout_s=30, max_pending=100_000)
    with tempfile.TemporaryDirectory(prefix="sandbox-bench-") as tmp:
        workdir = Path(tmp)
        async with Sandbox(cfg) as sb:
            await run_engine(sb, corpus[:8], args.concurrency)  # touch every worker once
            modes = [
                await run_engine(sb, programs, args.concurrency),
                await run_cold(programs, args.concurrency, workdir),
                await run_forkserver(programs, args.concurrency, workdir),
            ]
            latency = {
                "print(1)": await sequential_latency(sb, "print(1)", 200),
                "sympy solve": await sequential_latency(sb, SMALL_SOLVE, 100),
                "print(1) cold python3": await cold_latency("print(1)", 30, workdir),
                "sympy solve cold python3": await cold_latency(SMALL_SOLVE, 10, workdir),
            }
            info = sb.describe()
    a, b, c = modes
    result = {
        "benchmark": "sandbox_throughput",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "corpus_programs": len(corpus),
        "rounds": args.rounds,
        "concurrency": args.concurrency,
        "engine": {"isolation": info["isolation"], "workers": info["workers"], "preloaded": info.get("preloaded")},
        "modes": modes,
        "ratios": {
            "a_over_b_throughput": round(a["programs_per_s"] / b["programs_per_s"], 2),
            "c_over_a_throughput": round(c["programs_per_s"] / a["programs_per_s"], 2),
        },
        "latency_sequential": latency,
        "targets": {
            "a_over_b_at_least": 4.0,
            "c_over_a_at_most": 1.3,
            "print1_p50_ms_at_most": 15,
            "sympy_solve_p50_ms_at_most": 40,
        },
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'mode':<58} {'progs/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'ok':>8}")
    for m in modes:
        print(f"{m['name']:<58} {m['programs_per_s']:>8} {m['p50_ms']:>8} {m['p99_ms']:>8} "
              f"{m['ok']:>4}/{m['programs']}")
    print(f"a/b = {result['ratios']['a_over_b_throughput']}x (target >= 4), "
          f"c/a = {result['ratios']['c_over_a_throughput']}x (target <= 1.3)")
    for k, v in latency.items():
        print(f"latency {k:<26} p50 {v['p50_ms']} ms")
    print(f"written to {args.output}")


if __name__ == "__main__":
    asyncio.run(main())
