"""From (solution, ground truth, options) to a verdict or to the math-verify task that decides it.

Everything here runs in the caller and is cheap and bounded: answer extraction, the exact fast paths,
and DAPO's string rule. What needs sympy becomes a `Pending` task for a pool worker. Nothing here
keeps state; the memoised helpers come from the `Rewarder` that calls in.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Callable, Optional, Union

from . import dapo as _dapo
from .extract import MAX_ANSWER_CHARS, Source, extract
from .fastpath import (Num, canonical, compare_numbers, decimal_comma, match_at_written_places, norm_ws, same_text,
                       strip_simple_lhs)
from .options import DEFAULT_FLOAT_ROUNDING, Mode, RewardOptions, RewardResult

__all__ = ["Decided", "Pending", "Memo", "prepare", "final_result", "as_text"]


@dataclass
class Decided:
    acc: bool
    reason: str
    pred: Optional[str]


@dataclass
class Pending:
    """A verdict for math-verify. ``from_text``: ``pred`` is solution text for the library's own
    extraction (ours found nothing clean), not an extracted answer."""

    key: tuple
    gold: str
    pred: str  # what math-verify sees
    shown_pred: Optional[str]  # what the caller gets back (the worker's extraction when from_text)
    from_text: bool = False
    second_reading: Optional[str] = None  # text for the library's extraction if ``pred`` is not equivalent

    @property
    def task_args(self) -> tuple:
        return (self.gold, self.pred, self.key[-1], self.from_text, self.second_reading)


@dataclass(frozen=True)
class Memo:
    """The memoised fast-path helpers of one `Rewarder` (see ``fastpath``)."""

    prepare_gold: Callable[[str], tuple]
    parse_number: Callable[[str], Optional[Num]]


def as_text(x: Any) -> str:
    if x is None:
        return ""
    if isinstance(x, str):
        return x
    if isinstance(x, (bytes, bytearray)):
        return bytes(x).decode("utf-8", errors="replace")
    try:
        return str(x)
    except Exception:  # noqa: BLE001 - an object whose str() raises is no answer
        return ""


def _num_kind(a: Num, b: Num) -> str:
    kinds = {a.kind, b.kind}
    if kinds <= {"integer"}:
        return "integer"
    if kinds & {"decimal", "integer_like_decimal"}:
        return "decimal"
    return "fraction"


def _no_answer(source: Source) -> str:
    if source in (Source.NONE, Source.LIBRARY):
        return "no answer found"
    return f"no answer found ({source.value})"


def _digest(text: str) -> bytes:
    # cache keys hold a digest: a text region can be 4,000 characters, and the cache holds 65,536 keys
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def _library(gold: str, text: str, shown: Optional[str], opts: RewardOptions) -> Pending:
    return Pending((gold, "\x00text", _digest(text), opts.comparison), gold, text, shown, from_text=True)


def _math(solution: Any, ground_truth: Any, opts: RewardOptions, memo: Memo) -> Union[Decided, Pending]:
    gold_raw = as_text(ground_truth)
    if not gold_raw.strip():
        return Decided(False, "empty ground truth", None)
    got = extract(as_text(solution))
    gold, gnum, g_rhs = memo.prepare_gold(gold_raw)
    if not gold:
        return Decided(False, "empty ground truth", got.answer)
    if len(gold) > MAX_ANSWER_CHARS:
        return Decided(False, f"ground truth too long ({len(gold)} chars)", got.answer)
    if got.source is Source.LIBRARY and got.text and got.text.strip():
        return _library(gold, got.text, None, opts)
    pred = got.answer
    if pred is None:
        return Decided(False, _no_answer(got.source), None)
    if len(pred) > MAX_ANSWER_CHARS:
        return Decided(False, f"answer too long ({len(pred)} chars)", pred[:200])

    if norm_ws(pred) == norm_ws(gold):
        return Decided(True, "exact string match", pred)
    if same_text(pred, gold):
        return Decided(True, "exact string match (text)", pred)
    pnum = memo.parse_number(pred)
    if pnum is None and "=" in pred and "=" not in gold:
        rhs = strip_simple_lhs(pred)
        if rhs is not None:
            if norm_ws(rhs) == norm_ws(gold):
                return Decided(True, "exact string match (right-hand side)", pred)
            pnum = memo.parse_number(rhs)
    gnum_use = gnum if gnum is not None else (g_rhs if "=" not in pred else None)
    if pnum is not None and gnum_use is not None:
        kind = _num_kind(gnum_use, pnum)
        decimals = kind == "decimal"
        verdict = compare_numbers(gnum_use, pnum) if opts.float_rounding == DEFAULT_FLOAT_ROUNDING or not decimals else None
        if verdict is False and opts.written_precision:
            places = match_at_written_places(gnum_use, pnum, opts.float_rounding)
            if places is not None:
                return Decided(True, f"fast-path decimal match at the {places} places written", pred)
        if verdict is not None:
            return Decided(verdict, f"fast-path {kind} {'match' if verdict else 'mismatch'}", pred)
    comma = decimal_comma(gold, pred)
    if comma is not None:
        return Decided(comma, f"fast-path decimal comma {'match' if comma else 'mismatch'}", pred)
    if got.source is Source.FINAL_EXPRESSION and pnum is None and got.text:
        # a bare last line that is no plain number: the library's extraction reads it as well as ours
        return _library(gold, got.text, pred, opts)

    mv_gold = canonical(gnum) or gold
    mv_pred = canonical(pnum) or pred
    if got.source in (Source.WHOLE_OUTPUT, Source.FINAL_BRACKET) and got.text:
        key = (mv_gold, mv_pred, "\x00or", _digest(got.text), opts.comparison)
        return Pending(key, mv_gold, mv_pred, pred, second_reading=got.text)
    return Pending((mv_gold, mv_pred, opts.comparison), mv_gold, mv_pred, pred)


def _dapo_decide(solution: Any, ground_truth: Any, opts: RewardOptions) -> Decided:
    sol = as_text(solution)
    gt = as_text(ground_truth)
    pause = list(opts.pause_tokens_index) if opts.pause_tokens_index is not None else None
    try:
        r = _dapo.compute_score(
            sol, gt, strict_box_verify=opts.strict_box_verify, pause_tokens_index=pause,
            variant=opts.dapo_variant.value,
        )
    except Exception as e:  # noqa: BLE001 - upstream raises on a bad pause index or slime's int cast of a non-integer gt
        return Decided(False, f"dapo error: {type(e).__name__}: {e}", None)
    pred, acc = r["pred"], bool(r["acc"])
    rule = "strict-box" if opts.strict_box_verify else "minerva"
    if opts.strict_box_verify and pred is None:
        return Decided(False, "dapo strict-box: no \\boxed{} in the last 100 characters", None)
    if not opts.strict_box_verify and pred == "[INVALID]":
        return Decided(False, "dapo minerva: no Answer: line", pred)
    return Decided(acc, f"dapo {rule} {'match' if acc else 'mismatch'}", pred)


def prepare(solution: Any, gold: Any, opts: RewardOptions, memo: Memo) -> Union[Decided, Pending]:
    """Decide now, or say what math-verify must decide. Never raises."""
    try:
        if opts.mode is Mode.DAPO:
            return _dapo_decide(solution, gold, opts)
        return _math(solution, gold, opts, memo)
    except Exception as e:  # noqa: BLE001 - a reward must not raise
        return Decided(False, f"internal error: {type(e).__name__}: {e}", None)


def _as_int(x: Any) -> int:
    try:
        return int(x)
    except (TypeError, ValueError, OverflowError):
        return 0


def final_result(
    opts: RewardOptions, acc: bool, reason: str, pred: Optional[str], tool_calls: Any, elapsed_s: float
) -> RewardResult:
    """The scored result: +1/-1 (or the caller's scores), with ReTool's tool-use shaping if asked."""
    good = 1.0 if opts.correct_score is None else opts.correct_score
    bad = -1.0 if opts.incorrect_score is None else opts.incorrect_score
    value = good if acc else bad
    if opts.tool_shaping and not acc:
        # ReTool recipe (slime/verl): nudge wrong answers that tried the tool, capped at -0.6.
        n = _as_int(tool_calls)
        value = min(-0.6, value + (n - 2) / 2 * 0.1)
    return RewardResult(float(value), bool(acc), pred, reason, elapsed_s * 1000.0)
