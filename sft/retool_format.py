"""ReTool-SFT traces: parse a row into a typed `Trace`, and render a trace back to ReTool's text.

A ReTool-SFT row (``JoeYing/ReTool-SFT``) is ``messages = [user, assistant]``. The user content is
instructions (which themselves mention the tags) followed by ``*user question:*`` and the problem,
sometimes with stray ``<answer>``/``</answer>`` around it. The assistant content is

    text  <code>```python ...```</code>  <interpreter>output</interpreter>  text  ...  <answer>...\\boxed{..}...</answer>

The parser is a single left-to-right scan over the six tags with an explicit grammar
(``(text code output)* text answer``), so a malformed trace raises `RowIssue` with a specific,
stable reason (``missing_output``, ``unclosed_code``, ``empty_code``, ...) instead of an assertion,
and the other rows go on. Cell bodies are unfenced by `retool.formats.parse_code`, the same function
the rollout uses, so SFT data and RL rollouts agree on what code a ``<code>`` block holds.

`render_trace` writes the canonical text: each cell exactly as the rollout's ``code`` call format
expects it and each output wrapped exactly as its ``interpreter`` observation format appends it, so a
model fine-tuned on it sees at RL time the bytes it was trained on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from retool.formats import CallFormat, parse_code, render_call, render_interpreter

from .io import RowIssue

__all__ = [
    "QUESTION_MARKER",
    "CodeCell",
    "Trace",
    "parse_question",
    "parse_assistant",
    "parse_row",
    "render_cell",
    "render_output",
    "render_trace",
    "user_prompt",
]

QUESTION_MARKER = "*user question:*"
_TAG = re.compile(r"</?(?:code|interpreter|answer)>")
_BOXED = "\\boxed"


@dataclass(frozen=True)
class CodeCell:
    """One tool call: the reasoning before it, the code, and the interpreter output recorded for it."""

    text: str
    code: str
    output: str


@dataclass(frozen=True)
class Trace:
    """One parsed row. ``answer`` is the inside of ``<answer>``; ``final_text`` the reasoning between
    the last output and ``<answer>``; ``trailing`` anything after ``</answer>`` (usually empty)."""

    instructions: str
    question: str
    cells: tuple[CodeCell, ...]
    final_text: str
    answer: str
    trailing: str = ""

    @property
    def final_content(self) -> str:
        """The last assistant message without the ``<answer>`` tags (verl's recipe drops them too)."""
        return _join(self.final_text, self.answer, self.trailing)


def _join(*parts: str) -> str:
    return "\n\n".join(p for p in parts if p)


def parse_question(user: Any) -> tuple[str, str]:
    """(instructions, question) from the user content; the question loses stray answer tags."""
    if not isinstance(user, str):
        raise RowIssue("non_string_content", f"user content is {type(user).__name__}, not str")
    i = user.find(QUESTION_MARKER)
    if i == -1:
        raise RowIssue("missing_question_marker", f"user content has no {QUESTION_MARKER!r}")
    question = user[i + len(QUESTION_MARKER):].replace("<answer>", "").replace("</answer>", "").strip()
    if not question:
        raise RowIssue("empty_question", f"nothing follows {QUESTION_MARKER!r}")
    return user[:i].rstrip(), question


def _unfenced(block: str, index: int) -> str:
    calls = parse_code(block)
    if not calls or not calls[0].ok:
        raise RowIssue("empty_code", f"code cell {index} is empty")
    return calls[0].code.strip("\n")


def parse_assistant(content: Any) -> tuple[tuple[CodeCell, ...], str, str, str]:
    """(cells, final_text, answer, trailing) of an assistant trace; raises `RowIssue`."""
    if not isinstance(content, str):
        raise RowIssue("non_string_content", f"assistant content is {type(content).__name__}, not str")
    cells: list[CodeCell] = []
    pos = 0
    text = None  # reasoning waiting for its cell
    pending_code: str | None = None  # a cell waiting for its output
    tags = list(_TAG.finditer(content))
    k = 0
    while k < len(tags):
        tag = tags[k]
        name = tag.group(0)
        if name in ("</code>", "</interpreter>", "</answer>"):
            raise RowIssue("unbalanced_tags", f"{name} at char {tag.start()} closes nothing")
        close = "</" + name[1:]
        if k + 1 >= len(tags) or tags[k + 1].group(0) != close:
            found = tags[k + 1].group(0) if k + 1 < len(tags) else "end of text"
            reason = {"<code>": "unclosed_code", "<interpreter>": "unclosed_output", "<answer>": "unclosed_answer"}[name]
            raise RowIssue(reason, f"{name} at char {tag.start()} is followed by {found}, not {close}")
        end = tags[k + 1]
        body = content[tag.end():end.start()]
        between = content[pos:tag.start()].strip()
        if name == "<code>":
            if pending_code is not None:
                raise RowIssue("missing_output", f"code cell {len(cells)} has no <interpreter> output before the next cell")
            text = between
            pending_code = _unfenced(content[tag.start():end.end()], len(cells))
        elif name == "<interpreter>":
            if pending_code is None:
                raise RowIssue("orphan_output", f"<interpreter> at char {tag.start()} follows no code cell")
            if between:
                raise RowIssue("text_between_code_and_output",
                               f"code cell {len(cells)} and its output are separated by text ({between[:40]!r})")
            cells.append(CodeCell(text=text or "", code=pending_code, output=body.strip("\n")))
            pending_code = None
        else:  # <answer>
            if pending_code is not None:
                raise RowIssue("missing_output", f"code cell {len(cells)} has no <interpreter> output")
            answer = body.strip()
            trailing = content[end.end():].strip()
            if _TAG.search(trailing):
                raise RowIssue("content_after_answer", "tags follow </answer>")
            if _BOXED not in answer:
                raise RowIssue("answer_not_boxed", "the <answer> block has no \\boxed{...}")
            return tuple(cells), between, answer, trailing
        pos = end.end()
        k += 2
    if pending_code is not None:
        raise RowIssue("missing_output", f"code cell {len(cells)} has no <interpreter> output")
    raise RowIssue("missing_answer", "the trace has no <answer>...</answer> block")


def _message(messages: Any, index: int, role: str) -> Mapping[str, Any]:
    if not isinstance(messages, (list, tuple)):
        raise RowIssue("bad_messages", f"messages is {type(messages).__name__}, not a list")
    if len(messages) < 2:
        raise RowIssue("bad_messages", f"expected [user, assistant] messages, got {len(messages)}")
    msg = messages[index]
    if not isinstance(msg, Mapping) or msg.get("role") != role:
        got = msg.get("role") if isinstance(msg, Mapping) else type(msg).__name__
        raise RowIssue("bad_messages", f"message {index} should be {role!r}, got {got!r}")
    return msg


def parse_row(row: Mapping[str, Any], *, messages_key: str = "messages") -> Trace:
    """A ReTool-SFT row as a `Trace`; raises `RowIssue` (never anything else) for a bad row."""
    issue = getattr(row, "issue", None)  # an unreadable input line (sft.io.UnreadableRow)
    if isinstance(issue, RowIssue):
        raise issue
    if not isinstance(row, Mapping) or messages_key not in row:
        raise RowIssue("bad_messages", f"row has no {messages_key!r} column")
    messages = row[messages_key]
    user = _message(messages, 0, "user")
    assistant = _message(messages, -1, "assistant")
    instructions, question = parse_question(user.get("content"))
    cells, final_text, answer, trailing = parse_assistant(assistant.get("content"))
    return Trace(instructions, question, cells, final_text, answer, trailing)


def render_cell(code: str) -> str:
    """A call in the rollout's ``code`` format (what `retool.formats.parse_code` reads back)."""
    return render_call(code, CallFormat.CODE)


def render_output(output: str) -> str:
    """An observation exactly as the rollout's ``interpreter`` format appends it after ``</code>``."""
    return render_interpreter(output)


def render_trace(trace: Trace) -> str:
    """The canonical assistant text: reasoning, cells and outputs, then the ``<answer>`` block."""
    parts: list[str] = []
    for c in trace.cells:
        if c.text:
            parts.append(c.text + "\n\n")
        parts.append(render_cell(c.code) + render_output(c.output) + "\n")
    if trace.final_text:
        parts.append(trace.final_text + "\n\n")
    parts.append("<answer>\n" + trace.answer + "\n</answer>")
    if trace.trailing:
        parts.append("\n\n" + trace.trailing)
    return "".join(parts)


def user_prompt(trace: Trace, *, keep_instructions: bool = True) -> str:
    """The user message: ReTool's instructions and the cleaned question, or the question alone."""
    if keep_instructions and trace.instructions:
        return trace.instructions + "\n\n" + QUESTION_MARKER + "\n" + trace.question
    return trace.question
