"""Evaluation data: {prompt, label} rows from a JSONL file, every malformed row reported with its line."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Mapping
from typing import Any

__all__ = ["Problem", "RowError", "EvalDataError", "load_problems", "row_label", "bundled_problems_path"]

_PROMPT_KEYS = ("prompt", "problem", "Problem", "question", "Question")
_LABEL_KEYS = ("label", "answer", "Answer", "ground_truth", "solution")

class EvalDataError(ValueError):
    """The evaluation data cannot be used at all (missing file, no valid row); the message says which."""


def bundled_problems_path() -> Path:
    return Path(__file__).resolve().parent.parent / "data" / "problems.jsonl"

@dataclass(frozen=True)
class Problem:
    id: str
    index: int  # position among the valid rows
    line: int  # 1-based line in the data file
    prompt: str | list[dict]  # the problem text, or chat messages
    label: str


@dataclass(frozen=True)
class RowError:
    line: int
    error: str


def load_problems(path: str | Path, *, limit: int | None = None) -> tuple[list[Problem], list[RowError]]:
    """Valid rows and, for every malformed one, its line number and what is wrong (never raises for a row).

    A missing or unreadable file raises `FileNotFoundError` / `OSError`.
    """
    problems: list[Problem] = []
    errors: list[RowError] = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for lineno, raw in enumerate(fh, 1):
            if limit is not None and len(problems) >= limit:
                break
            text = raw.strip()
            if not text:
                continue
            try:
                row = json.loads(text)
            except json.JSONDecodeError as exc:
                errors.append(RowError(lineno, f"not valid JSON: {exc.msg} (column {exc.colno})"))
                continue
            problem, why = _row_to_problem(row, lineno, len(problems))
            if problem is None:
                errors.append(RowError(lineno, why))
            else:
                problems.append(problem)
    return problems, errors


def row_label(row: Mapping[str, Any]) -> Any:
    """The label of a dataset row, under any of the names data sets use (``answer``, ``label``,
    ``solution``, ``ground_truth``, verl's ``reward_model`` or SkyRL's ``reward_spec: {ground_truth}``), or None."""
    for key in (*_LABEL_KEYS, "reward_model", "reward_spec"):
        if row.get(key) is not None:
            return _unpack_label(row[key])
    return None


def _unpack_label(label: Any) -> Any:
    if isinstance(label, Mapping):  # slime / verl style {"ground_truth": ...}
        return next((label[k] for k in ("ground_truth", "answer", "label") if label.get(k) is not None), None)
    return label


def _row_to_problem(row: Any, lineno: int, index: int) -> tuple[Problem | None, str]:
    if not isinstance(row, dict):
        return None, f"expected a JSON object, got {type(row).__name__}"
    pkey = next((k for k in _PROMPT_KEYS if k in row), None)
    lkey = next((k for k in _LABEL_KEYS if k in row), None)
    if pkey is None:
        return None, f"no prompt field (one of {', '.join(_PROMPT_KEYS)})"
    if lkey is None:
        return None, f"no label field (one of {', '.join(_LABEL_KEYS)})"
    prompt = row[pkey]
    if isinstance(prompt, list):
        if not prompt or not all(isinstance(m, dict) and "role" in m and "content" in m for m in prompt):
            return None, f"{pkey!r} is a list but not of chat messages ({{'role', 'content'}} objects)"
    elif not isinstance(prompt, str) or not prompt.strip():
        return None, f"{pkey!r} must be a non-empty string or a list of chat messages"
    label = _unpack_label(row[lkey])
    if isinstance(label, bool) or label is None or isinstance(label, (list, dict)):
        return None, f"{lkey!r} must be a string or a number"
    label = str(label).strip()
    if not label:
        return None, f"{lkey!r} is empty"
    rid = row.get("id", row.get("idx", index))
    return Problem(id=str(rid), index=index, line=lineno, prompt=prompt, label=label), ""
