"""The reward's typed vocabulary: modes, options and one verdict (`RewardResult`).

One home for each default: `DEFAULT_TIMEOUT_S` and the math-verify comparison defaults
(`DEFAULT_FLOAT_ROUNDING`, strict comparison, no set/relation comparison from the gold side) are
math-verify's own. One default is ours: ``written_precision`` (see `RewardOptions`), which accepts a
decimal correctly rounded at the places it is written to, where math-verify's fixed 6-place rounding
would refuse ``2.6667`` for ``8/3`` but accept ``2.666667``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "DEFAULT_FLOAT_ROUNDING",
    "MIN_WRITTEN_SIG_DIGITS",
    "DapoVariant",
    "Mode",
    "RewardOptions",
    "RewardResult",
    "make_options",
]

DEFAULT_TIMEOUT_S = 5.0
DEFAULT_FLOAT_ROUNDING = 6  # math-verify's verify(float_rounding=6)
MIN_WRITTEN_SIG_DIGITS = 4  # written precision: coarser decimals (0.33, 3.14) are compared at float_rounding


class Mode(str, enum.Enum):
    """``math``: extraction plus math-verify equivalence. ``dapo``: DAPO's published rule, exactly."""

    MATH = "math"
    DAPO = "dapo"


class DapoVariant(str, enum.Enum):
    """Which copy of DAPO's rule: verl's ``math_dapo.py`` or slime's (it casts the label to int)."""

    VERL = "verl"
    SLIME = "slime"


@dataclass(frozen=True)
class RewardOptions:
    """How to score. Built (and validated) by :func:`make_options`; hashable, so it can key caches.

    ``written_precision``: when a decimal meets an exact value (``0.3333`` vs ``\\frac{1}{3}``, an
    interval or matrix of decimals vs one of fractions) and they differ at ``float_rounding`` places,
    they are compared again at the precision written: both sides rounded (as math-verify's
    ``float_rounding`` rounds) to the most decimal places any decimal of the pair has, if that decimal
    has at least `MIN_WRITTEN_SIG_DIGITS` significant digits. So ``2.6667`` matches ``8/3`` and
    ``1.414`` matches ``\\sqrt{2}`` (math-verify's fixed rounding accepts ``2.666667`` but not
    ``2.6667``); ``0.33`` for ``1/3`` and ``3.14`` for ``\\pi`` stay wrong (a relative error near
    1e-3 or worse: the field's graders, ToRA/Qwen-Math's ``math_equal``, allow 1e-4). Two decimals
    written to different places (``0.333`` vs ``0.3333``) differ, as before. ``False`` gives
    math-verify's fixed rounding exactly.
    """

    mode: Mode = Mode.MATH
    timeout_s: float = DEFAULT_TIMEOUT_S
    tool_shaping: bool = False
    correct_score: Optional[float] = None
    incorrect_score: Optional[float] = None
    strict: bool = True
    float_rounding: int = DEFAULT_FLOAT_ROUNDING
    allow_set_relation_comp: bool = False
    written_precision: bool = True
    strict_box_verify: bool = True
    dapo_variant: DapoVariant = DapoVariant.VERL
    pause_tokens_index: Optional[tuple] = None

    @property
    def comparison(self) -> tuple:
        """The math-verify comparison settings; part of every verdict's cache key."""
        return (self.strict, self.float_rounding, self.allow_set_relation_comp, self.written_precision)


def _enum(cls, value: Any, what: str):
    try:
        return cls(value)
    except ValueError:
        raise ValueError(f"unknown {what} {value!r}; expected one of {[m.value for m in cls]}") from None


def make_options(
    mode: Any = Mode.MATH,
    timeout_s: Optional[float] = None,
    tool_shaping: bool = False,
    correct_score: Optional[float] = None,
    incorrect_score: Optional[float] = None,
    strict: bool = True,
    strict_box_verify: bool = True,
    dapo_variant: Any = DapoVariant.VERL,
    pause_tokens_index: Optional[Sequence[int]] = None,
    float_rounding: int = DEFAULT_FLOAT_ROUNDING,
    allow_set_relation_comp: bool = False,
    written_precision: bool = True,
) -> RewardOptions:
    """Validated options; a bad value is a programming error (``ValueError``), not a wrong verdict."""
    t = DEFAULT_TIMEOUT_S if timeout_s is None else float(timeout_s)
    if not t > 0:
        raise ValueError("timeout_s must be positive")
    rounding = int(float_rounding)
    if not 0 <= rounding <= 15:
        raise ValueError("float_rounding must be between 0 and 15 decimal places")
    return RewardOptions(
        mode=_enum(Mode, mode, "reward mode"),
        timeout_s=t,
        tool_shaping=bool(tool_shaping),
        correct_score=None if correct_score is None else float(correct_score),
        incorrect_score=None if incorrect_score is None else float(incorrect_score),
        strict=bool(strict),
        float_rounding=rounding,
        allow_set_relation_comp=bool(allow_set_relation_comp),
        written_precision=bool(written_precision),
        strict_box_verify=bool(strict_box_verify),
        dapo_variant=_enum(DapoVariant, dapo_variant, "dapo_variant"),
        pause_tokens_index=tuple(pause_tokens_index) if pause_tokens_index is not None else None,
    )


@dataclass(frozen=True)
class RewardResult:
    """One verdict.

    ``elapsed_ms`` is the work charged to this verdict, for monitoring: answer extraction and fast
    paths in the caller, plus worker time when this call ran the math-verify task itself. Waiting (in
    the pool's queue, or for an identical verdict another call is already computing) is not counted.
    """

    score: float
    acc: bool
    pred: Optional[str]
    reason: str
    elapsed_ms: float = field(default=0.0, compare=False)

    def as_dict(self) -> dict:
        """slime/verl's reward dict: ``{"score", "acc", "pred"}`` with ``pred`` "" when none."""
        return {"score": float(self.score), "acc": bool(self.acc), "pred": self.pred if self.pred is not None else ""}
