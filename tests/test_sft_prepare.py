"""`python -m sft prepare`: ReTool-SFT rows (exact upstream layout) to slime, openai and tokens."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from retool.formats import INTERPRETER_CLOSE, INTERPRETER_OPEN
from retool.formats import parse_code
from sft.cli import main
from sft.io import Report, RowIssue, read_rows, write_rows
from sft.prepare import PrepareOptions, TokenEncoder, convert_rows, to_openai, to_slime, tool_schema
from sft.retool_format import QUESTION_MARKER, parse_row, render_trace
from sft_data import cell, output, retool_malformed_rows, retool_row, retool_sft_rows, write_jsonl, write_parquet

MALFORMED_REASONS = ["missing_question_marker", "missing_answer", "unclosed_code", "empty_code",
                     "non_string_content", "bad_messages", "missing_output"]


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    path = tmp_path_factory.mktemp("raw") / "train_2000.parquet"
    return write_parquet(retool_sft_rows() + retool_malformed_rows(), path)


# ------------------------------------------------------------------------------------------ parsing
def test_parse_row_reads_question_cells_outputs_and_answer():
    trace = parse_row(retool_sft_rows()[1])
    assert trace.question == "Find the sum of the squares of the roots of x^2 - 5x + 6 = 0."  # stray tags gone
    assert trace.instructions.startswith("Solve the following problem step by step.")
    assert [c.output for c in trace.cells] == ["[2, 3]", "13"]
    assert trace.cells[0].code.startswith("import sympy as sp\n") and trace.cells[0].text == "First find the roots."
    assert trace.cells[1].code == "print(sum(r**2 for r in roots))"
    assert trace.final_text == "The sum is 13." and trace.answer == "The answer is \\boxed{13}."


def test_leading_blank_line_inside_the_fence_is_not_code():
    assert parse_row(retool_sft_rows()[0]).cells[0].code == "import math\nprint(math.comb(10, 3))"


@pytest.mark.parametrize("index,reason", list(enumerate(MALFORMED_REASONS)))
def test_malformed_rows_raise_a_specific_reason(index, reason):
    with pytest.raises(RowIssue) as info:
        parse_row(retool_malformed_rows()[index])
    assert info.value.reason == reason and str(info.value)


@pytest.mark.parametrize("assistant,reason", [
    ("a</code>b<answer>\\boxed{1}</answer>", "unbalanced_tags"),
    (cell("print(1)") + "\n<interpreter>\n1\n" + "<answer>\\boxed{1}</answer>", "unclosed_output"),
    ("<interpreter>1</interpreter><answer>\\boxed{1}</answer>", "orphan_output"),
    (cell("print(1)") + "text" + output("1") + "<answer>\\boxed{1}</answer>", "text_between_code_and_output"),
    ("x <answer>1</answer>", "answer_not_boxed"),
    ("x <answer>\\boxed{1}", "unclosed_answer"),
    ("x <answer>\\boxed{1}</answer>" + cell("print(2)"), "content_after_answer"),
])
def test_more_malformed_traces(assistant, reason):
    with pytest.raises(RowIssue) as info:
        parse_row(retool_row("q?", assistant))
    assert info.value.reason == reason


def test_canonical_text_is_what_the_rollout_produces_and_round_trips():
    for row in retool_sft_rows():
        trace = parse_row(row)
        text = render_trace(trace)
        # the rollout's code format reads the same code back; observations use the rollout's glue
        assert [c.code for c in parse_code(text)] == [c.code for c in trace.cells]
        for c in trace.cells:
            assert "</code>" + INTERPRETER_OPEN + c.output + INTERPRETER_CLOSE in text
        again = parse_row(to_slime(trace))
        assert again == trace


# ------------------------------------------------------------------------------------------- formats
def test_slime_format_is_user_then_assistant_role_content():
    row = to_slime(parse_row(retool_sft_rows()[0]))
    assert list(row) == ["messages"]
    user, assistant = row["messages"]
    assert set(user) == set(assistant) == {"role", "content"}
    assert user["role"] == "user" and QUESTION_MARKER in user["content"] and "<answer>" not in user["content"].split(QUESTION_MARKER)[1]
    assert assistant["content"].endswith("<answer>\n\\boxed{120}\n</answer>")


def test_openai_format_has_tool_calls_tool_messages_and_schema():
    row = to_openai(parse_row(retool_sft_rows()[1]))
    roles = [m["role"] for m in row["messages"]]
    assert roles == ["user", "assistant", "tool", "assistant", "tool", "assistant"]
    assert row["messages"][0]["content"] == "Find the sum of the squares of the roots of x^2 - 5x + 6 = 0."
    call = row["messages"][1]["tool_calls"][0]
    assert call["type"] == "function" and call["function"]["name"] == "code_interpreter"
    assert call["function"]["arguments"]["code"].startswith("import sympy")
    assert row["messages"][2]["content"] == "[2, 3]"
    assert row["messages"][-1] == {"role": "assistant", "content": "The sum is 13.\n\nThe answer is \\boxed{13}."}
    assert row["tools"] == [tool_schema()]
    legacy = to_openai(parse_row(retool_sft_rows()[1]), PrepareOptions("openai", tools_json=True))
    assert json.loads(legacy["tools"]) == [tool_schema()]


def test_a_trace_without_code_is_one_assistant_turn():
    row = to_openai(parse_row(retool_sft_rows()[3]))
    assert [m["role"] for m in row["messages"]] == ["user", "assistant"]


def test_system_and_prompt_options():
    trace = parse_row(retool_sft_rows()[0])
    row = to_slime(trace, PrepareOptions("slime", prompt="question", system="You are careful."))
    assert row["messages"][0] == {"role": "system", "content": "You are careful."}
    assert row["messages"][1]["content"] == trace.question
    with pytest.raises(ValueError):
        PrepareOptions("xml")


def test_convert_rows_reports_and_skips_malformed_rows():
    report = Report()
    rows = retool_sft_rows() + retool_malformed_rows()
    out = list(convert_rows(rows, PrepareOptions("openai"), report))
    assert len(out) == 5 and report.rows_in == 12 and report.rows_out == 5
    assert [(i, r) for i, r, _ in report.dropped] == list(zip(range(5, 12), MALFORMED_REASONS))
    assert report.counters["code_cells"] == 5 and report.counters["assistant_turns"] == 10


# -------------------------------------------------------------------------------------------- tokens
@pytest.mark.parametrize("template", ["chat", "retool"])
def test_loss_mask_trains_exactly_the_assistant_turns(tokenizer, template):
    opts = PrepareOptions("tokens", template=template)
    encoder = TokenEncoder(tokenizer, opts)
    for row in retool_sft_rows():
        trace = parse_row(row)
        out = encoder.encode(trace)
        ids, mask = out["input_ids"], out["loss_mask"]
        assert len(ids) == len(mask) == out["num_tokens"] and set(mask) == {0, 1}
        # the whole sequence is the template's rendering of the conversation
        messages = encoder.pieces(trace)
        assert tokenizer.decode(ids) == "".join(span.text for span in messages)
        spans, cur = [], None
        for i, m in zip(ids, mask):
            if m and cur is None:
                cur = []
                spans.append(cur)
            if m:
                cur.append(i)
            else:
                cur = None
        decoded = [tokenizer.decode(s) for s in spans]
        if template == "chat":
            assistants = [m for m in to_openai(trace)["messages"] if m["role"] == "assistant"]
            assert len(decoded) == len(assistants)
            for text, msg in zip(decoded, assistants):
                assert text.endswith("<|im_end|>") and text.startswith(msg["content"])
                assert "<|im_start|>" not in text and "<tool_response>" not in text
        else:
            body = render_trace(trace)
            assert len(decoded) == len(trace.cells) + 1
            assert "".join(decoded) == _without_observations(body) + "<|im_end|>"
            assert all("<interpreter>" not in t for t in decoded)


def _without_observations(text: str) -> str:
    while INTERPRETER_OPEN in text:
        i = text.index(INTERPRETER_OPEN)
        j = text.index(INTERPRETER_CLOSE, i) + len(INTERPRETER_CLOSE)
        text = text[:i] + text[j:]
    return text


def test_a_template_that_rewrites_history_is_refused(tokenizer):
    import copy

    tok = copy.deepcopy(tokenizer)
    # like Qwen3's thinking template: the last assistant turn is rendered differently from earlier ones
    tok.chat_template = ("{% for m in messages %}<|im_start|>{{ m.role }}\n{% if loop.last and m.role == 'assistant' %}"
                         "<think></think>{% endif %}{{ m.content }}<|im_end|>\n{% endfor %}"
                         "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    encoder = TokenEncoder(tok, PrepareOptions("tokens"))
    with pytest.raises(RowIssue) as info:
        encoder.encode(parse_row(retool_sft_rows()[0]))
    assert info.value.reason == "template_not_prefix_stable"


def test_max_tokens_drops_long_rows(tokenizer):
    encoder = TokenEncoder(tokenizer, PrepareOptions("tokens", max_tokens=50))
    with pytest.raises(RowIssue) as info:
        encoder.encode(parse_row(retool_sft_rows()[1]))
    assert info.value.reason == "too_long"


# ----------------------------------------------------------------------------------------------- CLI
@pytest.mark.parametrize("fmt,suffix", [("slime", "parquet"), ("openai", "parquet"), ("slime", "jsonl"), ("openai", "jsonl")])
def test_cli_writes_the_format_and_a_report(raw, tmp_path, fmt, suffix, capsys):
    out, report = tmp_path / f"out.{suffix}", tmp_path / "report.json"
    assert main(["prepare", "--input", str(raw), "--output", str(out), "--format", fmt,
                 "--report", str(report), "--no-progress"]) == 0
    rows = list(read_rows(out))
    assert len(rows) == 5
    expected = [(to_slime if fmt == "slime" else to_openai)(parse_row(r)) for r in retool_sft_rows()]
    for got, want in zip(rows, expected):
        got_msgs = [{k: v for k, v in m.items() if v is not None} for m in got["messages"]]
        assert got_msgs == want["messages"]
    if suffix == "parquet":
        assert pq.read_schema(out).names == list(expected[0])
    summary = json.loads(report.read_text())
    assert summary["rows_in"] == 12 and summary["rows_out"] == 5 and summary["code_cells"] == 5
    assert [d["reason"] for d in summary["dropped_rows"]] == MALFORMED_REASONS
    err = capsys.readouterr().err
    assert "5 of 12 rows written, 7 dropped" in err and "row 7: unclosed_code" in err


def test_cli_tokens_with_tiny_tokenizer(raw, tmp_path, tiny_model):
    out = tmp_path / "tokens.parquet"
    assert main(["prepare", "--input", str(raw), "--output", str(out), "--format", "tokens",
                 "--tokenizer", str(tiny_model), "--template", "retool", "--no-progress"]) == 0
    table = pq.read_table(out)
    assert table.num_rows == 5 and {"input_ids", "loss_mask"} <= set(table.column_names)


def test_prepared_slime_rows_prepare_again_identically(raw, tmp_path):
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert main(["prepare", "--input", str(raw), "--output", str(first), "--no-progress"]) == 0
    assert main(["prepare", "--input", str(first), "--output", str(second), "--no-progress"]) == 0
    assert first.read_bytes() == second.read_bytes()


def test_cli_errors_are_clear(raw, tmp_path, capsys):
    assert main(["prepare", "--input", str(tmp_path / "missing.parquet"), "--output", str(tmp_path / "o.jsonl")]) == 2
    assert "input not found" in capsys.readouterr().err
    assert main(["prepare", "--input", str(raw), "--output", str(tmp_path / "o.csv")]) == 2
    assert "unsupported output format" in capsys.readouterr().err
    assert main(["prepare", "--input", str(raw), "--output", str(tmp_path / "o.jsonl"), "--format", "tokens"]) == 2
    assert "--tokenizer" in capsys.readouterr().err


def test_broken_jsonl_lines_are_reported_not_fatal(tmp_path, capsys):
    path = write_jsonl(retool_sft_rows()[:2], tmp_path / "in.jsonl")
    with path.open("a") as f:
        f.write("{not json\n[1, 2]\n")
    out = tmp_path / "o.jsonl"
    assert main(["prepare", "--input", str(path), "--output", str(out), "--no-progress"]) == 0
    assert len(out.read_text().splitlines()) == 2
    assert "dropped (bad_json): 2" in capsys.readouterr().err


def test_all_rows_bad_exits_1_and_still_writes_a_file(tmp_path):
    path = write_parquet(retool_malformed_rows()[:1], tmp_path / "bad.parquet")
    out = tmp_path / "o.parquet"
    assert main(["prepare", "--input", str(path), "--output", str(out), "--no-progress"]) == 1
    assert out.exists()


def test_write_rows_round_trips_nested_messages(tmp_path):
    rows = [to_openai(parse_row(r)) for r in retool_sft_rows()]
    write_rows(rows, tmp_path / "x.parquet")
    back = list(read_rows(tmp_path / "x.parquet"))
    assert [m["tool_calls"][0]["function"]["arguments"]["code"] for m in back[0]["messages"] if m.get("tool_calls")] \
        == [rows[0]["messages"][1]["tool_calls"][0]["function"]["arguments"]["code"]]
