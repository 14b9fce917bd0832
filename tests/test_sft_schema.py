"""`python -m sft check`: the four trainer layouts, good and bad rows, row indices, files, the CLI."""

from __future__ import annotations

import copy
import json

import pytest

from retool.tool import CodeInterpreterTool
from sft.cli import main as sft_main
from sft.schema import KINDS, SchemaReport, check_file, check_row
from sft_data import write_jsonl, write_parquet

SCHEMA = CodeInterpreterTool().schema


def call(code: str) -> dict:
    return {"type": "function", "function": {"name": "code_interpreter", "arguments": {"code": code}}}


def slime_sft_row() -> dict:
    return {"messages": [
        {"role": "user", "content": "How many ways to choose 3 of 10?"},
        {"role": "assistant", "content": "<code>\n```python\nimport math\nprint(math.comb(10, 3))\n```\n</code>\n"
         "<interpreter>\n120\n</interpreter>\n<answer>\\boxed{120}</answer>"},
    ]}


def openai_sft_row(tools_as_json: bool = False) -> dict:
    return {
        "messages": [
            {"role": "user", "content": "How many ways to choose 3 of 10?"},
            {"role": "assistant", "content": "Count them.", "tool_calls": [call("import math\nprint(math.comb(10, 3))")]},
            {"role": "tool", "content": "120"},
            {"role": "assistant", "content": "", "tool_calls": [call("print(120 // 2)")]},
            {"role": "tool", "content": "60"},
            {"role": "assistant", "content": "So the answer is \\boxed{120}."},
        ],
        "tools": json.dumps([SCHEMA]) if tools_as_json else [SCHEMA],
    }


def slime_rl_row(as_messages: bool = True) -> dict:
    prompt = "Compute 12 * 13."
    return {"prompt": [{"role": "user", "content": prompt}] if as_messages else prompt, "label": "156"}


def verl_rl_row() -> dict:
    return {
        "data_source": "math_dapo",
        "prompt": [{"role": "user", "content": "Compute 12 * 13."}],
        "ability": "MATH",
        "reward_model": {"style": "rule-lighteval/MATH_v2", "ground_truth": "156"},
        "extra_info": {
            "index": 0,
            "need_tools_kwargs": True,
            "tools_kwargs": {"code_interpreter": {"create_kwargs": {"ground_truth": "156"}}},
        },
        "agent_name": "tool_agent",
    }


GOOD = {
    "slime-sft": slime_sft_row,
    "openai-sft": openai_sft_row,
    "slime-rl": slime_rl_row,
    "verl-rl": verl_rl_row,
}


def mutate(row: dict, fn) -> dict:
    row = copy.deepcopy(row)
    fn(row)
    return row


# (kind, mutation, expected reason)
BAD = [
    ("slime-sft", lambda r: r.pop("messages"), "missing_column"),
    ("slime-sft", lambda r: r.update(messages="user: hi"), "bad_messages"),
    ("slime-sft", lambda r: r.update(messages=[]), "bad_messages"),
    ("slime-sft", lambda r: r["messages"].pop(), "no_final_answer"),
    ("slime-sft", lambda r: r["messages"][1].update(content="  "), "no_final_answer"),
    ("slime-sft", lambda r: r["messages"][0].update(role="human"), "bad_role"),
    ("slime-sft", lambda r: r["messages"][1].update(content=["a", "b"]), "bad_content"),
    ("slime-sft", lambda r: r["messages"].reverse(), "bad_order"),
    ("slime-sft", lambda r: r["messages"][1].update(tool_calls=[call("print(1)")]), "unexpected_tool_calls"),
    ("openai-sft", lambda r: r.pop("tools"), "missing_column"),
    ("openai-sft", lambda r: r.update(tools=[]), "bad_tools"),
    ("openai-sft", lambda r: r.update(tools="[not json"), "bad_tools"),
    ("openai-sft", lambda r: r.update(tools=[{"name": "code_interpreter"}]), "bad_tools"),
    ("openai-sft", lambda r: r["messages"][1]["tool_calls"][0]["function"].update(name="python"), "unknown_tool"),
    ("openai-sft", lambda r: r["messages"][1]["tool_calls"][0]["function"].update(arguments="{bad"), "bad_tool_call"),
    ("openai-sft", lambda r: r["messages"][1]["tool_calls"][0]["function"].update(arguments=["print(1)"]), "bad_tool_call"),
    ("openai-sft", lambda r: r["messages"][1]["tool_calls"][0]["function"].update(arguments={"src": "x"}), "bad_tool_call"),
    ("openai-sft", lambda r: r["messages"][1]["tool_calls"][0].pop("function"), "bad_tool_call"),
    ("openai-sft", lambda r: r["messages"].pop(2), "unanswered_tool_call"),
    ("openai-sft", lambda r: r["messages"].insert(1, {"role": "tool", "content": "1"}), "orphan_tool_message"),
    ("openai-sft", lambda r: r["messages"][0].update(tool_calls=[call("print(1)")]), "bad_tool_call"),
    ("openai-sft", lambda r: r["messages"].__delitem__(slice(4, None)), "unanswered_tool_call"),
    ("openai-sft", lambda r: r["messages"][5].update(tool_calls=[call("print(1)")]), "unanswered_tool_call"),
    ("slime-rl", lambda r: r.pop("label"), "missing_column"),
    ("slime-rl", lambda r: r.update(label=""), "bad_label"),
    ("slime-rl", lambda r: r.update(label=None), "bad_label"),
    ("slime-rl", lambda r: r.update(prompt=""), "bad_prompt"),
    ("slime-rl", lambda r: r.update(prompt=42), "bad_messages"),
    ("slime-rl", lambda r: r["prompt"].append({"role": "assistant", "content": "hm"}), "bad_prompt"),
    ("verl-rl", lambda r: r.pop("agent_name"), "missing_column"),
    ("verl-rl", lambda r: r.update(data_source=""), "bad_field"),
    ("verl-rl", lambda r: r.update(prompt="Compute 12 * 13."), "bad_messages"),
    ("verl-rl", lambda r: r.update(reward_model={"style": "rule"}), "bad_reward_model"),
    ("verl-rl", lambda r: r.update(reward_model="156"), "bad_reward_model"),
    ("verl-rl", lambda r: r["reward_model"].update(ground_truth=""), "bad_label"),
    ("verl-rl", lambda r: r["extra_info"].pop("index"), "bad_extra_info"),
    ("verl-rl", lambda r: r["extra_info"].pop("tools_kwargs"), "bad_extra_info"),
    ("verl-rl", lambda r: r["extra_info"]["tools_kwargs"]["code_interpreter"].update(create_kwargs="x"), "bad_extra_info"),
]


@pytest.mark.parametrize("kind", KINDS)
def test_good_rows_pass(kind):
    assert check_row(GOOD[kind](), kind) is None


@pytest.mark.parametrize(("kind", "fn", "reason"), BAD, ids=[f"{k}-{r}-{i}" for i, (k, _, r) in enumerate(BAD)])
def test_bad_rows_are_named(kind, fn, reason):
    issue = check_row(mutate(GOOD[kind](), fn), kind)
    assert issue is not None and issue.reason == reason, issue
    assert issue.detail


def test_variants_that_trainers_accept():
    assert check_row(slime_rl_row(as_messages=False), "slime-rl") is None  # a pre-rendered prompt
    assert check_row(mutate(slime_rl_row(), lambda r: r.update(label=156)), "slime-rl") is None
    several = mutate(verl_rl_row(), lambda r: r["reward_model"].update(ground_truth=["156", "156.0"]))
    assert check_row(several, "verl-rl") is None
    no_tools = mutate(verl_rl_row(), lambda r: r["extra_info"].update(need_tools_kwargs=False, tools_kwargs=None))
    assert check_row(no_tools, "verl-rl") is None
    # arguments as a JSON string (OpenAI's wire format) and a system prompt first
    row = openai_sft_row()
    row["messages"][1]["tool_calls"][0]["function"]["arguments"] = json.dumps({"code": "print(1)"})
    row["messages"].insert(0, {"role": "system", "content": "You can run Python."})
    assert check_row(row, "openai-sft") is None


def test_json_string_tools_pass_with_a_warning():
    report = SchemaReport("<row>", "openai-sft")
    assert check_row(openai_sft_row(tools_as_json=True), "openai-sft", report) is None
    assert report.ok and len(report.warnings) == 1 and "apply_chat_template" in report.warnings[0]


def test_other_agent_name_warns():
    report = SchemaReport("<row>", "verl-rl")
    assert check_row(mutate(verl_rl_row(), lambda r: r.update(agent_name="single_turn_agent")), "verl-rl", report) is None
    assert report.warnings and "tool_agent" in report.warnings[0]


def test_unknown_kind_is_an_error():
    with pytest.raises(ValueError, match="unknown kind"):
        check_row({}, "sharegpt")


# ---------------------------------------------------------------------------------------------
# files: rows go through parquet/JSONL and datasets (Arrow), so nested messages gain None keys
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_good_files_pass(tmp_path, kind):
    rows = [GOOD[kind]() for _ in range(3)]
    path = write_parquet(rows, tmp_path / f"{kind}.parquet")
    report = check_file(path, kind)
    assert report.ok, report.format()
    assert report.rows_checked == 3


def test_openai_sft_parquet_with_json_tools_passes_and_warns(tmp_path):
    path = write_parquet([openai_sft_row(tools_as_json=True)] * 2, tmp_path / "sft.parquet")
    report = check_file(path, "openai-sft")
    assert report.ok and len(report.warnings) == 1


def test_jsonl_slime_rl_with_string_and_message_prompts(tmp_path):
    messages = write_jsonl([slime_rl_row()] * 2, tmp_path / "messages.jsonl")
    text = write_jsonl([slime_rl_row(as_messages=False)] * 2, tmp_path / "text.jsonl")
    assert check_file(messages, "slime-rl").ok
    assert check_file(text, "slime-rl").ok


def test_bad_rows_are_reported_with_their_index(tmp_path):
    rows = [slime_rl_row() for _ in range(6)]
    rows[2]["label"] = ""
    rows[4]["label"] = ""
    path = write_jsonl(rows, tmp_path / "rl.jsonl")
    report = check_file(path, "slime-rl")
    assert not report.ok
    assert [(r, reason) for r, reason, _ in report.problems] == [(2, "bad_label"), (4, "bad_label")]
    text = report.format()
    assert "rows 2, 4" in text and "bad_label" in text


def test_sample_limits_rows_read(tmp_path):
    rows = [slime_rl_row() for _ in range(10)]
    rows[7]["label"] = ""
    path = write_jsonl(rows, tmp_path / "rl.jsonl")
    assert check_file(path, "slime-rl", sample=5).ok
    assert check_file(path, "slime-rl", sample=5).rows_checked == 5
    assert not check_file(path, "slime-rl", sample=10).ok


def test_file_level_problems(tmp_path):
    missing = check_file(tmp_path / "nope.parquet", "verl-rl")
    assert [reason for _, reason, _ in missing.problems] == ["not_found"]
    jsonl = write_jsonl([verl_rl_row()], tmp_path / "rl.jsonl")
    wrong_format = check_file(jsonl, "verl-rl")  # verl's RLHFDataset reads parquet only
    assert [reason for _, reason, _ in wrong_format.problems] == ["bad_format"]
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert not check_file(empty, "slime-rl").ok
    garbage = tmp_path / "garbage.parquet"
    garbage.write_bytes(b"not a parquet file")
    unreadable = check_file(garbage, "verl-rl")
    assert [reason for _, reason, _ in unreadable.problems] == ["unreadable"]


def test_wrong_layout_is_named_once_per_reason(tmp_path):
    path = write_parquet([slime_sft_row()] * 4, tmp_path / "sft.parquet")
    report = check_file(path, "openai-sft")
    assert len(report.problems) == 4
    assert report.format().count("problem:") == 1  # grouped: one line, four row indices


# ---------------------------------------------------------------------------------------------
# CLI: python -m sft check --kind KIND PATH...
# ---------------------------------------------------------------------------------------------
def test_cli_exit_codes_and_output(tmp_path, capsys):
    good = write_parquet([verl_rl_row()], tmp_path / "good.parquet")
    bad = write_parquet([mutate(verl_rl_row(), lambda r: r["extra_info"].pop("index"))], tmp_path / "bad.parquet")
    assert sft_main(["check", "--kind", "verl-rl", str(good)]) == 0
    assert "ok" in capsys.readouterr().out
    assert sft_main(["check", "--kind", "verl-rl", str(good), str(bad)]) == 1
    out = capsys.readouterr().out
    assert "bad_extra_info (row 0)" in out and str(bad) in out


def test_cli_json(tmp_path, capsys):
    path = write_jsonl([slime_rl_row(), {"prompt": "x", "label": ""}], tmp_path / "rl.jsonl")
    assert sft_main(["check", "--kind", "slime-rl", "--json", str(path)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and report["rows_checked"] == 2
    [problem] = report["problems"]
    assert problem == {"row": 1, "reason": "bad_label", "detail": "'label' must be a non-empty string, got str"}


def test_cli_strict_fails_on_warnings(tmp_path, capsys):
    path = write_parquet([openai_sft_row(tools_as_json=True)], tmp_path / "sft.parquet")
    assert sft_main(["check", "--kind", "openai-sft", str(path)]) == 0
    assert sft_main(["check", "--kind", "openai-sft", "--strict", str(path)]) == 1
    assert "JSON string" in capsys.readouterr().out
    good = write_parquet([openai_sft_row()], tmp_path / "good.parquet")
    assert sft_main(["check", "--kind", "openai-sft", "--strict", str(good)]) == 0


def test_cli_rejects_unknown_kind(capsys):
    with pytest.raises(SystemExit):
        sft_main(["check", "--kind", "nope", "x.parquet"])
