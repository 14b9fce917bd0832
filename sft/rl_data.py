"""``python -m sft rl-data``: RL prompt sets (DAPO-Math-17k, AIME 2024/2025, slime prompt/label rows)
to the two layouts our trainers read, slime JSONL and verl parquet.

Every input row becomes one `RLExample` (the bare problem, its ground truth as a string, where it
came from), and each output format is a small function of that example, so one run can write both
from the same rows (``-o train.jsonl -o train.parquet``). The input layout is detected per row from
its columns (``--layout`` forces one):

- ``dapo``: ``prompt`` (a list of chat messages, one user message), ``reward_model.ground_truth``,
  ``data_source``, ``ability``, ``extra_info`` (BytedTsinghua-SIA/DAPO-Math-17k; also verl parquet,
  ours included, which is why a verl file converts back to slime);
- ``aime``: ``Problem``/``Answer`` or ``problem``/``answer``, optional ``ID``/``id``
  (Maxwell-Jia/AIME_2024, yentinglin/aime_2025);
- ``slime``: ``prompt`` (a string or a list of messages) and ``label``, optional ``metadata``
  (zhuzilin/dapo-math-17k, and our own slime output).

Prompts. DAPO wraps each problem in an instruction to end with an ``Answer:`` line; our reward
(`retool.reward_func`) and verl's ReTool recipe (``math_dapo`` with ``strict_box_verify=True``) read
the last ``\\boxed{}``, so that instruction would train against the reward. Known wrappers are
stripped (DAPO's prefix and suffix, verl's ReTool ``answer_format`` suffix, our own instruction) and
the bare problem is re-wrapped in `RETOOL_INSTRUCTION` (or the SFT data's own instructions with
``--instruction-from``). The default ``--prompt-style messages`` writes that as a one-user-message chat
list: `retool.generate` renders a list itself, through the chat template with the tool declared, and
slime's ``--apply-chat-template`` renders only lists; a string prompt (``retool``) is taken as already
rendered and reaches the model without any template. ``raw`` keeps the source prompt unchanged.

Output layouts:

- slime (``.jsonl``): ``{"prompt", "label", "metadata"}``, read with ``--input-key prompt
  --label-key label --metadata-key metadata``. ``metadata`` carries ``source_name`` (the key slime's
  ``get_source`` reads for its per-source metrics; ``data_source`` is read back too), ``source_id``
  and the source's extra info (``--no-metadata`` drops it).
- verl (``.parquet``): ``data_source``, ``prompt`` (chat messages), ``ability``, ``reward_model``
  (``{"ground_truth", "style"}``), ``extra_info`` and ``agent_name``. This matches verl's
  ``examples/data_preprocess/dapo_multiturn_w_tool.py`` and ``aime2024_multiturn_w_tool.py``
  (``agent_name="tool_agent"``; ``extra_info`` = the source's extra info plus
  ``need_tools_kwargs=True`` and ``tools_kwargs={"code_interpreter": {"create_kwargs":
  {"ground_truth": ...}}}``), ``gsm8k_tool_agent_loop.py`` (an integer ``extra_info.index``,
  ``reward_model.style="rule"`` when the source names none) and the ReTool recipe's
  ``retool_dataset_utils.map_fn`` (AIME rows: ``data_source`` ``aime_2024``/``aime_2025``,
  ``ability`` ``MATH``, ground truth ``str(answer)``). One deliberate difference: verl's DAPO script
  keeps DAPO's UUID as ``extra_info.index``; here ``index`` is always the integer row number (so
  rows from different sources share one Arrow type) and the UUID moves to ``extra_info.source_id``.

Ground truths are strings everywhere (an AIME ``7`` becomes ``"7"``). A malformed row is recorded in
the `Report` with its index and reason and skipped; it never stops the run.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from retool.formats import TOOL_NAME

from .io import Progress, Report, RowIssue, count_rows, read_rows, write_rows

__all__ = [
    "RETOOL_INSTRUCTION",
    "DAPO_INSTRUCTION",
    "DAPO_SUFFIX",
    "LAYOUTS",
    "PROMPT_STYLES",
    "FORMATS",
    "RLExample",
    "RLDataOptions",
    "detect_layout",
    "strip_instructions",
    "convert_row",
    "build_prompt",
    "instruction_from_sft",
    "to_slime",
    "to_verl",
    "convert_rows",
    "convert_file",
    "format_for_path",
    "add_arguments",
    "run",
]

Message = dict[str, str]
Prompt = Union[str, list[Message]]

RETOOL_INSTRUCTION = (
    "Solve the following math problem step by step. You can write Python code and run it with the "
    "`code_interpreter` tool, which returns what the code prints; use it for calculations and to check "
    "your reasoning. Put your final answer in \\boxed{} at the end of your response.\n\n"
)
"""The instruction put before every problem (``--prompt-style retool``/``messages``).

It names the ``code_interpreter`` tool because that is the one tool our rollout declares and runs,
and it asks for ``\\boxed{}`` because `retool.reward_func` (and verl's ReTool ``compute_score``) grade
the last boxed answer: a prompt asking for anything else (DAPO's ``Answer:`` line) makes correct
solutions score as wrong. It says nothing about call syntax, which comes from the chat template's
tool declaration or from SFT, so the same prompt serves every ``retool_call_format``.
"""

# DAPO-Math-17k wraps every problem in these (verbatim from the dataset).
DAPO_INSTRUCTION = (
    "Solve the following math problem step by step. The last line of your response should be of the form "
    "Answer: $Answer (without quotes) where $Answer is the answer to the problem.\n\n"
)
DAPO_SUFFIX = "\n\nRemember to put your answer on its own line after \"Answer:\"."
# verl's ReTool recipe appends this to every prompt (recipe/retool/retool_dataset_utils.py).
VERL_RETOOL_ANSWER_FORMAT = "\nThe answer format must be: \\boxed{'The final answer goes here.'}"

_KNOWN_PREFIXES = (DAPO_INSTRUCTION, RETOOL_INSTRUCTION)
_KNOWN_SUFFIXES = (DAPO_SUFFIX, VERL_RETOOL_ANSWER_FORMAT)

LAYOUTS = ("dapo", "aime", "slime")
PROMPT_STYLES = ("retool", "raw", "messages")
FORMATS = ("slime", "verl")
DEFAULT_AGENT_NAME = "tool_agent"

# keys we write into verl's extra_info ourselves; a source's own copies (a verl file read back) are replaced
_VERL_EXTRA_KEYS = ("index", "need_tools_kwargs", "tools_kwargs", "source_id")
_YEAR = re.compile(r"(?<!\d)(20\d\d)(?!\d)")


@dataclass(frozen=True)
class RLExample:
    """One RL prompt, independent of any output format.

    ``problem`` is the bare problem text (known instruction wrappers stripped); ``source_prompt`` is
    the prompt exactly as the source had it (for ``--prompt-style raw``); ``extra`` is the source's
    own side information (DAPO ``extra_info``, slime ``metadata``), passed through to both outputs.
    """

    problem: str
    ground_truth: str
    data_source: str
    layout: str
    source_prompt: Prompt
    ability: str = "MATH"
    reward_style: str = "rule"
    source_id: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    instruction_stripped: bool = False


@dataclass(frozen=True)
class RLDataOptions:
    """How rows are read and written; the CLI flags one to one."""

    layout: str = "auto"
    prompt_style: str = "messages"
    data_source: str | None = None
    agent_name: str = DEFAULT_AGENT_NAME
    dedupe: bool = False
    limit: int | None = None
    metadata: bool = True
    instruction: str = RETOOL_INSTRUCTION

    def __post_init__(self) -> None:
        if self.layout != "auto" and self.layout not in LAYOUTS:
            raise ValueError(f"unknown layout {self.layout!r}; expected auto or one of {LAYOUTS}")
        if self.prompt_style not in PROMPT_STYLES:
            raise ValueError(f"unknown prompt style {self.prompt_style!r}; expected one of {PROMPT_STYLES}")
        if self.limit is not None and self.limit < 0:
            raise ValueError("--limit must be >= 0")


# ---------------------------------------------------------------------------------------------
# reading one row
# ---------------------------------------------------------------------------------------------
def detect_layout(row: Mapping[str, Any]) -> str:
    """The layout a row's columns say it has (column presence, not values, so a row with a null
    ground truth is still reported as a DAPO row missing its ground truth)."""
    if not row:
        raise RowIssue("empty_row", "the row has no columns (a blank or unparseable line?)")
    if "reward_model" in row and "prompt" in row:
        return "dapo"
    if "label" in row and "prompt" in row:
        return "slime"
    if "Problem" in row or "problem" in row:
        return "aime"
    raise RowIssue("unknown_layout", f"columns {sorted(row)} match no known layout")


def strip_instructions(text: str) -> tuple[str, bool]:
    """``text`` without the instruction wrappers we know (DAPO's, verl ReTool's, ours), and whether
    any was there. Repeated until none is left, so a prompt wrapped twice comes back bare."""
    original = text
    changed = True
    while changed:
        changed = False
        for prefix in _KNOWN_PREFIXES:
            if text.startswith(prefix):
                text, changed = text[len(prefix):], True
        for suffix in _KNOWN_SUFFIXES:
            if text.endswith(suffix):
                text, changed = text[: -len(suffix)], True
    return text.strip(), text != original


def _require(row: Mapping[str, Any], *names: str) -> Any:
    """The value of the first of ``names`` the row has as a column."""
    for name in names:
        if name in row:
            return row[name]
    raise RowIssue("missing_column", " or ".join(repr(n) for n in names))


def _ground_truth(value: Any) -> str:
    """A ground truth as the string both rewards compare (AIME's int 7 -> "7")."""
    if value is None:
        raise RowIssue("missing_ground_truth", "ground truth is null")
    if isinstance(value, bool):
        raise RowIssue("bad_ground_truth", f"ground truth is a bool ({value})")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if not isinstance(value, str):
        raise RowIssue("bad_ground_truth", f"ground truth is {type(value).__name__}, not a string or number")
    text = value.strip()
    if not text:
        raise RowIssue("missing_ground_truth", "ground truth is empty")
    return text


def _problem_text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise RowIssue("bad_prompt", f"{what} is {type(value).__name__}, not a string")
    if not value.strip():
        raise RowIssue("empty_problem", f"{what} is empty")
    return value


def _messages(prompt: Any) -> list[Message]:
    """A prompt that must be a list of chat messages with string roles and contents."""
    if not isinstance(prompt, (list, tuple)):
        raise RowIssue("bad_prompt", f"prompt is {type(prompt).__name__}, not a list of messages")
    if not prompt:
        raise RowIssue("bad_prompt", "prompt is an empty list")
    messages: list[Message] = []
    for i, message in enumerate(prompt):
        if not isinstance(message, Mapping):
            raise RowIssue("bad_prompt", f"prompt[{i}] is {type(message).__name__}, not a message")
        role, content = message.get("role"), message.get("content")
        if not isinstance(role, str):
            raise RowIssue("bad_prompt", f"prompt[{i}] has no role")
        if not isinstance(content, str):
            raise RowIssue("bad_prompt", f"prompt[{i}].content is {type(content).__name__}, not a string")
        messages.append({"role": role, "content": content})
    return messages


def _user_text(messages: Sequence[Message]) -> str:
    """The last user message's text: the problem, whatever system messages come before it."""
    for message in reversed(messages):
        if message["role"] == "user":
            return _problem_text(message["content"], "the user message")
    raise RowIssue("bad_prompt", f"no user message (roles: {[m['role'] for m in messages]})")


def _clean_extra(value: Any) -> dict[str, Any]:
    """A source's side information as a dict without nulls (parquet fills absent struct keys with
    null, and writing them back would only add noise)."""
    if not isinstance(value, Mapping):
        return {}
    return {str(k): v for k, v in value.items() if v is not None}


def _split_extra(extra: dict[str, Any], id_key: str) -> tuple[str | None, dict[str, Any]]:
    """(source id, the rest) from a source's extra info; keys we write ourselves are dropped."""
    source_id = extra.get("source_id", extra.get(id_key))
    rest = {k: v for k, v in extra.items() if k not in _VERL_EXTRA_KEYS and k != id_key}
    return (None if source_id is None else str(source_id)), rest


def _from_dapo(row: Mapping[str, Any], data_source: str | None) -> RLExample:
    messages = _messages(_require(row, "prompt"))
    raw_text = _user_text(messages)
    reward_model = _require(row, "reward_model")
    if not isinstance(reward_model, Mapping):
        raise RowIssue("missing_ground_truth", f"reward_model is {type(reward_model).__name__}, not a dict")
    truth = _ground_truth(reward_model.get("ground_truth"))
    problem, stripped = strip_instructions(raw_text)
    if not problem:
        raise RowIssue("empty_problem", "the prompt holds only instructions")
    source_id, extra = _split_extra(_clean_extra(row.get("extra_info")), "index")
    style, ability, source = reward_model.get("style"), row.get("ability"), row.get("data_source")
    return RLExample(
        problem=problem,
        ground_truth=truth,
        data_source=data_source or (source if isinstance(source, str) and source else "math_dapo"),
        layout="dapo",
        source_prompt=messages,
        ability=ability if isinstance(ability, str) and ability else "MATH",
        reward_style=style if isinstance(style, str) and style else "rule",
        source_id=source_id,
        extra=extra,
        instruction_stripped=stripped,
    )


def _aime_source(source_id: str | None, fallback: str) -> str:
    """``aime_2024``/``aime_2025`` (verl ReTool's names) from an ID like ``2024-I-1``, else ``fallback``."""
    year = _YEAR.match(source_id or "")
    return f"aime_{year.group(1)}" if year else fallback


def _from_aime(row: Mapping[str, Any], data_source: str | None, aime_source: str) -> RLExample:
    raw_text = _problem_text(_require(row, "Problem", "problem"), "Problem")
    truth = _ground_truth(_require(row, "Answer", "answer"))
    problem, stripped = strip_instructions(raw_text)
    if not problem:
        raise RowIssue("empty_problem", "the problem holds only instructions")
    raw_id = row.get("ID", row.get("id"))
    source_id = None if raw_id is None else str(raw_id)
    return RLExample(
        problem=problem,
        ground_truth=truth,
        data_source=data_source or _aime_source(source_id, aime_source),
        layout="aime",
        source_prompt=raw_text,
        source_id=source_id,
        instruction_stripped=stripped,
    )


def _from_slime(row: Mapping[str, Any], data_source: str | None) -> RLExample:
    prompt = _require(row, "prompt")
    if isinstance(prompt, str):
        source_prompt: Prompt = _problem_text(prompt, "prompt")
        raw_text = source_prompt
    else:
        source_prompt = _messages(prompt)
        raw_text = _user_text(source_prompt)
    truth = _ground_truth(_require(row, "label"))
    problem, stripped = strip_instructions(raw_text)
    if not problem:
        raise RowIssue("empty_problem", "the prompt holds only instructions")
    metadata = _clean_extra(row.get("metadata"))
    source = metadata.pop("source_name", None) or metadata.pop("data_source", None)
    metadata.pop("data_source", None)
    source_id, extra = _split_extra(metadata, "id")
    return RLExample(
        problem=problem,
        ground_truth=truth,
        data_source=data_source or (source if isinstance(source, str) and source else "math"),
        layout="slime",
        source_prompt=source_prompt,
        source_id=source_id,
        extra=extra,
        instruction_stripped=stripped,
    )


def convert_row(
    row: Mapping[str, Any],
    layout: str = "auto",
    *,
    data_source: str | None = None,
    aime_source: str = "aime",
) -> RLExample:
    """One source row as an `RLExample`; raises `RowIssue` when the row is malformed.

    ``data_source`` overrides the source's own name. AIME rows have none: they are named from their
    ID's year (``2024-I-1`` -> ``aime_2024``), else ``aime_source`` (`convert_file` derives it from
    the file name).
    """
    if not isinstance(row, Mapping):
        raise RowIssue("bad_row", f"row is {type(row).__name__}, not an object")
    kind = detect_layout(row) if layout == "auto" else layout
    if kind == "dapo":
        return _from_dapo(row, data_source)
    if kind == "aime":
        return _from_aime(row, data_source, aime_source)
    if kind == "slime":
        return _from_slime(row, data_source)
    raise ValueError(f"unknown layout {layout!r}; expected auto or one of {LAYOUTS}")


# ---------------------------------------------------------------------------------------------
# writing one example
# ---------------------------------------------------------------------------------------------
def build_prompt(example: RLExample, style: str = "messages", *, instruction: str = RETOOL_INSTRUCTION) -> Prompt:
    """The prompt in ``style``: ``retool`` a string (instruction + bare problem), ``messages`` that
    string as a one-user-message chat, ``raw`` the source prompt unchanged."""
    if style == "retool":
        return instruction + example.problem
    if style == "messages":
        return [{"role": "user", "content": instruction + example.problem}]
    if style == "raw":
        prompt = example.source_prompt
        return [dict(m) for m in prompt] if isinstance(prompt, list) else prompt
    raise ValueError(f"unknown prompt style {style!r}; expected one of {PROMPT_STYLES}")


def instruction_from_sft(path: str | Path) -> str:
    """The instruction text of a ReTool-SFT file: everything up to and including ``*user question:*``
    in its most common form, so RL prompts read exactly like the prompts the SFT stage trained on."""
    from collections import Counter

    from .retool_format import QUESTION_MARKER, parse_question

    seen: Counter = Counter()
    for n, row in enumerate(read_rows(path)):
        if n >= 1000:
            break
        messages = row.get("messages") if isinstance(row, Mapping) else None
        if not isinstance(messages, list) or not messages or not isinstance(messages[0], Mapping):
            continue
        try:
            instructions, _ = parse_question(messages[0].get("content"))
        except RowIssue:
            continue
        if instructions:
            seen[instructions] += 1
    if not seen:
        raise ValueError(f"{path} has no ReTool-SFT rows with instructions before {QUESTION_MARKER!r}")
    return seen.most_common(1)[0][0] + "\n\n" + QUESTION_MARKER + "\n"


def _as_messages(prompt: Prompt) -> list[Message]:
    return prompt if isinstance(prompt, list) else [{"role": "user", "content": prompt}]


def to_slime(
    example: RLExample,
    *,
    prompt_style: str = "messages",
    metadata: bool = True,
    instruction: str = RETOOL_INSTRUCTION,
) -> dict[str, Any]:
    """``{"prompt", "label"[, "metadata"]}``: one line of slime's prompt dataset."""
    prompt = build_prompt(example, prompt_style, instruction=instruction)
    if prompt_style == "raw" and isinstance(prompt, list) and len(prompt) == 1:
        prompt = prompt[0]["content"]  # a lone user message: slime's plain string form, as the source meant
    row: dict[str, Any] = {"prompt": prompt, "label": example.ground_truth}
    if metadata:
        # slime's per-source metrics (slime.utils.data.get_source) read metadata["source_name"]
        meta: dict[str, Any] = {"source_name": example.data_source}
        if example.source_id is not None:
            meta["source_id"] = example.source_id
        meta.update(example.extra)
        row["metadata"] = meta
    return row


def to_verl(
    example: RLExample,
    index: int,
    *,
    prompt_style: str = "messages",
    agent_name: str = DEFAULT_AGENT_NAME,
    instruction: str = RETOOL_INSTRUCTION,
) -> dict[str, Any]:
    """One row of verl's RL parquet for its tool agent loop (layout: see the module docstring).

    The ground truth is in both ``reward_model`` (for the reward) and the ``code_interpreter`` tool's
    ``create_kwargs`` (verl hands ``tools_kwargs`` to the tool when ``need_tools_kwargs`` is set).
    """
    extra_info: dict[str, Any] = dict(example.extra)
    if example.source_id is not None:
        extra_info["source_id"] = example.source_id
    extra_info["index"] = index
    extra_info["need_tools_kwargs"] = True
    extra_info["tools_kwargs"] = {TOOL_NAME: {"create_kwargs": {"ground_truth": example.ground_truth}}}
    return {
        "data_source": example.data_source,
        "prompt": _as_messages(build_prompt(example, prompt_style, instruction=instruction)),
        "ability": example.ability,
        "reward_model": {"ground_truth": example.ground_truth, "style": example.reward_style},
        "extra_info": extra_info,
        "agent_name": agent_name,
    }


# ---------------------------------------------------------------------------------------------
# whole files
# ---------------------------------------------------------------------------------------------
def _dedupe_key(problem: str) -> str:
    return " ".join(problem.split()).casefold()


def convert_rows(
    rows: Iterable[Mapping[str, Any] | RowIssue],
    options: RLDataOptions = RLDataOptions(),
    *,
    aime_source: str = "aime",
    report: Report | None = None,
    progress: Progress | None = None,
) -> tuple[list[RLExample], Report]:
    """Convert rows in order, recording each bad one (an item may already be a `RowIssue`, for a
    line that could not even be parsed) and, with ``options.dedupe``, each repeated problem."""
    report = report if report is not None else Report()
    examples: list[RLExample] = []
    seen: dict[str, int] = {}
    for index, row in enumerate(rows):
        if options.limit is not None and index >= options.limit:
            break
        report.rows_in += 1
        if progress is not None:
            progress.update()
        try:
            if isinstance(row, RowIssue):
                raise row
            if isinstance(getattr(row, "issue", None), RowIssue):  # sft.io.UnreadableRow: a line that is not JSON
                raise row.issue
            example = convert_row(row, options.layout, data_source=options.data_source, aime_source=aime_source)
            if options.dedupe:
                first = seen.setdefault(_dedupe_key(example.problem), index)
                if first != index:
                    raise RowIssue("duplicate", f"same problem as row {first}")
        except RowIssue as issue:
            report.drop(index, issue)
            continue
        report.counters[f"layout_{example.layout}"] += 1
        if example.instruction_stripped:
            report.counters["instructions_stripped"] += 1
        examples.append(example)
    report.rows_out = len(examples)
    return examples, report


def format_for_path(path: str | Path, forced: str | None = None) -> str:
    """``slime`` or ``verl`` for an output: ``forced`` if given, else by extension."""
    if forced is not None:
        if forced not in FORMATS:
            raise ValueError(f"unknown format {forced!r}; expected one of {FORMATS}")
        return forced
    suffix = Path(path).suffix.lower()
    if suffix in (".jsonl", ".json"):
        return "slime"
    if suffix == ".parquet":
        return "verl"
    raise ValueError(f"cannot tell the format of {path} from its extension: use .jsonl (slime), .parquet (verl) or --format")


def _aime_source_for(path: Path) -> str:
    """``aime_2025`` for an AIME file whose name says 2025 (yentinglin/aime_2025 has no year in its
    IDs), else ``aime``. Only the file's own name is read, or the snapshot's folder for a hub layout
    (``aime_2025/data/train-*.parquet``): a year in some unrelated parent folder means nothing."""
    names = [path.name]
    if path.parent.name == "data":
        names.append(path.parent.parent.name)
    for name in names:
        year = _YEAR.search(name)
        if year:
            return f"aime_{year.group(1)}"
    return "aime"


def _row_total(path: Path, limit: int | None) -> int | None:
    """The progress bar's total (None for a JSON document, which would take a full read)."""
    total = count_rows(path)
    if total is None:
        return None
    return total if limit is None else min(total, limit)


def _write(examples: Sequence[RLExample], path: Path, fmt: str, options: RLDataOptions) -> int:
    if fmt == "slime":
        rows = [to_slime(e, prompt_style=options.prompt_style, metadata=options.metadata,
                         instruction=options.instruction) for e in examples]
    else:
        rows = [to_verl(e, i, prompt_style=options.prompt_style, agent_name=options.agent_name,
                        instruction=options.instruction) for i, e in enumerate(examples)]
    try:
        return write_rows(rows, path)
    except TypeError as exc:  # pyarrow's ArrowTypeError; ArrowInvalid already is a ValueError
        raise ValueError(f"cannot write {path}: {exc}") from exc


def convert_file(
    input_path: str | Path,
    outputs: Sequence[tuple[str | Path, str]],
    options: RLDataOptions = RLDataOptions(),
    *,
    progress: bool = False,
) -> Report:
    """Convert one input file and write every ``(path, format)`` output from the same examples."""
    if not outputs:
        raise ValueError("no output given")
    path = Path(input_path)
    for out, fmt in outputs:
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r} for {out}; expected one of {FORMATS}")
    total = _row_total(path, options.limit) if progress and sys.stderr.isatty() else None
    with Progress(total, "rl-data", enabled=progress) as bar:
        examples, report = convert_rows(read_rows(path), options, aime_source=_aime_source_for(path), progress=bar)
    for out, fmt in outputs:
        _write(examples, Path(out), fmt, options)
    return report


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", required=True, help="DAPO-Math, AIME or slime prompt/label rows: .parquet, .jsonl, .json or a directory")
    parser.add_argument("-o", "--output", action="append", required=True, metavar="PATH",
                        help="output file, repeatable; .jsonl = slime, .parquet = verl (one run can write both)")
    parser.add_argument("--format", choices=FORMATS, default=None,
                        help="force this format for every output instead of going by extension")
    parser.add_argument("--layout", choices=("auto",) + LAYOUTS, default="auto",
                        help="input layout (default: detected per row from its columns)")
    parser.add_argument("--prompt-style", choices=PROMPT_STYLES, default="messages",
                        help="retool: bare problem in the code_interpreter/\\boxed instruction (default); "
                             "raw: source prompt unchanged; messages: the retool prompt as a chat message list")
    parser.add_argument("--data-source", default=None, metavar="NAME",
                        help="data_source for every row (default: the source's own; AIME: aime_<year> or aime)")
    parser.add_argument("--agent-name", default=DEFAULT_AGENT_NAME, metavar="NAME",
                        help=f"verl agent loop name (default: {DEFAULT_AGENT_NAME})")
    parser.add_argument("--dedupe", action="store_true", help="drop rows whose problem text repeats an earlier one")
    parser.add_argument("--limit", type=int, default=None, metavar="N", help="convert only the first N input rows")
    parser.add_argument("--no-metadata", action="store_true", help="slime: leave out the metadata column")
    parser.add_argument("--report", default=None, metavar="PATH", help="write the full JSON report (every dropped row)")
    parser.add_argument("--instruction-from", default=None, metavar="SFT_DATA",
                        help="use the instructions of the ReTool-SFT rows in this file (the prompt the SFT model "
                             "was trained with) instead of the built-in instruction")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Exit status: 0 when at least one row was written, 1 when none survived."""
    options = RLDataOptions(
        layout=args.layout,
        prompt_style=args.prompt_style,
        data_source=args.data_source,
        agent_name=args.agent_name,
        dedupe=args.dedupe,
        limit=args.limit,
        metadata=not args.no_metadata,
        instruction=instruction_from_sft(args.instruction_from) if args.instruction_from else RETOOL_INSTRUCTION,
    )
    outputs = [(out, format_for_path(out, args.format)) for out in args.output]
    report = convert_file(args.input, outputs, options, progress=not args.no_progress)
    if args.report:
        report_path = Path(args.report)
        report_path.parent.mkdir(parents=True, exist_ok=True)
        body = {"input": str(args.input), "outputs": [{"path": str(p), "format": f} for p, f in outputs],
                **report.as_dict()}
        report_path.write_text(json.dumps(body, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(report.format("rl-data"), file=sys.stderr)
    for out, fmt in outputs:
        print(f"  wrote {report.rows_out} rows to {out} ({fmt})", file=sys.stderr)
    return 0 if report.rows_out > 0 else 1
