"""Final-answer extraction for ``math`` mode.

Extraction runs in the caller (often an event loop) on untrusted model output that can be a megabyte
long, so every scan is linear and bounded: ``rfind`` for box markers, brace matching capped at
``MAX_ANSWER_CHARS``, a bounded number of box candidates, and the line-based rules only look at the
last ``TAIL_CHARS`` characters.
"""

from __future__ import annotations

import re
from typing import Optional

__all__ = ["extract_answer", "clean_answer", "MAX_ANSWER_CHARS"]

MAX_ANSWER_CHARS = 4000  # a longer "answer" is treated as no answer: nothing sane is that long
TAIL_CHARS = 4000  # window for the Answer:/tag/bare-expression rules
_MAX_BOX_CANDIDATES = 16

_BOX_MARKERS = ("\\boxed", "\\fbox")
_BRACE_RE = re.compile(r"\\.|[{}]", re.DOTALL)
_ANSWER_LINE_RE = re.compile(
    r"(?i)\b(?:final\s+answer|answer)\s*(?:\*\*)?\s*(?:[:：=]|\bis\b\s*:?)\s*(?:\*\*)?[ \t]*"
    r"(?P<ans>[^\n]*\S)[ \t]*$",
    re.MULTILINE,
)
_ANSWER_COLON_RE = re.compile(
    r"(?i)\b(?:final\s+answer|answer)\s*(?:\*\*)?\s*[:：]\s*(?:\*\*)?[ \t]*(?P<ans>[^\n]*\S)[ \t]*$", re.MULTILINE
)
_MATH_SEG_RE = re.compile(r"\$\$(.+?)\$\$|\\\[(.+?)\\\]|\\\((.+?)\\\)|\$([^$\n]+?)\$", re.DOTALL)
_TRAILING_NUMBER_RE = re.compile(r"(?:=|\bis\b|:)\s*(?P<ans>[-+−]?\\?\$?\d[\d,]*(?:\.\d+)?(?:/\d+)?)\s*\.?\s*$")
_BARE_EXPR_RE = re.compile(r"[-+−]?[\d\s.,/^*()+\-−]*\d[\d\s.,/^*()+\-−]*")
_HOPE_RE = re.compile(r"(?i)\.?\s*I hope it is correct\.?\s*$")
_DELIMS = (("$$", "$$"), ("$", "$"), ("\\[", "\\]"), ("\\(", "\\)"), ("**", "**"))


def _match_braced(text: str, open_idx: int) -> Optional[int]:
    """Index of the brace that closes ``text[open_idx]`` (escaped braces don't count), or None."""
    depth = 0
    end_limit = min(len(text), open_idx + MAX_ANSWER_CHARS + 2)
    for m in _BRACE_RE.finditer(text, open_idx, end_limit):
        tok = m.group()
        if tok == "{":
            depth += 1
        elif tok == "}":
            depth -= 1
            if depth == 0:
                return m.start()
    return None


def _box_at(text: str, idx: int, marker: str) -> Optional[tuple[str, int]]:
    """(content, end) of the box whose marker starts at ``idx``; None if it is incomplete."""
    j = idx + len(marker)
    n = len(text)
    while j < n and text[j] in " \t":
        j += 1
    if j < n and text[j] == "{":
        close = _match_braced(text, j)
        if close is None:
            return None
        return text[j + 1 : close], close + 1
    if j > idx + len(marker):  # ``\boxed 5``: TeX takes the next token; models use it for short answers
        m = re.match(r"[^\s$]{1,64}", text[j : j + 64])
        if m:
            return m.group(), j + m.end()
    return None


def _last_box(text: str) -> Optional[tuple[str, int, int]]:
    """Last complete ``\\boxed``/``\\fbox``: (content, start, end)."""
    ends = {marker: len(text) for marker in _BOX_MARKERS}
    for _ in range(_MAX_BOX_CANDIDATES):
        best = None
        for marker in _BOX_MARKERS:
            i = text.rfind(marker, 0, ends[marker])
            if i >= 0 and (best is None or i > best[0]):
                best = (i, marker)
        if best is None:
            return None
        i, marker = best
        ends[marker] = i
        if text[i + len(marker) : i + len(marker) + 1].isalpha():
            continue  # ``\boxedfoo`` is another macro
        got = _box_at(text, i, marker)
        if got is not None:
            return got[0], i, got[1]
    return None


def _strip_delims(s: str) -> str:
    s = s.strip()
    changed = True
    while changed and s:
        changed = False
        for left, right in _DELIMS:
            if len(s) >= len(left) + len(right) and s.startswith(left) and s.endswith(right):
                inner = s[len(left) : len(s) - len(right)]
                if left == "$" and "$" in inner:
                    continue  # "$a$ and $b$" is two formulas, not one
                s = inner.strip()
                changed = True
    return s


def clean_answer(ans: str) -> str:
    """Strip presentation around an extracted answer: math delimiters, markdown, a final full stop."""
    s = _HOPE_RE.sub("", ans.strip())
    s = _strip_delims(s)
    s = s.rstrip(".。;,").rstrip()
    s = _strip_delims(s)
    if s.startswith(_BOX_MARKERS):
        box = _last_box(s)
        if box is not None and box[1] == 0 and box[2] == len(s):
            s = _strip_delims(box[0])
    return s


def _math_segments(s: str) -> list[str]:
    return [next(g for g in m.groups() if g is not None) for m in _MATH_SEG_RE.finditer(s)]


def _from_answer_line(line_ans: str) -> str:
    """``Answer: the sum is $42$.`` -> ``42``; ``Answer: x = 3`` -> ``x = 3``."""
    segs = _math_segments(line_ans)
    if segs and not re.search(r"\d", _MATH_SEG_RE.sub("", line_ans)):
        return segs[-1]
    return line_ans


def _bare_final(tail: str) -> Optional[str]:
    """A final answer written without any marker, on the last non-empty line."""
    lines = [ln.strip() for ln in tail.splitlines() if ln.strip()]
    if not lines:
        return None
    last = _HOPE_RE.sub("", lines[-1]).strip()
    if not last or len(last) > 300:
        return None
    cleaned = clean_answer(last)
    if cleaned and (_BARE_EXPR_RE.fullmatch(cleaned) or (last.startswith(("$", "\\[", "\\(")) and cleaned != last)):
        return cleaned
    segs = _math_segments(last)
    if segs:
        return segs[-1]
    m = _TRAILING_NUMBER_RE.search(last)
    if m:
        return m.group("ans")
    return None


def _marked(text: str, *, colon_only: bool = False) -> Optional[tuple[str, str]]:
    """The last ``<answer>`` tag, else the last ``Answer:`` line, in ``text``: (answer, source).

    ``colon_only`` (used after a box) ignores "the answer is ..." prose, so that "I'm sure the answer
    is correct." after ``\\boxed{5}`` does not replace the 5."""
    close = text.rfind("</answer>")
    if close >= 0:
        open_ = text.rfind("<answer>", 0, close)
        if open_ >= 0:
            inner = text[open_ + len("<answer>") : close]
            inner_box = _last_box(inner)
            ans = clean_answer(inner_box[0] if inner_box else inner)
            if ans:
                return ans, "answer_tag"
    if "nswer" not in text.lower():
        return None
    line = None
    for m in (_ANSWER_COLON_RE if colon_only else _ANSWER_LINE_RE).finditer(text):
        line = m.group("ans")
    if line is not None:
        ans = clean_answer(_from_answer_line(line))
        if ans:
            return ans, "answer_line"
    return None


def extract_answer(solution: str) -> tuple[Optional[str], str]:
    """(answer, source) for the final answer of ``solution``; (None, reason) when there is none.

    The last complete ``\\boxed{}``/``\\fbox{}`` wins, unless an ``<answer>`` tag or an ``Answer:``
    line comes after it (the model's last word is its answer). Without a box: the last tag, then the
    last ``Answer:``/``final answer is`` line, then a bare expression on the last line.
    """
    if not solution:
        return None, "none"
    box = _last_box(solution)
    if box is not None:
        content, _start, end = box
        later = _marked(solution[max(end, len(solution) - TAIL_CHARS) :], colon_only=True)
        if later is not None:
            return later
        ans = clean_answer(content)
        return (ans, "boxed") if ans else (None, "empty box")
    tail = solution[-TAIL_CHARS:]
    marked = _marked(tail)
    if marked is not None:
        return marked
    bare = _bare_final(tail)
    if bare:
        ans = clean_answer(bare)
        if ans:
            return ans, "final_expression"
    if any(marker in solution for marker in _BOX_MARKERS):
        return None, "unterminated or oversized box"
    return None, "none"
