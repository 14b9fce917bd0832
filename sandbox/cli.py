"""`python -m sandbox` (also `retool-sandbox`): run, batch, check, demo, serve."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass

from .config import SandboxConfig
from .engine import Sandbox
from .types import ExecResult, SandboxError, Status


# C0 and C1 control characters (bar newline and tab) and the bidirectional overrides: a program's
# output must not move the operator's cursor, set the window title or reorder what they read.
_UNSAFE = [c for c in range(0x20) if c not in (0x09, 0x0A)] + [0x7F, *range(0x80, 0xA0),
                                                                 *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_ESCAPES = {c: (f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}") for c in _UNSAFE}


def terminal_safe(text: str) -> str:
    """Program output as printable text for a terminal: control characters shown escaped (\\x1b).

    Only for what the CLI prints to a terminal; `--json` and `batch` keep the exact output.
    """
    return text.translate(_ESCAPES)


def _config(args: argparse.Namespace, **extra) -> SandboxConfig:
    kwargs = dict(extra)
    if getattr(args, "isolation", None):
        kwargs["isolation"] = args.isolation
    if getattr(args, "workers", None):
        kwargs["workers"] = args.workers
    timeout = getattr(args, "timeout", None)
    if timeout is not None:
        kwargs["timeout_s"] = timeout
        kwargs["max_timeout_s"] = max(timeout, SandboxConfig.max_timeout_s)
    memory = getattr(args, "memory_mb", None)
    if memory is not None:
        kwargs["memory_mb"] = memory
        kwargs["max_memory_mb"] = max(memory, SandboxConfig.max_memory_mb)
    return SandboxConfig(**kwargs)


# ---------------------------------------------------------------------- run

async def _cmd_run(args: argparse.Namespace) -> int:
    if args.file in (None, "-"):
        code = sys.stdin.buffer.read()
    else:
        try:
            with open(args.file, "rb") as f:
                code = f.read()
        except OSError as exc:
            print(f"sandbox: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
            return 2
    async with Sandbox(_config(args, workers=1)) as sb:
        result = await sb.run(code)
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
        return 0
    sys.stdout.write(terminal_safe(result.stdout))
    sys.stdout.flush()
    sys.stderr.write(terminal_safe(result.stderr))
    if result.status not in (Status.OK, Status.ERROR):
        print(f"sandbox: {result.status.value}: {terminal_safe(str(result.error))}", file=sys.stderr)
    if result.exit_code is None or result.exit_code < 0:
        return 1
    return result.exit_code


# ---------------------------------------------------------------------- batch

def _parse_line(lineno: int, line: str) -> tuple[object, dict | None, ExecResult | None]:
    """(id, run kwargs, or the result that refuses a malformed line)."""
    try:
        item = json.loads(line)
    except ValueError as exc:
        return None, None, ExecResult(Status.REJECTED, error=f"line {lineno}: invalid JSON: {exc}")
    if not isinstance(item, dict):
        return None, None, ExecResult(Status.REJECTED, error=f"line {lineno}: expected a JSON object")
    ident = item.get("id", lineno)
    code = item.get("code")
    if not isinstance(code, str):
        return ident, None, ExecResult(Status.REJECTED, error=f"line {lineno}: 'code' must be a string")
    kwargs = {"code": code}
    for key, kind in (("timeout_s", (int, float)), ("memory_mb", int), ("stdin", str)):
        if item.get(key) is not None:
            if not isinstance(item[key], kind) or isinstance(item[key], bool):
                return ident, None, ExecResult(Status.REJECTED, error=f"line {lineno}: '{key}' has the wrong type")
            kwargs[key] = item[key]
    return ident, kwargs, None


async def _cmd_batch(args: argparse.Namespace) -> int:
    try:
        source = sys.stdin if args.input == "-" else open(args.input, encoding="utf-8", errors="replace")
    except OSError as exc:
        print(f"sandbox: cannot read {args.input}: {exc.strerror}", file=sys.stderr)
        return 2
    with source:
        lines = [(n, line) for n, line in enumerate(source, 1) if line.strip()]
    out = sys.stdout if args.output in (None, "-") else open(args.output, "w", encoding="utf-8")
    gate = asyncio.Semaphore(args.concurrency)
    async with Sandbox(_config(args)) as sb:

        async def one(lineno: int, line: str) -> str:
            ident, kwargs, refusal = _parse_line(lineno, line)
            if refusal is None:
                async with gate:
                    try:
                        result = await sb.run(**kwargs)
                    except SandboxError as exc:  # limits out of range: the line's fault, not fatal
                        result = ExecResult(Status.REJECTED, error=f"line {lineno}: {exc}")
            else:
                result = refusal
            return json.dumps({"id": ident, **result.to_dict()}, ensure_ascii=False)

        tasks = [asyncio.create_task(one(n, line)) for n, line in lines]
        # Written in input order as each prefix completes, so a long batch streams its results.
        for task in tasks:
            out.write(await task + "\n")
            out.flush()
    if out is not sys.stdout:
        out.close()
    return 0


# ---------------------------------------------------------------------- check

@dataclass(frozen=True)
class Probe:
    name: str
    code: str
    expect: Status
    stdout_has: str = ""


SELF_TEST = (
    Probe("runs a program", "print(6 * 7)", Status.OK, "42"),
    Probe("numpy and sympy are warm", "import numpy, sympy\nprint(sympy.factorint(360), numpy.arange(3).sum())",
          Status.OK, "{2: 3, 3: 2, 5: 1} 3"),
    Probe("refuses a module outside the allowlist", "import subprocess", Status.ERROR),
    Probe("policy rejects an escape pattern", "().__class__.__bases__[0].__subclasses__()", Status.REJECTED),
    Probe("wall-clock timeout", "while True: pass", Status.TIMEOUT),
    Probe("memory limit", "x = bytearray(1 << 34)", Status.MEMORY),
    Probe("output cap", "print('x' * 10**6)", Status.OUTPUT_LIMIT),
    Probe("host files are not visible", "print(open('/etc/hostname').read())", Status.ERROR),
)


async def _self_test(sb: Sandbox) -> list[tuple[Probe, ExecResult, bool]]:
    results = await asyncio.gather(*(sb.run(p.code, timeout_s=2, memory_mb=256) for p in SELF_TEST))
    rows = []
    for probe, result in zip(SELF_TEST, results):
        passed = result.status == probe.expect and probe.stdout_has in result.stdout
        if probe.name == "host files are not visible" and sb.isolation != "nsjail":
            passed = True  # the process backend cannot hide host files; `check` already warned
        rows.append((probe, result, passed))
    return rows


async def _cmd_check(args: argparse.Namespace) -> int:
    async with Sandbox(_config(args)) as sb:
        info = sb.describe()
        print(f"isolation: {info['isolation']}  ({info['reason']})")
        for key in ("binary", "cgroups", "cgroup_version", "python_mounts", "uid_drop", "workers", "preloaded",
                    "python"):
            if key in info:
                print(f"  {key}: {info[key]}")
        for failed, why in (info.get("preload_failed") or {}).items():
            print(f"  preload failed: {failed}: {why}")
        for warning in info["warnings"]:
            print(f"  WARNING: {warning}")
        rows = await _self_test(sb)
    print("self-test:")
    for probe, result, passed in rows:
        mark = "ok  " if passed else "FAIL"
        print(f"  [{mark}] {probe.name:<42} -> {result.status.value} ({result.duration_s * 1000:.0f} ms)")
    failed = [r for r in rows if not r[2]]
    if failed:
        print(f"{len(failed)} self-test(s) failed", file=sys.stderr)
        return 1
    print("all self-tests passed")
    return 0


# ---------------------------------------------------------------------- demo

DEMO_PROGRAMS = (
    ("sympy: solve a system", "import sympy as sp\nx, y = sp.symbols('x y')\n"
     "print(sp.solve([x + y - 10, x * y - 21], [x, y]))"),
    ("numpy: count lattice points", "import numpy as np\nr = np.arange(-10, 11)\nX, Y = np.meshgrid(r, r)\n"
     "print(int(((X**2 + Y**2) <= 100).sum()))"),
    ("brute force: AIME-style count", "from itertools import product\n"
     "print(sum(1 for a, b, c in product(range(1, 50), repeat=3) if a + b + c == 50 and a <= b <= c))"),
    ("a traceback, as python prints it", "def f(n):\n    return 10 // n\n\nprint(f(0))"),
    ("a refused import", "import socket"),
)


async def _cmd_demo(args: argparse.Namespace) -> int:
    rc = await _cmd_check(args)
    print()
    async with Sandbox(_config(args)) as sb:
        for title, code in DEMO_PROGRAMS:
            t0 = time.perf_counter()
            r = await sb.run(code)
            ms = (time.perf_counter() - t0) * 1000
            print(f"--- {title}: {r.status.value} in {ms:.0f} ms")
            text = terminal_safe(r.stdout + r.stderr).rstrip()
            print("\n".join("    " + line for line in text.splitlines()[-6:]))
        t0 = time.perf_counter()
        results = await asyncio.gather(*(sb.run(f"print({i} ** 2)") for i in range(200)))
        elapsed = time.perf_counter() - t0
        ok = sum(r.stdout == f"{i ** 2}\n" for i, r in enumerate(results))
        print(f"--- 200 concurrent runs: {ok}/200 correct in {elapsed:.2f} s ({200 / elapsed:.0f} runs/s)")
    return rc


# ---------------------------------------------------------------------- main

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--isolation", choices=("auto", "nsjail", "process"), default=None)
    common.add_argument("--workers", type=int, default=None, help="warm workers (default: one per core, >= 2)")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", parents=[common], help="run one program")
    run.add_argument("file", nargs="?", default="-", help="a .py file, or - for stdin")
    run.add_argument("--timeout", type=float, default=None, help="seconds (default 10)")
    run.add_argument("--memory-mb", type=int, default=None)
    run.add_argument("--json", action="store_true",
                     help="print the ExecResult as one JSON object, output exact (otherwise control "
                          "characters in the program's output are shown escaped)")

    batch = sub.add_parser("batch", parents=[common], help="run a JSONL file of programs")
    batch.add_argument("input", help='JSONL: {"id", "code", optional "timeout_s", "memory_mb", "stdin"}')
    batch.add_argument("--concurrency", type=int, default=32)
    batch.add_argument("-o", "--output", default=None, help="output JSONL (default stdout)")

    serve = sub.add_parser("serve", parents=[common], help="serve the sandbox over HTTP (SandboxFusion-compatible)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--token", default=None,
                       help="bearer token clients must send (default: $RETOOL_SANDBOX_TOKEN); "
                            "required for a non-loopback --host")
    serve.add_argument("--max-inflight", type=int, default=None, help="runs handed to the sandbox at once "
                       "(default: 2 x workers)")
    serve.add_argument("--max-queued", type=int, default=None, help="runs waiting beyond that before 429s")
    serve.add_argument("--max-queue-wait", type=float, default=None, help="seconds a run may wait for a slot")
    serve.add_argument("--max-timeout", type=float, default=None, help="cap on a request's run timeout (s)")
    serve.add_argument("--max-memory-mb", type=int, default=None, help="cap on a request's memory limit")
    serve.add_argument("--session-idle", type=float, default=None, help="seconds before an unused HTTP session "
                       "is closed (default 300)")
    serve.add_argument("--drain", type=float, default=None, help="seconds in-flight requests get on SIGTERM")
    serve.add_argument("--no-access-log", action="store_true", help="no JSON line per request on stderr")
    serve.add_argument("--ray", nargs="?", const="auto", default=None, metavar="ADDRESS",
                       help="serve a Ray cluster (one sandbox actor per node, sandbox.cluster) instead of this "
                            "host's sandbox; ADDRESS as for ray.init (default: the running cluster)")

    sub.add_parser("check", parents=[common], help="show the isolation in effect and run a self-test")
    sub.add_parser("demo", parents=[common], help="check, then a few example programs")
    return parser


# ---------------------------------------------------------------------- serve

def _cmd_serve(args: argparse.Namespace) -> int:
    """Blocking (uvicorn owns the event loop, so the sandbox starts inside it)."""
    import os

    try:
        from .service import ServiceConfig, serve
    except ImportError as exc:
        print(f"sandbox: serve needs the [service] extra (fastapi, uvicorn): {exc}", file=sys.stderr)
        return 2
    config = _config(args)
    kwargs = {"host": args.host, "port": args.port, "token": args.token or os.environ.get("RETOOL_SANDBOX_TOKEN"),
              "max_inflight": args.max_inflight or 2 * config.worker_count, "access_log": not args.no_access_log,
              "max_sessions": config.max_sessions}
    for key, value in (("max_queued", args.max_queued), ("max_queue_wait_s", args.max_queue_wait),
                       ("max_timeout_s", args.max_timeout), ("max_memory_mb", args.max_memory_mb),
                       ("session_idle_s", args.session_idle), ("drain_s", args.drain)):
        if value is not None:
            kwargs[key] = value
    kwargs.setdefault("max_timeout_s", config.max_timeout_s)
    kwargs.setdefault("max_memory_mb", config.max_memory_mb)
    kwargs["default_timeout_s"] = config.timeout_s
    service = ServiceConfig(**kwargs)
    config = config.with_(max_timeout_s=max(config.max_timeout_s, service.max_timeout_s),
                          max_memory_mb=max(config.max_memory_mb, service.max_memory_mb))
    if args.ray is not None:
        from .cluster import ClusterConfig, SandboxCluster

        backend = SandboxCluster(ClusterConfig(sandbox=config, address=args.ray))
        where = f"a Ray cluster ({args.ray}): one sandbox per node"
    else:
        backend = Sandbox(config)
        where = f"{config.worker_count} workers"
    print(f"sandbox: serving on http://{service.host}:{service.port} ({where}, "
          f"auth {'on' if service.token else 'off'})", file=sys.stderr, flush=True)
    return serve(backend, service)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        try:
            return _cmd_serve(args)
        except SandboxError as exc:
            print(f"sandbox: {exc}", file=sys.stderr)
            return 2
    handler = {"run": _cmd_run, "batch": _cmd_batch, "check": _cmd_check, "demo": _cmd_demo}[args.command]
    if getattr(args, "concurrency", 1) < 1:
        print("sandbox: --concurrency must be at least 1", file=sys.stderr)
        return 2
    try:
        return asyncio.run(handler(args))
    except SandboxError as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
