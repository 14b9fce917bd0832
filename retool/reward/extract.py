"""Final-answer extraction for ``math`` mode.

Extraction runs in the caller (often an event loop) on untrusted model output that can be a megabyte
long, so every scan is linear and bounded: ``rfind`` for box markers, brace matching capped at
``MAX_ANSWER_CHARS``, a bounded number of box candidates, and the line-based rules only look at the
last ``TAIL_CHARS`` characters.

These rules cover what RL outputs mostly look like (a final ``\\boxed{}``, an ``<answer>`` tag, an
``Answer:`` line) and do it in microseconds. Where they find nothing clean -- no marker at all, or an
answer line that is a sentence ("The largest $n$ is 34.") -- they say so with ``Source.LIBRARY`` and
hand back the bounded region to read; math-verify's own extraction then runs on it in a pool worker
(see ``_mv.py``), so extraction is never weaker than the library's.
"""

from __future__ import annotations

import enum
import re
import types
from dataclasses import dataclass
from typing import Optional

__all__ = ["Extraction", "Source", "extract", "extract_answer", "clean_answer", "is_prose", "MAX_ANSWER_CHARS", "TAIL_CHARS"]


class Source(str, enum.Enum):
    """Where an answer came from (the ``reason`` of a verdict names it)."""

    BOXED = "boxed"
    BOXED_LIST = "boxed list"  # several boxes written as one answer: \boxed{1}, \boxed{2}
    ANSWER_TAG = "answer_tag"
    ANSWER_LINE = "answer_line"
    FINAL_EXPRESSION = "final_expression"
    WHOLE_OUTPUT = "whole output"  # the output is one short formula and nothing else: "x^2 + 2x + 1"
    FINAL_BRACKET = "final bracket"  # the output ends with its answer in square brackets: "The angle is [90]."
    LIBRARY = "library"  # ours found nothing clean: math-verify's extraction reads ``text``
    NONE = "none"
    EMPTY_BOX = "empty box"
    UNTERMINATED_BOX = "unterminated or oversized box"
    NOTHING_AFTER_THINK = "nothing after </think>"
    UNFINISHED = "output ends mid-sentence"  # cut off at the length limit: nothing to read as an answer


@dataclass(frozen=True)
class Extraction:
    """What a solution answers: one answer, several (a box list), or a region for the library."""

    answers: tuple = ()
    source: Source = Source.NONE
    text: Optional[str] = None  # for Source.LIBRARY (and as a second chance for FINAL_EXPRESSION)

    @property
    def answer(self) -> Optional[str]:
        """The answer as one string; a box list is joined with ", " (a set to math-verify)."""
        if not self.answers:
            return None
        return self.answers[0] if len(self.answers) == 1 else ", ".join(self.answers)

MAX_ANSWER_CHARS = 4000  # a longer "answer" is treated as no answer: nothing sane is that long
TAIL_CHARS = 4000  # window for the Answer:/tag/bare-expression rules
_MAX_BOX_CANDIDATES = 16

_BOX_MARKERS = ("\\boxed", "\\fbox")
_BRACE_RE = re.compile(r"\\.|[{}]", re.DOTALL)
_PLAIN_BRACE_RE = re.compile(r"[{}]")
# Escape sequences left by a non-raw Python string of LaTeX (\\frac -> form feed + "rac"): these
# control characters never belong in an answer, so they are turned back into the command. Tab and
# carriage return are ordinary whitespace and stay.
_CONTROL_ESCAPES = types.MappingProxyType(str.maketrans({"\x0c": "\\f", "\x08": "\\b", "\x07": "\\a", "\x0b": "\\v"}))
_ANSWER_LINE_RE = re.compile(
    r"(?i)\b(?:final\s+answer|answer)\s*(?:\*\*)?\s*(?:[:：=]|\bis\b\s*:?)\s*(?:\*\*)?[ \t]*"
    r"(?P<ans>[^\n]*\S)[ \t]*$",
    re.MULTILINE,
)
_ANSWER_COLON_RE = re.compile(
    r"(?i)\b(?:final\s+answer|answer)\s*(?:\*\*)?\s*[:：]\s*(?:\*\*)?[ \t]*(?P<ans>[^\n]*\S)[ \t]*$", re.MULTILINE
)
_MATH_SEG_RE = re.compile(
    r"(?<!\\)\$\$(.+?)(?<!\\)\$\$|\\\[(.+?)\\\]|\\\((.+?)\\\)|(?<!\\)\$((?:[^$\n\\]|\\.)+?)\$", re.DOTALL
)
_TRAILING_NUMBER_RE = re.compile(r"(?:=|\bis\b|:)\s*(?P<ans>[-+−]?\\?\$?\d[\d,]*(?:\.\d+)?(?:/\d+)?)\s*\.?\s*$")
_BARE_EXPR_RE = re.compile(r"[-+−]?[\d\s.,/^*()+\-−]*\d[\d\s.,/^*()+\-−]*")
_HOPE_RE = re.compile(r"(?i)\.?\s*I hope it is correct\.?\s*$")
_BOLD_EDGE_RE = re.compile(r"^\*\*+\s*|\s*\*\*+$")  # markdown bold left open on one side: "0.5**"
_DELIMS = (("$$", "$$"), ("$", "$"), ("\\[", "\\]"), ("\\(", "\\)"), ("**", "**"), ("`", "`"))


def _match_braced(text: str, open_idx: int, *, escapes: bool = True) -> Optional[int]:
    """Index of the brace that closes ``text[open_idx]`` (escaped braces don't count), or None."""
    depth = 0
    end_limit = min(len(text), open_idx + MAX_ANSWER_CHARS + 2)
    for m in (_BRACE_RE if escapes else _PLAIN_BRACE_RE).finditer(text, open_idx, end_limit):
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
            # ``\\boxed{185\\}``: a stray backslash before the closing brace; read braces plainly
            close = _match_braced(text, j, escapes=False)
            if close is None or text[close - 1] != "\\":
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
    s = _BOLD_EDGE_RE.sub("", s.strip())
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


def repair_escapes(s: str) -> str:
    """``\\x0crac{1}{2}`` -> ``\\frac{1}{2}`` (see ``_CONTROL_ESCAPES``); other text is returned as is."""
    if not any(c in s for c in "\x0c\x08\x07\x0b"):
        return s
    return s.translate(_CONTROL_ESCAPES)


def clean_answer(ans: str) -> str:
    """Strip presentation around an extracted answer: math delimiters, markdown, a final full stop,
    a stray final backslash (``185\\``)."""
    s = _HOPE_RE.sub("", repair_escapes(ans).strip())
    s = _strip_delims(s)
    s = s.rstrip(".。;,").rstrip()
    if s.endswith("\\") and not s.endswith("\\\\"):
        s = s[:-1].rstrip()
    s = _strip_delims(s)
    if s.startswith(_BOX_MARKERS):
        box = _last_box(s)
        if box is not None and box[1] == 0 and box[2] == len(s):
            s = _strip_delims(box[0])
    return s


def _math_segments(s: str) -> list[str]:
    return [next(g for g in m.groups() if g is not None) for m in _MATH_SEG_RE.finditer(s)]


def _from_answer_line(line_ans: str) -> Optional[str]:
    """``Answer: the sum is $42$.`` -> ``42``; ``Answer: x = 3`` -> ``x = 3``; None for several
    formulas (``$12$ and $13$``), which the library's extraction reads as one list."""
    segs = _math_segments(line_ans)
    if segs and not re.search(r"\d", _MATH_SEG_RE.sub("", line_ans)):
        return segs[-1] if len(segs) == 1 else None
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
    final_seg = None
    for final_seg in _MATH_SEG_RE.finditer(last):
        pass
    if final_seg is not None and not any(c.isdigit() for c in last[final_seg.end() :]):
        # the line's last formula, unless numbers follow it ("$x=\\frac14$. Other numbers are 1, 2, 3."):
        # then it is not the last thing the output states
        return next(g for g in final_seg.groups() if g is not None)
    m = _TRAILING_NUMBER_RE.search(last)
    if m:
        return m.group("ans")
    return None


_PROSE_RE = re.compile(
    r"(?i)\b(?:is|are|was|were|the|of|which|that|so|thus|therefore|hence|we|get|gives|equals|be|it|this|answer)\b"
)
_LATEX_WORDS_RE = re.compile(r"\\[A-Za-z]+(?:\{[^{}]*\})?|(?<!\\)\$[^$]*(?<!\\)\$")
_GAP_RE = re.compile(
    r"\\text\{[^{}]{0,60}\}|\\(?:quad|qquad|[,;:! ])|\\[\[\]()]|\\\\|\$|[\s,;.&~]|\b(?:and|or)\b"
    r"|[A-Za-z](?:_\{?\w{1,4}\}?)?\s*="
)
_MAX_GAP = 200
_MAX_WHOLE = 300
_WORD_RE = re.compile(r"[A-Za-z]{2,}")
_MATH_SIGNAL_RE = re.compile(r"[\d\\=^_+*/()\[\]{}<>|']")
# The last line ends in a word with no digit or formula on it ("... since the count of"): a rollout
# cut off at the length limit. Its earlier lines are reasoning, not an answer, even where they hold numbers.
_UNFINISHED_RE = re.compile(r"(?:^|\n)[^\d\n$\\]*[A-Za-z]\s*(?:<\|[a-z_]+\|>\w*\s*)*$")
_CJK = "\u3000-\u9fff\uac00-\ud7af\uff00-\uffef"  # CJK punctuation and ideographs, Hangul, full-width forms
_CJK_DIGIT_RE = re.compile(rf"(?<=[{_CJK}])(?=\d)|(?<=\d)(?=[{_CJK}])")
_JOIN_RE = re.compile(r"\b(?:and|or)\b")


def is_prose(ans: str) -> bool:
    """A sentence rather than a formula ("The largest $n$ is 34"): words outside math and commands."""
    return bool(_PROSE_RE.search(_LATEX_WORDS_RE.sub(" ", ans)))


def _marked(text: str, *, colon_only: bool = False) -> Optional[Extraction]:
    """The last ``<answer>`` tag, else the last ``Answer:`` line, in ``text``.

    ``colon_only`` (used after a box) ignores "the answer is ..." prose, so that "I'm sure the answer
    is correct." after ``\\boxed{5}`` does not replace the 5. An answer line that is a sentence goes
    to the library's extraction (``Source.LIBRARY``) instead of being compared as a formula."""
    close = text.rfind("</answer>")
    if close >= 0:
        open_ = text.rfind("<answer>", 0, close)
        if open_ >= 0:
            inner = text[open_ + len("<answer>") : close]
            run = _last_box_run(inner)
            if run:
                return run
            ans = clean_answer(inner)
            if ans:
                if is_prose(ans):
                    return Extraction((), Source.LIBRARY, ans)
                return Extraction((ans,), Source.ANSWER_TAG)
    if "nswer" not in text.lower():
        return None
    line = None
    for m in (_ANSWER_COLON_RE if colon_only else _ANSWER_LINE_RE).finditer(text):
        line = m.group("ans")
    if line is not None:
        picked = _from_answer_line(line)
        if picked is None:
            return Extraction((), Source.LIBRARY, clean_answer(line))
        ans = clean_answer(picked)
        if ans:
            if is_prose(ans):
                return Extraction((), Source.LIBRARY, ans)
            return Extraction((ans,), Source.ANSWER_LINE)
    return None


def _separates(gap: str) -> bool:
    """Whether only separators stand between two boxes: punctuation, spacing, ``\\text{and}``,
    ``y =``; or one word (a unit) next to "and"/"or" (``\\boxed{1} papers and \\boxed{2} bins``)."""
    if len(gap) > _MAX_GAP:
        return False
    words = _GAP_RE.sub(" ", gap).split()
    if not words:
        return True
    return bool(_JOIN_RE.search(gap)) and len(words) <= 1 and words[0].isalpha() and len(words[0]) <= 12


def _last_box_run(text: str) -> Optional[Extraction]:
    """The last box, with the boxes written right before it as one answer (``\\boxed{1}, \\boxed{2}``,
    ``\\boxed{x=1} \\quad\\text{and}\\quad \\boxed{y=2}``): only separators may stand between them."""
    box = _last_box(text)
    if box is None:
        return None
    content, start, _end = box
    parts = [content]
    while len(parts) < _MAX_BOX_CANDIDATES:
        prev = _last_box(text[max(0, start - _MAX_GAP - MAX_ANSWER_CHARS) : start])
        if prev is None:
            break
        offset = max(0, start - _MAX_GAP - MAX_ANSWER_CHARS)
        if not _separates(text[offset + prev[2] : start]):
            break
        parts.append(prev[0])
        start = offset + prev[1]
    answers = []
    for part in reversed(parts):
        ans = clean_answer(part)
        if ans and ans not in answers:
            answers.append(ans)
    if not answers:
        return Extraction((), Source.EMPTY_BOX)
    return Extraction(tuple(answers), Source.BOXED if len(answers) == 1 else Source.BOXED_LIST)


def all_boxes(text: str) -> Optional[Extraction]:
    """Every box in ``text`` (at most a few), as one answer; None when it holds fewer than two."""
    parts, end = [], len(text)
    while len(parts) < _MAX_BOX_CANDIDATES:
        box = _last_box(text[:end])
        if box is None:
            break
        parts.append(box[0])
        end = box[1]
    answers = tuple(dict.fromkeys(a for a in (clean_answer(p) for p in reversed(parts)) if a))
    if len(answers) < 2:
        return None
    return Extraction(answers, Source.BOXED_LIST)


def _whole_formula(solution: str) -> Optional[Extraction]:
    """An output that is one short line holding a formula and no sentence ("x^2 + 2*x + 1", "(r+5)^2",
    "\\mathrm{E}", "Evelyn"): it is its own answer. The library's extraction of the same line is a
    second reading (``text``), for lines such as "Soucis : 2,74 $ a.."."""
    line = solution.strip()
    if not line or "\n" in line or len(line) > _MAX_WHOLE or is_prose(line):
        return None
    if any(marker in line for marker in _BOX_MARKERS):
        return None  # a box that did not close: the output was cut off
    words = _WORD_RE.findall(_LATEX_WORDS_RE.sub(" ", line))
    if not (_MATH_SIGNAL_RE.search(line) or len(words) <= 1):
        return None
    ans = clean_answer(line)
    return Extraction((ans,), Source.WHOLE_OUTPUT, _last_lines(line)) if ans else None


def _final_bracket(tail: str) -> Optional[Extraction]:
    """An output whose last line ends with one item in square brackets (``The angle is [90].``,
    ``First try [30], second try [45].``, ``[45 degrees]``): the bracket marks the answer, as datasets
    such as Geometry3K ask for it. Only one item with a digit in it counts: ``[0, 1]`` is an interval,
    ``\\[ 9 \\]`` display math, ``[See above]`` a remark. The item is read as a formula first and by the
    library's extraction second (``text``: ``45 degrees`` is 45)."""
    last = tail.rstrip().rpartition("\n")[2].strip().rstrip(".。!")
    if not last.endswith("]") or last.endswith("\\]"):
        return None
    open_ = last.rfind("[")
    if open_ < 0 or last[open_ - 1 : open_] == "\\":
        return None
    item = last[open_ + 1 : -1].strip()
    if not item or any(c in item for c in ",;]") or not any(c.isdigit() for c in item) or is_prose(item):
        return None
    ans = clean_answer(item)
    return Extraction((ans,), Source.FINAL_BRACKET, item) if ans else None


def _extract_region(solution: str) -> Extraction:
    box = _last_box(solution)
    if box is not None:
        later = _marked(solution[max(box[2], len(solution) - TAIL_CHARS) :], colon_only=True)
        if later is not None:
            return later
        return _last_box_run(solution)
    tail = solution[-TAIL_CHARS:]
    marked = _marked(tail)
    if marked is not None:
        return marked
    bracket = _final_bracket(tail)
    if bracket is not None:
        return bracket
    whole = _whole_formula(solution)
    if whole is not None:
        return whole
    bare = _bare_final(tail)
    if bare:
        ans = clean_answer(bare)
        if ans:
            return Extraction((ans,), Source.FINAL_EXPRESSION, _last_lines(tail))
    if any(marker in solution for marker in _BOX_MARKERS):
        return Extraction((), Source.UNTERMINATED_BOX)
    region = _last_lines(tail)
    if _UNFINISHED_RE.search(region):
        return Extraction((), Source.UNFINISHED)
    return Extraction((), Source.LIBRARY, region)


def _last_lines(tail: str, n: int = 3) -> str:
    """The last ``n`` non-empty lines, with a space between CJK script and digits ("共有99颗"), which
    the library's number patterns need as a boundary."""
    lines = [ln for ln in tail.splitlines() if ln.strip()]
    return _CJK_DIGIT_RE.sub(" ", "\n".join(lines[-n:]))


def extract(solution: str) -> Extraction:
    """The final answer of ``solution``.

    After a ``</think>``, only the text after it counts (the reasoning tries answers it may reject;
    an answer given only inside it is no answer). The last complete ``\\boxed{}``/``\\fbox{}`` (with the boxes listed
    right before it) wins, unless an ``<answer>`` tag or an ``Answer:`` line comes after it (the
    model's last word is its answer). Without a box: the last tag, then the last ``Answer:``/``final
    answer is`` line, then a bare expression on the last line; failing all of them, the last lines
    (bounded by ``TAIL_CHARS``) go to math-verify's extraction (``Source.LIBRARY``): the end of a
    reasoning cut off mid-way is not read as far back as the library would read it.
    """
    if not solution:
        return Extraction((), Source.NONE)
    solution = repair_escapes(solution)
    think = solution.rfind("</think>")
    if think >= 0:
        solution = solution[think + len("</think>") :]
        if not solution.strip():
            return Extraction((), Source.NOTHING_AFTER_THINK)
    return _extract_region(solution)


def extract_answer(solution: str) -> tuple[Optional[str], str]:
    """(answer, source) for the final answer of ``solution``; (None, reason) when ours finds none.

    A box list comes back joined (``"1, 2, 3"``); see :func:`extract` for the rules."""
    got = extract(solution)
    if got.answers:
        return got.answer, got.source.value
    if got.source in (Source.LIBRARY, Source.NONE):
        return None, Source.NONE.value
    return None, got.source.value
