"""A statement of the part of rLLM's interface our adapter meets, for testing without rLLM (not on PyPI).

Taken from rllm-org/rllm v0.2.1.post1 (commit 618fa7d43833cc778f022dbef1938a706b558fcc, 2025-12-18):
``rllm/tools/tool_base.py`` (``Tool``, ``ToolOutput``; unchanged on main at 9beb6e0, 2026-08-15 but for a
``to_dict``), ``rllm/tools/multi_tool.py`` (``MultiTool``) and ``rllm/environments/tools/tool_env.py``
(``ToolEnvironment._execute_tool_calls``). Written from their documented behaviour, not copied:

- ``Tool(name=, description=, function=None)``: without ``function``, ``name`` and ``description`` are
  required and ``self.json`` must be non-None at construction.
- ``tool(*args, use_async=False, **kwargs)`` calls ``forward`` (``use_async=True``: ``async_forward``).
- ``ToolOutput(name, output=None, error=None, metadata=None)``; ``str()`` / ``to_string()`` is
  ``"Error: <error>"`` when ``error`` is set, ``""`` when ``output`` is None, JSON for a list/dict, else
  ``str(output)``.
- ``MultiTool(tool_map={name: cls})`` instantiates ``cls(name=name)``; ``forward(tool_name=..., **kw)``
  calls ``tool(**kw)``.
- ``ToolEnvironment`` runs each OpenAI tool call on its own thread: ``json.loads(arguments)``, then
  ``multi_tool(tool_name=name, **args).to_string()``, keyed by the call's ``id``.
"""

from __future__ import annotations

import json
import queue
import threading
import types
from dataclasses import dataclass
from typing import Any

RLLM_VERSION = "v0.2.1.post1 (618fa7d43833cc778f022dbef1938a706b558fcc)"


@dataclass
class ToolOutput:
    name: str
    output: Any = None
    error: str | None = None
    metadata: dict | None = None

    def __str__(self) -> str:
        if self.error:
            return f"Error: {self.error}"
        if self.output is None:
            return ""
        if isinstance(self.output, (list, dict)):
            return json.dumps(self.output)
        return str(self.output)

    def to_string(self) -> str:
        return str(self)


class Tool:
    def __init__(self, name: str | None = None, description: str | None = None, function: Any = None):
        self.name, self.description, self.function = name, description, function
        if function is None:
            if name is None or description is None:
                raise AssertionError("Name and description are required for Tool class.")
            if self.json is None:
                raise AssertionError("Json representation of the tool is required.")

    @property
    def json(self) -> dict[str, Any] | None:
        return None

    def forward(self, *args: Any, **kwargs: Any) -> ToolOutput:
        raise NotImplementedError

    async def async_forward(self, *args: Any, **kwargs: Any) -> ToolOutput:
        return self.forward(*args, **kwargs)

    def __call__(self, *args: Any, use_async: bool = False, **kwargs: Any) -> Any:
        return self.async_forward(*args, **kwargs) if use_async else self.forward(*args, **kwargs)


class MultiTool(Tool):
    def __init__(self, tool_map: dict[str, type]):
        self.tools = list(tool_map)
        self.tool_map = {name: cls(name=name) for name, cls in tool_map.items()}

    @property
    def json(self) -> list[dict[str, Any]]:
        return [tool.json for tool in self.tool_map.values()]

    def forward(self, *args: Any, tool_name: str, **kwargs: Any) -> ToolOutput:
        if tool_name not in self.tool_map:
            return ToolOutput(name=tool_name, output=f"Tool {tool_name} not found in tool map")
        return self.tool_map[tool_name](*args, **kwargs)


def execute_tool_calls(tools: MultiTool, tool_calls: list[dict[str, Any]]) -> dict[str, str]:
    """``ToolEnvironment._execute_tool_calls``: one thread per call, results keyed by call id."""
    out: queue.Queue[tuple[str, str]] = queue.Queue()

    def run(call: dict[str, Any]) -> None:
        args = json.loads(call["function"]["arguments"])
        out.put((call["id"], tools(tool_name=call["function"]["name"], **args).to_string()))

    threads = [threading.Thread(target=run, args=(c,)) for c in tool_calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results: dict[str, str] = {}
    while not out.empty():
        key, text = out.get()
        results[key] = text
    return results


def install(monkeypatch: Any) -> None:
    """Make ``import rllm.tools.tool_base`` find this statement (for the adapter's optional import)."""
    base = types.ModuleType("rllm.tools.tool_base")
    base.Tool, base.ToolOutput = Tool, ToolOutput
    tools = types.ModuleType("rllm.tools")
    tools.tool_base = base
    rllm = types.ModuleType("rllm")
    rllm.tools = tools
    for name, module in (("rllm", rllm), ("rllm.tools", tools), ("rllm.tools.tool_base", base)):
        monkeypatch.setitem(__import__("sys").modules, name, module)
