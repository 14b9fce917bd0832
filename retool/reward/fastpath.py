"""Exact, sympy-free decisions for the answers that dominate RL math data.

Most DAPO-Math/AIME answers are plain integers. Deciding ``\\boxed{1,000}`` vs ``1000`` with sympy
costs milliseconds and a process hop; with ``fractions.Fraction`` it costs microseconds. The rules
here reproduce math-verify's verdicts on the inputs they accept (integers compare exactly, rationals
compare exactly, and as soon as a decimal is involved math-verify rounds both sides to 6 places), and
return ``None`` ("don't know, ask math-verify") for anything else, including the narrow band where
6-place rounding could go either way.

The functions are pure and uncached; the `Rewarder` memoises them per instance (no module state).
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import NamedTuple, Optional

from .extract import all_boxes, clean_answer, extract, is_prose
from .options import MIN_WRITTEN_SIG_DIGITS

__all__ = ["Num", "parse_number", "prepare_gold", "compare_numbers", "canonical", "norm_ws", "strip_simple_lhs",
           "decimal_comma", "same_text", "text_answer", "written_places", "written_places_in", "match_at_written_places"]

_SEP = r"(?:,\\!|\\!,\\!|\{,\}|,|\\,|\\ |\\;|~|\u2009|\u202f)"
_INT = rf"[1-9]\d{{0,2}}(?:{_SEP}\d{{3}})+|\d+"
_SEP_RE = re.compile(_SEP)
_NUM_RE = re.compile(rf"(?P<sign>[-+]?)(?:(?P<int>{_INT})(?:\.(?P<frac>\d*))?|\.(?P<frac2>\d+))")
_SLASH_RE = re.compile(r"(?P<sign>[-+]?)(?P<a>[-+]?\d+)\s*/\s*(?P<b>[-+]?\d+)")
_TEXFRAC_RE = re.compile(
    r"(?P<sign>[-+]?)\\[dt]?frac(?:\{\s*(?P<a>[-+]?\d+)\s*\}|(?P<a1>\d))(?:\{\s*(?P<b>[-+]?\d+)\s*\}|(?P<b1>\d))"
)
_REPEATING_RE = re.compile(r"(?P<sign>[-+]?)(?P<int>\d*)\.(?P<fixed>\d*)\\overline\{(?P<rep>\d{1,50})\}")
_WRAP_RE = re.compile(r"\\(?:text|textbf|mathrm|mathbf|mbox)\{([^{}]*)\}")
_SIMPLE_LHS_RE = re.compile(r"^[A-Za-z](?:_\{?[A-Za-z0-9]+\}?)?\s*=\s*(?P<rhs>[^=<>]+)$")
_WS_RE = re.compile(r"(?<![A-Za-z])\s+|\s+(?![A-Za-z])")

_MAX_DIGITS = 4000  # int() of longer strings is refused by CPython anyway
_DEC_MAX_SIG = 12  # keep decimals well inside a 15-digit sympy Float, so exact == math-verify
_DEC_MAX_ABS = 10**6
_AMBIGUOUS = Fraction(2, 10**6)  # |a-b| below this: 6-place rounding could go either way


class Num(NamedTuple):
    value: Fraction
    kind: str  # "integer", "rational", "decimal", or "integer_like_decimal" (42.0: a Float to math-verify)
    sig_digits: int
    places: int = 0  # decimal places as written (0.330: 3)


def text_answer(s: str) -> Optional[str]:
    """The words of an answer written as text (``\\text{Carla and Bob}``), case-folded with spaces
    collapsed; None when ``s`` is not wholly one text wrapper around words. math-verify parses the bare
    spelling (``Carla and Bob``) as a product of symbols and the wrapped one as a string, so the two
    never meet there."""
    t = s.strip()
    inner = None
    while True:
        m = _WRAP_RE.fullmatch(t)
        if not m:
            break
        inner = t = m.group(1).strip()
    if inner is None or not any(c.isalpha() for c in inner):
        return None
    return " ".join(inner.split()).casefold()


def same_text(a: str, b: str) -> bool:
    """Two spellings of one text answer: at least one side wholly ``\\text{...}``, the same words
    case-folded (``\\text{Carla and Bob}`` vs ``Carla and Bob``)."""
    ta, tb = text_answer(a), text_answer(b)
    if ta is None and tb is None:
        return False
    return (ta or " ".join(a.split()).casefold()) == (tb or " ".join(b.split()).casefold())


def norm_ws(s: str) -> str:
    """Whitespace-insensitive form that keeps the space in ``\\pi r`` (it separates two tokens)."""
    return _WS_RE.sub("", s.strip())


def strip_simple_lhs(s: str) -> Optional[str]:
    """``x = 3`` -> ``3`` (only a single-letter, optionally subscripted, left-hand side)."""
    m = _SIMPLE_LHS_RE.match(s.strip())
    return m.group("rhs").strip() if m else None


def parse_number(s: str) -> Optional[Num]:
    """An exact value for integer / decimal / simple-fraction answers; None for anything else."""
    if not s or len(s) > _MAX_DIGITS:
        return None
    t = s.strip().replace("−", "-").replace("\\$", "").replace("$", "")
    while True:
        m = _WRAP_RE.fullmatch(t)
        if not m:
            break
        t = m.group(1).strip()
    if t.startswith("{") and t.endswith("}") and t.count("{") == 1:
        t = t[1:-1].strip()
    if not t:
        return None
    m = _NUM_RE.fullmatch(t)
    if m:
        int_part = _SEP_RE.sub("", m.group("int") or "0")
        frac = m.group("frac") if m.group("frac") is not None else (m.group("frac2") or "")
        if m.group("frac") is not None and m.group("frac") == "":
            return None  # "3." is ambiguous enough to leave to math-verify
        sign = -1 if m.group("sign") == "-" else 1
        if frac:
            value = sign * Fraction(int(int_part + frac), 10 ** len(frac))
            sig = len((int_part + frac).lstrip("0")) or 1
            if frac.strip("0") == "":
                return Num(value, "integer_like_decimal", sig, len(frac))
            return Num(value, "decimal", sig, len(frac))
        return Num(Fraction(sign * int(int_part)), "integer", len(int_part.lstrip("0")) or 1)
    m = _REPEATING_RE.fullmatch(t)
    if m:  # 0.1\overline{6} = 1/6: exact, and math-verify cannot parse it
        whole, fixed, rep = m.group("int") or "0", m.group("fixed"), m.group("rep")
        value = Fraction(int(whole)) + Fraction(int(fixed or "0"), 10 ** len(fixed))
        value += Fraction(int(rep), (10 ** len(rep) - 1) * 10 ** len(fixed))
        return Num(-value if m.group("sign") == "-" else value, "rational", 0)
    for rx in (_TEXFRAC_RE, _SLASH_RE):
        m = rx.fullmatch(t)
        if m:
            gd = m.groupdict()
            a = int(gd.get("a") or gd.get("a1"))
            b = int(gd.get("b") or gd.get("b1"))
            if b == 0:
                return None
            sign = -1 if m.group("sign") == "-" else 1
            return Num(sign * Fraction(a, b), "rational", 0)
    return None


def canonical(n: Optional[Num]) -> Optional[str]:
    """Canonical spelling of a fast-path number (``1\\,000`` -> ``1000``), so math-verify sees it plainly."""
    if n is None:
        return None
    v = n.value
    if n.kind == "integer":
        return str(v.numerator)
    if n.kind == "rational":
        return f"\\frac{{{v.numerator}}}{{{v.denominator}}}"
    return None


def _decimal_ok(n: Num) -> bool:
    return n.sig_digits <= _DEC_MAX_SIG and abs(n.value) < _DEC_MAX_ABS


def compare_numbers(a: Num, b: Num) -> Optional[bool]:
    """Equivalence with math-verify's semantics, or None when only math-verify can tell."""
    decimals = [n for n in (a, b) if n.kind in ("decimal", "integer_like_decimal")]
    if not decimals:
        return a.value == b.value  # integers and rationals: exact, like sympy's Rational ==
    if not all(_decimal_ok(n) for n in decimals):
        return None
    if a.value == b.value:
        return True
    if abs(a.value - b.value) >= _AMBIGUOUS:
        return False
    return None


def prepare_gold(gold: str) -> tuple[str, Optional[Num], Optional[Num]]:
    """(cleaned gold, its number, the number on its right-hand side if it is ``x = <number>``).

    A ground truth that is itself a worked solution (MATH's ``solution`` field) holding a box, or a
    sentence ("The number is 4.", "Answer: $3,1,2$", "answer is 0.6666667"), is read the way a
    prediction is: its last box or box list, its answer line, its final number. A sentence in which
    no answer is found stays as written (a text answer)."""
    g = clean_answer(gold)
    if "\\boxed" in g or "\\fbox" in g or is_prose(g):
        got = extract(gold)
        whole = gold.strip()
        if len(whole) > 1 and whole[0] == "$" and whole[-1] == "$":
            got = all_boxes(whole) or got  # one formula holding several boxes is one answer
        if got.answers:
            g = got.answer
    rhs = strip_simple_lhs(g)
    return g, parse_number(g), (parse_number(rhs) if rhs is not None else None)


_DECIMAL_LITERAL_RE = re.compile(r"(?<![\d.])(\d*)\.(\d+)(?![\d.])")


def written_places(literals, rounding: int) -> Optional[int]:
    """The precision a pair of answers is written to, from its decimals' ``(places, significant
    digits)``: the most places any has, when that decimal has `MIN_WRITTEN_SIG_DIGITS` significant
    digits or more and its places are below ``rounding`` (at or above it the fixed rounding already
    decides). None when the written precision does not apply."""
    finest = max(literals, default=None)
    if finest is None:
        return None
    places, sig = finest
    if 0 < places < rounding and sig >= MIN_WRITTEN_SIG_DIGITS:
        return places
    return None


def written_places_in(texts, rounding: int) -> Optional[int]:
    """`written_places` for the decimal literals in answer strings (a matrix, an interval, a tuple)."""
    literals = []
    for text in texts:
        for m in _DECIMAL_LITERAL_RE.finditer(text or ""):
            whole, frac = m.group(1), m.group(2)
            literals.append((len(frac), len((whole + frac).lstrip("0"))))
    return written_places(literals, rounding)


def match_at_written_places(a: Num, b: Num, rounding: int) -> Optional[int]:
    """The places at which a decimal and an exact number agree when both are rounded to the precision
    written (see ``RewardOptions.written_precision``); None when the rule does not apply or they differ."""
    written = [(n.places, n.sig_digits) for n in (a, b) if n.kind in ("decimal", "integer_like_decimal")]
    if not written:
        return None
    k = written_places(written, rounding)
    if k is None or round(a.value, k) != round(b.value, k):  # Fraction rounds half-even, as sympy does
        return None
    return k


_DECIMAL_COMMA_RE = re.compile(r"[-+]?\d+,\d+")


def decimal_comma(a: str, b: str) -> Optional[bool]:
    """``1000,99`` vs ``1000.99``, ``0,111`` vs ``0.111``: a comma written where the other side has a
    decimal point is a decimal comma (math-verify's number extraction reads it so too). None when
    the pair is not of that shape."""
    for x, y in ((a, b), (b, a)):
        x, y = x.strip(), y.strip()
        if _DECIMAL_COMMA_RE.fullmatch(x) and "." in y and parse_number(x) is None:
            other = parse_number(y)
            if other is not None and other.kind == "decimal":
                mine = parse_number(x.replace(",", "."))
                return mine is not None and mine.value == other.value
    return None
