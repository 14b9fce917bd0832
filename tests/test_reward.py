"""Math-mode rewards: a broad equivalence table, extraction, fast paths, shaping, bad input, slime's
``reward_func``, and concurrency under asyncio."""

from __future__ import annotations

import asyncio
import time

import pytest

import retool
import retool.reward as rw
from retool import reward_func
from retool.reward import RewardResult, extract_answer, score, score_many

# (ground truth, prediction, equivalent?, both directions?) -- prediction goes in a \boxed{} at the end
# of a short solution. "Both directions" also checks the pair with gold and prediction swapped.
TABLE = [
    # integers
    ("42", "42", True, False),
    ("42", "43", False, True),
    ("7", "007", True, True),
    ("5", "+5", True, True),
    ("-5", "5", False, True),
    ("-7", "−7", True, False),
    ("42", "42.0", True, True),
    ("42", "42.00001", False, True),
    ("42", "$42$", True, False),
    ("42", "\\text{42}", True, False),
    ("12", "\\$12", True, False),
    ("100000000000000000001", "100000000000000000000", False, True),
    ("2024", "2024", True, False),
    # thousands separators
    ("1000", "1,000", True, True),
    ("1000", "1{,}000", True, True),
    ("1000", "1\\,000", True, True),
    ("1000", "1,\\!000", True, False),
    ("12345678", "12,345,678", True, True),
    ("1000000", "1,000,000", True, False),
    ("1000", "10,000", False, True),
    ("1001", "1,000", False, True),
    # fractions
    ("\\frac{1}{2}", "0.5", True, True),
    ("\\frac{1}{2}", "1/2", True, True),
    ("\\frac{1}{2}", "\\dfrac{1}{2}", True, True),
    ("\\frac{1}{2}", "\\tfrac12", True, True),
    ("\\frac{1}{2}", "\\frac{2}{4}", True, True),
    ("\\frac{3}{2}", "1.5", True, True),
    ("3", "\\frac{6}{2}", True, True),
    ("\\frac{1}{2}", "\\frac{2}{1}", False, True),
    ("-\\frac{1}{2}", "\\frac{1}{2}", False, True),
    ("-\\frac{1}{2}", "\\frac{-1}{2}", True, True),
    ("\\frac{1}{3}", "0.33", False, True),
    # decimals (math-verify compares to 6 decimal places; a decimal of 4+ significant digits that is
    # the exact value rounded at its own places matches too: RewardOptions.written_precision)
    ("\\frac{1}{3}", "0.333333", True, True),
    ("\\frac{1}{3}", "0.3333", True, True),
    ("\\frac{1}{3}", "0.3334", False, True),
    ("\\frac{8}{3}", "2.6667", True, True),
    ("\\frac{8}{3}", "2.6666", False, True),
    ("\\frac{8}{3}", "2.67", False, True),
    ("0.333", "0.3333", False, True),
    ("0.1", "0.1000001", True, True),
    ("0.1", "0.100001", False, True),
    ("2.5", "2.50", True, True),
    ("2.5", "2.6", False, True),
    ("0.25", "\\frac{1}{4}", True, True),
    # radicals
    ("2\\sqrt{2}", "\\sqrt{8}", True, True),
    ("\\frac{\\sqrt{3}}{2}", "\\frac{\\sqrt3}{2}", True, True),
    ("\\sqrt{2}", "\\sqrt{3}", False, True),
    ("\\sqrt{2}", "1.414214", True, True),
    ("\\sqrt{2}", "1.414", True, True),
    ("\\sqrt{2}", "1.415", False, True),
    ("3\\sqrt{10}", "\\sqrt{90}", True, True),
    ("\\frac{1}{\\sqrt{2}}", "\\frac{\\sqrt{2}}{2}", True, True),
    ("\\sqrt[3]{27}", "3", True, True),
    # pi
    ("\\frac{\\pi}{4}", "\\pi/4", True, True),
    ("2\\pi", "\\pi \\cdot 2", True, True),
    ("\\frac{\\pi}{4}", "0.785398", True, True),
    ("\\pi", "3.14", False, True),
    ("\\pi", "3.142", True, True),
    ("\\pi", "3.141", False, True),
    ("\\frac{3\\pi}{4}", "\\frac{\\pi}{4}", False, True),
    # expressions
    ("x^2+2x+1", "(x+1)^2", True, True),
    ("x^2+2x+1", "(x+1)^3", False, True),
    ("\\frac{x}{2}", "0.5x", True, True),
    ("2^{10}", "1024", True, True),
    ("\\sin^2 x + \\cos^2 x", "1", True, False),
    ("a+b", "b+a", True, True),
    ("ab", "a+b", False, True),
    # equations
    ("3", "x=3", True, True),
    ("x=3", "x = 3", True, False),
    ("y=2x+1", "y=1+2x", True, True),
    ("x=3", "x=4", False, True),
    ("x=3", "4", False, True),
    ("x=1, y=2", "x=1,y=2", True, True),
    # sets and lists
    ("\\{1,2\\}", "\\{2,1\\}", True, True),
    ("\\{1,2,3\\}", "\\{1,2\\}", False, True),
    ("\\{1, 2\\}", "2, 1", True, True),
    ("1, 2, 3", "3, 2, 1", True, True),
    # tuples
    ("(1,2)", "(1, 2)", True, True),
    ("(1,2)", "(2,1)", False, True),
    ("(1,2,3)", "(1, 2, 3)", True, True),
    # intervals
    ("[1,2)", "[1, 2)", True, True),
    ("(-\\infty, 3]", "(-\\infty,3]", True, True),
    ("(-\\infty, 3]", "(-\\infty,3)", False, True),
    ("[0,1]", "[0,1)", False, True),
    ("(0, \\infty)", "\\left(0, \\infty\\right)", True, True),
    # matrices
    ("\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", "\\begin{bmatrix} 1 & 2 \\\\ 3 & 4 \\end{bmatrix}", True, True),
    ("\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", "\\begin{pmatrix}1&2\\\\3&5\\end{pmatrix}", False, True),
    ("\\begin{pmatrix}1\\\\2\\end{pmatrix}", "\\begin{pmatrix}1\\\\2\\end{pmatrix}", True, False),
    # percent
    ("50\\%", "50", True, True),
    ("50\\%", "0.5", True, False),
    ("50\\%", "50 \\%", True, True),
    ("25\\%", "0.5", False, True),
    ("50\\%", "51\\%", False, True),
    # units and text
    ("10", "10 \\text{ cm}", True, True),
    ("10", "10\\text{ cm}^2", True, False),
    ("12", "12 \\text{ dollars}", True, False),
    ("45", "45^\\circ", True, True),
    ("10", "11 \\text{ cm}", False, True),
    ("\\text{(B)}", "B", True, True),
    ("\\text{(B)}", "(B)", True, True),
    ("\\text{(B)}", "C", False, True),
    # complex numbers
    ("1+i", "i+1", True, True),
    ("3+2i", "3-2i", False, True),
]


def _solution(pred: str) -> str:
    return f"We compute the value step by step: $2+2=4$ and so on.\n\nTherefore the answer is $\\boxed{{{pred}}}$."


def _expanded_table():
    rows = []
    for gold, pred, equivalent, both in TABLE:
        rows.append((gold, pred, equivalent))
        if both:
            rows.append((pred, gold, equivalent))
    return rows


ROWS = _expanded_table()


@pytest.fixture(scope="module", autouse=True)
def _pool_lifecycle():
    rw.shutdown()
    yield
    pids = rw.worker_pids()
    rw.shutdown()
    for pid in pids:
        assert not _alive(pid), f"reward worker {pid} left behind"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture(scope="module")
def table_results():
    return score_many([(_solution(pred), gold) for gold, pred, _ in ROWS], timeout_s=10)


def test_table_is_broad():
    assert len(ROWS) >= 150
    assert sum(eq for _, _, eq in ROWS) >= 60 and sum(not eq for _, _, eq in ROWS) >= 50


@pytest.mark.parametrize("i", range(len(ROWS)), ids=[f"{g}|{p}" for g, p, _ in ROWS])
def test_table(table_results, i):
    gold, pred, equivalent = ROWS[i]
    r = table_results[i]
    assert isinstance(r, RewardResult)
    assert r.acc is equivalent, (gold, pred, r)
    assert r.score == (1.0 if equivalent else -1.0)
    assert r.pred is not None and r.reason


def test_table_matches_math_verify_except_documented_fixes():
    """Where math-verify itself parses both sides, math mode gives its verdict; the documented
    exceptions are a thin-space thousands separator (``1\\,000``), which math-verify reads as 1*0, and
    decimals matched at the precision they are written to (``written_precision``)."""
    import logging

    from math_verify import parse, verify

    logging.getLogger("math_verify").setLevel(logging.ERROR)
    ours = score_many([(_solution(pred), gold) for gold, pred, _ in ROWS], timeout_s=10)
    differ = []
    for (gold, pred, _), r in zip(ROWS, ours):
        if bool(verify(parse("$" + gold + "$"), parse(_solution(pred)))) != r.acc:
            differ.append((gold, pred))
    written = [("\\frac{1}{3}", "0.3333"), ("\\frac{8}{3}", "2.6667"), ("\\sqrt{2}", "1.414"), ("\\pi", "3.142")]
    assert differ == [("1000", "1\\,000"), ("1\\,000", "1000")] + [x for g, p in written for x in ((g, p), (p, g))]


# --------------------------------------------------------------------------------------------
# answer extraction
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "solution, answer, source",
    [
        ("so the result is \\boxed{42}.", "42", "boxed"),
        ("\\fbox{7}", "7", "boxed"),
        ("first \\boxed{1} then \\boxed{2}", "2", "boxed"),
        ("\\boxed{\\frac{1}{2}}", "\\frac{1}{2}", "boxed"),
        ("\\boxed{\\{1,2\\}}", "\\{1,2\\}", "boxed"),
        ("$\\boxed{x = 3}$", "x = 3", "boxed"),
        ("\\boxed 5$", "5", "boxed"),
        ("\\boxed{5} and then \\boxed{6", "5", "boxed"),
        ("**Answer:** $\\boxed{1,000}$", "1,000", "boxed"),
        ("Answer: 42", "42", "answer_line"),
        ("The final answer is $\\frac12$. I hope it is correct.", "\\frac12", "answer_line"),
        ("Answer: the sum is $42$.", "42", "answer_line"),
        ("<answer>x=3</answer>", "x=3", "answer_tag"),
        ("<answer>\\boxed{12}</answer>", "12", "boxed"),
        ("\\boxed{3} was wrong.\nAnswer: 4", "4", "answer_line"),
        ("\\boxed{5}\n\nI am sure the answer is correct.", "5", "boxed"),
        ("\\boxed{5}. So the final answer is 5 because it fits.", "5", "boxed"),
        ("\\boxed{3}\n<answer>4</answer>", "4", "answer_tag"),
        ("So the sum is 42.", "42", "final_expression"),
        ("$$\\frac{1}{2}$$", "\\frac{1}{2}", "whole output"),
        ("lots of work\n\n42", "42", "final_expression"),
        ("", None, "none"),
        ("I could not finish", None, "output ends mid-sentence"),
        ("\\boxed{}", None, "empty box"),
        ("\\boxed{12", None, "unterminated or oversized box"),
    ],
)
def test_extract_answer(solution, answer, source):
    assert extract_answer(solution) == (answer, source)


@pytest.mark.parametrize(
    "solution, answers, source, text",
    [
        ("so \\boxed{1}, \\boxed{2} and \\boxed{3}.", ("1", "2", "3"), "boxed list", None),
        ("$$\\boxed{k = 45} \\quad \\text{and} \\quad \\boxed{n = 2}$$", ("k = 45", "n = 2"), "boxed list", None),
        ("\\( y_1 = \\boxed{x+1} \\) and \\( y_2 = \\boxed{x-1} \\)", ("x+1", "x-1"), "boxed list", None),
        ("\\boxed{5} and \\boxed{5}", ("5",), "boxed", None),
        ("\\boxed{1} no no no \\boxed{2}", ("2",), "boxed", None),
        ("Final Answer: The largest $n$ is 34.", (), "library", "The largest $n$ is 34"),
        ("Final Answer: $12$ and $13$.", (), "library", "$12$ and $13$"),
        ("lots of work\nand then\n\\frac{10}{9}", (), "library", "lots of work\nand then\n\\frac{10}{9}"),
        ("<think>\\boxed{4}</think>", (), "nothing after </think>", None),
        ("<think>\\boxed{4}</think>\nSo it is \\boxed{5}.", ("5",), "boxed", None),
        ("$\x0crac{1}{2}$", ("\\frac{1}{2}",), "whole output", "$\\frac{1}{2}$"),
        ("x^2 + 2*x + 1", ("x^2 + 2*x + 1",), "whole output", "x^2 + 2*x + 1"),
        ("so the count of", (), "output ends mid-sentence", None),
        ("so \\boxed{185\\}", ("185",), "boxed", None),
    ],
)
def test_extract(solution, answers, source, text):
    got = rw.extract(solution)
    assert (got.answers, got.source.value) == (answers, source)
    if text is not None:
        assert got.text == text


def test_library_region_is_bounded():
    got = rw.extract("a b c 1 2 3 " * 90_000)
    assert got.source is rw.Source.LIBRARY and len(got.text) <= 4000


@pytest.mark.parametrize(
    "solution, gold, acc",
    [
        ("Answer: 42", "42", True),
        ("<answer>7</answer>", "7", True),
        ("\\fbox{7}", "7", True),
        ("We get $x = 5$.\n\nSo the answer is 5.", "5", True),
        ("The final answer is $\\frac{1}{2}$.", "0.5", True),
        ("<answer>\\frac{\\pi}{2}</answer>", "\\pi/2", True),
        ("Answer: 41", "42", False),
    ],
)
def test_answer_locations(solution, gold, acc):
    assert score(solution, gold).acc is acc


# --------------------------------------------------------------------------------------------
# fast paths
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "pred, gold, acc, reason",
    [
        ("42", "42", True, "exact string match"),
        ("1,000", "1000", True, "fast-path integer match"),
        ("+1,000", "1000", True, "fast-path integer match"),
        ("43", "42", False, "fast-path integer mismatch"),
        ("42.0", "42", True, "fast-path decimal match"),
        ("\\frac{6}{4}", "\\frac{3}{2}", True, "fast-path fraction match"),
        ("3/2", "1.5", True, "fast-path decimal match"),
        ("n = 12", "12", True, "exact string match (right-hand side)"),
        ("n = 012", "12", True, "fast-path integer match"),
        ("13", "x = 12", False, "fast-path integer mismatch"),
    ],
)
def test_fast_paths_skip_the_pool(pred, gold, acc, reason):
    before = rw.stats().get("pool_tasks", 0)
    r = score(f"so \\boxed{{{pred}}}", gold)
    assert (r.acc, r.reason) == (acc, reason)
    assert rw.stats().get("pool_tasks", 0) == before
    assert r.elapsed_ms < 5


def test_near_tie_decimals_go_to_math_verify():
    # 6-place rounding could go either way within 2e-6: only math-verify may decide
    r = score("\\boxed{0.5000001}", "0.5")
    assert r.acc and r.reason.startswith("math-verify")


def test_ground_truth_wrappers_are_stripped():
    assert score("\\boxed{42}", "$42$").acc
    assert score("\\boxed{42}", "\\boxed{42}").acc
    assert score("\\boxed{\\frac{1}{2}}", " \\(\\frac{1}{2}\\) ").acc


def test_list_ground_truth_means_any_of():
    assert score("\\boxed{3}", ["2", "3"]).acc
    assert not score("\\boxed{4}", ["2", "3"]).acc
    assert score("\\boxed{\\sqrt{4}}", ("7", "2")).acc


# --------------------------------------------------------------------------------------------
# scores and tool-use shaping
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("calls", [0, 1, 2, 3, 4, 6, 8, 20])
def test_tool_shaping_matches_retool_recipe(calls):
    wrong = score("\\boxed{1}", "2", tool_shaping=True, tool_calls=calls)
    assert wrong.score == pytest.approx(min(-0.6, -1 + (calls - 2) / 2 * 0.1))
    right = score("\\boxed{2}", "2", tool_shaping=True, tool_calls=calls)
    assert right.score == 1.0


def test_shaping_is_off_by_default_and_custom_scores():
    assert score("\\boxed{1}", "2", tool_calls=10).score == -1.0
    r = score("\\boxed{1}", "2", correct_score=1.0, incorrect_score=0.0)
    assert r.score == 0.0
    assert score("\\boxed{2}", "2", correct_score=5).score == 5.0
    assert score("\\boxed{1}", "2", tool_shaping=True, tool_calls="junk").score == pytest.approx(-1.1)


def test_bad_options_are_programming_errors():
    with pytest.raises(ValueError):
        score("\\boxed{1}", "1", mode="nope")
    with pytest.raises(ValueError):
        score("\\boxed{1}", "1", timeout_s=0)
    with pytest.raises(TypeError):
        score("\\boxed{1}", "1", timout_s=1)


# --------------------------------------------------------------------------------------------
# bad and adversarial input: a verdict with a reason, within the timeout, never an exception
# --------------------------------------------------------------------------------------------
BAD_INPUTS = [
    (None, "42", "no answer found"),
    ("", "42", "no answer found"),
    ("\\boxed{42}", None, "empty ground truth"),
    ("\\boxed{42}", "", "empty ground truth"),
    ("\\boxed{42}", "   ", "empty ground truth"),
    (b"\\boxed{42}", "42", "exact string match"),
    ("\\boxed{42}", 42, "exact string match"),
    (12345, "12345", "exact string match"),
    ("\\boxed{\\frac{1}{2", "0.5", "no answer found"),
    ("}}}}{{{{" * 1000 + "\\boxed{3}", "3", "exact string match"),
    ("\\boxed{" * 200_000, "1", "no answer found"),
    ("{" * 5000 + "\\boxed{" + "{" * 5000 + "1" + "}" * 5000 + "}", "1", "no answer found"),
    ("\\boxed{" + "9" * 5000 + "}", "9", "no answer found"),
    ("x" * 1_000_000 + "\\boxed{42}", "42", "exact string match"),
    ("a b c 1 2 3 " * 90_000, "42", "math-verify extraction: not equivalent"),  # its bounded tail: 3
    ("\\boxed{\\x00\\uffff\ud800}", "42", ""),
]


@pytest.mark.parametrize("i", range(len(BAD_INPUTS)))
def test_bad_input_never_raises(i):
    solution, gold, reason = BAD_INPUTS[i]
    t = time.perf_counter()
    r = score(solution, gold, timeout_s=2)
    assert time.perf_counter() - t < 2.5
    assert isinstance(r, RewardResult) and r.reason
    assert r.reason.startswith(reason)
    assert r.acc is (reason == "exact string match")


ADVERSARIAL = [
    "10^{10^{10^{10}}}",
    "2^{2^{2^{2^{2^{2}}}}}",
    "9^{9^{9}}",
    "(10^{10})!",
    "100000!",
    "\\int_0^\\infty e^{-x^{100}} \\sin(x^{x}) dx",
    "\\sqrt{" * 300 + "2" + "}" * 300,
    "+".join(["x"] * 2000),
    "\\frac{(x+1)^{50} - (x-1)^{50}}{x^{49}}",
    "10^{10^{8}}",
    "\\frac{1}{0}",
    "\\begin{pmatrix}" + "\\\\".join(["&".join(["x"] * 30)] * 30) + "\\end{pmatrix}",
]


def test_adversarial_latex_returns_within_timeout():
    timeout = 1.0
    pairs = [(f"so \\boxed{{{a}}}", gold) for a in ADVERSARIAL for gold in ("5", "x^2+1")]
    t = time.perf_counter()
    results = score_many(pairs, timeout_s=timeout)
    wall = time.perf_counter() - t
    for (sol, gold), r in zip(pairs, results):
        assert not r.acc, (sol[:60], gold, r)
        assert r.reason and r.elapsed_ms <= timeout * 1000 + 500, (sol[:60], r)
    assert any(r.reason == "timeout" for r in results)
    # 24 verdicts on 2 workers, each at most ~1 s plus restarts of killed workers
    assert wall < 60
    # the pool is still healthy afterwards
    assert score("\\boxed{\\frac{\\sqrt{8}}{2}}", "\\sqrt{2}", timeout_s=5).acc


def test_score_from_threads_and_inside_asyncio():
    import threading

    out = []
    threads = [threading.Thread(target=lambda k=k: out.append(score(f"\\boxed{{{k}\\sqrt{{2}}}}", f"\\sqrt{{{2 * k * k}}}")))
               for k in range(2, 8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(out) == 6 and all(r.acc for r in out)

    async def main():
        return await asyncio.to_thread(score, "\\boxed{\\pi/3}", "\\frac{\\pi}{3}")

    assert asyncio.run(main()).acc


# --------------------------------------------------------------------------------------------
# async API and slime's reward_func
# --------------------------------------------------------------------------------------------
class Sample:
    """The parts of slime's ``Sample`` a reward function reads."""

    def __init__(self, response, label, prompt="", metadata=None, tool_call_count=None):
        self.prompt = prompt
        self.response = response
        self.label = label
        self.metadata = metadata if metadata is not None else {}
        if tool_call_count is not None:
            self.tool_call_count = tool_call_count


class Args:
    def __init__(self, **kw):
        self.__dict__.update(kw)


def test_retool_exports_reward_func_lazily():
    assert retool.reward_func is reward_func
    assert "reward_func" in dir(retool)
    with pytest.raises(AttributeError):
        retool.no_such_name  # noqa: B018


def test_import_retool_is_light():
    import subprocess
    import sys

    code = "import sys, retool; from retool import reward_func; print(sorted(m for m in ('sympy', 'math_verify', 'numpy', 'latex2sympy2_extended') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


async def test_reward_func_math_mode():
    r = await reward_func(Args(), Sample("Thus $\\boxed{\\frac{1}{2}}$.", "0.5"))
    assert r == {"score": 1.0, "acc": True, "pred": "\\frac{1}{2}"}
    r = await reward_func(None, Sample("no idea", "0.5"))
    assert r == {"score": -1.0, "acc": False, "pred": ""}
    assert set(r) == {"score", "acc", "pred"} and isinstance(r["pred"], str)


async def test_reward_func_reads_label_forms_and_ignores_prompt_in_math_mode():
    assert (await reward_func(Args(), Sample("\\boxed{7}", {"ground_truth": "7"})))["acc"]
    assert (await reward_func(Args(), Sample("\\boxed{7}", 7)))["acc"]
    # a boxed example in the prompt must not count as the answer
    r = await reward_func(Args(), Sample("I don't know.", "3", prompt="Example: \\boxed{3}"))
    assert not r["acc"]


@pytest.mark.parametrize(
    "sample, expected",
    [
        (Sample("\\boxed{1}", "2", metadata={"tool_call_count": 4}), -0.9),
        (Sample("\\boxed{1}", "2", tool_call_count=6), -0.8),
        (Sample("\\boxed{1}", "2", metadata={"tool_call_count": 10}), -0.6),
        (Sample("\\boxed{1}", "2"), -1.1),
        (Sample("\\boxed{2}", "2", tool_call_count=0), 1.0),
    ],
)
async def test_reward_func_tool_shaping(sample, expected):
    r = await reward_func(Args(reward_tool_shaping=True), sample)
    assert r["score"] == pytest.approx(expected)


async def test_reward_func_dapo_mode_reproduces_slime_recipe():
    args = Args(reward_mode="dapo", reward_tool_shaping=True)
    s = Sample("Answer: \\boxed{42}", "42", prompt="Solve it.", tool_call_count=2)
    assert await reward_func(args, s) == {"score": 1.0, "acc": True, "pred": "42"}
    s = Sample("Answer: \\boxed{\\frac{1}{2}}", "0.5", tool_call_count=4)
    assert await reward_func(args, s) == {"score": pytest.approx(-0.9), "acc": False, "pred": "\\frac{1}{2}"}
    s = Sample("no box", "5", tool_call_count=2)
    assert await reward_func(args, s) == {"score": -1.0, "acc": False, "pred": ""}


async def test_reward_func_never_raises_on_odd_samples():
    class Broken:
        @property
        def response(self):
            raise RuntimeError("boom")

    for sample in (object(), Broken(), Sample(None, None, metadata="not a dict"), Sample(["a", "b"], ["1"])):
        r = await reward_func(Args(reward_mode=42, reward_timeout_s="x"), sample)
        assert set(r) == {"score", "acc", "pred"} and r["acc"] is False


async def test_ascore_many_matches_score_many():
    pairs = [(_solution(p), g) for g, p, _ in ROWS[:40]]
    a = await rw.ascore_many(pairs)
    b = score_many(pairs)
    assert [(x.acc, x.pred) for x in a] == [(y.acc, y.pred) for y in b]


async def test_200_concurrent_reward_calls_keep_the_loop_responsive():
    rw.clear_caches()
    samples = []
    for k in range(200):
        if k % 2:
            samples.append((Sample(f"so \\boxed{{{k * 7}}}", str(k * 7)), True))
        else:  # distinct symbolic answers: each one is real math-verify work in the pool
            samples.append((Sample(f"so \\boxed{{\\frac{{{k + 1}\\pi}}{{7}}}}", f"{k + 1}\\pi/7"), True))
    samples.append((Sample("so \\boxed{10^{10^{10^{10}}}}", "3"), False))  # one that times out

    gaps = []
    done = asyncio.Event()

    async def ticker():
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    tick = asyncio.create_task(ticker())
    t = time.perf_counter()
    results = await asyncio.gather(*(reward_func(Args(reward_timeout_s=2), s) for s, _ in samples))
    wall = time.perf_counter() - t
    done.set()
    await tick
    assert [r["acc"] for r in results] == [ok for _, ok in samples]
    assert len(gaps) >= wall / 0.05  # the ticker kept running the whole time
    assert max(gaps) < 0.25, f"event loop blocked for {max(gaps):.3f}s"


async def test_cancelled_caller_does_not_cancel_shared_verdict():
    rw.clear_caches()
    sol, gold = "\\boxed{\\frac{11\\pi}{13}}", "11\\pi/13"
    first = asyncio.create_task(rw.ascore(sol, gold, timeout_s=30))  # a loaded CI machine is slow
    second = asyncio.create_task(rw.ascore(sol, gold, timeout_s=30))
    await asyncio.sleep(0)
    first.cancel()
    r = await second
    assert r.acc
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_reward_func_group_mode_and_string_flags():
    samples = [Sample("\\boxed{1}", "1"), Sample("\\boxed{2}", "3", tool_call_count=4)]
    out = await reward_func(Args(reward_tool_shaping="true"), samples)
    assert out == [{"score": 1.0, "acc": True, "pred": "1"}, {"score": pytest.approx(-0.9), "acc": False, "pred": "2"}]
    out = await reward_func(Args(reward_tool_shaping="false"), samples)
    assert out[1]["score"] == -1.0


def test_two_stage_parsing_gives_the_same_trees():
    """The workers' SLL-then-LL parsing must not change what latex2sympy builds (checked in a child
    process so that this process keeps the unpatched parser as the reference)."""
    import json
    import subprocess
    import sys

    exprs = sorted({s for gold, pred, _ in ROWS for s in (gold, pred)} | {a for a in ADVERSARIAL if len(a) < 200})
    code = (
        "import json, sys\n"
        "from sympy import srepr\n"
        "from latex2sympy2_extended.latex2sympy2 import latex2sympy\n"
        "def run(xs):\n"
        "    out = []\n"
        "    for x in xs:\n"
        "        try:\n"
        "            out.append(srepr(latex2sympy(x)))\n"
        "        except Exception as e:\n"
        "            out.append('error: ' + type(e).__name__)\n"
        "    return out\n"
        "xs = json.load(sys.stdin)\n"
        "ll = run(xs)\n"
        "from retool.reward._mv import _install_two_stage_parsing\n"
        "assert _install_two_stage_parsing()\n"
        "print(json.dumps([x for x, a, b in zip(xs, ll, run(xs)) if a != b]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], input=json.dumps(exprs), capture_output=True, text=True,
                         timeout=240, check=True)
    assert json.loads(out.stdout) == []


# --------------------------------------------------------------------------------------------
# state lives in Rewarder objects
# --------------------------------------------------------------------------------------------
def test_reward_package_holds_no_module_level_mutable_state():
    import importlib
    import pkgutil
    from collections import Counter, OrderedDict

    import retool.reward as pkg

    found = []
    for info in pkgutil.iter_modules(pkg.__path__, "retool.reward."):
        mod = importlib.import_module(info.name)
        for name, value in vars(mod).items():
            if name.startswith("__"):
                continue
            if isinstance(value, (list, dict, set, bytearray, Counter, OrderedDict)):
                found.append(f"{info.name}.{name}")
    assert found == []


def test_rewarders_are_independent():
    sol, gold = "\\boxed{\\frac{\\sqrt{8}}{2}}", "\\sqrt{2}"
    a = rw.Rewarder(workers=1, cache_size=0, warm_up=False)
    b = rw.Rewarder(workers=1, warm_up=False)
    try:
        before = rw.stats()
        for _ in range(2):
            assert a.score(sol, gold).acc and b.score(sol, gold).acc
        assert a.stats().get("cache_hits", 0) == 0 and a.stats()["pool_tasks"] == 2
        assert b.stats()["cache_hits"] == 1 and b.stats()["pool_tasks"] == 1
        assert set(a.worker_pids()).isdisjoint(b.worker_pids())
        assert rw.stats() == before  # the default Rewarder saw none of it
    finally:
        a.shutdown()
        b.shutdown()
    assert a.worker_pids() == [] and b.worker_pids() == []


def test_a_forked_child_starts_its_own_pool():
    import os

    r = rw.Rewarder(workers=1, warm_up=False)
    try:
        assert r.score("\\boxed{\\sqrt{4}}", "2").acc
        parent_pids = r.worker_pids()
        pid = os.fork()
        if pid == 0:  # child: must not touch the parent's workers
            ok = r.worker_pids() == [] and r.score("\\boxed{\\sqrt{9}}", "3").acc
            child_pids = r.worker_pids()
            r.shutdown()
            os._exit(0 if ok and not set(child_pids) & set(parent_pids) else 1)
        _, status = os.waitpid(pid, 0)
        assert os.WEXITSTATUS(status) == 0
        assert r.worker_pids() == parent_pids and r.score("\\boxed{\\sqrt{16}}", "4").acc
    finally:
        r.shutdown()
