"""The native HTTP API and `SandboxClient`: runs, batches, sessions over HTTP, the tool pointed at a
URL, metrics, health, auth and bad input."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
import pytest_asyncio

from sandbox import ExecResult, SessionClosed, Status
from sandbox.backend import SandboxBackend, SessionHandle
from sandbox.client import SandboxClient, ServiceError, SyncSandboxClient, client_from_env
from service_server import ServerProcess

pytest.importorskip("fastapi", reason="the [service] extra (fastapi, uvicorn) is not installed")


@pytest.fixture(scope="module")
def server():
    with ServerProcess("--workers", "2", "--max-timeout", "20") as srv:
        yield srv


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(server):
    async with SandboxClient(server.url) as c:
        yield c


async def test_client_has_the_sandbox_interface(client):
    assert isinstance(client, SandboxBackend)
    assert isinstance(client.session(), SessionHandle)


async def test_run_matches_the_engine_result(client):
    r = await client.run("import sys\nprint(sys.stdin.read().upper())", stdin="abc", files={"d/x.txt": b"1"})
    assert r == ExecResult(Status.OK, stdout="ABC\n", stderr="", exit_code=0, duration_s=r.duration_s)
    r = await client.run("print(open('d/x.txt').read())", files={"d/x.txt": "hello"})
    assert r.stdout == "hello\n"
    r = await client.run("raise SystemExit(3)")
    assert r.status is Status.ERROR and r.exit_code == 3
    r = await client.run("while True: pass", timeout_s=0.5)
    assert r.status is Status.TIMEOUT


async def test_run_reply_reports_queue_time_apart(client):
    reply = await client.run_reply("print(1)", ident="abc")
    assert reply.result.ok and reply.queue_s >= 0 and not reply.infrastructure_error


async def test_output_cap_per_request(client):
    r = await client.run("print('x' * 5000)", output_bytes=1000)
    assert r.status is Status.OUTPUT_LIMIT and r.truncated
    r = await client.run("print(1)", output_bytes=10**12)  # above the server's maximum: refused, says why
    assert r.status is Status.REJECTED and "output_bytes" in r.error


async def test_limits_are_capped_by_the_server(client):
    # --max-timeout 20: a request for 10,000 s runs under 20 s (not an error, not 10,000 s)
    r = await client.run("print('capped')", timeout_s=10_000)
    assert r.ok and r.stdout == "capped\n"


async def test_batch_keeps_input_order(client):
    programs = [{"code": f"import time; time.sleep({(7 - i) % 4} * 0.01); print({i})", "id": i} for i in range(40)]
    replies = await client.batch(programs)
    assert [r.result.stdout for r in replies] == [f"{i}\n" for i in range(40)]


async def test_fifty_cell_session_over_http(client):
    async with client.session(display=True) as s:
        await s.run("total = 0")
        for i in range(1, 50):
            r = await s.run(f"total += {i}\ntotal")
            assert r.ok and r.stdout == f"{sum(range(1, i + 1))}\n", r
        assert not s.interpreter_lost and not s.state_reset


async def test_lost_interpreter_is_a_typed_flag(client):
    async with client.session(timeout_s=1) as s:
        await s.run("x = 1")
        r = await s.run("while True: pass")
        assert r.status is Status.TIMEOUT and s.interpreter_lost and not s.state_reset
        r = await s.run("print('x' in globals())")
        assert r.stdout == "False\n"  # never replayed: the state is gone, and the flag says so
        assert s.state_reset and not s.interpreter_lost


async def test_unknown_session_is_lost_not_replayed(server, client):
    async with aiohttp.ClientSession() as http:
        async with http.post(server.url + "/v1/sessions/nope/run", json={"code": "print(1)"}) as resp:
            body = await resp.json()
    assert resp.status == 404 and body["session_lost"] is True
    s = client.session()
    await s.start()
    await s.close()
    with pytest.raises(SessionClosed):
        await s.run("print(1)")


async def test_session_files(client):
    async with client.session(files={"data/n.txt": "41"}) as s:
        r = await s.run("n = int(open('data/n.txt').read())\nprint(n + 1)")
        assert r.stdout == "42\n"


async def test_code_interpreter_tool_uses_the_url(server, monkeypatch):
    from retool.tool import CodeInterpreterTool

    monkeypatch.setenv("RETOOL_SANDBOX_URL", server.url)
    tool = CodeInterpreterTool(timeout_s=5)
    try:
        result = await tool.execute("print(6 * 7)")
        assert result.observation.strip() == "42" and result.status == "ok"
        assert isinstance(tool._sandbox, SandboxClient)
    finally:
        await tool.close()


def test_client_from_env():
    assert client_from_env({}) is None
    c = client_from_env({"RETOOL_SANDBOX_URL": "http://h:1/", "RETOOL_SANDBOX_TOKEN": "t"})
    assert c.url == "http://h:1" and c.token == "t"


def test_sync_client(server):
    with SyncSandboxClient(server.url) as c:
        assert c.run("print(2 ** 10)").stdout == "1024\n"
        assert [r.result.stdout for r in c.batch([{"code": "print(1)"}, {"code": "print(2)"}])] == ["1\n", "2\n"]


async def test_health_ready_metrics_and_log(server, client):
    assert (await client.run("print(1)")).ok
    async with aiohttp.ClientSession() as http:
        async with http.get(server.url + "/healthz") as r:
            assert r.status == 200
        async with http.get(server.url + "/readyz") as r:
            assert r.status == 200 and (await r.json())["ready"] is True
        async with http.get(server.url + "/metrics") as r:
            text = await r.text()
    for name in ("sandbox_requests_total", "sandbox_run_seconds_bucket", "sandbox_queue_wait_seconds_bucket",
                 "sandbox_queue_depth", "sandbox_inflight_runs", "sandbox_workers_live ",
                 "sandbox_sessions_live", "sandbox_worker_restarts", 'sandbox_runs_total{status="ok"}'):
        assert name in text, name
    live = next(line for line in text.splitlines() if line.startswith("sandbox_workers_live "))
    assert float(live.split()[1]) >= 2
    lines = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
    run = next(line for line in lines if line["endpoint"] == "/v1/run")
    assert {"id", "endpoint", "http_status", "status", "queue_s", "run_s", "total_s"} <= set(run)


async def test_malformed_json_and_wrong_fields(server):
    async with aiohttp.ClientSession() as http:
        async with http.post(server.url + "/v1/run", data=b'{"code": "print(1)"') as r:
            body = await r.json()
            assert r.status == 400 and body["code"] == "invalid_json"
        async with http.post(server.url + "/v1/run", json={"code": 5}) as r:
            body = await r.json()
            assert r.status == 422 and "code" in body["error"]
        async with http.post(server.url + "/run_code", data=b"\xff\xfe") as r:
            assert r.status == 400
        async with http.post(server.url + "/v1/run", json={"code": "print(1)", "files": {"../x": "eA=="}}) as r:
            assert r.status == 400 and (await r.json())["code"] == "bad_path"
        async with http.get(server.url + "/readyz") as r:
            assert r.status == 200  # still serving


async def test_hundred_megabyte_body_is_refused_early(server):
    big = b'{"code": "' + b"x" * (100 * 1024 * 1024) + b'"}'
    async with aiohttp.ClientSession() as http:
        try:
            async with http.post(server.url + "/v1/run", data=big) as r:
                assert r.status == 413
        except (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError):
            pass  # the server may answer 413 and close before the client finished sending
        # without Content-Length (chunked): counted as it streams

        async def chunks():
            for _ in range(100):
                yield b"x" * (1024 * 1024)

        try:
            async with http.post(server.url + "/v1/run", data=chunks()) as r:
                assert r.status == 413
        except (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError):
            pass
        async with http.post(server.url + "/v1/run", json={"code": "print('alive')"}) as r:
            assert (await r.json())["stdout"] == "alive\n"


def test_auth_required_for_non_loopback_bind():
    from sandbox.cli import main

    assert main(["serve", "--host", "0.0.0.0", "--port", "1"]) == 2


async def test_auth_on():
    with ServerProcess("--workers", "1", "--token", "s3cret") as srv:
        async with aiohttp.ClientSession() as http:
            async with http.post(srv.url + "/v1/run", json={"code": "print(1)"}) as r:
                assert r.status == 401
            async with http.post(srv.url + "/run_code", json={"code": "print(1)", "language": "python"},
                                 headers={"Authorization": "Bearer wrong"}) as r:
                assert r.status == 401
            async with http.get(srv.url + "/healthz") as r:
                assert r.status == 200  # probes stay open
        async with SandboxClient(srv.url, token="s3cret") as c:
            assert (await c.run("print(1)")).stdout == "1\n"
        async with SandboxClient(srv.url) as c:
            with pytest.raises(ServiceError, match="401"):
                await c.run("print(1)")


async def test_idle_sessions_expire():
    with ServerProcess("--workers", "1", "--session-idle", "1") as srv:
        async with SandboxClient(srv.url) as c:
            s = c.session()
            await s.start()
            await s.run("x = 1")
            await asyncio.sleep(2.5)
            with pytest.raises(SessionClosed):
                await s.run("print(x)")
            async with aiohttp.ClientSession() as http:
                async with http.get(srv.url + "/metrics") as r:
                    assert "sandbox_sessions_live 0.0" in await r.text()


async def test_client_against_nothing_reports_infrastructure_errors():
    from sandbox.client import ServiceUnavailable
    from service_server import free_port

    async with SandboxClient(f"http://127.0.0.1:{free_port()}", retries=2, backoff_s=0.01) as c:
        reply = await c.run_reply("print(1)")
        assert reply.result.status is Status.SANDBOX_ERROR and reply.infrastructure_error
        assert [r.infrastructure_error for r in await c.batch([{"code": "print(1)"}])] == [True]
        assert await c.ping() is False
        with pytest.raises(ServiceUnavailable):
            await c.session().start()
