"""Tool-call parsing for the three formats, including the cases regex parsers get wrong."""

from __future__ import annotations

import json

import pytest

from retool.formats import ParsedCall, needs_continuation, parse_calls, parse_code, parse_hermes, parse_python, stop_strings


def hermes(code: str, name: str = "code_interpreter", args_as_string: bool = False) -> str:
    arguments = json.dumps({"code": code}) if args_as_string else {"code": code}
    return "<tool_call>\n" + json.dumps({"name": name, "arguments": arguments}) + "\n</tool_call>"


# ------------------------------------------------------------------------------------------ hermes
def test_hermes_single_call():
    calls = parse_hermes("Let me compute.\n" + hermes("print(1 + 1)"))
    assert calls == [ParsedCall("print(1 + 1)", None, hermes("print(1 + 1)"))]
    assert calls[0].ok


def test_hermes_arguments_as_json_string():
    (call,) = parse_hermes(hermes("print(2)", args_as_string=True))
    assert call.code == "print(2)" and call.error is None


def test_hermes_nested_braces_in_code():
    code = "d = {'a': {'b': {'c': 1}}}\nprint({k: v for k, v in d.items()})"
    (call,) = parse_hermes(hermes(code))
    assert call.code == code


def test_hermes_closing_tag_inside_code_string():
    code = "print('</tool_call>')\nprint('<tool_call>')"
    text = "Try:\n" + hermes(code) + "\nand then"
    (call,) = parse_hermes(text)
    assert call.code == code
    assert call.raw.endswith("</tool_call>") and call.raw.count("</tool_call>") == 2


def test_hermes_several_calls_in_one_turn():
    text = hermes("print(1)") + "\n" + hermes("print(2)") + "\nsome text " + hermes("print(3)")
    assert [c.code for c in parse_hermes(text)] == ["print(1)", "print(2)", "print(3)"]


def test_hermes_malformed_json_is_an_error_and_parsing_continues():
    text = '<tool_call>\n{"name": "code_interpreter", "arguments": {"code": "print(1)"\n</tool_call>\n' + hermes("print(2)")
    bad, good = parse_hermes(text)
    assert bad.code is None and "invalid JSON" in bad.error and bad.raw.startswith("<tool_call>")
    assert good.code == "print(2)"


def test_hermes_raw_newlines_in_json_string_are_accepted():
    text = '<tool_call>\n{"name": "code_interpreter", "arguments": {"code": "x = 1\nprint(x)"}}\n</tool_call>'
    (call,) = parse_hermes(text)
    assert call.code == "x = 1\nprint(x)"


@pytest.mark.parametrize(
    "body, message",
    [
        ('{"name": "python", "arguments": {"code": "print(1)"}}', "unknown tool 'python'"),
        ('{"name": "code_interpreter", "arguments": {"source": "print(1)"}}', "missing the 'code' argument"),
        ('{"name": "code_interpreter", "arguments": {"code": "  \\n"}}', "the 'code' argument is empty"),
        ('{"name": "code_interpreter", "arguments": {"code": 42}}', "must be a string"),
        ('{"name": "code_interpreter"}', "missing 'arguments'"),
        ('{"name": "code_interpreter", "arguments": "{not json"}', "not valid JSON"),
        ('["code_interpreter"]', "must be a JSON object"),
        ('{"name": "code_interpreter", "arguments": {"code": "print(1)"}}}', "unexpected text after the JSON object"),
    ],
)
def test_hermes_invalid_calls_carry_a_readable_error(body, message):
    (call,) = parse_hermes(f"<tool_call>\n{body}\n</tool_call>")
    assert call.code is None and message in call.error


def test_hermes_stray_closing_tag_is_reported():
    (call,) = parse_hermes("I will print it.\n</tool_call>")
    assert call.code is None and "without a <tool_call>" in call.error


def test_hermes_complete_object_without_closing_tag_counts():
    (call,) = parse_hermes('<tool_call>\n{"name": "code_interpreter", "arguments": {"code": "print(5)"}}\n')
    assert call.code == "print(5)"


def test_hermes_unterminated_call_is_an_error():
    (call,) = parse_hermes('<tool_call>\n{"name": "code_interpreter", "arguments": {"code": "print(')
    assert call.code is None and "unterminated" in call.error


def test_hermes_no_call():
    assert parse_hermes("The answer is \\boxed{2}.") == []


def test_hermes_needs_continuation_only_inside_a_json_string():
    cut = '<tool_call>\n{"name": "code_interpreter", "arguments": {"code": "print(\'</tool_call>'
    assert needs_continuation(cut, "hermes")
    assert not needs_continuation(hermes("print(1)"), "hermes")
    escaped_quote = '<tool_call>\n{"name": "code_interpreter", "arguments": {"code": "print(\\"</tool_call>'
    assert needs_continuation(escaped_quote, "hermes")
    broken = '<tool_call>\n{"name": "code_interpreter", "arguments": {"code": "print(1)"}\n</tool_call>'
    assert not needs_continuation(broken, "hermes")  # malformed, not cut: the model gets an error
    assert not needs_continuation("no call here", "hermes")


# -------------------------------------------------------------------------------------------- code
def test_code_fenced_and_bare():
    text = "First:\n<code>\n```python\nprint(6 * 7)\n```\n</code>\nthen\n<code>\nprint(1)\n</code>"
    calls = parse_code(text)
    assert [c.code for c in calls] == ["print(6 * 7)", "print(1)"]
    assert calls[0].raw.startswith("<code>") and calls[0].raw.endswith("</code>")


def test_code_keeps_indentation_and_inner_braces():
    body = "for i in range(3):\n    print({i: i})"
    (call,) = parse_code(f"<code>\n```python\n{body}\n```\n</code>")
    assert call.code == body


def test_code_empty_and_stray_close_are_errors():
    (empty,) = parse_code("<code>\n```python\n```\n</code>")
    assert empty.code is None and "empty" in empty.error
    (stray,) = parse_code("done </code>")
    assert stray.code is None and "without a <code>" in stray.error


def test_code_unclosed_block_is_prose():
    assert parse_code("I would use <code> tags for that.") == []


# ------------------------------------------------------------------------------------------ python
def test_python_blocks_and_other_fences():
    text = "Data:\n```\nnot code\n```\n```python\nprint(1)\n```\nand\n```py\nprint(2)\n```"
    assert [c.code for c in parse_python(text)] == ["print(1)", "print(2)"]


def test_python_empty_block_is_an_error():
    (call,) = parse_python("```python\n```\n")
    assert call.code is None and "empty" in call.error


def test_python_needs_continuation_on_plain_fences():
    assert needs_continuation("Data:\n```\n", "python")  # a plain fence opened
    assert needs_continuation("Data:\n```\nx\n```\n", "python")  # and closed
    assert not needs_continuation("```python\nprint(1)\n```\n", "python")
    assert not needs_continuation("no fence", "python")


# --------------------------------------------------------------------------------------- dispatch
def test_stop_strings_and_dispatch():
    assert stop_strings("hermes") == ("</tool_call>",)
    assert stop_strings("code") == ("</code>",)
    assert stop_strings("python") == ("```\n",)
    assert "```\n" not in "```python\n"  # the python stop cannot fire on the opening fence
    assert parse_calls(hermes("print(1)"), "hermes")[0].code == "print(1)"
    assert parse_calls("<code>print(1)</code>", "code")[0].code == "print(1)"
    assert parse_calls("```python\nprint(1)\n```", "python")[0].code == "print(1)"
    with pytest.raises(ValueError):
        stop_strings("xml")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        parse_calls("", "xml")  # type: ignore[arg-type]
