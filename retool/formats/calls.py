"""Call formats: find the code-interpreter calls in one assistant turn, render a call as a model writes it,
and the stop strings that end a turn right after a call, for the three formats models are trained on.

- ``hermes``: ``<tool_call>{"name": "code_interpreter", "arguments": {"code": "..."}}</tool_call>``
  (Qwen and most open chat templates). ``arguments`` may be an object or a JSON string holding one.
- ``code``: ReTool's ``<code>\\n```python\\n...\\n```\\n</code>`` (a bare body without the fence also counts).
- ``python``: a fenced block opened by ```` ```python ```` (or ```` ```py ````) and closed by ```` ``` ````.

Every call the model *attempted* comes back as a `ParsedCall`; a malformed one carries an ``error`` the
rollout shows the model as the tool's answer, because a model only learns the format if a mistake has a
visible consequence, and an exception would throw the whole trajectory away.

Stop strings (`stop_strings`) end generation right after a call so the tool runs before the model
guesses the output. A stop string can fire where it does not close a call (``</tool_call>`` inside the
JSON code string, a plain ```` ``` ```` fence in python mode); `needs_continuation` says when the
rollout should simply keep generating the same turn instead of treating the turn as finished.

Pure functions, no state: safe to call from any number of concurrent rollouts.
"""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass

from .schema import TOOL_NAME


class CallFormat(str, enum.Enum):
    """How a model writes a call. A str enum: ``CallFormat("code")`` and ``fmt == "code"`` both work."""

    HERMES = "hermes"
    CODE = "code"
    PYTHON = "python"

    def __str__(self) -> str:
        return self.value

    @classmethod
    def parse(cls, value: "CallFormat | str") -> "CallFormat":
        """``value`` as a member; a clear error naming the choices for anything else."""
        try:
            return cls(value)
        except ValueError:
            raise ValueError(f"unknown call format {value!r}; expected one of {CALL_FORMATS}") from None


CALL_FORMATS: tuple[str, ...] = tuple(f.value for f in CallFormat)

HERMES_OPEN = "<tool_call>"
HERMES_CLOSE = "</tool_call>"
CODE_OPEN = "<code>"
CODE_CLOSE = "</code>"
# python mode stops at "```\n": the opening "```python\n" does not contain it, a closing fence line does.
# It also fires on a plain fence ("```\n" opening or closing a non-python block); `needs_continuation`
# detects that and the rollout keeps generating. A closing fence followed directly by end-of-sequence
# (no newline) needs no stop string: the turn ends on eos and the block is parsed from the text.
PYTHON_FENCE_STOP = "```\n"

_STOPS: dict[CallFormat, tuple[str, ...]] = {
    CallFormat.HERMES: (HERMES_CLOSE,),
    CallFormat.CODE: (CODE_CLOSE,),
    CallFormat.PYTHON: (PYTHON_FENCE_STOP,),
}

_DECODER = json.JSONDecoder(strict=False)  # strict=False: models often put raw newlines in JSON strings
_PY_BLOCK = re.compile(r"```(?:python3?|py)[ \t]*\r?\n(.*?)```", re.DOTALL | re.IGNORECASE)
_FENCE_LINE = re.compile(r"\A```[^\n]*\n")


@dataclass(frozen=True)
class ParsedCall:
    """One attempted call. Exactly one of ``code`` and ``error`` is set; ``raw`` is the call's text."""

    code: str | None
    error: str | None
    raw: str

    @property
    def ok(self) -> bool:
        return self.error is None


def stop_strings(fmt: CallFormat | str) -> tuple[str, ...]:
    """The stop strings that end a turn right after a call in format ``fmt``."""
    return _STOPS[CallFormat.parse(fmt)]


def parse_calls(text: str, fmt: CallFormat | str, *, tool_name: str = TOOL_NAME) -> list[ParsedCall]:
    """All calls attempted in ``text`` (one assistant turn), in order."""
    fmt = CallFormat.parse(fmt)
    if fmt is CallFormat.HERMES:
        return parse_hermes(text, tool_name=tool_name)
    if fmt is CallFormat.CODE:
        return parse_code(text)
    return parse_python(text)


def render_call(code: str, fmt: CallFormat | str, *, tool_name: str = TOOL_NAME) -> str:
    """The canonical text of a call to ``code`` in ``fmt``: what the few-shot examples show, what SFT data
    trains, and what `parse_calls` reads back as exactly ``code``."""
    fmt = CallFormat.parse(fmt)
    if fmt is CallFormat.HERMES:
        return HERMES_OPEN + "\n" + json.dumps({"name": tool_name, "arguments": {"code": code}}) + "\n" + HERMES_CLOSE
    if fmt is CallFormat.CODE:
        return CODE_OPEN + "\n```python\n" + code + "\n```\n" + CODE_CLOSE
    return "```python\n" + code + "\n```\n"


def needs_continuation(text: str, fmt: CallFormat | str) -> bool:
    """True when ``text`` ends on a stop string that did not close a call, so the turn is not over.

    hermes: the final ``</tool_call>`` sits inside a still-open JSON string (code that prints the tag).
    python: the final ```` ``` ```` fence opens or closes a non-python block.
    code: never (ReTool's format has no escaping; a stray ``</code>`` is reported as an invalid call).
    """
    fmt = CallFormat.parse(fmt)
    if fmt is CallFormat.HERMES:
        if not text.endswith(HERMES_CLOSE):
            return False
        spans = _scan_hermes(text, TOOL_NAME)
        return bool(spans) and spans[-1].open_string
    if fmt is CallFormat.PYTHON:
        stripped = text.rstrip()
        if not stripped.endswith("```"):
            return False
        last = None
        for last in _PY_BLOCK.finditer(text):
            pass
        return last is None or last.end() != len(stripped)
    return False


def parse_function_call(name: object, arguments: object, *, tool_name: str = TOOL_NAME) -> ParsedCall:
    """An OpenAI-style function call (``name`` and ``arguments`` as an object or a JSON string) checked
    the way a hermes call is. Code that is one fenced block is unwrapped: models trained on markdown
    often fence the code they pass, and running the fence would be a SyntaxError they cannot see."""
    raw = json.dumps({"name": name, "arguments": arguments}, default=str)
    call = _hermes_call({"name": name, "arguments": arguments}, raw, tool_name)
    if call.code is not None and call.code.lstrip().startswith("```"):
        inner = _unfence(call.code)
        return ParsedCall(inner, None, raw) if inner.strip() else _error(raw, "the 'code' argument is empty")
    return call


# ----------------------------------------------------------------------------------------- hermes
@dataclass(frozen=True)
class _Span:
    call: ParsedCall
    open_string: bool = False  # the JSON was cut off inside a string literal


def parse_hermes(text: str, *, tool_name: str = TOOL_NAME) -> list[ParsedCall]:
    """Hermes calls. The JSON is decoded with a real JSON scanner (not a regex up to the closing tag),
    so braces and ``</tool_call>`` inside the code string are just characters. A complete JSON object
    at the end of the text without the closing tag still counts (the turn ended on eos right after it).
    A ``</tool_call>`` with no opening tag before it is reported, since the model evidently meant a call.
    """
    return [span.call for span in _scan_hermes(text, tool_name)]


def _scan_hermes(text: str, tool_name: str) -> list[_Span]:
    spans: list[_Span] = []
    pos = 0
    while True:
        start = text.find(HERMES_OPEN, pos)
        stray = text.find(HERMES_CLOSE, pos)
        if stray != -1 and (start == -1 or stray < start):
            end = stray + len(HERMES_CLOSE)
            spans.append(_Span(_error(text[pos:end].strip(), f"found {HERMES_CLOSE} without a {HERMES_OPEN} before it")))
            pos = end
            continue
        if start == -1:
            return spans
        body = start + len(HERMES_OPEN)
        j = _skip_ws(text, body)
        try:
            obj, obj_end = _DECODER.raw_decode(text, j)
        except json.JSONDecodeError as exc:
            close = text.find(HERMES_CLOSE, j)
            end = len(text) if close == -1 else close + len(HERMES_CLOSE)
            segment = text[j:close] if close != -1 else text[j:]
            open_string = close != -1 and end == len(text) and _ends_inside_string(segment)
            if close == -1:
                msg = f"unterminated tool call: no complete JSON object after {HERMES_OPEN} ({exc.msg})"
            else:
                msg = f"invalid JSON in tool call: {exc.msg} at line {exc.lineno} column {exc.colno}"
            spans.append(_Span(_error(text[start:end], msg), open_string))
            pos = end
            continue
        k = _skip_ws(text, obj_end)
        if text.startswith(HERMES_CLOSE, k):
            end = k + len(HERMES_CLOSE)
            spans.append(_Span(_hermes_call(obj, text[start:end], tool_name)))
        elif k >= len(text):
            spans.append(_Span(_hermes_call(obj, text[start:], tool_name)))
            end = len(text)
        else:
            close = text.find(HERMES_CLOSE, k)
            end = len(text) if close == -1 else close + len(HERMES_CLOSE)
            spans.append(_Span(_error(text[start:end], f"unexpected text after the JSON object; expected {HERMES_CLOSE}")))
        pos = end


def _hermes_call(obj: object, raw: str, tool_name: str) -> ParsedCall:
    if not isinstance(obj, dict):
        return _error(raw, 'a tool call must be a JSON object {"name": ..., "arguments": {...}}')
    name = obj.get("name")
    if name != tool_name:
        return _error(raw, f"unknown tool {name!r}; the available tool is {tool_name!r}")
    args = obj.get("arguments", obj.get("parameters"))
    if isinstance(args, str):
        try:
            args = json.loads(args, strict=False)
        except json.JSONDecodeError as exc:
            return _error(raw, f"'arguments' is a string that is not valid JSON: {exc.msg}")
    if not isinstance(args, dict):
        return _error(raw, 'missing \'arguments\': expected {"code": "<python source>"}')
    code = args.get("code")
    if code is None:
        return _error(raw, "missing the 'code' argument")
    if not isinstance(code, str):
        return _error(raw, "the 'code' argument must be a string")
    if not code.strip():
        return _error(raw, "the 'code' argument is empty")
    return ParsedCall(code=code, error=None, raw=raw)


def _ends_inside_string(segment: str) -> bool:
    """Whether a JSON text cut at the end of ``segment`` is inside a string literal."""
    inside = escaped = False
    for ch in segment:
        if escaped:
            escaped = False
        elif inside and ch == "\\":
            escaped = True
        elif ch == '"':
            inside = not inside
    return inside


# ------------------------------------------------------------------------------------------- code
def parse_code(text: str) -> list[ParsedCall]:
    """ReTool ``<code>...</code>`` blocks; the body may be wrapped in a ```` ```python ```` fence.

    An unclosed ``<code>`` is prose, not a call (the turn ended on eos, no stop string fired).
    """
    calls: list[ParsedCall] = []
    pos = 0
    while True:
        start = text.find(CODE_OPEN, pos)
        close = text.find(CODE_CLOSE, pos)
        if close != -1 and (start == -1 or close < start):
            end = close + len(CODE_CLOSE)
            calls.append(_error(text[pos:end].strip(), f"found {CODE_CLOSE} without a {CODE_OPEN} before it"))
            pos = end
            continue
        if start == -1:
            return calls
        close = text.find(CODE_CLOSE, start + len(CODE_OPEN))
        if close == -1:
            return calls
        end = close + len(CODE_CLOSE)
        code = _unfence(text[start + len(CODE_OPEN):close])
        raw = text[start:end]
        calls.append(ParsedCall(code, None, raw) if code.strip() else _error(raw, "the <code> block is empty"))
        pos = end


def _unfence(body: str) -> str:
    body = body.strip("\n")
    stripped = body.strip()
    if stripped.startswith("```"):
        match = _FENCE_LINE.match(stripped + "\n")
        inner = stripped[match.end():] if match and match.end() <= len(stripped) else ""
        if inner.rstrip().endswith("```"):
            inner = inner.rstrip()[:-3]
        return inner.strip("\n")
    return body


# ----------------------------------------------------------------------------------------- python
def parse_python(text: str) -> list[ParsedCall]:
    """Closed ```` ```python ```` blocks (``py`` and ``python3`` too). Other fences are prose."""
    calls = []
    for match in _PY_BLOCK.finditer(text):
        code = match.group(1)
        code = code[:-1] if code.endswith("\n") else code
        raw = match.group(0)
        calls.append(ParsedCall(code, None, raw) if code.strip() else _error(raw, "the python block is empty"))
    return calls


def _error(raw: str, message: str) -> ParsedCall:
    return ParsedCall(code=None, error=message, raw=raw)


def _skip_ws(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    return i
