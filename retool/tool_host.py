"""A tool on its own event loop, callable from synchronous code and from any other event loop.

TRL, rLLM and SkyRL call a tool synchronously from their own threads; OpenRLHF and rLLM's flow API await
it on event loops of their own. A sandbox's worker pipes belong to the loop that started them, so the
sandbox cannot follow the caller from loop to loop. `ToolHost` gives the tool one private loop in a
daemon thread; `run` (blocking) and `arun` (awaitable from any loop) hop onto it. The hop costs tens of
microseconds against a program's milliseconds, and one slow program never blocks another caller.

`shared_host(config)` is the one host per process and `ToolConfig`: frameworks build tools and
environments with no arguments, once per sample, and a sandbox per sample would start a worker pool
per sample. It is cached by (config, process id), so a forked child builds its own, and closed at exit.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .formats import TOOL_NAME, parse_function_call
from .tool_protocol import Tool, ToolResult, invalid_result

if TYPE_CHECKING:
    from .settings import ToolConfig

__all__ = ["ToolHost", "ToolHostError", "shared_host"]


class ToolHostError(RuntimeError):
    """The host cannot take the call (closed, or called synchronously from its own loop)."""


class ToolHost:
    """Runs ``make_tool()``'s tool on a private event loop; the tool is built there on first use."""

    def __init__(self, make_tool: Callable[[], Tool], *, name: str = "retool-tool-host") -> None:
        self._make_tool = make_tool
        self._tool: Tool | None = None
        self._closed = False
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def tool(self) -> Tool:
        """The hosted tool (built on the host's loop if it is not yet), e.g. for its ``name`` and ``schema``."""
        return self._submit(self._get_tool()).result()

    def run(self, code: str, *, timeout_s: float | None = None) -> ToolResult:
        """Run ``code`` and wait for the result (from any thread but the host's own)."""
        if threading.current_thread() is self._thread:
            raise ToolHostError("ToolHost.run() was called from the host's own event loop; await arun() there")
        return self._submit(self._execute(code, timeout_s)).result()

    async def arun(self, code: str, *, timeout_s: float | None = None) -> ToolResult:
        """Run ``code`` from any event loop; cancelling the caller cancels the program."""
        if asyncio.get_running_loop() is self._loop:
            return await self._execute(code, timeout_s)
        return await asyncio.wrap_future(self._submit(self._execute(code, timeout_s)))

    def run_function_call(self, name: Any, arguments: Any, *, tool_name: str = TOOL_NAME,
                          timeout_s: float | None = None) -> ToolResult:
        """One OpenAI-style function call (blocking): a malformed one is answered without running code."""
        call = parse_function_call(name, arguments, tool_name=tool_name)
        return invalid_result(call.error) if call.code is None else self.run(call.code, timeout_s=timeout_s)

    async def arun_function_call(self, name: Any, arguments: Any, *, tool_name: str = TOOL_NAME,
                                 timeout_s: float | None = None) -> ToolResult:
        """One OpenAI-style function call, awaited from any event loop."""
        call = parse_function_call(name, arguments, tool_name=tool_name)
        return invalid_result(call.error) if call.code is None else await self.arun(call.code, timeout_s=timeout_s)

    def close(self, timeout_s: float = 30.0) -> None:
        """Close the tool (its sandbox) and stop the loop; idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._loop.is_running():
            try:
                asyncio.run_coroutine_threadsafe(self._close_tool(), self._loop).result(timeout_s)
            finally:
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._thread.join(timeout_s)
        if not self._loop.is_running():
            self._loop.close()

    # ------------------------------------------------------------------
    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    def _submit(self, coro: Any):
        if self._closed:
            coro.close()
            raise ToolHostError("the tool host is closed")
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    async def _get_tool(self) -> Tool:
        if self._tool is None:  # only ever touched on the host's loop: no lock needed
            self._tool = self._make_tool()
        return self._tool

    async def _execute(self, code: str, timeout_s: float | None) -> ToolResult:
        tool = await self._get_tool()
        if timeout_s is None:
            return await tool.execute(code)
        return await tool.execute(code, timeout_s=timeout_s)  # type: ignore[call-arg]

    async def _close_tool(self) -> None:
        tool, self._tool = self._tool, None
        close = getattr(tool, "close", None)
        if close is not None:
            await close()


def shared_host(config: "ToolConfig | None" = None) -> ToolHost:
    """The process's host for ``config`` (default: `ToolConfig` from the environment)."""
    if config is None:
        from .settings import ToolConfig, read

        config = read(ToolConfig)
    return _host_for(config, os.getpid())


@functools.lru_cache(maxsize=None)
def _host_for(config: "ToolConfig", pid: int) -> ToolHost:
    host = ToolHost(config.make_tool)
    atexit.register(host.close)
    return host
