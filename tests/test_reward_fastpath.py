"""The sympy-free fast paths must give math-verify's verdict whenever they decide at all."""

from __future__ import annotations

import logging
import random

import pytest

from retool.reward.fastpath import compare_numbers, parse_number


def _numbers(rng: random.Random) -> list[str]:
    out = []
    for _ in range(150):
        kind = rng.randrange(6)
        if kind == 0:
            out.append(str(rng.randrange(-2000, 2000)))
        elif kind == 1:
            out.append(f"{rng.randrange(-500, 500) / rng.choice([10, 100, 1000, 8]):.{rng.randrange(1, 7)}f}")
        elif kind == 2:
            out.append(f"\\frac{{{rng.randrange(-50, 50)}}}{{{rng.randrange(1, 40)}}}")
        elif kind == 3:
            out.append(f"{rng.randrange(1, 30)}/{rng.randrange(1, 30)}")
        elif kind == 4:
            out.append(f"{rng.randrange(1000, 10**7):,}")
        else:
            out.append(f"{rng.randrange(0, 3)}.{rng.randrange(0, 10**6):06d}")
    return out


def _pairs():
    rng = random.Random(3)
    nums = _numbers(rng)
    pairs = [(rng.choice(nums), rng.choice(nums)) for _ in range(250)]
    for a in nums[:120]:  # same value, other spelling, and near ties around the 6-place rounding
        n = parse_number(a)
        if n is None:
            continue
        v = n.value
        pairs.append((a, f"{float(v):.9f}"))
        pairs.append((a, f"{float(v) + rng.choice([1e-7, 4e-7, 6e-7, 1.5e-6, 3e-6]):.9f}"))
        pairs.append((a, f"\\frac{{{v.numerator * 3}}}{{{v.denominator * 3}}}"))
    return pairs


def test_fast_path_agrees_with_math_verify():
    from math_verify import parse, verify

    logging.getLogger("math_verify").setLevel(logging.ERROR)
    decided = 0
    for gold, pred in _pairs():
        a, b = parse_number(gold), parse_number(pred)
        assert a is not None and b is not None, (gold, pred)
        ours = compare_numbers(a, b)
        if ours is None:
            continue
        decided += 1
        theirs = bool(verify(parse("$" + gold + "$"), parse("\\boxed{" + pred + "}")))
        assert ours == theirs, (gold, pred)
    assert decided > 400


@pytest.mark.parametrize(
    "text, value",
    [
        ("42", 42), ("+42", 42), ("-42", -42), ("−42", -42), ("007", 7), ("1,000", 1000), ("1{,}000", 1000),
        ("1\\,000", 1000), ("1,\\!000", 1000), ("12,345,678", 12345678), ("$42$", 42), ("\\$42", 42),
        ("\\text{42}", 42), ("42.0", 42), ("0.5", 0.5), (".5", 0.5), ("\\frac{1}{2}", 0.5), ("\\dfrac{-3}{4}", -0.75),
        ("\\frac12", 0.5), ("-\\frac{1}{4}", -0.25), ("3/4", 0.75), ("0.\\overline{3}", 1 / 3),
        ("0.1\\overline{6}", 1 / 6), ("-2.\\overline{142857}", -15 / 7),
    ],
)
def test_parse_number_accepts(text, value):
    n = parse_number(text)
    assert n is not None and float(n.value) == value


@pytest.mark.parametrize("text", ["", "1,2", "12,34", "3.", "1/0", "\\frac{1}{0}", "x", "1e5", "2^3", "50\\%",
                                  "1 000", "\\sqrt{4}", "9" * 5000, "1,0000"])
def test_parse_number_declines(text):
    assert parse_number(text) is None


def test_written_precision_fast_path_agrees_with_math_verify_at_the_places_written():
    """The fast path's written-precision rule (``match_at_written_places``) and the worker's (math-verify
    rerun at ``float_rounding=k``) are one rule: on exact fractions vs decimals rounded, nudged and
    truncated at 1-5 places, they agree on every pair, and on when the rule applies at all."""
    from math_verify import parse, verify

    from retool.reward.fastpath import match_at_written_places, written_places_in

    logging.getLogger("math_verify").setLevel(logging.ERROR)
    rng = random.Random(11)
    applied = matched = 0
    for _ in range(300):
        gold = f"\\frac{{{rng.randrange(-900, 900)}}}{{{rng.choice([3, 7, 9, 11, 13, 6, 12, 8])}}}"
        g = parse_number(gold)
        k = rng.randrange(1, 6)
        value = float(g.value) + rng.choice([0.0, 0.0, 10**-k, -(10**-k), 0.4 * 10**-k])
        pred = f"{value:.{k}f}"
        if rng.random() < 0.2:
            pred = pred[:-1] if pred[-2] != "." else pred  # one place coarser
        p = parse_number(pred)
        ours = match_at_written_places(g, p, 6)
        k_text = written_places_in((gold, pred), 6)
        if k_text is None:
            assert ours is None, (gold, pred)
            continue
        applied += 1
        theirs = bool(verify(parse("$" + gold + "$"), parse("\\boxed{" + pred + "}"), float_rounding=k_text))
        assert (ours is not None) == theirs, (gold, pred, k_text)
        matched += theirs
    assert applied > 100 and 0 < matched < applied


@pytest.mark.parametrize(
    "texts, places",
    [
        (("\\frac{8}{3}", "2.6667"), 4), (("\\frac13", "0.3333"), 4), (("\\frac13", "0.33"), None),
        (("\\pi", "3.14"), None), (("\\pi", "3.142"), 3), (("\\begin{pmatrix}0.3333\\\\0.2\\end{pmatrix}", "x"), 4),
        (("(0.6,2.6667]", "(\\frac35,\\frac83]"), 4), (("1,000.99", "1000.99"), 2), (("0.0033", "1/300"), None),
        (("0.003333", "1/300"), None),  # 6 places: the fixed rounding already decides
        (("42", "42"), None),
    ],
)
def test_written_places_in(texts, places):
    from retool.reward.fastpath import written_places_in

    assert written_places_in(texts, 6) == places
