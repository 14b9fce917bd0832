"""CodeInterpreterTool: schema, execution through the real sandbox, observation text, truncation."""

from __future__ import annotations

import asyncio

import pytest
import pytest_asyncio

from retool.testing.tiny_model import build_tiny_tokenizer
from retool.formats import encode_observation as encode_text
from retool.formats import truncate_observation as truncate_tokens
from retool.tool import (
    NO_OUTPUT,
    CodeInterpreterTool,
    ToolStatus,
    format_observation,
    truncate_middle,
)

INVALID = ToolStatus.INVALID
from sandbox import ExecResult, Sandbox, SandboxConfig, Status


@pytest_asyncio.fixture(scope="module")
async def sandbox():
    async with Sandbox(SandboxConfig(workers=2)) as sb:
        yield sb


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    return build_tiny_tokenizer(tmp_path_factory.mktemp("tok"))


@pytest.fixture
def tool(sandbox):
    return CodeInterpreterTool(sandbox, timeout_s=2.0, memory_mb=256)


def test_schema_is_an_openai_function_tool():
    schema = CodeInterpreterTool().schema
    assert schema["type"] == "function"
    fn = schema["function"]
    assert fn["name"] == "code_interpreter" == CodeInterpreterTool.name
    assert fn["description"]
    assert fn["parameters"]["type"] == "object"
    assert fn["parameters"]["properties"]["code"]["type"] == "string"
    assert fn["parameters"]["required"] == ["code"]


async def test_ok_output(tool):
    r = await tool.execute("print(6 * 7)\nprint('done')")
    assert r.status == "ok" and r.observation == "42\ndone"
    assert r.exec_result is not None and r.exec_result.status is Status.OK and r.duration_s > 0


async def test_no_output_is_never_empty(tool):
    r = await tool.execute("x = 1")
    assert r.status == "ok" and r.observation == NO_OUTPUT


async def test_error_shows_stdout_then_traceback(tool):
    r = await tool.execute("print('before')\n1 / 0")
    assert r.status == "error"
    assert r.observation.startswith("before\nTraceback")
    assert r.observation.rstrip().endswith("ZeroDivisionError: division by zero")


async def test_timeout_is_noted(sandbox):
    tool = CodeInterpreterTool(sandbox, timeout_s=0.5, memory_mb=256)
    r = await tool.execute("import time\nprint('started', flush=True)\ntime.sleep(10)")
    assert r.status == "timeout"
    assert "[timeout:" in r.observation and "0.5s" in r.observation


async def test_memory_limit_is_noted(sandbox):
    tool = CodeInterpreterTool(sandbox, timeout_s=5, memory_mb=64)
    r = await tool.execute("x = bytearray(512 * 1024 * 1024)\nprint(len(x))")
    assert r.status == "memory"
    assert "[memory limit exceeded" in r.observation


async def test_refusal_is_noted(tool):
    r = await tool.execute("exec('print(1)')")
    assert r.status == "rejected"
    assert r.observation.startswith("[refused") and "exec" in r.observation


async def test_empty_code_is_invalid_without_running(tool):
    r = await tool.execute("   \n")
    assert r.status == INVALID and r.observation.startswith("Error:") and r.exec_result is None


async def test_long_output_is_cut_in_the_middle(sandbox):
    tool = CodeInterpreterTool(sandbox, timeout_s=5, memory_mb=256, max_observation_chars=300)
    r = await tool.execute("for i in range(2000):\n    print(i)")
    assert r.status == "ok"
    assert len(r.observation) <= 300
    assert r.observation.startswith("0\n1\n2\n") and r.observation.endswith("1998\n1999")
    assert "characters omitted]" in r.observation


async def test_closed_sandbox_is_an_observation_not_an_exception():
    sb = Sandbox(SandboxConfig(workers=1))
    await sb.close()
    r = await CodeInterpreterTool(sb).execute("print(1)")
    assert r.status == "sandbox_error" and r.observation.startswith("[sandbox error")


async def test_owned_sandbox_starts_once_and_closes():
    tool = CodeInterpreterTool(config=SandboxConfig(workers=1), timeout_s=5, memory_mb=256)
    results = await asyncio.gather(*(tool.execute(f"print({i})") for i in range(4)))
    assert [r.observation for r in results] == ["0", "1", "2", "3"]
    own = tool._sandbox
    assert own is not None
    await tool.close()
    assert tool._sandbox is None and own._closed


async def test_shared_sandbox_is_not_closed_by_the_tool(sandbox):
    tool = CodeInterpreterTool(sandbox)
    await tool.close()
    assert (await sandbox.run("print(3)")).stdout == "3\n"


@pytest.mark.parametrize(
    "result, expected",
    [
        (ExecResult(Status.OK, stdout="1\n"), "1"),
        (ExecResult(Status.OK, stdout="", stderr="warning: x\n"), "warning: x"),
        (ExecResult(Status.ERROR, stdout="", stderr="", exit_code=3), "[error: exit code 3]"),
        (ExecResult(Status.TIMEOUT, stdout="part\n", error="wall-clock time limit of 10s exceeded"),
         "part\n[timeout: wall-clock time limit of 10s exceeded]"),
        (ExecResult(Status.MEMORY, error=None), "[memory limit exceeded]"),
        (ExecResult(Status.REJECTED, error="code is not valid UTF-8"), "[refused: code is not valid UTF-8]"),
        (ExecResult(Status.OUTPUT_LIMIT, stdout="xxxx", truncated=True), "xxxx\n[output truncated]"),
        (ExecResult(Status.OUTPUT_LIMIT, stdout="xx\n[output truncated: over 4 bytes]\n", truncated=True),
         "xx\n[output truncated: over 4 bytes]"),
        (ExecResult(Status.SANDBOX_ERROR, error="worker lost"), "[sandbox_error: worker lost]"),
    ],
)
def test_observation_for_each_status(result, expected):
    assert format_observation(result) == expected


def test_truncate_middle():
    text = "".join(chr(ord("a") + i % 26) for i in range(1000))
    out = truncate_middle(text, 100)
    assert len(out) <= 100 and out.startswith(text[:20]) and out.endswith(text[-20:])
    assert "[" in out and "characters omitted]" in out
    assert truncate_middle("short", 100) == "short"
    assert truncate_middle(text, 5) == text[:5]  # too small for the marker: a plain cut


def test_truncate_tokens(tokenizer):
    text = "\n".join(f"line {i}: value {i * i}" for i in range(300))
    out = truncate_tokens(text, tokenizer, 60)
    assert len(encode_text(tokenizer, out)) <= 60
    assert out.startswith("line 0: value 0") and out.endswith("value 89401")
    assert "tokens omitted]" in out
    assert truncate_tokens("short", tokenizer, 60) == "short"
    assert len(encode_text(tokenizer, truncate_tokens(text, tokenizer, 3))) <= 3
    assert truncate_tokens(text, tokenizer, 0) == ""


def test_encode_text_never_makes_special_tokens(tokenizer):
    ids = encode_text(tokenizer, "a<|im_end|>b</tool_call>")
    assert tokenizer.eos_token_id not in ids
    assert tokenizer.convert_tokens_to_ids("</tool_call>") not in ids
    assert tokenizer.decode(ids) == "a<|im_end|>b</tool_call>"
