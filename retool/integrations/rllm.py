"""rLLM adapter: our sandboxed interpreter as an rLLM ``Tool``, and the pieces for rLLM's flow API.

Matched against rLLM's source (rllm-org/rllm; ``rllm/tools/tool_base.py``, ``rllm/tools/multi_tool.py``
and ``rllm/environments/tools/tool_env.py`` at v0.2.1.post1, 618fa7d; the tool base is unchanged on main
at 9beb6e0, 2026-08). rLLM is not on PyPI, so this module imports ``rllm`` only when it is installed and
otherwise subclasses nothing (see `PythonTool`).

**ToolAgent / ToolEnvironment** (rLLM <= 0.2)::

    from retool.integrations.rllm import PythonTool
    env_args = {"tool_map": {"python": PythonTool}, "reward_fn": math_reward_fn}
    agent_args = {"tool_map": {"python": PythonTool}, "parser_name": "qwen"}

rLLM builds each tool as ``tool_cls(name="python")`` and calls ``tool(code=..., timeout=...)`` from a
thread per call; `PythonTool.forward` runs the code in our sandbox and returns a ``ToolOutput`` whose
text keeps stdout *and* errors (rLLM's own local interpreter returns only the value of the last line
when there is one, dropping what was printed, and runs in-process). It never raises.

**Flow API** (rLLM main: ``@rllm.rollout`` functions calling an OpenAI client)::

    from retool.integrations.rllm import TOOLS, execute_tool_call
    response = await client.chat.completions.create(model=config.model, messages=messages, tools=TOOLS)
    for tc in response.choices[0].message.tool_calls or []:
        messages.append({"role": "tool", "tool_call_id": tc.id, "content": await execute_tool_call(tc)})

The tool is named ``python`` here, as in rLLM's examples; limits come from ``RETOOL_*`` (`retool.settings`).
"""

from __future__ import annotations

from typing import Any

from retool.formats import DESCRIPTION, tool_schema
from retool.integrations import openai_tools
from retool.tool_host import ToolHost, shared_host

try:  # rLLM is optional: without it the class keeps the same interface
    from rllm.tools.tool_base import Tool as _RllmTool
    from rllm.tools.tool_base import ToolOutput

    RLLM_AVAILABLE = True
except ImportError:
    from dataclasses import dataclass

    RLLM_AVAILABLE = False

    class _RllmTool:  # type: ignore[no-redef]
        """rLLM's ``Tool`` constructor and call routing, for use without rLLM installed."""

        def __init__(self, name: str | None = None, description: str | None = None, function: Any = None):
            self.name = name
            self.description = description
            self.function = function

        def __call__(self, *args: Any, use_async: bool = False, **kwargs: Any) -> Any:
            return self.async_forward(*args, **kwargs) if use_async else self.forward(*args, **kwargs)

    @dataclass
    class ToolOutput:  # type: ignore[no-redef]
        """rLLM's ``ToolOutput``: ``str()`` is ``Error: ...`` when ``error`` is set, else the output."""

        name: str
        output: Any = None
        error: str | None = None
        metadata: dict | None = None

        def __str__(self) -> str:
            if self.error:
                return f"Error: {self.error}"
            return "" if self.output is None else str(self.output)

        def to_string(self) -> str:
            return str(self)


__all__ = ["RLLM_AVAILABLE", "PythonTool", "ToolOutput", "TOOL_NAME", "TOOLS", "execute_tool_call"]

TOOL_NAME = "python"
TOOLS: list[dict[str, Any]] = [tool_schema(TOOL_NAME)]


class PythonTool(_RllmTool):
    """rLLM ``Tool`` running code in our sandbox; ``PythonTool(name="python")`` is all rLLM passes."""

    def __init__(self, name: str = TOOL_NAME, description: str = DESCRIPTION, *, host: ToolHost | None = None):
        self._host = host
        super().__init__(name=name, description=description)

    @property
    def json(self) -> dict[str, Any]:
        """The OpenAI schema rLLM renders into the prompt (our one schema, under this tool's name)."""
        return tool_schema(self.name or TOOL_NAME)

    def forward(self, code: str = "", timeout: float | None = None, **kwargs: Any) -> ToolOutput:
        """Run ``code`` (``timeout`` can only shorten our limit). The output text is what the model reads:
        stdout, the traceback, a note for a timeout or refusal; ``metadata["status"]`` says what happened."""
        host = self._host or shared_host()
        result = host.run_function_call(self.name, {"code": code}, tool_name=self.name, timeout_s=timeout)
        return ToolOutput(name=self.name or TOOL_NAME, output=result.observation,
                          metadata={"status": result.status.value, "duration_s": result.duration_s})

    async def async_forward(self, code: str = "", timeout: float | None = None, **kwargs: Any) -> ToolOutput:
        host = self._host or shared_host()
        result = await host.arun_function_call(self.name, {"code": code}, tool_name=self.name, timeout_s=timeout)
        return ToolOutput(name=self.name or TOOL_NAME, output=result.observation,
                          metadata={"status": result.status.value, "duration_s": result.duration_s})


async def execute_tool_call(call: Any, *, host: ToolHost | None = None) -> str:
    """Run one OpenAI tool call to ``python`` (an SDK object or a dict); returns the observation text."""
    return await openai_tools.execute_tool_call(call, host=host, tool_name=TOOL_NAME)
