"""The math-verify verdict, run inside a pool worker process.

It lives in a worker because sympy work is unbounded: a verdict can burn seconds of CPU or hang in C
code (``10^{10^{10}}``), and only a separate process can be interrupted for sure. math-verify's own
SIGALRM timeouts are switched off here (``parsing_timeout=None``, ``timeout_seconds=None``); the
worker loop arms its own timer and the parent kills the process if even that does not fire.

Parses are cached per worker: in GRPO each ground truth comes back once per rollout of its prompt,
and many rollouts write the same answer string.

Most of math-verify's time goes to ANTLR's full-context (LL) prediction in latex2sympy's parser. In
the workers (only there) the parser first runs in SLL mode and falls back to LL on a syntax error:
ANTLR guarantees that an SLL parse that succeeds yields the same tree as LL, so verdicts are
unchanged; parsing gets several times faster.
"""

from __future__ import annotations

import logging
from functools import lru_cache

__all__ = ["mv_verdict", "warm_up"]

_GOLD_CACHE = 8192
_PRED_CACHE = 16384


_READY = False


def _install_two_stage_parsing() -> bool:
    """SLL first, LL on failure, for latex2sympy's parser (see the module docstring)."""
    try:
        from antlr4.atn.PredictionMode import PredictionMode
        from latex2sympy2_extended import latex2sympy2 as l2s

        cls = l2s._Latex2Sympy
        original = cls.create_parser
    except (ImportError, AttributeError):
        return False
    if getattr(original, "_retool_two_stage", False):
        return True

    def create_parser(self, latex_str):
        parser = original(self, latex_str)
        full_ll_math = parser.math

        def math():
            parser._interp.predictionMode = PredictionMode.SLL
            try:
                return full_ll_math()
            except Exception:  # SLL gave up (or the input is invalid): LL decides, as upstream
                return original(self, latex_str).math()

        parser.math = math
        return parser

    create_parser._retool_two_stage = True
    cls.create_parser = create_parser
    return True


def _mv():
    global _READY
    import math_verify

    if not _READY:
        logging.getLogger("math_verify").setLevel(logging.ERROR)
        _install_two_stage_parsing()
        _READY = True
    return math_verify


def _has_expr(parsed) -> bool:
    return any(not isinstance(x, str) for x in parsed)


@lru_cache(maxsize=_GOLD_CACHE)
def parse_gold(gold: str) -> tuple:
    """Parse a ground truth the way math-verify's README does (``$...$``), with fallbacks."""
    mv = _mv()
    candidates = []
    if "$" not in gold and "\n" not in gold:
        candidates.append(f"${gold}$")
    candidates += [f"\\boxed{{{gold}}}", gold]
    first = ()
    for text in candidates:
        parsed = tuple(mv.parse(text, parsing_timeout=None))
        if _has_expr(parsed):
            return parsed
        first = first or parsed
    return first


@lru_cache(maxsize=_PRED_CACHE)
def parse_pred(pred: str) -> tuple:
    """Parse an extracted answer as math-verify parses the last ``\\boxed{}`` of a solution."""
    return tuple(_mv().parse(f"\\boxed{{{pred}}}", parsing_timeout=None))


def _norm_str(s: str) -> str:
    from .dapo import normalize_final_answer

    return normalize_final_answer(s).replace(" ", "").lower()


def mv_verdict(gold: str, pred: str, strict: bool = True) -> tuple[bool, str]:
    """(equivalent, reason) for two extracted answers."""
    mv = _mv()
    g = parse_gold(gold)
    p = parse_pred(pred)
    g_ok, p_ok = _has_expr(g), _has_expr(p)
    if g_ok and p_ok:
        ok = mv.verify(list(g), list(p), strict=strict, timeout_seconds=None)
        return (True, "math-verify: equivalent") if ok else (False, "math-verify: not equivalent")
    which = "ground truth" if not g_ok else "prediction"
    if not p_ok and not g_ok:
        which = "ground truth and prediction"
    gs, ps = _norm_str(gold), _norm_str(pred)
    if gs and gs == ps:
        return True, f"parse error: could not parse {which}; normalised string match"
    return False, f"parse error: could not parse {which}; normalised strings differ"


_WARM_UP = [
    ("\\frac{1}{2}", "0.5"),
    ("x^2+2x+1", "(x+1)^2"),
    ("(1, 2)", "[1,2)"),
    ("(-\\infty, 3]", "(-\\infty,3)"),
    ("\\{1, 2, 3\\}", "3,2,1"),
    ("y = 2x + 3", "y=3+2x"),
    ("x = 3", "3"),
    ("2\\sqrt{3}", "\\sqrt{12}"),
    ("\\frac{3\\pi}{4}", "3\\pi/4"),
    ("3 + 2i", "2i+3"),
    ("50\\%", "0.5"),
    ("\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}", "\\begin{bmatrix}1&2\\\\3&4\\end{bmatrix}"),
    ("\\text{(B)}", "B"),
    ("10 \\text{ cm}", "10"),
    ("45^\\circ", "45"),
    ("y = 2x + 3", "y = 3x + 3"),
    ("[1, 4)", "(1, 4)"),
    ("\\{1, 2, 3\\}", "\\{1, 2, 4\\}"),
    ("7 + 1i", "7 - 1i"),
    ("x^2 - 2x - 15", "x^2 - x - 15"),
]


def warm_up() -> None:
    """Exercise the parsers on common answer shapes at worker start, so ANTLR's prediction caches
    are warm before the first real verdict instead of making it the slow one."""
    for gold, pred in _WARM_UP:
        mv_verdict(gold, pred)
    parse_gold.cache_clear()
    parse_pred.cache_clear()
