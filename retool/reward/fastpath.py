"""Exact, sympy-free decisions for the answers that dominate RL math data.

Most DAPO-Math/AIME answers are plain integers. Deciding ``\\boxed{1,000}`` vs ``1000`` with sympy
costs milliseconds and a process hop; with ``fractions.Fraction`` it costs microseconds. The rules
here reproduce math-verify's verdicts on the inputs they accept (integers compare exactly, rationals
compare exactly, and as soon as a decimal is involved math-verify rounds both sides to 6 places), and
return ``None`` ("don't know, ask math-verify") for anything else, including the narrow band where
6-place rounding could go either way.
"""

from __future__ import annotations

import re
from fractions import Fraction
from functools import lru_cache
from typing import NamedTuple, Optional

from .extract import clean_answer

__all__ = ["Num", "parse_number", "prepare_gold", "compare_numbers", "canonical", "norm_ws", "strip_simple_lhs"]

_SEP = r"(?:,\\!|\\!,\\!|\{,\}|,|\\,|\\ |\\;|~|\u2009|\u202f)"
_INT = rf"\d{{1,3}}(?:{_SEP}\d{{3}})+|\d+"
_SEP_RE = re.compile(_SEP)
_NUM_RE = re.compile(rf"(?P<sign>[-+]?)(?:(?P<int>{_INT})(?:\.(?P<frac>\d*))?|\.(?P<frac2>\d+))")
_SLASH_RE = re.compile(r"(?P<sign>[-+]?)(?P<a>[-+]?\d+)\s*/\s*(?P<b>[-+]?\d+)")
_TEXFRAC_RE = re.compile(
    r"(?P<sign>[-+]?)\\[dt]?frac(?:\{\s*(?P<a>[-+]?\d+)\s*\}|(?P<a1>\d))(?:\{\s*(?P<b>[-+]?\d+)\s*\}|(?P<b1>\d))"
)
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


def norm_ws(s: str) -> str:
    """Whitespace-insensitive form that keeps the space in ``\\pi r`` (it separates two tokens)."""
    return _WS_RE.sub("", s.strip())


def strip_simple_lhs(s: str) -> Optional[str]:
    """``x = 3`` -> ``3`` (only a single-letter, optionally subscripted, left-hand side)."""
    m = _SIMPLE_LHS_RE.match(s.strip())
    return m.group("rhs").strip() if m else None


@lru_cache(maxsize=65536)
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
                return Num(value, "integer_like_decimal", sig)
            return Num(value, "decimal", sig)
        return Num(Fraction(sign * int(int_part)), "integer", len(int_part.lstrip("0")) or 1)
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


@lru_cache(maxsize=65536)
def canonical(s: str) -> Optional[str]:
    """Canonical spelling of a fast-path number (``1\\,000`` -> ``1000``), so math-verify sees it plainly."""
    n = parse_number(s)
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


@lru_cache(maxsize=65536)
def prepare_gold(gold: str) -> tuple[str, Optional[Num], Optional[Num]]:
    """(cleaned gold, its number, the number on its right-hand side if it is ``x = <number>``)."""
    g = clean_answer(gold)
    rhs = strip_simple_lhs(g)
    return g, parse_number(g), (parse_number(rhs) if rhs is not None else None)
