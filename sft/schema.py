"""``python -m sft check``: does a data file have the layout a trainer reads?

The RL scripts' ``--dry-run`` calls this before anything touches a GPU, because a layout mistake
(a missing column, a tool call whose arguments are not an object, a prompt that is a string where
verl wants messages) otherwise surfaces minutes into a multi-node job, deep inside a framework's
data loader. Four layouts, one per consumer:

- ``slime-sft``: ``messages`` = chat messages with string contents, ending with an assistant answer
  (slime's ``sft_rollout`` renders them with the chat template; the ReTool tags live in the text).
- ``openai-sft``: verl's multi-turn SFT (``MultiTurnSFTDataset``): ``messages`` with OpenAI tool calls
  (``assistant.tool_calls[].function`` with ``name`` and an object of ``arguments``), ``tool``
  messages answering them, a final assistant answer; ``tools`` = the tool schemas.
- ``slime-rl``: ``prompt`` (a string or chat messages) and a non-empty ``label``.
- ``verl-rl``: verl's ``RLHFDataset`` row: ``data_source``, ``prompt`` (messages), ``ability``,
  ``reward_model.ground_truth``, ``extra_info`` (``index``; ``tools_kwargs`` when
  ``need_tools_kwargs``) and ``agent_name`` (the agent loop that runs the row).

Only the first ``sample`` rows are read (a layout is uniform; a full pass over 17k rows would only
slow a dry-run down). Problems are reported per row with the row's index; a file that cannot be
read at all is one problem without a row.
"""

from __future__ import annotations

import argparse
import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .io import RowIssue, read_rows

__all__ = ["KINDS", "SchemaReport", "check_file", "check_row", "add_arguments", "run"]

ROLES = ("system", "user", "assistant", "tool")
# File formats each consumer's loader accepts: verl's SFT and RL datasets read parquet only.
_SUFFIXES = {
    "slime-sft": (".parquet", ".jsonl"),
    "openai-sft": (".parquet",),
    "slime-rl": (".jsonl", ".parquet"),
    "verl-rl": (".parquet",),
}
KINDS = tuple(_SUFFIXES)
_MAX_LISTED_ROWS = 5


@dataclass
class SchemaReport:
    """The outcome of checking one file: problems (``row`` is None for the file itself) and warnings
    (accepted, but worth knowing: they do not fail the check)."""

    path: str
    kind: str
    rows_checked: int = 0
    problems: list[tuple[int | None, str, str]] = field(default_factory=list)  # (row, reason, detail)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, row: int | None, issue: RowIssue) -> None:
        self.problems.append((row, issue.reason, issue.detail))

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "kind": self.kind,
            "ok": self.ok,
            "rows_checked": self.rows_checked,
            "problems": [{"row": r, "reason": reason, "detail": d} for r, reason, d in self.problems],
            "warnings": list(self.warnings),
        }

    def format(self) -> str:
        """One header line, then problems grouped by (reason, detail) with the first row indices."""
        verdict = "ok" if self.ok else f"{len(self.problems)} problem(s)"
        lines = [f"{self.path} [{self.kind}]: {self.rows_checked} row(s) checked, {verdict}"]
        groups: dict[tuple[str, str], list[int | None]] = {}
        for row, reason, detail in self.problems:
            groups.setdefault((reason, detail), []).append(row)
        for (reason, detail), rows in groups.items():
            listed = [r for r in rows if r is not None]
            where = ""
            if listed:
                shown = ", ".join(str(r) for r in listed[:_MAX_LISTED_ROWS])
                more = f", ... ({len(listed)} rows)" if len(listed) > _MAX_LISTED_ROWS else ""
                where = f" (row {shown}{more})" if len(listed) == 1 else f" (rows {shown}{more})"
            lines.append(f"  problem: {reason}{where}" + (f": {detail}" if detail else ""))
        for message in self.warnings:
            lines.append(f"  warning: {message}")
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# value helpers: Arrow hands back lists for sequences and fills keys other rows have with None
# ---------------------------------------------------------------------------------------------
def _as_list(value: Any) -> list | None:
    if isinstance(value, (list, tuple)):
        return list(value)
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):  # numpy arrays from pandas
        converted = value.tolist()
        return converted if isinstance(converted, list) else None
    return None


def _nonempty_str(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _column(row: Mapping[str, Any], name: str) -> Any:
    if name not in row:
        raise RowIssue("missing_column", f"column {name!r} is missing")
    return row[name]


# ---------------------------------------------------------------------------------------------
# messages
# ---------------------------------------------------------------------------------------------
def _check_messages(value: Any, column: str, *, allow_tool_calls: bool) -> list[dict]:
    messages = _as_list(value)
    if messages is None:
        raise RowIssue("bad_messages", f"{column!r} must be a list of messages, got {_type_name(value)}")
    if not messages:
        raise RowIssue("bad_messages", f"{column!r} is empty")
    out = []
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise RowIssue("bad_message", f"{column}[{i}] must be an object, got {_type_name(message)}")
        role = message.get("role")
        if role not in ROLES:
            raise RowIssue("bad_role", f"{column}[{i}].role must be one of {', '.join(ROLES)}, got {role!r}")
        content = message.get("content")
        calls = message.get("tool_calls")
        if calls is not None and not allow_tool_calls:
            raise RowIssue("unexpected_tool_calls", f"{column}[{i}] has tool_calls; this layout keeps code in the text")
        if content is None and not (role == "assistant" and calls):
            raise RowIssue("missing_content", f"{column}[{i}] ({role}) has no content")
        if content is not None and not isinstance(content, str):
            raise RowIssue("bad_content", f"{column}[{i}].content must be a string, got {_type_name(content)}")
        out.append(dict(message))
    first = next((m for m in out if m["role"] != "system"), None)
    if first is None or first["role"] != "user":
        raise RowIssue("bad_order", f"the first non-system message of {column!r} must be from the user")
    if any(m["role"] == "system" for m in out[1:]):
        raise RowIssue("bad_order", f"a system message in {column!r} may only come first")
    return out


def _check_final_answer(messages: list[dict]) -> None:
    last = messages[-1]
    if last["role"] != "assistant":
        raise RowIssue("no_final_answer", f"the last message must be the assistant's answer, got {last['role']!r}")
    if last.get("tool_calls"):
        raise RowIssue("no_final_answer", "the last assistant message is a tool call, not an answer")
    if not _nonempty_str(last.get("content")):
        raise RowIssue("no_final_answer", "the last assistant message is empty")


# ---------------------------------------------------------------------------------------------
# tools (openai-sft)
# ---------------------------------------------------------------------------------------------
def _tool_schemas(value: Any, report: SchemaReport) -> dict[str, dict]:
    """{name: parameters schema} of a row's ``tools`` cell (a list, or a JSON string of one)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise RowIssue("bad_tools", f"'tools' is a string but not JSON: {exc.msg}") from None
        report.warn(
            "'tools' is stored as a JSON string: verl's MultiTurnSFTDataset passes the cell unparsed to "
            "apply_chat_template, which requires a list of schemas (transformers raises on a string); "
            "store the list itself, as verl's recipe/retool/retool_sft_preprocess.py does"
        )
    tools = _as_list(value)
    if not tools:
        raise RowIssue("bad_tools", f"'tools' must be a non-empty list of tool schemas, got {_type_name(value)}")
    schemas: dict[str, dict] = {}
    for i, tool in enumerate(tools):
        fn = tool.get("function") if isinstance(tool, Mapping) else None
        if not isinstance(tool, Mapping) or tool.get("type") != "function" or not isinstance(fn, Mapping):
            raise RowIssue("bad_tools", f"tools[{i}] must be {{'type': 'function', 'function': {{...}}}}")
        name = fn.get("name")
        if not _nonempty_str(name):
            raise RowIssue("bad_tools", f"tools[{i}].function.name is missing")
        params = fn.get("parameters")
        if params is not None and not isinstance(params, Mapping):
            raise RowIssue("bad_tools", f"tools[{i}].function.parameters must be an object")
        schemas[name] = dict(params or {})
    return schemas


def _call_arguments(arguments: Any, where: str) -> dict:
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError:
            raise RowIssue("bad_tool_call", f"{where}.arguments is not valid JSON") from None
    if not isinstance(arguments, Mapping):
        raise RowIssue("bad_tool_call", f"{where}.arguments must be an object, got {_type_name(arguments)}")
    return {k: v for k, v in arguments.items() if v is not None}  # Arrow adds other rows' keys as None


def _check_tool_calls(messages: list[dict], schemas: Mapping[str, dict]) -> None:
    """Every call names a declared tool with its required arguments; every tool message answers one."""
    pending = 0
    for i, message in enumerate(messages):
        role = message["role"]
        if role == "tool":
            if pending <= 0:
                raise RowIssue("orphan_tool_message", f"messages[{i}] is a tool result that answers no tool call")
            pending -= 1
            continue
        if pending > 0:
            raise RowIssue("unanswered_tool_call", f"messages[{i}] follows a tool call that got no tool message")
        calls = message.get("tool_calls")
        if calls is None:
            continue
        if role != "assistant":
            raise RowIssue("bad_tool_call", f"messages[{i}] ({role}) has tool_calls; only the assistant calls tools")
        call_list = _as_list(calls)
        if not call_list:
            raise RowIssue("bad_tool_call", f"messages[{i}].tool_calls must be a non-empty list")
        for j, call in enumerate(call_list):
            where = f"messages[{i}].tool_calls[{j}]"
            fn = call.get("function") if isinstance(call, Mapping) else None
            if not isinstance(fn, Mapping):
                raise RowIssue("bad_tool_call", f"{where} has no 'function' object")
            if call.get("type", "function") != "function":
                raise RowIssue("bad_tool_call", f"{where}.type must be 'function'")
            name = fn.get("name")
            if name not in schemas:
                raise RowIssue("unknown_tool", f"{where} calls {name!r}, which 'tools' does not declare")
            arguments = _call_arguments(fn.get("arguments"), f"{where}.function")
            for required in _as_list(schemas[name].get("required")) or []:
                value = arguments.get(required)
                if value is None or (isinstance(value, str) and not value.strip()):
                    raise RowIssue("bad_tool_call", f"{where} lacks the required argument {required!r}")
        pending = len(call_list)
    if pending > 0:
        raise RowIssue("unanswered_tool_call", "the conversation ends on a tool call without its result")


# ---------------------------------------------------------------------------------------------
# layouts
# ---------------------------------------------------------------------------------------------
def _check_slime_sft(row: Mapping[str, Any], report: SchemaReport) -> None:
    messages = _check_messages(_column(row, "messages"), "messages", allow_tool_calls=False)
    _check_final_answer(messages)


def _check_openai_sft(row: Mapping[str, Any], report: SchemaReport) -> None:
    messages = _check_messages(_column(row, "messages"), "messages", allow_tool_calls=True)
    schemas = _tool_schemas(_column(row, "tools"), report)
    _check_tool_calls(messages, schemas)
    _check_final_answer(messages)


def _check_label(value: Any, column: str) -> None:
    """A non-empty string, a number (slime reads JSONL labels with dtype str), or a list of them
    (several acceptable answers)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return
    items = _as_list(value)
    if items is not None:
        if items and all(_nonempty_str(v) or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in items):
            return
        raise RowIssue("bad_label", f"{column!r} must be a non-empty string or a list of them")
    if not _nonempty_str(value):
        raise RowIssue("bad_label", f"{column!r} must be a non-empty string, got {_type_name(value)}")


def _check_slime_rl(row: Mapping[str, Any], report: SchemaReport) -> None:
    prompt = _column(row, "prompt")
    if isinstance(prompt, str):
        if not prompt.strip():
            raise RowIssue("bad_prompt", "'prompt' is empty")
    else:
        messages = _check_messages(prompt, "prompt", allow_tool_calls=False)
        if messages[-1]["role"] != "user":
            raise RowIssue("bad_prompt", "the last prompt message must be the user's question")
    _check_label(_column(row, "label"), "label")


def _check_verl_rl(row: Mapping[str, Any], report: SchemaReport) -> None:
    for name in ("data_source", "ability", "agent_name"):
        if not _nonempty_str(_column(row, name)):
            raise RowIssue("bad_field", f"{name!r} must be a non-empty string, got {_type_name(row[name])}")
    messages = _check_messages(_column(row, "prompt"), "prompt", allow_tool_calls=False)
    if messages[-1]["role"] != "user":
        raise RowIssue("bad_prompt", "the last prompt message must be the user's question")
    reward_model = _column(row, "reward_model")
    if not isinstance(reward_model, Mapping):
        raise RowIssue("bad_reward_model", f"'reward_model' must be an object, got {_type_name(reward_model)}")
    if "ground_truth" not in reward_model:
        raise RowIssue("bad_reward_model", "'reward_model.ground_truth' is missing")
    _check_label(reward_model["ground_truth"], "reward_model.ground_truth")
    style = reward_model.get("style")
    if style is not None and not isinstance(style, str):
        raise RowIssue("bad_reward_model", f"'reward_model.style' must be a string, got {_type_name(style)}")
    extra = _column(row, "extra_info")
    if not isinstance(extra, Mapping):
        raise RowIssue("bad_extra_info", f"'extra_info' must be an object, got {_type_name(extra)}")
    if extra.get("index") is None:
        raise RowIssue("bad_extra_info", "'extra_info.index' is missing")
    if extra.get("need_tools_kwargs"):
        tools_kwargs = extra.get("tools_kwargs")
        if not isinstance(tools_kwargs, Mapping) or not any(v is not None for v in tools_kwargs.values()):
            raise RowIssue("bad_extra_info", "'need_tools_kwargs' is set but 'extra_info.tools_kwargs' is empty")
        for name, kwargs in tools_kwargs.items():
            if kwargs is None:
                continue
            if not isinstance(kwargs, Mapping):
                raise RowIssue("bad_extra_info", f"'extra_info.tools_kwargs.{name}' must be an object")
            for key in ("create_kwargs", "execute_kwargs", "calc_reward_kwargs", "release_kwargs"):
                if kwargs.get(key) is not None and not isinstance(kwargs[key], Mapping):
                    raise RowIssue("bad_extra_info", f"'extra_info.tools_kwargs.{name}.{key}' must be an object")
    if row["agent_name"] != "tool_agent":
        report.warn(
            f"agent_name is {row['agent_name']!r}, not 'tool_agent': verl runs such rows without the "
            "code_interpreter tool unless that agent loop is registered"
        )


_CHECKS: dict[str, Callable[[Mapping[str, Any], SchemaReport], None]] = {
    "slime-sft": _check_slime_sft,
    "openai-sft": _check_openai_sft,
    "slime-rl": _check_slime_rl,
    "verl-rl": _check_verl_rl,
}


def check_row(row: Mapping[str, Any], kind: str, report: SchemaReport | None = None) -> RowIssue | None:
    """The first problem of one row in layout ``kind``, or None when it is fine."""
    if kind not in _CHECKS:
        raise ValueError(f"unknown kind {kind!r}: use one of {', '.join(KINDS)}")
    try:
        _CHECKS[kind](row, report if report is not None else SchemaReport("<row>", kind))
    except RowIssue as issue:
        return issue
    return None


def check_file(path: str | Path, kind: str, *, sample: int = 200) -> SchemaReport:
    """Check the first ``sample`` rows of ``path`` against layout ``kind``; never raises for the data."""
    if kind not in _CHECKS:
        raise ValueError(f"unknown kind {kind!r}: use one of {', '.join(KINDS)}")
    if sample < 1:
        raise ValueError("sample must be at least 1")
    report = SchemaReport(str(path), kind)
    p = Path(path)
    if not p.exists():
        report.add(None, RowIssue("not_found", f"{p} does not exist"))
        return report
    suffixes = _SUFFIXES[kind]
    if p.is_file() and p.suffix.lower() not in suffixes:
        wanted = " or ".join(suffixes)
        report.add(None, RowIssue("bad_format", f"{kind} data must be {wanted}, not {p.suffix or 'no suffix'}"))
        return report
    try:
        for index, row in enumerate(itertools.islice(read_rows(p), sample)):
            report.rows_checked += 1
            issue = check_row(row, kind, report)
            if issue is not None:
                report.add(index, issue)
    except Exception as exc:  # noqa: BLE001 - an unreadable file is a finding, not a crash
        report.add(None, RowIssue("unreadable", f"{type(exc).__name__}: {exc}"))
        return report
    if report.rows_checked == 0:
        report.add(None, RowIssue("empty", "the file has no rows"))
    return report


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="data files (parquet/JSONL) to check")
    parser.add_argument("--kind", required=True, choices=KINDS, help="the layout the files must have")
    parser.add_argument("--sample", type=int, default=200, help="rows read from the start of each file (200)")
    parser.add_argument("--json", action="store_true", help="print one JSON report per file instead of text")
    parser.add_argument(
        "--strict", action="store_true",
        help="warnings fail too (for a consumer that a warning describes, e.g. verl's SFT and a JSON-string 'tools')",
    )


def run(args: argparse.Namespace) -> int:
    """0 when every file has the layout, 1 when any has a problem (or, with --strict, a warning)."""
    reports: Sequence[SchemaReport] = [check_file(p, args.kind, sample=args.sample) for p in args.paths]
    for report in reports:
        print(json.dumps(report.as_dict()) if args.json else report.format())
    failed = any(not r.ok or (args.strict and r.warnings) for r in reports)
    return 1 if failed else 0
