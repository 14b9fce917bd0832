"""Plain OpenAI-style tool calling: the schema and execute_tool_call, against the real sandbox."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from retool.formats import tool_schema
from retool.integrations.openai_tools import TOOLS, call_parts, execute_tool_call, execute_tool_call_sync
from retool.settings import ToolConfig
from retool.tool_host import ToolHost


@pytest.fixture(scope="module")
def host():
    h = ToolHost(ToolConfig(timeout_s=5, sandbox_workers=1).make_tool)
    yield h
    h.close()


def test_schema_is_the_one_schema():
    assert TOOLS == [tool_schema()]


def test_call_forms():
    sdk = SimpleNamespace(id="a", function=SimpleNamespace(name="code_interpreter", arguments='{"code": "1"}'))
    assert call_parts(sdk) == ("a", "code_interpreter", '{"code": "1"}')
    assert call_parts({"id": "b", "function": {"name": "n", "arguments": {"code": "2"}}}) == ("b", "n", {"code": "2"})


def test_sync_and_async_from_another_loop(host):
    call = {"id": "c", "type": "function",
            "function": {"name": "code_interpreter", "arguments": {"code": "```python\nprint(2 ** 8)\n```"}}}
    assert execute_tool_call_sync(call, host=host) == "256"  # a fenced argument is unwrapped
    assert asyncio.run(execute_tool_call(call, host=host)) == "256"
    wrong = {"function": {"name": "search", "arguments": "{}"}}
    assert execute_tool_call_sync(wrong, host=host).startswith("Error: unknown tool 'search'")
