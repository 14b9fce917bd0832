"""Admission control on its own (no server): hard caps, bounded queue wait, draining; and the service
in front of a backend that is not a `Sandbox` (another service, through `SandboxClient`)."""

from __future__ import annotations

import asyncio
import socket

import pytest

from sandbox.service.admission import Admission, Draining, Overloaded, QueueTimeout
from sandbox.service.config import ServiceConfig, is_loopback
from sandbox import SandboxError

pytest.importorskip("fastapi", reason="the [service] extra (fastapi, uvicorn) is not installed")


async def test_caps_in_flight_and_queued():
    adm = Admission(max_inflight=2, max_queued=3, max_queue_wait_s=5)
    release = asyncio.Event()
    started = []

    async def run(i):
        async with adm.slot():
            started.append(i)
            await release.wait()

    tasks = []
    for i in range(5):  # 2 running + 3 queued fit
        adm.reserve()
        tasks.append(asyncio.create_task(run(i)))
    await asyncio.sleep(0.05)
    assert adm.inflight == 2 and adm.queued == 3 and sorted(started) == [0, 1]
    with pytest.raises(Overloaded) as exc:
        adm.reserve()
    assert exc.value.retry_after_s >= 1
    with pytest.raises(Overloaded):
        adm.reserve(1)  # still full: nothing was admitted by the refusal
    release.set()
    await asyncio.gather(*tasks)
    assert adm.inflight == 0 and adm.queued == 0
    adm.reserve(5)  # a batch reserves all its places at once, or none
    adm.release_reservation(5)
    with pytest.raises(Overloaded):
        adm.reserve(6)


async def test_queue_wait_is_bounded_and_reported():
    adm = Admission(max_inflight=1, max_queued=5, max_queue_wait_s=0.1)
    hold = asyncio.Event()

    async def holder():
        async with adm.slot():
            await hold.wait()

    adm.reserve()
    task = asyncio.create_task(holder())
    await asyncio.sleep(0.01)
    adm.reserve()
    with pytest.raises(QueueTimeout) as exc:
        async with adm.slot():
            pass
    assert exc.value.waited_s >= 0.1 and adm.queued == 0
    hold.set()
    await task
    adm.reserve()
    async with adm.slot() as grant:
        assert 0 <= grant.queue_s < 0.1


async def test_drain_refuses_new_work_and_waits_for_admitted():
    adm = Admission(max_inflight=1, max_queued=1, max_queue_wait_s=5)
    adm.reserve()

    async def run():
        async with adm.slot():
            await asyncio.sleep(0.1)

    task = asyncio.create_task(run())
    assert await adm.drain(5) is True
    await task
    with pytest.raises(Draining):
        adm.reserve()


def test_non_loopback_bind_needs_a_token():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.1.2.3")
    with pytest.raises(SandboxError, match="requires a token"):
        ServiceConfig(host="0.0.0.0")
    assert ServiceConfig(host="0.0.0.0", token="t").token == "t"
    assert ServiceConfig().cap_timeout(10_000) == ServiceConfig().max_timeout_s
    assert ServiceConfig().cap_memory(-1) is None


async def test_service_in_front_of_any_backend():
    """The app takes any `SandboxBackend`: here a `SandboxClient` to another server (as the Ray cluster
    will sit behind `serve`), so a request crosses two services and comes back whole."""
    import uvicorn

    from sandbox.client import SandboxClient
    from sandbox.service import create_app
    from service_server import ServerProcess

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with ServerProcess("--workers", "1") as inner:
        app = create_app(SandboxClient(inner.url), ServiceConfig(port=port, access_log=False))
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                               lifespan="on"))
        serving = asyncio.create_task(server.serve())
        try:
            while not server.started:
                await asyncio.sleep(0.05)
            async with SandboxClient(f"http://127.0.0.1:{port}") as outer:
                r = await outer.run("print(sum(range(10)))")
                assert r.stdout == "45\n"
                async with outer.session() as sess:
                    await sess.run("y = 2")
                    assert (await sess.run("print(y * 21)")).stdout == "42\n"
        finally:
            server.should_exit = True
            await serving
