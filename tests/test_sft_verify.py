"""`python -m sft verify`: the comparison rules alone, then real re-execution in the sandbox (one
sandbox per module), then the command end to end on parquet files."""

from __future__ import annotations

import json

import pytest
import pytest_asyncio

from sandbox import ExecResult, Sandbox, SandboxConfig, Status
from sft.cli import main
from sft.io import read_rows
from sft.retool_format import parse_row
from sft.verify import (
    CellStatus,
    RowVerdict,
    VerifyConfig,
    check_cell,
    compare_outputs,
    normalize_whitespace,
    summarize,
    verify_traces,
)
from sft_data import cell, output, retool_malformed_rows, retool_row, retool_sft_rows, write_parquet


def row_of(*cells: tuple[str, str]) -> dict:
    """A well-formed ReTool-SFT row whose cells are (code, recorded output) pairs."""
    body = "".join("Step.\n" + cell(code) + "\n" + output(out) + "\n" for code, out in cells)
    return retool_row("q?", body + "<answer>\\boxed{1}</answer>")


def traces_of(rows: list[dict]):
    return [parse_row(r) for r in rows]


# ------------------------------------------------------------------------------ compare_outputs


@pytest.mark.parametrize("expected, actual", [
    ("120", "120\n"),
    ("1\n4\n\n\n9  ", "1  \n4\n9\n"),  # trailing spaces, blank lines
    ("a  b\tc", "a b c"),  # padding inside a line
    ("[2, 3]", "[2.0000000001, 3]"),  # numbers inside text, within tolerance
    ("0.49999999999999994", "0.5"),
    ("1.5e-07", "1.5000001e-7"),  # scientific notation
    ("[1.  2.5]", "[1.0000001   2.5]"),  # numpy padding shifted by a value within tolerance
    ("x = -0.0", "x = 1e-12"),  # absolute tolerance near zero
    ("1/3", "1/3"),
    ("sqrt(2)/2", "sqrt(2)/2"),
])
def test_outputs_that_agree(expected, actual):
    assert compare_outputs(expected, actual)


@pytest.mark.parametrize("expected, actual", [
    ("120", "121"),
    ("1000000", "1000001"),  # integers are exact, however large
    ("0.5", "0.5001"),  # outside rel_tol 1e-6
    ("1/3", "0.333333333333333"),  # a sympy fraction is not its decimal
    ("sqrt(2)/2", "0.707106781186548"),
    ("x2", "x3"),  # digits inside identifiers are text
    ("a b", "ab"),
    ("1\n2", "1 2"),  # lines stay lines
    ("120", ""),
])
def test_outputs_that_disagree(expected, actual):
    assert not compare_outputs(expected, actual)


def test_tolerances_are_parameters():
    assert not compare_outputs("0.5", "0.5001", rel_tol=1e-6)
    assert compare_outputs("0.5", "0.5001", rel_tol=1e-3)
    assert not compare_outputs("0", "0.001")
    assert compare_outputs("0", "0.001", abs_tol=1e-2)


def test_modes():
    assert compare_outputs("[2, 3]", "[2, 3]\n", mode="exact")
    assert not compare_outputs("[2, 3]", "[2,  3]", mode="exact")
    assert compare_outputs("[2, 3]", "[2,  3] ", mode="whitespace")
    assert not compare_outputs("[2, 3]", "[2.0000000001, 3]", mode="whitespace")
    with pytest.raises(ValueError):
        compare_outputs("a", "a", mode="fuzzy")


RAISED = ('Traceback (most recent call last):\n  File "cell_1.py", line 2, in <module>\n    1/0\n'
          "ZeroDivisionError: division by zero")


@pytest.mark.parametrize("expected", [
    "ZeroDivisionError: division by zero",  # only the final line recorded
    'Traceback (most recent call last):\n  File "/tmp/tmpab12/main.py", line 7, in <module>\n'
    "ZeroDivisionError: division by zero",  # other paths and line numbers
    "builtins.ZeroDivisionError: division by zero",  # qualified name
])
def test_errors_match_on_the_final_exception_line(expected):
    assert compare_outputs(expected, RAISED)


def test_errors_that_differ():
    assert not compare_outputs("ZeroDivisionError: integer division by zero", RAISED)
    assert not compare_outputs("ValueError: division by zero", RAISED)
    assert not compare_outputs("ZeroDivisionError: division by zero", "0")  # no exception at all


def test_output_printed_before_an_error_must_agree():
    actual = "start\n" + RAISED
    assert compare_outputs("start\n" + RAISED.replace("cell_1.py", "/x/main.py"), actual)
    assert not compare_outputs("other\n" + RAISED, actual)
    assert compare_outputs("ZeroDivisionError: division by zero", actual)  # nothing recorded before it


def test_a_syntax_error_without_traceback_header():
    actual = '  File "cell_1.py", line 1\n    x = (\n        ^\nSyntaxError: \'(\' was never closed'
    assert compare_outputs("SyntaxError: '(' was never closed", actual)


def test_normalize_whitespace():
    assert normalize_whitespace("  a   b \r\n\n\n c\t\n") == "a b\nc"


# ------------------------------------------------------------------------------ check_cell (no sandbox)

CONFIG = VerifyConfig()


def test_warnings_on_stderr_do_not_fail_a_cell():
    result = ExecResult(Status.OK, stdout="13\n", stderr="SymPyDeprecationWarning: ...\n", exit_code=0)
    assert check_cell(0, 0, "13", result, CONFIG).status is CellStatus.MATCH


@pytest.mark.parametrize("status, expected_status", [
    (Status.TIMEOUT, CellStatus.TIMEOUT), (Status.MEMORY, CellStatus.MEMORY),
    (Status.REJECTED, CellStatus.REJECTED), (Status.SANDBOX_ERROR, CellStatus.SANDBOX_ERROR),
])
def test_sandbox_outcomes_are_failed_cells(status, expected_status):
    check = check_cell(3, 1, "1", ExecResult(status, error="why"), CONFIG)
    assert (check.status, check.reason, check.detail) == (expected_status, status.value, "why")
    assert (check.row, check.cell) == (3, 1)


def test_failure_reasons():
    ok = lambda out: ExecResult(Status.OK, stdout=out, exit_code=0)  # noqa: E731
    raised = ExecResult(Status.ERROR, stderr=RAISED + "\n", exit_code=1)
    assert check_cell(0, 0, "0.5", ok("0.6\n"), CONFIG).reason == "numbers_differ"
    assert check_cell(0, 0, "yes", ok("no\n"), CONFIG).reason == "output_differs"
    assert check_cell(0, 0, "yes", ok(""), CONFIG).reason == "missing_output"
    assert check_cell(0, 0, "ValueError: bad", ok("1\n"), CONFIG).reason == "expected_exception"
    assert (check_cell(0, 0, "1", raised, CONFIG).status, check_cell(0, 0, "1", raised, CONFIG).reason) == (
        CellStatus.ERROR, "unexpected_exception")
    assert check_cell(0, 0, "KeyError: 'a'", raised, CONFIG).reason == "exception_differs"
    assert check_cell(0, 0, "1", raised, CONFIG, state_lost=True).reason == "state_lost"


def test_row_verdict_and_summary():
    match = check_cell(0, 0, "1", ExecResult(Status.OK, stdout="1\n", exit_code=0), CONFIG)
    miss = check_cell(0, 1, "2", ExecResult(Status.OK, stdout="3\n", exit_code=0), CONFIG)
    half = RowVerdict.of(0, [match, miss])
    assert (half.agreement, half.passed, half.first_failure) == (0.5, False, miss)
    assert RowVerdict.of(0, [match, miss], min_agreement=0.5).passed
    assert RowVerdict.of(1, []).passed  # no code: nothing disagrees
    s = summarize([half, RowVerdict.of(1, [])], wall_s=2.0)
    assert (s["cells"], s["cells_matched"], s["rows_passed"], s["rows_without_code"]) == (2, 1, 1, 1)
    assert s["cells_per_s"] == 1.0
    assert s["agreement_histogram"]["[0.5,0.75)"] == 1 and s["failure_reasons"] == {"numbers_differ": 1}
    assert json.dumps(half.as_dict())  # serialisable as it is


@pytest.mark.parametrize("kwargs", [dict(concurrency=0), dict(timeout_s=0), dict(min_agreement=1.5),
                                    dict(compare="fuzzy"), dict(rel_tol=-1)])
def test_invalid_config(kwargs):
    with pytest.raises(ValueError):
        VerifyConfig(**kwargs)


# ------------------------------------------------------------------------------ the real sandbox


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sb():
    # max_sessions below the concurrency used below: verify must queue rows, not fail them.
    async with Sandbox(SandboxConfig(workers=2, timeout_s=10, max_sessions=2, session_idle_s=60)) as box:
        yield box


EXTRA = {
    "wrong": row_of(("print(6 * 7)", "43")),
    "whitespace": row_of(("print('a   b')\nprint()\nprint('c ')", "a b\n\n\nc")),
    "within_tol": row_of(("print(0.1 + 0.2)", "0.3")),
    "outside_tol": row_of(("print(0.1 + 0.2)", "0.31")),
    "sympy": row_of(("import sympy as sp\nprint(sp.Rational(1, 3) + sp.sqrt(8))", "1/3 + 2*sqrt(2)")),
    "raises": row_of(("d = {}\nprint('looking')\nd['k']", "looking\nTraceback (most recent call last):\n"
                      '  File "/sandbox/main.py", line 3, in <module>\nKeyError: \'k\'')),
    "raises_other": row_of(("int('x')", "ValueError: something else")),
    "unexpected_raise": row_of(("print(1 / 0)", "inf")),
    "three_cells": row_of(("a = 2", ""), ("b = a ** 10", ""), ("print(a, b)", "2 1024")),
    "rejected": row_of(("x = 1\nprint(().__class__.__bases__[0].__subclasses__())", "[...]")),
}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def batch(sb):
    """One concurrent run over the fixture rows and the extra rows (verdicts keyed by name)."""
    rows = retool_sft_rows() + list(EXTRA.values())
    seen = []
    out = await verify_traces(traces_of(rows), VerifyConfig(concurrency=8), sandbox=sb, on_verdict=seen.append)
    names = [f"fixture{i}" for i in range(5)] + list(EXTRA)
    assert [v.row for v in out] == list(range(len(rows))) and len(seen) == len(rows)
    return dict(zip(names, out))


async def test_fixture_rows_all_match(batch):
    for i in range(5):
        v = batch[f"fixture{i}"]
        assert v.passed and v.agreement == 1.0, v.first_failure
    assert [c.actual for c in batch["fixture1"].cells] == ["[2, 3]", "13"]  # cell 2 used cell 1's `roots`
    # CPython prints 0.5 for 1/3 + 1/6: the recorded 0.49999999999999994 matches through the tolerance.
    assert (batch["fixture2"].cells[0].expected, batch["fixture2"].cells[0].actual) == ("0.49999999999999994", "0.5")
    assert batch["fixture3"].cells == ()


async def test_a_wrong_recording_is_a_mismatch(batch):
    c = batch["wrong"].cells[0]
    assert (c.status, c.reason, c.expected, c.actual) == (CellStatus.MISMATCH, "numbers_differ", "43", "42")
    assert not batch["wrong"].passed


async def test_whitespace_and_numeric_tolerance(batch):
    assert batch["whitespace"].passed
    assert batch["within_tol"].passed  # 0.30000000000000004 vs 0.3
    assert batch["outside_tol"].cells[0].reason == "numbers_differ"
    assert batch["sympy"].passed


async def test_recorded_errors(batch):
    assert batch["raises"].passed, batch["raises"].first_failure
    other = batch["raises_other"].cells[0]
    assert (other.status, other.reason) == (CellStatus.ERROR, "exception_differs")
    unexpected = batch["unexpected_raise"].cells[0]
    assert (unexpected.status, unexpected.reason) == (CellStatus.ERROR, "unexpected_exception")
    assert "ZeroDivisionError" in unexpected.actual


async def test_cells_share_one_interpreter_in_order(batch):
    v = batch["three_cells"]
    assert v.passed and len(v.cells) == 3 and [c.cell for c in v.cells] == [0, 1, 2]


async def test_a_refused_cell_is_reported(batch):
    c = batch["rejected"].cells[0]
    assert c.status is CellStatus.REJECTED and c.reason == "rejected" and "line 2" in c.detail


async def test_timeouts_are_failed_cells_and_lost_state_is_said(sb):
    rows = [row_of(("while True:\n    pass", "never")),
            row_of(("x = 5", ""), ("while True:\n    pass", ""), ("print(x)", "5"), ("print(2)", "2"))]
    alone, session = await verify_traces(traces_of(rows), VerifyConfig(timeout_s=0.5), sandbox=sb, rows=[7, 9])
    assert (alone.row, alone.cells[0].status, alone.passed) == (7, CellStatus.TIMEOUT, False)
    assert [c.status for c in session.cells] == [CellStatus.MATCH, CellStatus.TIMEOUT, CellStatus.ERROR,
                                                 CellStatus.MATCH]
    lost = session.cells[2]
    assert lost.state_lost and lost.reason == "state_lost" and "NameError" in lost.actual
    assert session.agreement == 0.5 and session.row == 9


async def test_limits_beyond_the_sandbox_caps_are_a_clear_error(sb):
    with pytest.raises(ValueError, match="limits"):
        await verify_traces(traces_of(retool_sft_rows()[:1]), VerifyConfig(timeout_s=1000), sandbox=sb)


async def test_the_display_option_echoes_a_last_expression(sb):
    rows = [row_of(("2 ** 10", "1024"))]
    (plain,) = await verify_traces(traces_of(rows), VerifyConfig(), sandbox=sb)
    (shown,) = await verify_traces(traces_of(rows), VerifyConfig(display=True), sandbox=sb)
    assert plain.cells[0].reason == "missing_output" and shown.passed


# ------------------------------------------------------------------------------ the command


def test_cli_end_to_end(tmp_path, capsys):
    rows = retool_sft_rows() + [EXTRA["wrong"]] + retool_malformed_rows()
    src = write_parquet(rows, tmp_path / "in.parquet")
    out, report_path = tmp_path / "out" / "kept.parquet", tmp_path / "report.json"
    rc = main(["verify", "--input", str(src), "--output", str(out), "--report", str(report_path),
               "--drop-failing", "--concurrency", "4", "--no-progress"])
    assert rc == 0
    kept = list(read_rows(out))
    assert kept == list(read_rows(src))[:5]  # the fixture rows, layout unchanged
    assert [parse_row(r) for r in kept] == traces_of(retool_sft_rows())

    report = json.loads(report_path.read_text())
    malformed = {d["row"]: d["reason"] for d in report["dropped_rows"] if d["reason"] != "failed_verification"}
    assert sorted(malformed) == list(range(6, 6 + len(retool_malformed_rows())))
    assert {"missing_question_marker", "missing_answer", "empty_code", "non_string_content",
            "bad_messages", "missing_output"} <= set(malformed.values())
    failed = [d for d in report["dropped_rows"] if d["reason"] == "failed_verification"]
    assert [d["row"] for d in failed] == [5]
    totals = report["verification"]
    assert (totals["rows_verified"], totals["rows_passed"], totals["cells"], totals["cells_matched"]) == (6, 5, 6, 5)
    assert totals["cells_per_s"] > 0 and report["rows_in"] == len(rows) and report["rows_out"] == 5
    first = next(r for r in report["rows"] if r["row"] == 5)["first_failure"]
    assert (first["expected"], first["actual"], first["status"]) == ("43", "42", "mismatch")
    err = capsys.readouterr().err
    assert "row 5 cell 0: mismatch" in err and "cell agreement: 5/6" in err


def test_cli_keeps_failing_rows_unless_asked(tmp_path):
    src = write_parquet([EXTRA["wrong"], EXTRA["three_cells"]], tmp_path / "in.parquet")
    out = tmp_path / "out.jsonl"
    assert main(["verify", "--input", str(src), "--output", str(out), "--no-progress"]) == 0
    assert len(list(read_rows(out))) == 2
    assert main(["verify", "--input", str(src), "--output", str(out), "--min-agreement", "0.5",
                 "--limit", "1", "--no-progress"]) == 0
    assert list(read_rows(out)) == []  # only the first (wrong) row was read, and it failed


def test_cli_with_nothing_to_verify_and_bad_arguments(tmp_path):
    src = write_parquet(retool_malformed_rows(), tmp_path / "bad.parquet")
    assert main(["verify", "--input", str(src), "--no-progress"]) == 1
    assert main(["verify", "--input", str(tmp_path / "missing.parquet")]) == 2
    assert main(["verify", "--input", str(src), "--min-agreement", "2"]) == 2
