"""Plain OpenAI-style tool calling, for any framework or agent loop that speaks chat completions.

    from retool.integrations.openai_tools import TOOLS, execute_tool_call

    response = await client.chat.completions.create(model=..., messages=messages, tools=TOOLS)
    for call in response.choices[0].message.tool_calls or []:
        messages.append({"role": "tool", "tool_call_id": call.id, "content": await execute_tool_call(call)})

``call`` may be an OpenAI SDK tool-call object or its dict form (``{"id", "type": "function", "function":
{"name", "arguments"}}``, arguments as a JSON string or an object). The result is the text the model
reads: stdout, then the traceback, then a note when the run did not end normally; a malformed call is
answered with what to fix and never raises. `execute_tool_call_sync` is the same for synchronous code.
The code runs in our sandbox through the process's `retool.tool_host.shared_host` (limits from the
``RETOOL_*`` variables: `retool.settings`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from retool.formats import TOOL_NAME, tool_schema
from retool.tool_host import ToolHost, shared_host

__all__ = ["TOOL_NAME", "TOOL_SCHEMA", "TOOLS", "execute_tool_call", "execute_tool_call_sync", "call_parts"]

TOOL_SCHEMA: dict[str, Any] = tool_schema()
TOOLS: list[dict[str, Any]] = [TOOL_SCHEMA]


def call_parts(call: Any) -> tuple[str | None, Any, Any]:
    """(id, name, arguments) of an OpenAI tool call given as an SDK object or a dict."""
    if isinstance(call, Mapping):
        function = call.get("function", call)
        get = function.get if isinstance(function, Mapping) else (lambda k, d=None: getattr(function, k, d))
        return call.get("id"), get("name"), get("arguments")
    function = getattr(call, "function", call)
    return getattr(call, "id", None), getattr(function, "name", None), getattr(function, "arguments", None)


async def execute_tool_call(call: Any, *, host: ToolHost | None = None, tool_name: str = TOOL_NAME) -> str:
    """Run one tool call from any event loop; returns the observation text (never raises for the call)."""
    _, name, arguments = call_parts(call)
    result = await (host or shared_host()).arun_function_call(name, arguments, tool_name=tool_name)
    return result.observation


def execute_tool_call_sync(call: Any, *, host: ToolHost | None = None, tool_name: str = TOOL_NAME) -> str:
    """`execute_tool_call` for synchronous code (blocks the calling thread, not an event loop's)."""
    _, name, arguments = call_parts(call)
    return (host or shared_host()).run_function_call(name, arguments, tool_name=tool_name).observation
