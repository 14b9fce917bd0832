"""`SandboxClient`: the `Sandbox` interface (`run`, `session`, `start`, `close`) over HTTP.

Point any consumer at a running ``python -m sandbox serve`` by setting ``RETOOL_SANDBOX_URL`` (and
``RETOOL_SANDBOX_TOKEN`` when the server wants one); `client_from_env` builds the client from them.

What the client does so a trainer does not have to: one pooled keep-alive connection set; retries
with full jitter on 429, 503 and connection failures, waiting at least what ``Retry-After`` says;
a per-request timeout derived from the run's own timeout; sessions pinned to the server that holds
them (a session is never silently moved or replayed). When retries run out, `run` returns a
``sandbox_error`` result (our failure, retryable) rather than raising, like `Sandbox.run`.
"""

from __future__ import annotations

import asyncio
import base64
import os
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from .types import ExecResult, SandboxError, SessionClosed, SessionLimitReached, Status

URL_ENV = "RETOOL_SANDBOX_URL"
TOKEN_ENV = "RETOOL_SANDBOX_TOKEN"
_RETRY_STATUSES = frozenset({429, 502, 503, 504})
_CONNECT_ERRORS = (aiohttp.ClientConnectionError, asyncio.TimeoutError, ConnectionError)


@dataclass(frozen=True)
class RunReply:
    """A run's result plus what the service adds: queue time and the infrastructure flag."""

    result: ExecResult
    queue_s: float = 0.0
    infrastructure_error: bool = False
    interpreter_lost: bool = False
    state_reset: bool = False


class ServiceError(SandboxError):
    """The service refused a request for a reason retrying will not fix (bad request, auth)."""

    def __init__(self, http_status: int, code: str, message: str) -> None:
        super().__init__(f"HTTP {http_status} {code}: {message}")
        self.http_status = http_status
        self.code = code


class ServiceUnavailable(SandboxError):
    """The service could not be reached or stayed full through every retry (for calls that cannot
    answer with a ``sandbox_error`` result instead: starting a session, ping)."""


class _Retryable(Exception):
    """A failure worth retrying; ``maybe_ran`` when the request may have reached the server and run."""

    def __init__(self, message: str, retry_after_s: float | None = None, *, maybe_ran: bool = False) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.maybe_ran = maybe_ran


def _encode_files(files: Mapping[str, str | bytes] | None) -> dict[str, str]:
    out = {}
    for name, data in (files or {}).items():
        raw = data.encode() if isinstance(data, str) else bytes(data)
        out[name] = base64.b64encode(raw).decode()
    return out


def _text(value: str | bytes | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return bytes(value).decode("utf-8", errors="surrogateescape")


def _result(body: dict) -> ExecResult:
    return ExecResult.from_dict(body)


class SandboxClient:
    """Async client for one sandbox service (or a load balancer in front of several).

    ``retries`` bounds the attempts on retryable answers; ``max_backoff_s`` caps one wait;
    ``timeout_margin_s`` is added to a run's own timeout (plus the server's queue bound is the
    caller's to include via ``queue_timeout_s``) to give the whole HTTP request its deadline.
    """

    def __init__(self, url: str, token: str | None = None, *, connections: int = 256, retries: int = 8,
                 backoff_s: float = 0.05, max_backoff_s: float = 10.0, default_timeout_s: float = 10.0,
                 queue_timeout_s: float = 60.0, timeout_margin_s: float = 15.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise SandboxError(f"sandbox URL must start with http:// or https://, not {url!r}")
        self.url = url.rstrip("/")
        self.token = token
        self.connections = connections
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.default_timeout_s = default_timeout_s
        self.queue_timeout_s = queue_timeout_s
        self.timeout_margin_s = timeout_margin_s
        self._http: aiohttp.ClientSession | None = None
        self._lock = asyncio.Lock()

    # ------------------------------------------------------------------ lifecycle
    async def __aenter__(self) -> "SandboxClient":
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def start(self) -> None:
        if self._http is None:
            headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
            connector = aiohttp.TCPConnector(limit=self.connections, limit_per_host=self.connections,
                                             keepalive_timeout=25)
            self._http = aiohttp.ClientSession(connector=connector, headers=headers)

    async def close(self) -> None:
        if self._http is not None:
            http, self._http = self._http, None
            await http.close()

    # ------------------------------------------------------------------ transport
    async def _post_once(self, path: str, body: dict | None, timeout_s: float, method: str = "POST") -> tuple[int, Any]:
        if self._http is None:
            await self.start()
        try:
            async with self._http.request(method, self.url + path, json=body,
                                          timeout=aiohttp.ClientTimeout(total=timeout_s)) as resp:
                if resp.status == 204:
                    return 204, None
                data = await resp.json(content_type=None)
                if resp.status in _RETRY_STATUSES:
                    after = resp.headers.get("Retry-After")
                    raise _Retryable(f"HTTP {resp.status}: {data.get('error') if isinstance(data, dict) else data}",
                                     float(after) if after and after.replace(".", "", 1).isdigit() else None)
                return resp.status, data
        except aiohttp.ClientConnectorError as exc:  # never connected: nothing was sent
            raise _Retryable(f"cannot connect to {self.url}: {exc}") from exc
        except _CONNECT_ERRORS as exc:
            raise _Retryable(f"{type(exc).__name__}: {exc}", maybe_ran=True) from exc
        except aiohttp.ContentTypeError as exc:
            raise _Retryable(f"a reply that is not JSON: {exc}") from exc

    async def _request(self, path: str, body: dict | None, timeout_s: float, *, method: str = "POST",
                       retry_connection: bool = True) -> tuple[int, Any]:
        """With retries: full jitter, never shorter than Retry-After. A connection lost after the
        request was sent is retried only when ``retry_connection`` (a stateless run may run twice)."""
        delay = self.backoff_s
        for attempt in range(self.retries + 1):
            try:
                return await self._post_once(path, body, timeout_s, method)
            except _Retryable as exc:
                if attempt == self.retries or (exc.maybe_ran and not retry_connection):
                    raise
                wait = random.uniform(0, delay)
                if exc.retry_after_s is not None:
                    wait = exc.retry_after_s + random.uniform(0, min(exc.retry_after_s, 1.0))
                await asyncio.sleep(min(wait, self.max_backoff_s))
                delay = min(delay * 2, self.max_backoff_s)
        raise AssertionError("unreachable")

    def _deadline(self, timeout_s: float | None) -> float:
        return (timeout_s or self.default_timeout_s) + self.queue_timeout_s + self.timeout_margin_s

    @staticmethod
    def _raise_for(status: int, data: Any) -> None:
        if status == 200:
            return
        if isinstance(data, dict):
            if data.get("session_lost"):
                raise SessionClosed(f"the session is gone ({data.get('code')}): {data.get('error')}")
            if data.get("code") == "sessions_full":
                raise SessionLimitReached(data.get("error", "too many sessions"))
            raise ServiceError(status, str(data.get("code", "error")), str(data.get("error", data)))
        raise ServiceError(status, "error", str(data))

    # ------------------------------------------------------------------ runs
    async def run_reply(self, code: str | bytes, timeout_s: float | None = None, memory_mb: int | None = None,
                        stdin: str | bytes | None = None, files: Mapping[str, str | bytes] | None = None, *,
                        output_bytes: int | None = None, ident: str | int | None = None) -> RunReply:
        """`run` with the service's extra facts (queue time, infrastructure flag)."""
        body = {"code": _text(code), "timeout_s": timeout_s, "memory_mb": memory_mb, "stdin": _text(stdin),
                "files": _encode_files(files), "output_bytes": output_bytes, "id": ident}
        started = time.monotonic()
        try:
            status, data = await self._request("/v1/run", body, self._deadline(timeout_s))
        except _Retryable as exc:
            return RunReply(ExecResult(Status.SANDBOX_ERROR, error=f"sandbox service unavailable: {exc}",
                                       duration_s=time.monotonic() - started), infrastructure_error=True)
        self._raise_for(status, data)
        return RunReply(_result(data), queue_s=data.get("queue_s", 0.0),
                        infrastructure_error=bool(data.get("infrastructure_error")))

    async def run(self, code: str | bytes, timeout_s: float | None = None, memory_mb: int | None = None,
                  stdin: str | bytes | None = None, files: Mapping[str, str | bytes] | None = None, *,
                  output_bytes: int | None = None) -> ExecResult:
        """Run one program on the service; never raises for anything the program does."""
        reply = await self.run_reply(code, timeout_s, memory_mb, stdin, files, output_bytes=output_bytes)
        return reply.result

    async def batch(self, programs: list[Mapping[str, Any]]) -> list[RunReply]:
        """Many programs in one request (each a dict of `run`'s arguments); replies in input order."""
        items = [{"code": _text(p["code"]), "timeout_s": p.get("timeout_s"), "memory_mb": p.get("memory_mb"),
                  "stdin": _text(p.get("stdin")), "files": _encode_files(p.get("files")),
                  "output_bytes": p.get("output_bytes"), "id": p.get("id")}
                 for p in programs]
        longest = max((p.get("timeout_s") or self.default_timeout_s for p in programs), default=0)
        try:
            status, data = await self._request("/v1/batch", {"programs": items},
                                               self._deadline(longest) + len(programs) * 0.01)
        except _Retryable as exc:
            failed = ExecResult(Status.SANDBOX_ERROR, error=f"sandbox service unavailable: {exc}")
            return [RunReply(failed, infrastructure_error=True) for _ in programs]
        self._raise_for(status, data)
        return [RunReply(_result(r), queue_s=r.get("queue_s", 0.0),
                         infrastructure_error=bool(r.get("infrastructure_error"))) for r in data["results"]]

    # ------------------------------------------------------------------ sessions
    def session(self, *, memory_mb: int | None = None, timeout_s: float | None = None, display: bool = False,
                wait_s: float | None = None, files: Mapping[str, str | bytes] | None = None) -> "RemoteSession":
        return RemoteSession(self, memory_mb=memory_mb, timeout_s=timeout_s, display=display, wait_s=wait_s,
                             files=files)

    async def ping(self) -> bool:
        """True when the service answers; False when it cannot be reached (after the retries)."""
        try:
            status, data = await self._request("/v1/ping", None, 5.0, method="GET")
        except _Retryable:
            return False
        return status == 200 and data == "pong"


class RemoteSession:
    """A session held by one server; every cell goes to that server (pinned by URL), never retried
    after it may have run (a retry could run a cell twice against the same state)."""

    def __init__(self, client: SandboxClient, *, memory_mb, timeout_s, display, wait_s, files) -> None:
        self.client = client
        self.options = {"memory_mb": memory_mb, "timeout_s": timeout_s, "display": display,
                        "files": _encode_files(files)}
        self.wait_s = wait_s
        self.session_id: str | None = None
        self.instance: str | None = None
        self.interpreter_lost = False
        self.state_reset = False
        self._closed = False

    async def __aenter__(self) -> "RemoteSession":
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def start(self) -> None:
        deadline = time.monotonic() + (self.wait_s or 0)
        while True:
            try:
                status, data = await self.client._request("/v1/sessions", self.options, self.client._deadline(None))
                self.client._raise_for(status, data)
                break
            except _Retryable as exc:
                if time.monotonic() >= deadline:
                    raise ServiceUnavailable(f"cannot open a session on {self.client.url}: {exc}") from None
                await asyncio.sleep(random.uniform(0.05, 0.5))
            except SessionLimitReached:
                if time.monotonic() >= deadline:
                    raise
                await asyncio.sleep(random.uniform(0.05, 0.5))
        self.session_id = data["session_id"]
        self.instance = data.get("instance")

    async def run(self, code: str | bytes, timeout_s: float | None = None, *,
                  display: bool | None = None) -> ExecResult:
        if self._closed or self.session_id is None:
            raise SessionClosed("session is closed" if self._closed else "session was not started")
        body = {"code": _text(code), "timeout_s": timeout_s, "display": display}
        try:
            status, data = await self.client._request(f"/v1/sessions/{self.session_id}/run", body,
                                                      self.client._deadline(timeout_s or self.options["timeout_s"]),
                                                      retry_connection=False)
        except _Retryable as exc:
            self.interpreter_lost, self.state_reset = True, False
            return ExecResult(Status.SANDBOX_ERROR, error=f"sandbox service unavailable: {exc}")
        if status != 200:
            self._closed = bool(isinstance(data, dict) and data.get("session_lost"))
        self.client._raise_for(status, data)
        self.interpreter_lost = bool(data.get("interpreter_lost"))
        self.state_reset = bool(data.get("state_reset"))
        return _result(data)

    async def close(self) -> None:
        if self._closed or self.session_id is None:
            self._closed = True
            return
        self._closed = True
        try:
            await self.client._request(f"/v1/sessions/{self.session_id}", None, 30.0, method="DELETE",
                                       retry_connection=False)
        except _Retryable:
            pass  # the server is gone, and its sessions with it


class SyncSandboxClient:
    """Blocking wrapper for scripts and reward functions outside an event loop: one private loop
    in a background thread, so the connection pool is shared across calls."""

    def __init__(self, url: str, token: str | None = None, **kwargs) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="sandbox-client", daemon=True)
        self._thread.start()
        self._client = SandboxClient(url, token, **kwargs)

    def _call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def run(self, code: str | bytes, timeout_s: float | None = None, memory_mb: int | None = None,
            stdin: str | bytes | None = None, files: Mapping[str, str | bytes] | None = None) -> ExecResult:
        return self._call(self._client.run(code, timeout_s, memory_mb, stdin, files))

    def batch(self, programs: list[Mapping[str, Any]]) -> list[RunReply]:
        return self._call(self._client.batch(programs))

    def close(self) -> None:
        if self._loop.is_running():
            self._call(self._client.close())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
            self._loop.close()

    def __enter__(self) -> "SyncSandboxClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def client_from_env(environ: Mapping[str, str] | None = None, **kwargs) -> SandboxClient | None:
    """A client for ``$RETOOL_SANDBOX_URL`` (token from ``$RETOOL_SANDBOX_TOKEN``), or None when unset."""
    env = os.environ if environ is None else environ
    url = env.get(URL_ENV, "").strip()
    if not url:
        return None
    return SandboxClient(url, env.get(TOKEN_ENV) or None, **kwargs)


__all__ = ["RemoteSession", "RunReply", "SandboxClient", "ServiceError", "ServiceUnavailable", "SyncSandboxClient",
           "TOKEN_ENV", "URL_ENV", "client_from_env"]
