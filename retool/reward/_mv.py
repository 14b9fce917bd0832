"""The math-verify verdict, run inside a pool worker process.

It lives in a worker because sympy work is unbounded: a verdict can burn seconds of CPU or hang in C
code (``10^{10^{10}}``), and only a separate process can be interrupted for sure. math-verify's own
SIGALRM timeouts are switched off here (``parsing_timeout=None``, ``timeout_seconds=None``); the
worker loop arms its own timer and the parent kills the process if even that does not fire.

Parses are cached per worker, on the worker's `MathVerifier` (made once per worker process by
``_worker.py``; no module state): in GRPO each ground truth comes back once per rollout of its
prompt, and many rollouts write the same answer string.

When our extraction found nothing clean, the worker runs math-verify's own extraction on the text
(``LatexExtractionConfig(boxed_match_priority=0)`` plus ``ExprExtractionConfig()``, the settings of
the library's test suite), so a verdict is never worse than the library's on those outputs.

Most of math-verify's time goes to ANTLR's full-context (LL) prediction in latex2sympy's parser. In
the workers (only there) the parser first runs in SLL mode and falls back to LL on a syntax error:
ANTLR guarantees that an SLL parse that succeeds yields the same tree as LL, so verdicts are
unchanged; parsing gets several times faster.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from typing import Optional

from .fastpath import written_places_in

__all__ = ["MathVerifier", "mv_verdict", "warm_up"]

_GOLD_CACHE = 8192
_PRED_CACHE = 16384
_TEXT_CACHE = 4096


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


_SIGNED_POWER_RE = re.compile(r"\*\*\s*([-+]\s*[\w.]+)")


def python_powers(answer: str) -> str:
    """``x**2 + 2*x + 1`` -> ``x^2 + 2*x + 1``: ``**`` is the power operator of Python and sympy syntax
    (what a model that computed with sympy prints), and has no meaning in LaTeX, whose parser would
    otherwise drop the term (math-verify reads ``Eq(x**2/4 + y**2/3, 1)`` as ``1``, so any two such
    equations with the same right-hand side "matched"). A signed exponent keeps Python's precedence
    (``x**-1/2`` is ``x^{-1}/2``). ``*`` alone already means multiplication to the parser."""
    if "**" not in answer:
        return answer
    return _SIGNED_POWER_RE.sub(r"^{\1}", answer).replace("**", "^")


def _has_expr(parsed) -> bool:
    return any(not isinstance(x, str) for x in parsed)


def _norm_str(s: str) -> str:
    from .dapo import normalize_final_answer

    return normalize_final_answer(s).replace(" ", "").lower()


class MathVerifier:
    """math-verify in one worker process: the library, its patched parser and the parse caches."""

    def __init__(self):
        import math_verify

        logging.getLogger("math_verify").setLevel(logging.ERROR)
        _install_two_stage_parsing()
        self.mv = math_verify
        self.text_configs = (
            math_verify.LatexExtractionConfig(boxed_match_priority=0),
            math_verify.ExprExtractionConfig(),
        )
        self.parse_gold = lru_cache(maxsize=_GOLD_CACHE)(self._parse_gold)
        self.parse_pred = lru_cache(maxsize=_PRED_CACHE)(self._parse_pred)
        self.parse_text = lru_cache(maxsize=_TEXT_CACHE)(self._parse_text)

    def _parse_gold(self, gold: str) -> tuple:
        """Parse a ground truth the way math-verify's README does (``$...$``), with fallbacks."""
        candidates = []
        gold = python_powers(gold)
        if "$" not in gold and "\n" not in gold:
            candidates.append(f"${gold}$")
        candidates += [f"\\boxed{{{gold}}}", gold]
        first = ()
        for text in candidates:
            parsed = tuple(self.mv.parse(text, parsing_timeout=None))
            if _has_expr(parsed):
                return parsed
            first = first or parsed
        return first

    def _parse_pred(self, pred: str) -> tuple:
        """Parse an extracted answer as math-verify parses the last ``\\boxed{}`` of a solution."""
        return tuple(self.mv.parse(f"\\boxed{{{python_powers(pred)}}}", parsing_timeout=None))

    def _parse_text(self, text: str) -> tuple:
        """math-verify's own extraction on solution text (ours found no clean answer in it)."""
        return tuple(self.mv.parse(text, self.text_configs, parsing_timeout=None))

    def verdict(self, gold: str, pred: str, comparison: tuple = (True, 6, False, True), from_text: bool = False,
                second_reading: Optional[str] = None):
        """(equivalent, reason, what was extracted from text or None) for one pair. ``second_reading``:
        text whose library extraction is tried when ``pred`` is not equivalent (an output that is a
        single short line, read both as a formula and as text)."""
        first = self._verdict(gold, pred, comparison, from_text)
        if first[0] or second_reading is None:
            return first
        second = self._verdict(gold, second_reading, comparison, True)
        return second if second[0] else first

    def _verdict(self, gold: str, pred: str, comparison: tuple, from_text: bool):
        strict, rounding, set_rel, written = comparison
        g = self.parse_gold(gold)
        p = self.parse_text(pred) if from_text else self.parse_pred(pred)
        shown = None
        if from_text:
            shown = next((x for x in reversed(p) if isinstance(x, str)), None)
            if not p:
                return False, "no answer found (math-verify's extraction found none either)", None
        g_ok, p_ok = _has_expr(g), _has_expr(p)
        via = "math-verify extraction: " if from_text else "math-verify: "
        if g_ok and p_ok:
            ok = self.mv.verify(
                list(g), list(p), float_rounding=rounding, strict=strict, allow_set_relation_comp=set_rel,
                timeout_seconds=None,
            )
            if ok:
                return True, f"{via}equivalent", shown
            places = written_places_in((gold, shown if from_text else pred), rounding) if written else None
            if places is not None and self.mv.verify(
                list(g), list(p), float_rounding=places, strict=strict, allow_set_relation_comp=set_rel,
                timeout_seconds=None,
            ):
                return True, f"{via}equivalent at the {places} decimal places written", shown
            return False, f"{via}not equivalent", shown
        which = "ground truth" if not g_ok else "prediction"
        if not p_ok and not g_ok:
            which = "ground truth and prediction"
        gs, ps = _norm_str(gold), _norm_str(shown if from_text and shown else pred)
        if gs and gs == ps:
            return True, f"parse error: could not parse {which}; normalised string match", shown
        return False, f"parse error: could not parse {which}; normalised strings differ", shown

    def warm_up(self) -> None:
        """Exercise the parsers on common answer shapes, so ANTLR's prediction caches are warm
        before the first real verdict instead of making it the slow one."""
        for gold, pred in _WARM_UP:
            self.verdict(gold, pred)
        for gold, text in _WARM_UP_TEXT:
            self.verdict(gold, text, from_text=True)
        self.parse_gold.cache_clear()
        self.parse_pred.cache_clear()
        self.parse_text.cache_clear()


def mv_verdict(context: MathVerifier, gold: str, pred: str, comparison: tuple = (True, 6, False, True),
               from_text: bool = False, second_reading: Optional[str] = None) -> tuple:
    """Pool task: the verdict, on the worker's `MathVerifier` (passed in by the worker loop)."""
    return context.verdict(gold, pred, comparison, from_text, second_reading)


mv_verdict.worker_context = MathVerifier


def warm_up(context: MathVerifier) -> None:
    context.warm_up()


warm_up.worker_context = MathVerifier

_WARM_UP = (
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
    # rarer shapes whose first use in a process is slow (sympy and ANTLR build caches lazily)
    ("F_n = \\sum_{k=0}^{n-1} F_k F_{n-k-1}", "F_n = \\sum_{k=0}^{n-2} F_k F_{n-k-2}"),
    ("10^{\\frac{-5+\\sqrt{13}}{6}}", "10^{-\\frac{5+\\sqrt{13}}{6}}"),
    ("-793 < a < 10", "(-793, 10)"),
    ("x \\in [-2,7]", "-2 \\le x \\le 7"),
    ("7:32", "\\frac{7}{32}"),
    ("1 \\pm \\sqrt{19}", "\\{1+\\sqrt{19}, 1-\\sqrt{19}\\}"),
    ("(1, 2), (2, 1)", "(2, 1), (1, 3)"),
    ("[-1, 0) \\cup (0, 1]", "[-1,0)\\cup(0,2]"),
    ("2x+4y-3=0", "y=-\\frac{1}{2}x+\\frac{3}{4}"),
    ("x^2/4 + y^2/3 = 1", "x^2/16 + y^2/12 = 1/4"),
    ("\\sin^2 x + \\cos^2 x", "\\tan x"),
    ("e^{2} + \\ln 3", "\\log_2 8"),
    ("f(x)", "f(y)"),
    ("a_3 = 2, a_{37} = 19", "a_{37} = 19, a_3 = 3"),
    ("\\binom{5}{2} + 5!", "130"),
    ("\\begin{pmatrix} \\frac{1}{3} \\\\ \\frac{1}{5} \\end{pmatrix}", "\\begin{pmatrix}0.33\\\\0.2\\end{pmatrix}"),
    ("|x - 1| \\geq 2", "x \\leq -1"),
)

_WARM_UP_TEXT = (
    ("\\frac{1}{2}", "Final Answer: The final answer is $\\frac{1}{2}$. I hope it is correct."),
    ("28\\%", "So the number is 28 percent, which is 1,000.99 m^2 less."),
    ("(2, 2), (6, 2)", "$$\\boxed{(2, 2)} \\quad \\text{and} \\quad \\boxed{(6, 2)}$$"),
)
