"""What the Ray cluster layer costs per request, side by side with the in-process engine, in one run.

(a) the router's own bookkeeping (pick the least loaded node, release) with 2 to 1,024 nodes;
(b) one Ray actor call that does nothing (`ping`): the transport floor, sequential latency and the
    driver's CPU per call at concurrency 64;
(c) `print(i)` and the corpus (bench/corpus/*.py) through the in-process `Sandbox` and through
    `SandboxCluster` on a one-node local Ray cluster with the same worker count: throughput, p50/p99,
    and the driver process's CPU time per request (what limits how many requests one router handles).

Writes bench/results/cluster_router.json. Needs Ray (`make bench-ray` runs it in .venv-ray).

    .venv-ray/bin/python bench/cluster_router.py [--concurrency 32] [--workers N] [--trivial 400]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sandbox import Sandbox, SandboxConfig, Status  # noqa: E402
from sandbox.cluster import ClusterConfig, Router, SandboxCluster  # noqa: E402

CORPUS = ROOT / "bench" / "corpus"
RESULTS = ROOT / "bench" / "results" / "cluster_router.json"


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def router_cost(nodes: int, ops: int = 100_000) -> float:
    """Microseconds per acquire+release with `nodes` nodes."""
    r = Router()
    for i in range(nodes):
        r.add(f"node-{i}", 16)
    start = time.perf_counter()
    for _ in range(ops):
        r.release(r.acquire())
    return (time.perf_counter() - start) / ops * 1e6


async def measure(runner, programs: list[str], concurrency: int) -> dict:
    sem = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    errors = 0

    async def one(code: str) -> None:
        nonlocal errors
        async with sem:
            t = time.perf_counter()
            r = await runner(code)
            latencies.append(time.perf_counter() - t)
            if r.status not in (Status.OK, Status.ERROR):
                errors += 1

    cpu0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one(c) for c in programs))
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return {"n": len(programs), "wall_s": round(wall, 3), "per_s": round(len(programs) / wall, 1),
            "p50_ms": round(pct(latencies, 0.5) * 1e3, 2), "p99_ms": round(pct(latencies, 0.99) * 1e3, 2),
            "errors": errors, "driver_cpu_us_per_request": round(cpu / len(programs) * 1e6)}


async def sequential_p50(runner, code: str, n: int = 40) -> float:
    await runner(code)
    times = []
    for _ in range(n):
        t = time.perf_counter()
        await runner(code)
        times.append(time.perf_counter() - t)
    return round(statistics.median(times) * 1e3, 2)


async def engine_side(name: str, sb, corpus: list[str], args) -> dict:
    trivial = [f"print({i})" for i in range(args.trivial)]
    out = {"print1_p50_ms": await sequential_p50(sb.run, "print(1)")}
    out["trivial"] = await measure(sb.run, trivial, args.concurrency)
    out["corpus"] = await measure(sb.run, corpus, args.concurrency)
    print(f"{name:>10}: print(1) p50 {out['print1_p50_ms']} ms | trivial {out['trivial']['per_s']}/s "
          f"(driver {out['trivial']['driver_cpu_us_per_request']} us CPU/req) | corpus {out['corpus']['per_s']}/s "
          f"p50 {out['corpus']['p50_ms']} ms errors {out['corpus']['errors']}", flush=True)
    return out


async def main(args) -> dict:
    import ray

    results: dict = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                 "ray": ray.__version__, "loadavg_at_start": os.getloadavg()[0]},
                     "concurrency": args.concurrency}
    results["router_us_per_request"] = {n: round(router_cost(n), 2) for n in (2, 16, 64, 256, 1024)}
    print("router bookkeeping (us per acquire+release):", results["router_us_per_request"], flush=True)

    corpus = [p.read_text() for p in sorted(CORPUS.glob("*.py"))]
    config = SandboxConfig(timeout_s=20, workers=args.workers)
    async with Sandbox(config) as sb:
        results["in_process"] = await engine_side("in-process", sb, corpus, args)

    cluster_config = ClusterConfig(sandbox=config, workers_per_node=args.workers)
    async with SandboxCluster(cluster_config) as sb:
        slot = next(iter(sb._slots.values()))
        ping = [await slot.actor.ping.remote() for _ in range(20)]  # warm the connection
        times = []
        for _ in range(200):
            t = time.perf_counter()
            await slot.actor.ping.remote()
            times.append(time.perf_counter() - t)
        sem = asyncio.Semaphore(64)

        async def one_ping():
            async with sem:
                await slot.actor.ping.remote()

        cpu0, t0 = time.process_time(), time.perf_counter()
        await asyncio.gather(*(one_ping() for _ in range(2000)))
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        results["ray_actor_call"] = {"sequential_p50_us": round(statistics.median(times) * 1e6),
                                     "concurrent64_per_s": round(2000 / wall),
                                     "driver_cpu_us_per_call": round(cpu / 2000 * 1e6)}
        del ping
        print("ray actor call (no-op):", results["ray_actor_call"], flush=True)
        results["cluster"] = await engine_side("cluster", sb, corpus, args)

    a, b = results["in_process"], results["cluster"]
    results["ratios"] = {
        "trivial_throughput_cluster_over_in_process": round(b["trivial"]["per_s"] / a["trivial"]["per_s"], 3),
        "corpus_throughput_cluster_over_in_process": round(b["corpus"]["per_s"] / a["corpus"]["per_s"], 3),
        "print1_p50_added_ms": round(b["print1_p50_ms"] - a["print1_p50_ms"], 2),
        "driver_cpu_added_us_per_request": b["trivial"]["driver_cpu_us_per_request"]
        - a["trivial"]["driver_cpu_us_per_request"],
    }
    results["machine"]["loadavg_at_end"] = os.getloadavg()[0]
    print("ratios:", results["ratios"], flush=True)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=max(2, os.cpu_count() or 1))
    parser.add_argument("--trivial", type=int, default=400)
    parsed = parser.parse_args()
    out = asyncio.run(main(parsed))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
