"""``python -m sft verify``: re-run every code cell of ReTool-SFT traces in the sandbox and compare
what it prints with the interpreter output the trace recorded.

A trace whose recorded outputs the code does not reproduce teaches a model to trust observations it
would never see at RL time, so this step measures agreement per cell and per row, writes a report,
and can drop the rows that fail.

Execution. The cells of one row run in order in one `sandbox.Session`, because later cells use the
variables of earlier ones; rows run concurrently (``concurrency`` rows in flight, never more
sessions than the sandbox allows), all on one shared `Sandbox`. One-cell rows use a session too: the
sandbox keeps a cleanly closed session's worker as a spare for the next session, so a session costs
a fork, and every row then runs under exactly the same semantics.

Comparison (`compare_outputs`). ReTool's recorded outputs are the program's stdout, and for a cell
that raised, the error text. Both sides are whitespace-normalised; numbers found inside the text are
compared with a relative/absolute tolerance (integers exactly, so a combinatorics answer that is off
by one never passes); everything else, sympy's ``1/3`` included, must be equal as text. When the
recorded output is an exception, the cells agree if the final exception line agrees (type and
message) and any output printed before the traceback agrees: paths and line numbers in a traceback
differ between machines and are not the behaviour being checked.

Failures are data, not crashes: a timeout, a memory kill, a refusal or a sandbox failure is a failed
cell with its reason; after a cell that ended the session's interpreter, later cells run in a fresh
one and are marked ``state_lost``. A malformed row is reported with its index and reason and skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import enum
import itertools
import json
import math
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from sandbox import ExecResult, Sandbox, SandboxConfig, SandboxError, Status

from .io import Progress, Report, RowIssue, read_rows, write_rows
from .retool_format import Trace, parse_row

__all__ = [
    "CellStatus",
    "CellCheck",
    "RowVerdict",
    "VerifyConfig",
    "CompareMode",
    "compare_outputs",
    "normalize_whitespace",
    "check_cell",
    "verify_trace",
    "verify_traces",
    "summarize",
    "add_arguments",
    "run",
]

CompareMode = Literal["tolerant", "whitespace", "exact"]
COMPARE_MODES: tuple[str, ...] = ("tolerant", "whitespace", "exact")

# ---------------------------------------------------------------------------------------- comparison

# A number standing on its own: not part of an identifier (``x2``, ``cell_1``) or of a dotted version
# (``1.2.3``). A sign belongs to the number only where it is unary (``[-1, 2]``, not ``x-1`` or ``(a)-1``),
# so both sides of a comparison split the same way. The one capture group makes `re.split` keep the numbers.
_NUMBER = re.compile(r"((?<![\w.])(?:(?<![)\]])[-+])?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![\w.]))")
_INTEGER = re.compile(r"[-+]?\d+")
_EXCEPTION_LINE = re.compile(r"(?P<type>[A-Za-z_][\w.]*)(?::(?P<message>.*))?")
# Exception names by convention; any name counts when a traceback header shows the text is an error.
_EXCEPTION_SUFFIXES = ("Error", "Exception", "Exit", "Interrupt", "Iteration", "Warning")
_TRACEBACK_HEADER = "Traceback (most recent call last):"


def normalize_whitespace(text: str) -> str:
    """Text with line endings unified, runs of spaces/tabs collapsed, blank lines dropped, ends stripped.

    Runs inside a line collapse too: numpy and pandas pad columns to the width of the widest value,
    so a value that differs only within tolerance (``0.49999999999999994`` vs ``0.5``) shifts the
    padding of its neighbours.
    """
    lines = (" ".join(line.split()) for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    return "\n".join(line for line in lines if line)


def _numbers_close(a: str, b: str, rel_tol: float, abs_tol: float) -> bool:
    if a == b:
        return True
    if _INTEGER.fullmatch(a) and _INTEGER.fullmatch(b):
        return int(a) == int(b)
    return math.isclose(float(a), float(b), rel_tol=rel_tol, abs_tol=abs_tol)


def _split_numbers(text: str) -> list[str]:
    """Alternating [text, number, text, ..., text]: even indices are text, odd ones numbers."""
    return _NUMBER.split(text)


def _same_skeleton(expected: str, actual: str) -> bool:
    """The texts agree everywhere except in the values of the numbers they contain."""
    e, a = _split_numbers(expected), _split_numbers(actual)
    return len(e) == len(a) and e[::2] == a[::2]


def _texts_agree(expected: str, actual: str, mode: CompareMode, rel_tol: float, abs_tol: float) -> bool:
    """Two normalised texts agree: equal, or (tolerant) equal but for numbers within tolerance."""
    if expected == actual:
        return True
    if mode != "tolerant" or not _same_skeleton(expected, actual):
        return False
    pairs = zip(_split_numbers(expected)[1::2], _split_numbers(actual)[1::2])
    return all(_numbers_close(x, y, rel_tol, abs_tol) for x, y in pairs)


@dataclass(frozen=True)
class _Raised:
    """A normalised output that ends in an exception: what was printed before it, and the exception."""

    printed: str
    type: str  # the last dotted component: ``sympy.polys.polyerrors.PolynomialError`` -> PolynomialError
    message: str


def _split_exception(text: str) -> _Raised | None:
    """The exception a normalised output ends with, or None when it does not end with one."""
    lines = text.split("\n")
    match = _EXCEPTION_LINE.fullmatch(lines[-1])
    if match is None:
        return None
    name = match["type"].rsplit(".", 1)[-1]
    header = next((i for i, line in enumerate(lines) if line == _TRACEBACK_HEADER), None)
    if header is None:  # a SyntaxError's report starts at its File line, without the header
        header = next((i for i, line in enumerate(lines[:-1]) if line.startswith('File "')), None)
    if header is None and not name.endswith(_EXCEPTION_SUFFIXES):
        return None
    start = len(lines) - 1 if header is None else header
    return _Raised("\n".join(lines[:start]), name, (match["message"] or "").strip())


def _exceptions_agree(expected: _Raised, actual: _Raised, mode: CompareMode, rel_tol: float, abs_tol: float) -> bool:
    if expected.type != actual.type or not _texts_agree(expected.message, actual.message, mode, rel_tol, abs_tol):
        return False
    # A recording that kept only the exception line says nothing about what was printed before it.
    return not expected.printed or _texts_agree(expected.printed, actual.printed, mode, rel_tol, abs_tol)


def compare_outputs(expected: str, actual: str, *, rel_tol: float = 1e-6, abs_tol: float = 1e-9,
                    mode: CompareMode = "tolerant") -> bool:
    """Whether a cell's output ``actual`` (stdout, then stderr) reproduces the recorded ``expected``.

    ``exact``: equal but for leading/trailing newlines. ``whitespace``: equal after
    `normalize_whitespace`. ``tolerant`` (the default): also numbers within ``rel_tol``/``abs_tol``
    (integers exactly). In both normalising modes a recorded exception matches on its final line and on
    the output before the traceback, not on the traceback's paths and line numbers.
    """
    if mode not in COMPARE_MODES:
        raise ValueError(f"unknown compare mode {mode!r}; expected one of {COMPARE_MODES}")
    if mode == "exact":
        return expected.strip("\n") == actual.strip("\n")
    e, a = normalize_whitespace(expected), normalize_whitespace(actual)
    if _texts_agree(e, a, mode, rel_tol, abs_tol):
        return True
    raised_e = _split_exception(e) if e else None
    raised_a = _split_exception(a) if raised_e and a else None
    return raised_a is not None and _exceptions_agree(raised_e, raised_a, mode, rel_tol, abs_tol)


# ---------------------------------------------------------------------------------------- results


class CellStatus(str, enum.Enum):
    """What re-running one cell showed; a str enum so it serialises as its value."""

    MATCH = "match"  # the output reproduces the recording
    MISMATCH = "mismatch"  # ran to completion (or raised as recorded) but printed something else
    ERROR = "error"  # raised where the recording shows no such exception
    TIMEOUT = "timeout"
    MEMORY = "memory"
    REJECTED = "rejected"  # the sandbox refused the code (policy, size)
    OUTPUT_LIMIT = "output_limit"  # the output was cut at the sandbox's cap
    SANDBOX_ERROR = "sandbox_error"  # the sandbox failed, not the code

    def __str__(self) -> str:
        return self.value


# Sandbox outcomes that are a verdict on their own, before any output is compared.
_UNCOMPARED = {
    Status.TIMEOUT: CellStatus.TIMEOUT,
    Status.MEMORY: CellStatus.MEMORY,
    Status.REJECTED: CellStatus.REJECTED,
    Status.OUTPUT_LIMIT: CellStatus.OUTPUT_LIMIT,
    Status.SANDBOX_ERROR: CellStatus.SANDBOX_ERROR,
}
# Outcomes after which a session's interpreter is gone (the next cell starts a fresh one).
_ENDS_INTERPRETER = frozenset({Status.TIMEOUT, Status.MEMORY, Status.OUTPUT_LIMIT, Status.SANDBOX_ERROR})
_STATE_GONE_NOTE = "earlier state is gone"  # what the sandbox says on the first cell of a fresh interpreter


@dataclass(frozen=True)
class CellCheck:
    """One cell re-run: the recorded and the reproduced output, and the verdict.

    ``reason`` is a short stable key for a failure (counted in reports): ``output_differs``,
    ``numbers_differ``, ``missing_output``, ``expected_exception``, ``unexpected_exception``,
    ``exception_differs``, ``state_lost``, or the sandbox outcome (``timeout``, ``memory``, ...).
    ``detail`` is the sandbox's own message; ``state_lost`` says an earlier cell of the row ended the
    interpreter, so this cell ran without the variables it may need.
    """

    row: int
    cell: int
    status: CellStatus
    expected: str
    actual: str
    duration_s: float
    reason: str | None = None
    detail: str | None = None
    state_lost: bool = False

    @property
    def matched(self) -> bool:
        return self.status is CellStatus.MATCH

    def as_dict(self, max_chars: int | None = None) -> dict[str, Any]:
        d = asdict(self)
        d["status"] = self.status.value
        if max_chars is not None:
            d["expected"] = _clip(self.expected, max_chars)
            d["actual"] = _clip(self.actual, max_chars)
        return d


@dataclass(frozen=True)
class RowVerdict:
    """All cells of one row. ``agreement`` is the fraction of cells that match (1.0 for a row without
    code: nothing in it can disagree); ``passed`` is ``agreement >= min_agreement``."""

    row: int
    cells: tuple[CellCheck, ...]
    agreement: float
    passed: bool

    @classmethod
    def of(cls, row: int, cells: Sequence[CellCheck], min_agreement: float = 1.0) -> "RowVerdict":
        agreement = sum(c.matched for c in cells) / len(cells) if cells else 1.0
        return cls(row, tuple(cells), agreement, agreement >= min_agreement)

    @property
    def matched(self) -> int:
        return sum(c.matched for c in self.cells)

    @property
    def first_failure(self) -> CellCheck | None:
        return next((c for c in self.cells if not c.matched), None)

    def as_dict(self, max_chars: int = 500) -> dict[str, Any]:
        failure = self.first_failure
        return {
            "row": self.row,
            "cells": len(self.cells),
            "matched": self.matched,
            "agreement": round(self.agreement, 4),
            "passed": self.passed,
            "statuses": [c.status.value for c in self.cells],
            "first_failure": failure.as_dict(max_chars) if failure else None,
        }


@dataclass(frozen=True)
class VerifyConfig:
    """How cells are re-run and compared.

    ``concurrency``: rows in flight (default: the sandbox's worker count; sessions are further capped
    by its ``max_sessions``). ``display``: echo a cell's bare last expression like a notebook; off by
    default because ReTool's interpreter ran cells as scripts and recorded what they printed.
    """

    concurrency: int | None = None
    timeout_s: float = 10.0
    memory_mb: int = 1024
    rel_tol: float = 1e-6
    abs_tol: float = 1e-9
    compare: CompareMode = "tolerant"
    display: bool = False
    min_agreement: float = 1.0

    def __post_init__(self) -> None:
        problems = {
            "concurrency must be at least 1": self.concurrency is not None and self.concurrency < 1,
            "timeout_s must be positive": not self.timeout_s > 0,
            "memory_mb must be at least 16": self.memory_mb < 16,
            "rel_tol and abs_tol must be non-negative": self.rel_tol < 0 or self.abs_tol < 0,
            f"compare must be one of {COMPARE_MODES}": self.compare not in COMPARE_MODES,
            "min_agreement must be in [0, 1]": not 0.0 <= self.min_agreement <= 1.0,
        }
        bad = [message for message, failed in problems.items() if failed]
        if bad:
            raise ValueError("invalid VerifyConfig: " + "; ".join(bad))

    def sandbox_config(self) -> SandboxConfig:
        """A sandbox for this run alone: its limits and caps fit the cells' limits."""
        concurrency = self.concurrency or SandboxConfig().worker_count
        return SandboxConfig(timeout_s=self.timeout_s, memory_mb=self.memory_mb,
                             max_timeout_s=max(300.0, self.timeout_s), max_memory_mb=max(8192, self.memory_mb),
                             max_sessions=max(64, concurrency))


def _clip(text: str, max_chars: int) -> str:
    return text if len(text) <= max_chars else text[:max_chars] + f"... [{len(text) - max_chars} more chars]"


def observation(result: ExecResult) -> str:
    """What a cell showed: stdout, then stderr (the traceback), as ReTool's interpreter recorded it."""
    return "\n".join(p.rstrip("\n") for p in (result.stdout, result.stderr) if p and p.strip())


def _failure_reason(expected: str, result: ExecResult, config: VerifyConfig) -> tuple[CellStatus, str]:
    """Why a cell that ran does not match: the status and a stable reason key."""
    e, a = normalize_whitespace(expected), normalize_whitespace(observation(result))
    expected_raised = bool(e) and _split_exception(e) is not None
    if result.status is Status.ERROR:
        return CellStatus.ERROR, "exception_differs" if expected_raised else "unexpected_exception"
    if expected_raised:
        return CellStatus.MISMATCH, "expected_exception"
    if not a:
        return CellStatus.MISMATCH, "missing_output"
    if config.compare == "tolerant" and _same_skeleton(e, a):
        return CellStatus.MISMATCH, "numbers_differ"
    return CellStatus.MISMATCH, "output_differs"


def check_cell(row: int, cell: int, expected: str, result: ExecResult, config: VerifyConfig, *,
               state_lost: bool = False) -> CellCheck:
    """The verdict on one cell's `ExecResult` against its recorded output (pure: no sandbox here)."""
    state_lost = state_lost or _STATE_GONE_NOTE in (result.error or "")
    actual = observation(result)
    base = dict(row=row, cell=cell, expected=expected, actual=actual, duration_s=result.duration_s,
                detail=result.error, state_lost=state_lost)
    if result.status in _UNCOMPARED:
        status = _UNCOMPARED[result.status]
        return CellCheck(status=status, reason=status.value, **base)
    candidates = [actual]
    if result.ok and result.stderr.strip():  # warnings on stderr are not part of what ReTool recorded
        candidates.insert(0, result.stdout)
    tolerance = dict(rel_tol=config.rel_tol, abs_tol=config.abs_tol, mode=config.compare)
    if any(compare_outputs(expected, c, **tolerance) for c in candidates):
        return CellCheck(status=CellStatus.MATCH, **base)
    status, reason = _failure_reason(expected, result, config)
    return CellCheck(status=status, reason="state_lost" if state_lost else reason, **base)


# ---------------------------------------------------------------------------------------- execution
SESSION_WAIT_S = 60.0


def _sandbox_failure(row: int, cells: Sequence, start: int, message: str) -> list[CellCheck]:
    """Cells that could not run at all because the sandbox failed (not the code)."""
    return [CellCheck(row=row, cell=i, status=CellStatus.SANDBOX_ERROR, expected=cells[i].output, actual="",
                      duration_s=0.0, reason="sandbox_error", detail=message)
            for i in range(start, len(cells))]


async def _run_in_session(sandbox: Sandbox, trace: Trace, row: int, config: VerifyConfig) -> list[CellCheck]:
    """The row's cells in order in one interpreter, so later cells see earlier cells' variables."""
    cells = trace.cells
    try:
        # wait for a slot when other users of a shared sandbox hold them all
        session = sandbox.session(memory_mb=config.memory_mb, timeout_s=config.timeout_s,
                                  display=config.display, wait_s=SESSION_WAIT_S)
        await session.start()
    except SandboxError as exc:
        return _sandbox_failure(row, cells, 0, f"no session: {exc}")
    checks: list[CellCheck] = []
    lost = False
    try:
        for i, cell in enumerate(cells):
            try:
                result = await session.run(cell.code)
            except SandboxError as exc:  # the session was closed under us (worker lost): nothing more runs
                return checks + _sandbox_failure(row, cells, i, f"session closed: {exc}")
            checks.append(check_cell(row, i, cell.output, result, config, state_lost=lost))
            lost = lost or result.status in _ENDS_INTERPRETER
    finally:
        await session.close()
    return checks


async def _verify_row(sandbox: Sandbox, trace: Trace, row: int, config: VerifyConfig,
                      session_slots: asyncio.Semaphore | None) -> RowVerdict:
    cells = trace.cells
    try:
        if not cells:
            checks: list[CellCheck] = []
        else:
            async with session_slots or contextlib.nullcontext():
                checks = await _run_in_session(sandbox, trace, row, config)
    except Exception as exc:  # noqa: BLE001 - one row's surprise must not end a run over thousands
        checks = _sandbox_failure(row, cells, 0, f"{type(exc).__name__}: {exc}")
    return RowVerdict.of(row, checks, config.min_agreement)


def _check_limits(sandbox: Sandbox, config: VerifyConfig) -> None:
    """Fail once, up front, if the sandbox cannot give cells the configured limits."""
    try:
        sandbox.config.limits(timeout_s=config.timeout_s, memory_mb=config.memory_mb)
    except SandboxError as exc:
        raise ValueError(f"the sandbox cannot run cells with these limits: {exc}") from None


async def verify_trace(sandbox: Sandbox, trace: Trace, config: VerifyConfig | None = None, *,
                       row: int = 0) -> RowVerdict:
    """Re-run one trace's cells on a started sandbox; never raises for what the code or sandbox does."""
    config = config or VerifyConfig()
    _check_limits(sandbox, config)
    return await _verify_row(sandbox, trace, row, config, None)


async def verify_traces(traces: Iterable[Trace], config: VerifyConfig | None = None, *,
                        sandbox: Sandbox | None = None, rows: Sequence[int] | None = None,
                        on_verdict: Callable[[RowVerdict], None] | None = None) -> list[RowVerdict]:
    """Re-run the cells of many traces concurrently; one `RowVerdict` per trace, in input order.

    ``sandbox``: a started (or startable) sandbox to share; without one, a sandbox is started for this
    call and closed after it. ``rows``: the row index each trace came from (default 0, 1, ...), so
    verdicts name rows of the input file even when malformed rows were skipped. ``on_verdict`` is
    called on the event loop as each row finishes (progress bars, streaming writers).
    """
    config = config or VerifyConfig()
    traces = list(traces)
    labels = list(range(len(traces))) if rows is None else list(rows)
    if len(labels) != len(traces):
        raise ValueError(f"{len(labels)} row indices for {len(traces)} traces")
    if not traces:
        return []
    if sandbox is None:
        async with Sandbox(config.sandbox_config()) as own:
            return await _verify_all(own, traces, labels, config, on_verdict)
    return await _verify_all(sandbox, traces, labels, config, on_verdict)


async def _verify_all(sandbox: Sandbox, traces: list[Trace], labels: list[int], config: VerifyConfig,
                      on_verdict: Callable[[RowVerdict], None] | None) -> list[RowVerdict]:
    _check_limits(sandbox, config)
    await sandbox.start()
    in_flight = config.concurrency or sandbox.config.worker_count
    session_slots = asyncio.Semaphore(min(in_flight, sandbox.config.max_sessions))
    verdicts: list[RowVerdict | None] = [None] * len(traces)
    queue = iter(enumerate(traces))  # shared by the runners; next() never yields to the loop

    async def runner() -> None:
        for pos, trace in queue:
            verdict = await _verify_row(sandbox, trace, labels[pos], config, session_slots)
            verdicts[pos] = verdict
            if on_verdict is not None:
                on_verdict(verdict)

    async with asyncio.TaskGroup() as group:
        for _ in range(min(in_flight, len(traces))):
            group.create_task(runner())
    return verdicts  # type: ignore[return-value] - every slot was filled


# ---------------------------------------------------------------------------------------- reporting

_HISTOGRAM_BINS = ((1.0, "1.0"), (0.75, "[0.75,1)"), (0.5, "[0.5,0.75)"), (0.25, "[0.25,0.5)"), (0.0, "[0,0.25)"))


def _agreement_bin(agreement: float) -> str:
    return next(label for low, label in _HISTOGRAM_BINS if agreement >= low)


def summarize(verdicts: Sequence[RowVerdict], *, wall_s: float | None = None) -> dict[str, Any]:
    """Totals over rows with code and without: agreement, statuses, failure reasons and speed."""
    cells = [c for v in verdicts for c in v.cells]
    matched = sum(c.matched for c in cells)
    histogram = Counter(_agreement_bin(v.agreement) for v in verdicts if v.cells)
    summary: dict[str, Any] = {
        "rows_verified": len(verdicts),
        "rows_passed": sum(v.passed for v in verdicts),
        "rows_failed": sum(not v.passed for v in verdicts),
        "rows_without_code": sum(not v.cells for v in verdicts),
        "cells": len(cells),
        "cells_matched": matched,
        "cell_agreement": round(matched / len(cells), 4) if cells else None,
        "cells_by_status": dict(Counter(c.status.value for c in cells).most_common()),
        "failure_reasons": dict(Counter(c.reason for c in cells if not c.matched).most_common()),
        "cells_state_lost": sum(c.state_lost for c in cells),
        "agreement_histogram": {label: histogram.get(label, 0) for _, label in _HISTOGRAM_BINS},
    }
    if wall_s is not None:
        summary["wall_s"] = round(wall_s, 3)
        summary["cells_per_s"] = round(len(cells) / wall_s, 2) if wall_s > 0 else None
    return summary


def _summary_lines(summary: dict[str, Any], verdicts: Sequence[RowVerdict], *, max_listed: int = 10) -> list[str]:
    """The verify-specific part of the human summary (the JSON report has every row)."""
    lines = [f"  cell agreement: {summary['cells_matched']}/{summary['cells']}"
             + (f" ({summary['cell_agreement']:.2%})" if summary["cell_agreement"] is not None else "")]
    if summary.get("cells_per_s") is not None:
        lines.append(f"  speed: {summary['cells_per_s']} cells/s over {summary['wall_s']} s")
    for reason, n in summary["failure_reasons"].items():
        lines.append(f"  failed cells ({reason}): {n}")
    failing = [v for v in verdicts if not v.passed]
    for v in failing[:max_listed]:
        c = v.first_failure
        if c is not None:
            lines.append(f"    row {v.row} cell {c.cell}: {c.status} ({c.reason}) expected "
                         f"{_clip(c.expected, 60)!r}, got {_clip(c.actual, 60)!r}")
    if len(failing) > max_listed:
        lines.append(f"    ... {len(failing) - max_listed} more failing rows in the JSON report")
    return lines


# ---------------------------------------------------------------------------------------- CLI


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input", required=True, help="ReTool-SFT rows: .parquet, .jsonl, .json or a directory of shards")
    p.add_argument("--output", default=None,
                   help="write the kept rows here (.parquet or .jsonl), layout unchanged; "
                        "malformed rows are never kept")
    p.add_argument("--report", default=None, help="write the JSON report (totals and every row's verdict) here")
    drop = p.add_mutually_exclusive_group()
    drop.add_argument("--drop-failing", action="store_true",
                      help="leave rows out of --output unless every cell matches (same as --min-agreement 1.0)")
    drop.add_argument("--min-agreement", type=float, default=None, metavar="F",
                      help="leave rows out of --output whose fraction of matching cells is below F")
    p.add_argument("--concurrency", type=int, default=None, help="rows in flight (default: one per sandbox worker)")
    p.add_argument("--timeout-s", type=float, default=10.0, help="time limit per cell (default 10)")
    p.add_argument("--memory-mb", type=int, default=1024, help="memory limit per row's interpreter (default 1024)")
    p.add_argument("--rel-tol", type=float, default=1e-6, help="relative tolerance for numbers (default 1e-6)")
    p.add_argument("--abs-tol", type=float, default=1e-9, help="absolute tolerance for numbers (default 1e-9)")
    p.add_argument("--compare", choices=COMPARE_MODES, default="tolerant",
                   help="tolerant: whitespace and numeric tolerance; whitespace: whitespace only; exact")
    p.add_argument("--display", action="store_true",
                   help="echo each cell's bare last expression like a notebook (ReTool recorded stdout only)")
    p.add_argument("--limit", type=int, default=None, help="verify only the first N rows")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _config_from_args(args: argparse.Namespace) -> VerifyConfig:
    if args.limit is not None and args.limit < 0:
        raise ValueError("--limit must be non-negative")
    min_agreement = 1.0 if args.min_agreement is None else args.min_agreement
    return VerifyConfig(concurrency=args.concurrency, timeout_s=args.timeout_s, memory_mb=args.memory_mb,
                        rel_tol=args.rel_tol, abs_tol=args.abs_tol, compare=args.compare, display=args.display,
                        min_agreement=min_agreement)


def _parse_rows(rows: list[dict[str, Any]], report: Report) -> tuple[list[Trace], list[int]]:
    """Well-formed rows as traces with their indices; each malformed row goes into the report."""
    traces: list[Trace] = []
    indices: list[int] = []
    for i, row in enumerate(rows):
        try:
            traces.append(parse_row(row))
            indices.append(i)
        except RowIssue as issue:
            report.drop(i, issue)
    return traces, indices


def _drop_failing(verdicts: Sequence[RowVerdict], report: Report) -> set[int]:
    """Record each failing row as dropped; returns their indices."""
    dropped = set()
    for v in verdicts:
        if not v.passed:
            c = v.first_failure
            report.drop(v.row, RowIssue("failed_verification",
                                        f"agreement {v.agreement:.2f}; cell {c.cell}: {c.status} ({c.reason})"))
            dropped.add(v.row)
    return dropped


def run(args: argparse.Namespace) -> int:
    config = _config_from_args(args)
    rows = list(itertools.islice(read_rows(args.input), args.limit))
    report = Report(rows_in=len(rows))
    with Progress(len(rows), "verify", enabled=not args.no_progress) as progress:
        traces, indices = _parse_rows(rows, report)
        progress.update(len(rows) - len(traces))
        started = time.perf_counter()
        verdicts = asyncio.run(verify_traces(traces, config, rows=indices, on_verdict=lambda _: progress.update()))
        wall_s = time.perf_counter() - started
    dropped = _drop_failing(verdicts, report) if args.drop_failing or args.min_agreement is not None else set()
    kept_rows = [rows[v.row] for v in verdicts if v.row not in dropped]
    report.rows_out = len(kept_rows)
    if args.output:
        write_rows(kept_rows, args.output)
    summary = summarize(verdicts, wall_s=wall_s)
    report.counters.update({k: summary[k] for k in ("rows_verified", "rows_passed", "rows_without_code",
                                                    "cells", "cells_matched")})
    if args.report:
        _write_report(args, config, report, summary, verdicts)
    print("\n".join([report.format(f"verify {args.input}" + (f" -> {args.output}" if args.output else "")),
                     *_summary_lines(summary, verdicts)]), file=sys.stderr)
    return 0 if _anything_verified(verdicts) else 1


def _anything_verified(verdicts: Sequence[RowVerdict]) -> bool:
    """False when no row parsed, or the sandbox failed every cell: the report then says nothing."""
    cells = [c for v in verdicts for c in v.cells]
    return bool(verdicts) and (not cells or any(c.status is not CellStatus.SANDBOX_ERROR for c in cells))


def _write_report(args: argparse.Namespace, config: VerifyConfig, report: Report, summary: dict[str, Any],
                  verdicts: Sequence[RowVerdict]) -> None:
    document = {
        "command": "verify",
        "input": str(args.input),
        "output": str(args.output) if args.output else None,
        "config": asdict(config),
        **report.as_dict(),
        "verification": summary,
        "rows": [v.as_dict() for v in verdicts],
    }
    path = Path(args.report)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
