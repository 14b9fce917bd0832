"""ToolHost: a tool on its own event loop, called synchronously, from threads and from other loops."""

from __future__ import annotations

import asyncio
import threading

import pytest

from retool.formats import tool_schema
from retool.tool_host import ToolHost, ToolHostError
from retool.tool_protocol import ToolResult, ToolStatus


class LoopTool:
    """Records which loop it runs on; sleeps so concurrent callers overlap."""

    name = "code_interpreter"
    schema = tool_schema()

    def __init__(self):
        self.loops = set()
        self.closed = False

    async def execute(self, code: str, *, timeout_s: float | None = None) -> ToolResult:
        self.loops.add(asyncio.get_running_loop())
        await asyncio.sleep(0.05)
        return ToolResult(f"{code}:{timeout_s}", ToolStatus.OK, 0.05)

    async def close(self):
        self.closed = True


def test_sync_threads_and_other_loops_all_run_on_the_host_loop():
    tool = LoopTool()
    host = ToolHost(lambda: tool)
    try:
        assert host.run("a").observation == "a:None"
        results = []
        threads = [threading.Thread(target=lambda i=i: results.append(host.run(str(i)).observation)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results) == sorted(f"{i}:None" for i in range(8))

        async def other_loop():
            return await asyncio.gather(*(host.arun("b", timeout_s=1) for _ in range(4)))

        assert [r.observation for r in asyncio.run(other_loop())] == ["b:1"] * 4
        assert tool.loops == {host.loop}
        bad = host.run_function_call("code_interpreter", {"cod": "x"})
        assert bad.status is ToolStatus.INVALID and "missing the 'code' argument" in bad.observation
    finally:
        host.close()
    assert tool.closed
    with pytest.raises(ToolHostError, match="closed"):
        host.run("c")


def test_run_from_the_host_loop_is_refused():
    host = ToolHost(LoopTool)
    try:
        async def inside():
            with pytest.raises(ToolHostError, match="await arun"):
                host.run("x")
            return (await host.arun("y")).observation

        assert asyncio.run_coroutine_threadsafe(inside(), host.loop).result(5) == "y:None"
    finally:
        host.close()
