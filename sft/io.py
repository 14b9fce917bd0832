"""Reading and writing the pipelines' tables, and the per-row problem report every command shares.

Every command reads rows through `read_rows` and writes through `write_rows`, so the formats are
one decision: parquet, JSONL or JSON by file extension, a directory of parquet shards (a hub
snapshot's ``data/``) or a dataset saved with ``save_to_disk``. Parquet is written through
``datasets`` (Arrow), so the columns of nested messages survive a round trip with their types.

A malformed row never stops a run: the converter raises `RowIssue`, the command records it in a
`Report` with the row's index and the reason, and the summary counts rows dropped by reason.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

__all__ = [
    "RowIssue",
    "Report",
    "read_rows",
    "UnreadableRow",
    "count_rows",
    "write_rows",
    "output_format",
    "Progress",
]

_TABLE_SUFFIXES = {".parquet": "parquet", ".jsonl": "json", ".json": "json", ".arrow": "arrow"}


class RowIssue(ValueError):
    """A row that cannot be converted: `reason` is a short stable key (counted in summaries),
    `detail` the specific message a user reads."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass
class Report:
    """What happened to the rows of one run: kept, dropped (with index and reason), and counters."""

    rows_in: int = 0
    rows_out: int = 0
    dropped: list[tuple[int, str, str]] = field(default_factory=list)  # (row index, reason, detail)
    counters: Counter = field(default_factory=Counter)

    def drop(self, index: int, issue: RowIssue) -> None:
        self.dropped.append((index, issue.reason, issue.detail))

    @property
    def dropped_by_reason(self) -> dict[str, int]:
        return dict(Counter(reason for _, reason, _ in self.dropped).most_common())

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "rows_dropped": len(self.dropped),
            "dropped_by_reason": self.dropped_by_reason,
            **dict(self.counters),
            "dropped_rows": [{"row": i, "reason": r, "detail": d} for i, r, d in self.dropped],
        }

    def format(self, title: str, *, max_listed: int = 20) -> str:
        """The human summary printed at the end of a command (the JSON report has every row)."""
        lines = [f"{title}: {self.rows_out} of {self.rows_in} rows written, {len(self.dropped)} dropped"]
        for key, value in sorted(self.counters.items()):
            lines.append(f"  {key}: {value}")
        for reason, n in self.dropped_by_reason.items():
            lines.append(f"  dropped ({reason}): {n}")
        for i, reason, detail in self.dropped[:max_listed]:
            lines.append(f"    row {i}: {reason}" + (f" -- {detail}" if detail else ""))
        if len(self.dropped) > max_listed:
            lines.append(f"    ... {len(self.dropped) - max_listed} more in the JSON report")
        return "\n".join(lines)


def _resolve(path: str | Path) -> tuple[str, list[str] | str]:
    """(datasets builder, data files) for a local path; raises FileNotFoundError/ValueError."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"input not found: {p}")
    if p.is_dir():
        if (p / "dataset_info.json").exists() or (p / "state.json").exists():
            return "disk", str(p)
        for suffix, builder in _TABLE_SUFFIXES.items():
            files = sorted(str(f) for f in p.rglob(f"*{suffix}") if f.is_file())
            if files:
                return builder, files
        raise ValueError(f"{p} holds no .parquet, .jsonl or .json files")
    builder = _TABLE_SUFFIXES.get(p.suffix.lower())
    if builder is None:
        raise ValueError(f"unsupported input format {p.suffix!r} for {p}: use .parquet, .jsonl or .json")
    return builder, [str(p)]


class UnreadableRow(dict):
    """Stands in for a JSONL line that is not a JSON object: an empty row (so any converter rejects
    it for missing columns) that carries the parse error, so the run reports it and goes on."""

    def __init__(self, issue: RowIssue) -> None:
        super().__init__()
        self.issue = issue


def _jsonl_rows(path: str) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                yield UnreadableRow(RowIssue("bad_json", f"{Path(path).name} line {n}: {exc.msg} at column {exc.colno}"))
                continue
            yield row if isinstance(row, dict) else UnreadableRow(
                RowIssue("bad_json", f"{Path(path).name} line {n} is a JSON {type(row).__name__}, not an object"))


def _json_document_rows(path: str) -> Iterator[dict[str, Any]] | None:
    """Rows of a file holding one JSON list; None when the file is JSON lines instead."""
    with open(path, encoding="utf-8") as f:
        head = f.read(4096).lstrip()
    if not head.startswith("["):
        return None
    rows = json.loads(Path(path).read_text(encoding="utf-8"))
    return (r if isinstance(r, dict) else UnreadableRow(RowIssue("bad_json", f"item is a {type(r).__name__}"))
            for r in rows)


def _parquet_rows(path: str) -> Iterator[dict[str, Any]]:
    import pyarrow.parquet as pq

    for batch in pq.ParquetFile(path).iter_batches(batch_size=1024):
        yield from batch.to_pylist()


def _dataset(path: str, builder: str):
    import datasets

    datasets.disable_progress_bars()
    if builder == "disk":
        ds = datasets.load_from_disk(path)
        if isinstance(ds, datasets.DatasetDict):
            ds = ds["train"] if "train" in ds else next(iter(ds.values()))
        return ds
    return datasets.Dataset.from_file(path)


def read_rows(path: str | Path) -> Iterator[dict[str, Any]]:
    """Rows of a local table as plain dicts, in file order.

    Parquet and JSON lines are streamed directly (pyarrow batches, one ``json.loads`` per line):
    no ``datasets`` cache directory is written for a one-pass conversion, and a line that is not
    valid JSON becomes an `UnreadableRow` the caller reports, not an exception that ends the run.
    """
    builder, files = _resolve(path)
    if builder == "disk":
        yield from _dataset(files, "disk")
        return
    for f in files:
        if builder == "parquet":
            yield from _parquet_rows(f)
        elif builder == "arrow":
            yield from _dataset(f, "arrow")
        else:
            doc = _json_document_rows(f) if f.endswith(".json") else None
            yield from (doc if doc is not None else _jsonl_rows(f))


def count_rows(path: str | Path) -> int | None:
    """Row count for a progress bar, or None when it would take a full read (JSON)."""
    builder, files = _resolve(path)
    if builder == "parquet":
        import pyarrow.parquet as pq

        return sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    if builder == "json":
        if any(f.endswith(".json") for f in files):
            return None
        total = 0
        for f in files:
            with open(f, "rb") as fh:
                total += sum(1 for line in fh if line.strip())
        return total
    if builder == "disk":
        return _dataset(files, "disk").num_rows
    return sum(_dataset(f, "arrow").num_rows for f in files)


def output_format(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix == ".parquet":
        return "parquet"
    if suffix in (".jsonl", ".json"):
        return "jsonl"
    raise ValueError(f"unsupported output format {suffix!r} for {path}: use .parquet or .jsonl")


def write_rows(rows: Iterable[Mapping[str, Any]], path: str | Path) -> int:
    """Write rows through ``datasets`` (parquet) or as JSON lines; returns the number written.

    An empty result still writes a valid (empty) file, so a pipeline's next step fails on "no rows",
    not on a missing file. JSONL is written directly (one ``json.dumps`` per row, key order kept)
    because Arrow would add null keys to rows that lack a column other rows have.
    """
    fmt = output_format(path)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = list(rows)
    if fmt == "jsonl":
        with out.open("w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False))
                f.write("\n")
        return len(rows)
    import datasets

    datasets.disable_progress_bars()
    if rows:
        ds = datasets.Dataset.from_list(rows)
    else:
        ds = datasets.Dataset.from_dict({})
    ds.to_parquet(str(out))
    return len(rows)


class Progress:
    """tqdm on a terminal (or when forced), else silent; never a cost inside the per-row loop
    beyond one method call."""

    def __init__(self, total: int | None, desc: str, *, enabled: bool = True, stream: IO[str] | None = None) -> None:
        self.bar = None
        stream = stream or sys.stderr
        if enabled:
            try:
                from tqdm.auto import tqdm

                self.bar = tqdm(total=total, desc=desc, unit="row", file=stream, dynamic_ncols=True,
                                mininterval=0.5, disable=None)
            except ImportError:  # tqdm is a datasets dependency; absent only in odd installs
                self.bar = None

    def update(self, n: int = 1) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
