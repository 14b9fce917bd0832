"""Loopback load at concurrency 256 through `SandboxClient`, each program printing its own id: none
lost, none mismatched, no queue timeouts (overload is 429 + retry), and the server's memory flat.

The suite runs 2,000 requests (~15 s on 2 cores); the full 10,000 (~55 s) is the loopback check of
bench/service_load.py, or this test with SERVICE_LOAD_REQUESTS=10000."""

from __future__ import annotations

import asyncio
import json
import os
import urllib.request

import psutil
import pytest

from sandbox import Status
from sandbox.client import SandboxClient
from service_server import ServerProcess

pytest.importorskip("fastapi", reason="the [service] extra (fastapi, uvicorn) is not installed")

REQUESTS = int(os.environ.get("SERVICE_LOAD_REQUESTS", "2000"))
CONCURRENCY = 256


def _metric(url: str, name: str) -> float:
    with urllib.request.urlopen(url + "/metrics", timeout=10) as r:
        text = r.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


@pytest.mark.slow
async def test_many_requests_at_256():
    # A small queue on purpose, so that overload happens and must come back as 429s, not timeouts.
    with ServerProcess("--workers", "2", "--max-queued", "200", "--no-access-log") as srv:
        server = psutil.Process(srv.proc.pid)
        async with SandboxClient(srv.url, connections=CONCURRENCY, retries=50, max_backoff_s=1.0) as client:
            gate = asyncio.Semaphore(CONCURRENCY)
            await asyncio.gather(*(client.run(f"print({i})") for i in range(200)))  # warm: pools, caches
            rss_before = server.memory_info().rss

            async def one(i: int):
                async with gate:
                    return await client.run_reply(f"print({i})", ident=i)

            replies = await asyncio.gather(*(one(i) for i in range(REQUESTS)))
            rss_after = server.memory_info().rss
        lost = [i for i, r in enumerate(replies) if r.result.status is not Status.OK]
        mismatched = [i for i, r in enumerate(replies) if r.result.ok and r.result.stdout != f"{i}\n"]
        queue_timeouts = _metric(srv.url, 'sandbox_rejections_total{reason="queue_timeout"}')
        rejected = _metric(srv.url, 'sandbox_rejections_total{reason="overloaded"}')
        growth_mb = (rss_after - rss_before) / 2**20
        print(json.dumps({"requests": REQUESTS, "lost": len(lost), "mismatched": len(mismatched),
                          "queue_timeouts": queue_timeouts, "rejected_429": rejected,
                          "rss_growth_mb": round(growth_mb, 1)}))
        assert not lost, [replies[i].result for i in lost[:3]]
        assert not mismatched
        assert queue_timeouts == 0
        assert growth_mb <= 50
