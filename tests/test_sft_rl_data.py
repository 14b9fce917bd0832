"""``python -m sft rl-data``: DAPO-Math / AIME / slime rows to slime JSONL and verl parquet, on real
files in the upstream layouts (tests/sft_data.py), read back with pyarrow; malformed rows reported
and skipped; the labels it writes graded correct by our own reward."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from sft.cli import main
from sft.io import Report, RowIssue
from sft.rl_data import (
    RETOOL_INSTRUCTION,
    RLDataOptions,
    RLExample,
    build_prompt,
    convert_file,
    convert_row,
    convert_rows,
    detect_layout,
    strip_instructions,
    to_slime,
    to_verl,
)

from sft_data import DAPO_INSTRUCTION, DAPO_SUFFIX, aime_rows, dapo_rows, write_jsonl, write_parquet

DAPO_PROBLEMS = ["Find the remainder when 2^10 is divided by 7.", "How many positive divisors does 36 have?",
                 "Compute 12 * 13."]
DAPO_ANSWERS = ["2", "9", "156"]
VERL_COLUMNS = ["data_source", "prompt", "ability", "reward_model", "extra_info", "agent_name"]


def user(content: str) -> list[dict]:
    """The default (messages) prompt: one user message."""
    return [{"role": "user", "content": content}]


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def read_parquet(path: Path) -> list[dict]:
    return pq.read_table(path).to_pylist()


def rl_data(*args: str) -> int:
    return main(["rl-data", "--input", *map(str, args), "--no-progress"])


@pytest.fixture
def dapo_file(tmp_path: Path) -> Path:
    return write_parquet(dapo_rows(), tmp_path / "dapo-math-17k.parquet")


# ---------------------------------------------------------------------------------------------
# DAPO
# ---------------------------------------------------------------------------------------------
def test_dapo_to_slime_strips_dapo_instruction(dapo_file: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "train.jsonl"
    assert rl_data(dapo_file, "-o", out) == 0
    rows = read_jsonl(out)
    assert [list(r) for r in rows] == [["prompt", "label", "metadata"]] * 3
    assert [r["prompt"] for r in rows] == [user(RETOOL_INSTRUCTION + p) for p in DAPO_PROBLEMS]
    assert [r["label"] for r in rows] == DAPO_ANSWERS
    # slime's per-source metrics read metadata["source_name"] (slime.utils.data.get_source)
    assert rows[0]["metadata"] == {"source_name": "math_dapo", "source_id": "9a1f0c2e-0000"}
    for row in rows:
        text = row["prompt"][0]["content"]
        assert "Answer:" not in text and "$Answer" not in text
        assert "code_interpreter" in text and "\\boxed{}" in text
    err = capsys.readouterr().err
    assert "rl-data: 3 of 3 rows written, 0 dropped" in err
    assert "instructions_stripped: 3" in err


def test_dapo_to_verl_matches_verl_tool_agent_layout(dapo_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "train.parquet"
    assert rl_data(dapo_file, "-o", out) == 0
    table = pq.read_table(out)
    assert table.column_names == VERL_COLUMNS
    rows = table.to_pylist()
    assert len(rows) == 3
    for i, (row, problem, answer) in enumerate(zip(rows, DAPO_PROBLEMS, DAPO_ANSWERS)):
        assert row["data_source"] == "math_dapo"
        assert row["ability"] == "MATH"
        assert row["agent_name"] == "tool_agent"
        assert row["prompt"] == [{"role": "user", "content": RETOOL_INSTRUCTION + problem}]
        assert row["reward_model"] == {"ground_truth": answer, "style": "rule-lighteval/MATH_v2"}
        assert row["extra_info"] == {
            "source_id": f"9a1f0c2e-{i:04d}",
            "index": i,
            "need_tools_kwargs": True,
            "tools_kwargs": {"code_interpreter": {"create_kwargs": {"ground_truth": answer}}},
        }


def test_one_run_writes_both_formats(dapo_file: Path, tmp_path: Path, capsys) -> None:
    slime, verl = tmp_path / "out" / "train.jsonl", tmp_path / "out" / "train.parquet"
    assert rl_data(dapo_file, "-o", slime, "--output", verl) == 0
    assert [r["label"] for r in read_jsonl(slime)] == DAPO_ANSWERS
    assert [r["reward_model"]["ground_truth"] for r in read_parquet(verl)] == DAPO_ANSWERS
    err = capsys.readouterr().err
    assert f"wrote 3 rows to {slime} (slime)" in err and f"wrote 3 rows to {verl} (verl)" in err


def test_format_flag_overrides_extension(dapo_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "slime.parquet"
    assert rl_data(dapo_file, "-o", out, "--format", "slime", "--no-metadata") == 0
    table = pq.read_table(out)
    assert table.column_names == ["prompt", "label"]
    assert table.column("label").to_pylist() == DAPO_ANSWERS


def test_prompt_styles(dapo_file: Path, tmp_path: Path) -> None:
    raw, messages = tmp_path / "raw.jsonl", tmp_path / "messages.jsonl"
    assert rl_data(dapo_file, "-o", raw, "--prompt-style", "raw") == 0
    assert rl_data(dapo_file, "-o", messages, "--prompt-style", "messages") == 0
    source = [r["prompt"][0]["content"] for r in dapo_rows()]
    assert [r["prompt"] for r in read_jsonl(raw)] == source
    assert [r["prompt"] for r in read_jsonl(messages)] == [
        [{"role": "user", "content": RETOOL_INSTRUCTION + p}] for p in DAPO_PROBLEMS]
    verl = tmp_path / "raw.parquet"
    assert rl_data(dapo_file, "-o", verl, "--prompt-style", "raw") == 0
    assert [r["prompt"] for r in read_parquet(verl)] == [
        [{"role": "user", "content": text}] for text in source]


def test_agent_name_and_data_source_overrides(dapo_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "train.parquet"
    assert rl_data(dapo_file, "-o", out, "--agent-name", "retool_agent", "--data-source", "dapo17k") == 0
    rows = read_parquet(out)
    assert {r["agent_name"] for r in rows} == {"retool_agent"}
    assert {r["data_source"] for r in rows} == {"dapo17k"}


# ---------------------------------------------------------------------------------------------
# AIME and slime inputs
# ---------------------------------------------------------------------------------------------
def test_aime_uppercase_parquet(tmp_path: Path) -> None:
    src = write_parquet(aime_rows(), tmp_path / "aime.parquet")
    slime, verl = tmp_path / "aime.jsonl", tmp_path / "aime_out.parquet"
    assert rl_data(src, "-o", slime, "-o", verl) == 0
    rows = read_jsonl(slime)
    assert [r["label"] for r in rows] == ["7", "29"]  # ints in the source, strings out
    assert rows[0]["prompt"] == user(RETOOL_INSTRUCTION + aime_rows()[0]["Problem"])
    assert rows[0]["metadata"] == {"source_name": "aime_2024", "source_id": "2024-I-1"}
    verl_rows = read_parquet(verl)
    assert [r["data_source"] for r in verl_rows] == ["aime_2024", "aime_2024"]
    assert verl_rows[1]["reward_model"] == {"ground_truth": "29", "style": "rule"}
    assert verl_rows[1]["extra_info"]["tools_kwargs"] == {"code_interpreter": {"create_kwargs": {"ground_truth": "29"}}}
    assert verl_rows[1]["extra_info"]["index"] == 1


@pytest.mark.parametrize("name, source", [("aime_2025.jsonl", "aime_2025"), ("test.jsonl", "aime")])
def test_aime_lowercase_jsonl(tmp_path: Path, name: str, source: str) -> None:
    rows = [{"problem": r["problem"], "answer": r["answer"], "id": i} for i, r in enumerate(aime_rows(lowercase=True))]
    src = write_jsonl(rows, tmp_path / name)
    out = tmp_path / "out.parquet"
    assert rl_data(src, "-o", out) == 0
    got = read_parquet(out)
    assert [r["reward_model"]["ground_truth"] for r in got] == ["7", "29"]
    assert [r["data_source"] for r in got] == [source, source]
    assert [r["extra_info"]["source_id"] for r in got] == ["0", "1"]


def test_slime_layout_input(tmp_path: Path) -> None:
    """zhuzilin/dapo-math-17k: a prompt string still carrying DAPO's instruction, and a label."""
    rows = [{"prompt": DAPO_INSTRUCTION + p + DAPO_SUFFIX, "label": a} for p, a in zip(DAPO_PROBLEMS, DAPO_ANSWERS)]
    rows[0]["metadata"] = {"data_source": "dapo", "level": 3}
    src = write_jsonl(rows, tmp_path / "dapo-math-17k.jsonl")
    slime, verl = tmp_path / "out.jsonl", tmp_path / "out.parquet"
    assert rl_data(src, "-o", slime, "-o", verl) == 0
    got = read_jsonl(slime)
    assert [r["prompt"] for r in got] == [user(RETOOL_INSTRUCTION + p) for p in DAPO_PROBLEMS]
    assert [r["label"] for r in got] == DAPO_ANSWERS
    assert got[0]["metadata"] == {"source_name": "dapo", "level": 3}
    assert got[1]["metadata"] == {"source_name": "math"}
    verl_rows = read_parquet(verl)
    assert verl_rows[0]["extra_info"]["level"] == 3
    assert verl_rows[0]["data_source"] == "dapo"
    # our own slime output reads back with its source (slime's key)
    again = tmp_path / "again.jsonl"
    assert rl_data(slime, "-o", again) == 0
    assert read_jsonl(again)[0]["metadata"] == {"source_name": "dapo", "level": 3}


def test_verl_output_converts_back_to_the_same_slime_rows(dapo_file: Path, tmp_path: Path) -> None:
    direct, verl, back = tmp_path / "direct.jsonl", tmp_path / "train.parquet", tmp_path / "back.jsonl"
    assert rl_data(dapo_file, "-o", direct, "-o", verl) == 0
    assert rl_data(verl, "-o", back) == 0
    assert back.read_text() == direct.read_text()


def test_slime_output_converts_back_to_itself(dapo_file: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert rl_data(dapo_file, "-o", first) == 0
    assert rl_data(first, "-o", second) == 0
    assert second.read_text() == first.read_text()


def test_forced_layout(dapo_file: Path, tmp_path: Path) -> None:
    out, report = tmp_path / "out.jsonl", tmp_path / "report.json"
    assert rl_data(dapo_file, "-o", out, "--layout", "aime", "--report", report) == 1
    body = json.loads(report.read_text())
    assert body["dropped_by_reason"] == {"missing_column": 3}
    assert out.read_text() == ""


# ---------------------------------------------------------------------------------------------
# malformed rows, dedupe, limit
# ---------------------------------------------------------------------------------------------
def _good() -> dict:
    return dapo_rows()[0]


MALFORMED = [
    ({**_good(), "prompt": "a string, not messages"}, "bad_prompt"),
    ({**_good(), "prompt": []}, "bad_prompt"),
    ({**_good(), "prompt": [{"role": "user", "content": 5}]}, "bad_prompt"),
    ({**_good(), "prompt": [{"role": "system", "content": "only a system message"}]}, "bad_prompt"),
    ({**_good(), "prompt": ["not a dict"]}, "bad_prompt"),
    ({**_good(), "prompt": [{"role": "user", "content": "   "}]}, "empty_problem"),
    ({**_good(), "prompt": [{"role": "user", "content": DAPO_INSTRUCTION + " " + DAPO_SUFFIX}]}, "empty_problem"),
    ({**_good(), "reward_model": {"ground_truth": "", "style": "rule"}}, "missing_ground_truth"),
    ({**_good(), "reward_model": {"style": "rule"}}, "missing_ground_truth"),
    ({**_good(), "reward_model": None}, "missing_ground_truth"),
    ({**_good(), "reward_model": {"ground_truth": True}}, "bad_ground_truth"),
    ({**_good(), "reward_model": {"ground_truth": ["1", "2"]}}, "bad_ground_truth"),
    ({"Problem": "", "Answer": 3}, "empty_problem"),
    ({"Problem": 12, "Answer": 3}, "bad_prompt"),
    ({"Problem": "What is 1 + 1?"}, "missing_column"),
    ({"problem": "What is 1 + 1?", "answer": None}, "missing_ground_truth"),
    ({"prompt": "What is 1 + 1?", "label": "  "}, "missing_ground_truth"),
    ({"prompt": None, "label": "2"}, "bad_prompt"),
    ({"question": "?", "solution": "2"}, "unknown_layout"),
    ({}, "empty_row"),
]


@pytest.mark.parametrize("row, reason", MALFORMED, ids=[f"{i}-{r}" for i, (_, r) in enumerate(MALFORMED)])
def test_convert_row_rejects(row: dict, reason: str) -> None:
    with pytest.raises(RowIssue) as exc:
        convert_row(row)
    assert exc.value.reason == reason


def test_malformed_rows_are_reported_and_skipped(tmp_path: Path, capsys) -> None:
    bad = [row for row, _ in MALFORMED]
    rows = [dapo_rows()[0], *bad[:10], dapo_rows()[1], *bad[10:], dapo_rows()[2]]
    src = write_jsonl(rows, tmp_path / "mixed.jsonl")
    out, report = tmp_path / "out.jsonl", tmp_path / "report.json"
    assert rl_data(src, "-o", out, "--report", report) == 0
    assert [r["label"] for r in read_jsonl(out)] == DAPO_ANSWERS
    body = json.loads(report.read_text())
    assert body["rows_in"] == len(rows) and body["rows_out"] == 3 and body["rows_dropped"] == len(bad)
    expected = [(i + 1, reason) for i, (_, reason) in enumerate(MALFORMED[:10])]
    expected += [(i + 12, reason) for i, (_, reason) in enumerate(MALFORMED[10:])]
    assert [(d["row"], d["reason"]) for d in body["dropped_rows"]] == expected
    assert all(d["detail"] for d in body["dropped_rows"])
    assert body["outputs"] == [{"path": str(out), "format": "slime"}]
    err = capsys.readouterr().err
    assert f"rl-data: 3 of {len(rows)} rows written, {len(bad)} dropped" in err
    assert "row 1: bad_prompt -- prompt is str, not a list of messages" in err


def test_a_line_that_is_not_json_is_reported(tmp_path: Path) -> None:
    src = tmp_path / "broken.jsonl"
    src.write_text('{"prompt": "What is 1 + 1?", "label": "2"}\nnot json\n{"prompt": "What is 2 + 2?", "label": "4"}\n')
    out, report = tmp_path / "out.jsonl", tmp_path / "report.json"
    assert rl_data(src, "-o", out, "--report", report) == 0
    assert [r["label"] for r in read_jsonl(out)] == ["2", "4"]
    [dropped] = json.loads(report.read_text())["dropped_rows"]
    assert dropped["row"] == 1 and dropped["reason"] == "bad_json"


def test_no_surviving_rows_exits_1_with_an_empty_file(tmp_path: Path) -> None:
    src = write_jsonl([{"prompt": "q", "label": ""}], tmp_path / "bad.jsonl")
    out = tmp_path / "out.parquet"
    assert rl_data(src, "-o", out) == 1
    assert out.exists()


def test_dedupe_and_limit(tmp_path: Path) -> None:
    rows = dapo_rows()
    twin = {**rows[0], "prompt": [{"role": "user", "content": DAPO_INSTRUCTION + "Find the remainder  when 2^10 "
                                   "is divided by 7." + DAPO_SUFFIX}]}
    src = write_parquet([rows[0], twin, rows[1], rows[0], rows[2]], tmp_path / "dupes.parquet")
    out, report = tmp_path / "out.jsonl", tmp_path / "report.json"
    assert rl_data(src, "-o", out, "--dedupe", "--report", report) == 0
    assert [r["label"] for r in read_jsonl(out)] == DAPO_ANSWERS
    body = json.loads(report.read_text())
    assert [(d["row"], d["reason"], d["detail"]) for d in body["dropped_rows"]] == [
        (1, "duplicate", "same problem as row 0"), (3, "duplicate", "same problem as row 0")]
    assert rl_data(src, "-o", out, "--limit", "2") == 0
    assert [r["label"] for r in read_jsonl(out)] == ["2", "2"]


# ---------------------------------------------------------------------------------------------
# CLI errors and the Python API
# ---------------------------------------------------------------------------------------------
def test_cli_errors_exit_2(dapo_file: Path, tmp_path: Path, capsys) -> None:
    assert rl_data(tmp_path / "missing.parquet", "-o", tmp_path / "o.jsonl") == 2
    assert rl_data(dapo_file, "-o", tmp_path / "o.csv") == 2
    assert rl_data(dapo_file, "-o", tmp_path / "o.jsonl", "--limit", "-1") == 2
    assert "python -m sft rl-data: error:" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["rl-data", "--help"])
    assert exc.value.code == 0
    assert "--prompt-style" in capsys.readouterr().out


def test_api_round_trip() -> None:
    row = dapo_rows()[1]
    assert detect_layout(row) == "dapo"
    example = convert_row(row)
    assert isinstance(example, RLExample)
    assert example.problem == DAPO_PROBLEMS[1] and example.ground_truth == "9" and example.instruction_stripped
    assert build_prompt(example, "raw") == [{"role": "user", "content": row["prompt"][0]["content"]}]
    assert to_slime(example, metadata=False) == {"prompt": user(RETOOL_INSTRUCTION + DAPO_PROBLEMS[1]), "label": "9"}
    assert to_slime(example, prompt_style="retool", metadata=False) == {"prompt": RETOOL_INSTRUCTION + DAPO_PROBLEMS[1], "label": "9"}
    verl = to_verl(example, 7, prompt_style="messages")
    assert verl["extra_info"]["index"] == 7 and verl["prompt"][0]["content"].endswith(DAPO_PROBLEMS[1])
    examples, report = convert_rows([row, {"x": 1}, row], RLDataOptions(dedupe=True))
    assert len(examples) == 1 and isinstance(report, Report)
    assert [(i, r) for i, r, _ in report.dropped] == [(1, "unknown_layout"), (2, "duplicate")]


def test_strip_instructions() -> None:
    wrapped = DAPO_INSTRUCTION + "What is 2 + 2?" + DAPO_SUFFIX
    assert strip_instructions(wrapped) == ("What is 2 + 2?", True)
    assert strip_instructions(RETOOL_INSTRUCTION + wrapped) == ("What is 2 + 2?", True)
    verl_recipe = "What is 2 + 2?\nThe answer format must be: \\boxed{'The final answer goes here.'}"
    assert strip_instructions(verl_recipe) == ("What is 2 + 2?", True)
    assert strip_instructions("  What is 2 + 2?\n") == ("What is 2 + 2?", False)


def test_convert_file_api(dapo_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.parquet"
    report = convert_file(dapo_file, [(out, "verl")], RLDataOptions(prompt_style="messages"))
    assert report.rows_out == 3 and not report.dropped
    assert pq.read_table(out).column_names == VERL_COLUMNS


# ---------------------------------------------------------------------------------------------
# our reward grades the written labels
# ---------------------------------------------------------------------------------------------
def test_reward_accepts_every_written_label(dapo_file: Path, tmp_path: Path) -> None:
    from retool.reward import score

    aime = write_parquet(aime_rows(), tmp_path / "aime.parquet")
    pairs = []
    for src in (dapo_file, aime):
        slime, verl = tmp_path / f"{src.stem}.jsonl", tmp_path / f"{src.stem}_verl.parquet"
        assert rl_data(src, "-o", slime, "-o", verl) == 0
        pairs += [r["label"] for r in read_jsonl(slime)]
        pairs += [r["reward_model"]["ground_truth"] for r in read_parquet(verl)]
        pairs += [r["extra_info"]["tools_kwargs"]["code_interpreter"]["create_kwargs"]["ground_truth"]
                  for r in read_parquet(verl)]
    assert len(pairs) == 15
    for label in pairs:
        assert isinstance(label, str)
        right = score(f"Running the code gives the result.\n\nThe answer is \\boxed{{{label}}}.", label)
        assert right.acc, (label, right)
        wrong = score("The answer is \\boxed{100000}.", label)
        assert not wrong.acc


def test_instructions_can_come_from_the_sft_data(tmp_path: Path, dapo_file: Path) -> None:
    # RL prompts then read exactly like the prompts of the SFT stage (ReTool's instructions + marker)
    from sft.prepare import PrepareOptions, to_slime
    from sft.retool_format import parse_row
    from sft_data import retool_sft_rows

    sft = write_parquet(retool_sft_rows(), tmp_path / "sft.parquet")
    out = tmp_path / "rl.jsonl"
    assert rl_data(dapo_file, "-o", out, "--instruction-from", sft) == 0
    first = read_jsonl(out)[0]
    [message] = first["prompt"]
    trained = to_slime(parse_row(retool_sft_rows()[0]), PrepareOptions("slime"))["messages"][0]["content"]
    head = trained[: trained.index("*user question:*\n") + len("*user question:*\n")]
    assert message["content"].startswith(head)
    assert message["content"][len(head):] == "Find the remainder when 2^10 is divided by 7."
    assert rl_data(dapo_file, "-o", out, "--instruction-from", dapo_file) == 2  # not ReTool-SFT data
