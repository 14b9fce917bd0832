"""DAPO's answer rule, reproduced exactly so published runs can be re-scored bit for bit.

Mirrors ``verl/utils/reward_score/math_dapo.py`` (volcengine/verl; slime carries a copy as
``slime/rollout/rm_hub/math_dapo_utils.py``), which the ReTool recipes of both slime
(``examples/retool/generate_with_retool.py``) and verl (``recipe/retool/retool.py``) call with
``strict_box_verify=True``. Upstream quirks are kept on purpose, because changing them would change
the rewards a published run trained on:

* ``compute_score`` keeps only the last 300 characters; ``is_correct_strict_box`` then keeps only the
  last 100 of those (or 100 before the last pause token) and compares the raw ``\\boxed{}`` content
  with the raw ground truth, with no normalisation at all.
* ``last_boxed_only_string`` looks for ``\\boxed{`` only (the MATH-harness version that also accepts
  ``\\fbox`` is a different function, not used by DAPO).
* ``is_correct_minerva`` (``strict_box_verify=False``) takes the last ``Answer:`` line and compares
  ``normalize_final_answer`` of both sides; slime's copy additionally casts the ground truth through
  ``int(float(gt))`` ("in dapo, all answers are integers"), which raises on non-integer answers.

The only deliberate difference: upstream raises (``AssertionError`` in ``remove_boxed``, ``ValueError``
from slime's integer cast); here those become a wrong verdict with a reason, because a reward must
never take down a rollout worker.
"""

from __future__ import annotations

import re
from typing import Optional

__all__ = [
    "SUBSTITUTIONS",
    "REMOVED_EXPRESSIONS",
    "last_boxed_only_string",
    "remove_boxed",
    "normalize_final_answer",
    "is_correct_minerva",
    "is_correct_strict_box",
    "verify",
    "compute_score",
]

# Mirrors math_dapo.SUBSTITUTIONS.
SUBSTITUTIONS = (
    ("an ", ""),
    ("a ", ""),
    (".$", "$"),
    ("\\$", ""),
    (r"\ ", ""),
    (" ", ""),
    ("mbox", "text"),
    (",\\text{and}", ","),
    ("\\text{and}", ","),
    ("\\text{m}", "\\text{}"),
)

# Mirrors math_dapo.REMOVED_EXPRESSIONS (verl). slime's copy appends the two chat end tokens.
REMOVED_EXPRESSIONS = (
    "square",
    "ways",
    "integers",
    "dollars",
    "mph",
    "inches",
    "hours",
    "km",
    "units",
    "\\ldots",
    "sue",
    "points",
    "feet",
    "minutes",
    "digits",
    "cents",
    "degrees",
    "cm",
    "gm",
    "pounds",
    "meters",
    "meals",
    "edges",
    "students",
    "childrentickets",
    "multiples",
    "\\text{s}",
    "\\text{.}",
    "\\text{\ns}",
    "\\text{}^2",
    "\\text{}^3",
    "\\text{\n}",
    "\\text{}",
    r"\mathrm{th}",
    r"^\circ",
    r"^{\circ}",
    r"\;",
    r",\!",
    "{,}",
    '"',
    "\\dots",
)
_SLIME_EXTRA_REMOVED = ("<|im_end|>", "<|endoftext|>")


def last_boxed_only_string(string: str) -> Optional[str]:
    """Mirrors math_dapo.last_boxed_only_string: last ``\\boxed{`` with brace matching (escapes ignored)."""
    idx = string.rfind("\\boxed{")
    if idx < 0:
        return None
    i = idx
    right_brace_idx = None
    num_left_braces_open = 0
    while i < len(string):
        if string[i] == "{":
            num_left_braces_open += 1
        if string[i] == "}":
            num_left_braces_open -= 1
            if num_left_braces_open == 0:
                right_brace_idx = i
                break
        i += 1
    return string[idx : right_brace_idx + 1] if right_brace_idx is not None else None


def remove_boxed(s: str) -> str:
    """Mirrors math_dapo.remove_boxed (including its assertions)."""
    left = "\\boxed{"
    assert s[: len(left)] == left, f"box error: {s}"
    assert s[-1] == "}", f"box error: {s}"
    return s[len(left) : -1]


def normalize_final_answer(final_answer: str, *, variant: str = "verl") -> str:
    """Mirrors math_dapo.normalize_final_answer (slime's variant also strips chat end tokens)."""
    final_answer = str(final_answer)
    final_answer = final_answer.split("=")[-1]
    for before, after in SUBSTITUTIONS:
        final_answer = final_answer.replace(before, after)
    removed = REMOVED_EXPRESSIONS + _SLIME_EXTRA_REMOVED if variant == "slime" else REMOVED_EXPRESSIONS
    for expr in removed:
        final_answer = final_answer.replace(expr, "")
    final_answer = re.sub(r"(.*?)(\$)(.*?)(\$)(.*)", "$\\3$", final_answer)
    final_answer = re.sub(r"(\\text\{)(.*?)(\})", "\\2", final_answer)
    final_answer = re.sub(r"(\\textbf\{)(.*?)(\})", "\\2", final_answer)
    final_answer = re.sub(r"(\\overline\{)(.*?)(\})", "\\2", final_answer)
    final_answer = re.sub(r"(\\boxed\{)(.*)(\})", "\\2", final_answer)
    final_answer = re.sub(r"(frac)([^{])(.)", "frac{\\2}{\\3}", final_answer)
    final_answer = re.sub(r"(sqrt)([^{])", "sqrt{\\2}", final_answer)
    final_answer = final_answer.replace("$", "")
    if final_answer.replace(",", "").isdigit():
        final_answer = final_answer.replace(",", "")
    return final_answer.strip()


def is_correct_minerva(
    solution_str: str,
    gt: str,
    gt_need_extract: bool = False,
    answer_pattern: str = r"(?i)Answer\s*:\s*([^\n]+)",
    *,
    variant: str = "verl",
) -> tuple[bool, str]:
    """Mirrors math_dapo.is_correct_minerva; ``variant="slime"`` adds slime's ``int(float(gt))`` cast."""
    match = re.findall(answer_pattern, solution_str)
    extracted_answer = match[-1] if match else "[INVALID]"
    pred = normalize_final_answer(extracted_answer, variant=variant)
    if gt_need_extract:
        gt = normalize_final_answer(remove_boxed(last_boxed_only_string(gt)), variant=variant)
    else:
        gt = normalize_final_answer(gt, variant=variant)
    if variant == "slime":
        gt = str(int(float(gt)))
    return (pred == gt), pred


def is_correct_strict_box(
    pred: str, gt: str, pause_tokens_index: Optional[list[int]] = None
) -> tuple[int, Optional[str]]:
    """Mirrors math_dapo.is_correct_strict_box: raw boxed content vs raw gt, in the last 100 chars."""
    if pause_tokens_index is not None:
        assert len(pause_tokens_index) == 4
        pred = pred[pause_tokens_index[-1] - 100 :]
    else:
        pred = pred[-100:]
    boxed_pred = last_boxed_only_string(pred)
    extracted_pred = remove_boxed(boxed_pred) if boxed_pred is not None else None
    return 1 if (extracted_pred == gt) else -1, extracted_pred


def verify(
    solution_str: str,
    answer: str,
    strict_box_verify: bool = False,
    pause_tokens_index: Optional[list[int]] = None,
    *,
    variant: str = "verl",
) -> tuple[bool, Optional[str]]:
    """Mirrors math_dapo.verify."""
    if strict_box_verify:
        correct, pred = is_correct_strict_box(solution_str, answer, pause_tokens_index)
        return correct == 1, pred
    return is_correct_minerva(solution_str, answer, variant=variant)


def compute_score(
    solution_str: str,
    ground_truth: str,
    strict_box_verify: bool = False,
    pause_tokens_index: Optional[list[int]] = None,
    *,
    variant: str = "verl",
) -> dict:
    """Mirrors math_dapo.compute_score: last 300 chars, +1.0 / -1.0, ``{"score", "acc", "pred"}``."""
    solution_str = solution_str[-300:]
    correct, pred = verify(solution_str, ground_truth, strict_box_verify, pause_tokens_index, variant=variant)
    reward = 1.0 if correct else -1.0
    return {"score": reward, "acc": correct, "pred": pred}
