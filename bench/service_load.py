"""The sandbox as a service under load, side by side in one run.

(a) the in-process engine (`Sandbox.run`);
(b) our HTTP service (`python -m sandbox serve`, same worker count) through `SandboxClient`;
(c) SandboxFusion running natively on this machine, isolation none and lite, through its
    `/run_code` (start them with ``../shared/peers/sandboxfusion/run_sf.sh start none|lite`` and
    SF_GIT_DIR pointing at a fetched bytedance/SandboxFusion mirror; skipped with a note when they
    do not answer at --sf-none-url / --sf-lite-url).

Measured: the corpus (bench/corpus) at concurrency 32, 64 and 256 (throughput, p50/p99, errors);
trivial programs (`print(i)`) at concurrency 256; sequential p50 of `print(1)` and a small sympy
solve; and the loopback check: 10,000 requests at concurrency 256, each printing its own id (lost,
mismatched, 429s, queue timeouts, server RSS growth). Ratios against the "Done when" targets of the
service issue are computed from the same run. Writes bench/results/service_load.json.

    .venv/bin/python bench/service_load.py [--workers N] [--rounds 2] [--trivial 3000] [--skip-sf]
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
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import aiohttp  # noqa: E402
import psutil  # noqa: E402

from sandbox import Sandbox, SandboxConfig, Status  # noqa: E402
from sandbox.client import SandboxClient  # noqa: E402
from service_server import ServerProcess  # noqa: E402

CORPUS = ROOT / "bench" / "corpus"
RESULTS = ROOT / "bench" / "results" / "service_load.json"
SMALL_SOLVE = "import sympy as sp\nx = sp.symbols('x')\nprint(sp.solve(x**2 - 5*x + 6, x))"
CONCURRENCIES = (32, 64, 256)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def summary(elapsed: float, latencies: list[float], ok: int, n: int) -> dict:
    return {"programs": n, "ok": ok, "errors": n - ok, "elapsed_s": round(elapsed, 3),
            "throughput_per_s": round(n / elapsed, 2), "p50_ms": round(pct(latencies, 0.5) * 1000, 2),
            "p99_ms": round(pct(latencies, 0.99) * 1000, 2)}


async def drive(run_one, programs: list[str], concurrency: int) -> dict:
    """run_one(i, code) -> bool (ok); at most `concurrency` in flight."""
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []

    async def one(i: int, code: str) -> bool:
        async with gate:
            t0 = time.perf_counter()
            ok = await run_one(i, code)
            latencies.append(time.perf_counter() - t0)
            return ok

    t0 = time.perf_counter()
    oks = await asyncio.gather(*(one(i, c) for i, c in enumerate(programs)))
    return summary(time.perf_counter() - t0, latencies, sum(oks), len(programs))


async def sequential(run_one, code: str, n: int) -> dict:
    lat = []
    for i in range(n):
        t0 = time.perf_counter()
        await run_one(i, code)
        lat.append(time.perf_counter() - t0)
    return {"n": n, "p50_ms": round(statistics.median(lat) * 1000, 2), "p99_ms": round(pct(lat, 0.99) * 1000, 2)}


def corpus_ok(result) -> bool:
    return result.status is Status.OK


def trivial_programs(n: int) -> list[str]:
    return [f"print({i})" for i in range(n)]


async def measure_backend(name: str, run_one_corpus, run_one_trivial, corpus: list[str], trivial: list[str]) -> dict:
    out: dict = {"corpus": {}}
    await drive(run_one_corpus, corpus[:16], 16)  # warm every worker and connection once
    for c in CONCURRENCIES:
        out["corpus"][f"c{c}"] = await drive(run_one_corpus, corpus, c)
        print(f"  {name} corpus c{c}: {out['corpus'][f'c{c}']}", flush=True)
    if run_one_trivial is not None:
        out["trivial_c256"] = await drive(run_one_trivial, trivial, 256)
        print(f"  {name} trivial c256: {out['trivial_c256']}", flush=True)
        out["latency_print1"] = await sequential(run_one_trivial, "print(1)", 200)
        out["latency_sympy_solve"] = await sequential(run_one_corpus, SMALL_SOLVE, 100)
        print(f"  {name} latency: print(1) {out['latency_print1']}, sympy {out['latency_sympy_solve']}", flush=True)
    return out


async def bench_inprocess(workers: int, corpus: list[str], trivial: list[str]) -> dict:
    async with Sandbox(SandboxConfig(workers=workers)) as sb:
        async def run_corpus(i, code):
            return (await sb.run(code)).status is Status.OK

        async def run_trivial(i, code):
            r = await sb.run(code)
            return r.status is Status.OK and (code == "print(1)" or r.stdout == f"{i}\n")

        out = await measure_backend("in-process", run_corpus, run_trivial, corpus, trivial)
        out["isolation"] = sb.isolation
    return out


async def bench_http(workers: int, corpus: list[str], trivial: list[str], loopback_n: int) -> dict:
    with ServerProcess("--workers", str(workers), "--no-access-log") as srv:
        async with SandboxClient(srv.url, connections=256, retries=50, max_backoff_s=1.0) as client:
            async def run_corpus(i, code):
                return (await client.run(code)).status is Status.OK

            async def run_trivial(i, code):
                r = await client.run(code)
                return r.status is Status.OK and (code == "print(1)" or r.stdout == f"{i}\n")

            out = await measure_backend("http", run_corpus, run_trivial, corpus, trivial)
        out["loopback"] = await loopback_check(workers, loopback_n)
    return out


async def loopback_check(workers: int, n: int) -> dict:
    """n requests at concurrency 256, each printing its own id, on a server with a small queue so that
    overload must come back as 429s (retried by the client), never as queue timeouts."""
    with ServerProcess("--workers", str(workers), "--max-queued", "128", "--no-access-log") as srv:
        server = psutil.Process(srv.proc.pid)
        async with SandboxClient(srv.url, connections=256, retries=50, max_backoff_s=1.0) as client:
            await asyncio.gather(*(client.run(f"print({i})") for i in range(500)))
            rss_before = server.memory_info().rss
            gate = asyncio.Semaphore(256)

            async def one(i):
                async with gate:
                    return await client.run_reply(f"print({i})", ident=i)

            t0 = time.perf_counter()
            replies = await asyncio.gather(*(one(i) for i in range(n)))
            elapsed = time.perf_counter() - t0
            rss_after = server.memory_info().rss
        with urllib.request.urlopen(srv.url + "/metrics", timeout=10) as r:
            metrics = r.read().decode()

    def metric(prefix: str) -> float:
        return sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines() if line.startswith(prefix))

    out = {"requests": n, "concurrency": 256, "elapsed_s": round(elapsed, 2),
           "lost": sum(r.result.status is not Status.OK for r in replies),
           "mismatched": sum(r.result.ok and r.result.stdout != f"{i}\n" for i, r in enumerate(replies)),
           "rejected_429": metric('sandbox_rejections_total{reason="overloaded"}'),
           "queue_timeouts": metric('sandbox_rejections_total{reason="queue_timeout"}'),
           "server_rss_growth_mb": round((rss_after - rss_before) / 2**20, 1)}
    print(f"  loopback: {out}", flush=True)
    return out


async def sf_alive(url: str) -> str | None:
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(url + "/v1/ping", timeout=aiohttp.ClientTimeout(total=3)) as r:
                return None if r.status == 200 else f"HTTP {r.status} from {url}/v1/ping"
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
        return f"not running at {url} ({type(exc).__name__})"


async def bench_sandboxfusion(url: str, corpus: list[str], trivial: list[str]) -> dict:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256)) as http:
        async def run(code):
            body = {"code": code, "language": "python", "run_timeout": 30}
            try:
                async with http.post(url + "/run_code", json=body, timeout=aiohttp.ClientTimeout(total=300)) as r:
                    return r.status, await r.json()
            except (aiohttp.ClientError, asyncio.TimeoutError):
                return 0, {}

        async def run_corpus(i, code):
            status, data = await run(code)
            return status == 200 and data.get("status") == "Success"

        async def run_trivial(i, code):
            status, data = await run(code)
            return status == 200 and data.get("status") == "Success"

        out: dict = {"corpus": {}}
        for c in (32,):  # SandboxFusion is an order of magnitude slower: c32 is what the target compares
            out["corpus"][f"c{c}"] = await drive(run_corpus, corpus, c)
            print(f"  sandboxfusion {url} corpus c{c}: {out['corpus'][f'c{c}']}", flush=True)
        out["latency_print1"] = await sequential(run_trivial, "print(1)", 30)
        print(f"  sandboxfusion latency print(1): {out['latency_print1']}", flush=True)
    return out


def ratio(a: float, b: float) -> float | None:
    return round(a / b, 3) if b else None


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, default=None, help="sandbox workers (default: one per core, >= 2)")
    ap.add_argument("--rounds", type=int, default=2, help="the corpus is run this many times per measurement")
    ap.add_argument("--trivial", type=int, default=3000, help="print(i) programs at concurrency 256")
    ap.add_argument("--loopback", type=int, default=10_000, help="requests in the loopback check")
    ap.add_argument("--sf-none-url", default="http://127.0.0.1:18080")
    ap.add_argument("--sf-lite-url", default="http://127.0.0.1:18081")
    ap.add_argument("--skip-sf", action="store_true")
    args = ap.parse_args()
    workers = args.workers or SandboxConfig().worker_count
    corpus = [p.read_text() for p in sorted(CORPUS.glob("*.py"))] * args.rounds
    trivial = trivial_programs(args.trivial)

    print(f"(a) in-process engine, {workers} workers", flush=True)
    inproc = await bench_inprocess(workers, corpus, trivial)
    print(f"(b) HTTP service via SandboxClient, {workers} workers", flush=True)
    http = await bench_http(workers, corpus, trivial, args.loopback)
    sf: dict = {}
    for mode, url in (("none", args.sf_none_url), ("lite", args.sf_lite_url)):
        why = "skipped (--skip-sf)" if args.skip_sf else await sf_alive(url)
        if why:
            sf[mode] = {"skipped": f"SandboxFusion ({mode}) {why}: start it with "
                                   f"../shared/peers/sandboxfusion/run_sf.sh start {mode}"}
            print(f"(c) SandboxFusion {mode}: {sf[mode]['skipped']}", flush=True)
        else:
            print(f"(c) SandboxFusion {mode} at {url}", flush=True)
            sf[mode] = await bench_sandboxfusion(url, corpus, trivial)

    targets = {
        "http_vs_inprocess_corpus_c64 (>= 0.85)": ratio(http["corpus"]["c64"]["throughput_per_s"],
                                                        inproc["corpus"]["c64"]["throughput_per_s"]),
        "http_vs_inprocess_trivial_c256 (>= 0.6)": ratio(http["trivial_c256"]["throughput_per_s"],
                                                         inproc["trivial_c256"]["throughput_per_s"]),
        "http_p50_print1_ms (<= 12)": http["latency_print1"]["p50_ms"],
        "loopback_lost_mismatched_queue_timeouts (0, 0, 0)": [http["loopback"]["lost"], http["loopback"]["mismatched"],
                                                              http["loopback"]["queue_timeouts"]],
        "loopback_server_rss_growth_mb (<= 50)": http["loopback"]["server_rss_growth_mb"],
    }
    if "corpus" in sf.get("lite", {}):
        targets["http_vs_sandboxfusion_lite_corpus_c32 (>= 10)"] = ratio(
            http["corpus"]["c32"]["throughput_per_s"], sf["lite"]["corpus"]["c32"]["throughput_per_s"])
    if "corpus" in sf.get("none", {}):
        targets["http_vs_sandboxfusion_none_corpus_c32"] = ratio(
            http["corpus"]["c32"]["throughput_per_s"], sf["none"]["corpus"]["c32"]["throughput_per_s"])
    result = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "load_avg_at_end": os.getloadavg()},
        "workers": workers, "corpus_programs_per_run": len(corpus), "trivial_programs": len(trivial),
        "in_process": inproc, "http": http, "sandboxfusion": sf, "targets": targets,
        "note": "one machine shared by client, server and workers; numbers on a shared machine are noisy",
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(targets, indent=2))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    asyncio.run(main())
