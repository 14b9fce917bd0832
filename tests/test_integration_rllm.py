"""rLLM adapter against a statement of rLLM's tool interface (tests/rllm_interface.py: rLLM is not on
PyPI), with the real sandbox behind it; plus the flow API's tool spec and async helper."""

from __future__ import annotations

import importlib
import json
from types import SimpleNamespace

import pytest

import retool.integrations.rllm as adapter
from retool.settings import ToolConfig
from retool.tool_host import ToolHost

import rllm_interface as rllm


@pytest.fixture(scope="module")
def host():
    h = ToolHost(ToolConfig(timeout_s=2.0, sandbox_workers=2).make_tool)
    yield h
    h.close()


@pytest.fixture
def with_rllm(monkeypatch, host):
    rllm.install(monkeypatch)
    module = importlib.reload(adapter)
    assert module.RLLM_AVAILABLE and issubclass(module.PythonTool, rllm.Tool)

    class HostedTool(module.PythonTool):  # the module's own class, bound to the test's sandbox
        def __init__(self, name: str = "python"):
            super().__init__(name=name, host=host)

    yield module, HostedTool
    monkeypatch.undo()
    importlib.reload(adapter)


def _call(i: int, code: str, **extra) -> dict:
    return {"id": f"call_{i}", "type": "function",
            "function": {"name": "python", "arguments": json.dumps({"code": code, **extra})}}


def test_tool_env_runs_calls_in_threads_and_keeps_stdout_and_errors(with_rllm):
    module, HostedTool = with_rllm
    tools = rllm.MultiTool(tool_map={"python": HostedTool})  # rLLM builds the tool with name= only
    assert tools.json == [module.TOOLS[0]] and tools.json[0]["function"]["name"] == "python"
    out = rllm.execute_tool_calls(tools, [
        _call(0, "print('seen')\n6 * 7"),  # rLLM's own local tool returns only 42 here
        _call(1, "print('before')\n1 / 0"),
        _call(2, "import time\ntime.sleep(5)", timeout=1),
        _call(3, ""),
    ])
    assert out["call_0"] == "seen"
    assert out["call_1"].startswith("before\n") and "ZeroDivisionError" in out["call_1"]
    assert "[timeout" in out["call_2"]
    assert out["call_3"].startswith("Error: ") and "empty" in out["call_3"]


def test_tool_output_metadata_and_async_forward(with_rllm, host):
    module, HostedTool = with_rllm
    tool = HostedTool()
    result = tool(code="print(1 + 1)")
    assert isinstance(result, rllm.ToolOutput) and result.to_string() == "2"
    assert result.metadata["status"] == "ok" and result.error is None
    import asyncio

    out = asyncio.run(tool(code="print(3)", use_async=True))
    assert out.to_string() == "3"


def test_without_rllm_the_same_interface_stands():
    assert not adapter.RLLM_AVAILABLE or adapter.PythonTool.__module__ == "retool.integrations.rllm"
    tool = adapter.PythonTool(name="python")
    assert tool.name == "python" and tool.json["function"]["parameters"]["required"] == ["code"]


async def test_flow_api_helper_takes_sdk_objects_and_dicts(host):
    sdk_call = SimpleNamespace(id="c1", type="function",
                               function=SimpleNamespace(name="python", arguments='{"code": "print(40 + 2)"}'))
    assert await adapter.execute_tool_call(sdk_call, host=host) == "42"
    bad = {"id": "c2", "type": "function", "function": {"name": "python", "arguments": "{not json"}}
    assert (await adapter.execute_tool_call(bad, host=host)).startswith("Error: 'arguments' is a string that is not valid JSON")
