"""The HTTP application: SandboxFusion-compatible and native endpoints over any `SandboxBackend`.

Every endpoint that runs code goes through admission (`admission.py`) and is cancelled when its
client disconnects, so the worker is freed instead of finishing work for nobody. A thin ASGI layer in
front (`gate.Gate`) does what every request needs before routing: request id, bearer-token check, body
cap (refused before the body is read), one JSON log line and the request counter.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, ValidationError

from ..backend import SandboxBackend
from ..types import ExecResult, SandboxError, SessionClosed, SessionLimitReached, Status
from . import access_log
from .admission import Admission, Draining, Overloaded, QueueTimeout
from .config import ServiceConfig
from .errors import ApiError, BodyTooLarge, ClientGone
from .fusion import BadRequest, Fusion, check_path
from .gate import Gate
from .metrics import CONTENT_TYPE, Metrics
from .models import (
    BatchRequest,
    BatchResponse,
    RunCodeRequest,
    RunJupyterRequest,
    RunRequest,
    RunResponse,
    SessionCreated,
    SessionRequest,
    SessionRunRequest,
    SessionRunResponse,
)
from .sessions import SessionTable, TooManySessions, UnknownSession

M = TypeVar("M", bound=BaseModel)
log = logging.getLogger(__name__)


def _json(model: BaseModel) -> Response:
    return Response(model.model_dump_json(), media_type="application/json")


class Service:
    """Holds the backend, admission, sessions and metrics of one server process."""

    def __init__(self, backend: SandboxBackend, config: ServiceConfig, *, owns_backend: bool = True) -> None:
        self.backend = backend
        self.config = config
        self.owns_backend = owns_backend
        self.admission = Admission(config.max_inflight, config.max_queued, config.max_queue_wait_s)
        self.sessions = SessionTable(backend, idle_s=config.session_idle_s, max_sessions=config.max_sessions)
        self.metrics = Metrics(self.admission, backend, lambda: len(self.sessions))
        self.fusion = Fusion(backend, config, on_result=self.count)
        self.ready = False
        self.access = logging.getLogger(access_log.LOGGER_NAME)

    # ------------------------------------------------------------------ lifecycle
    async def startup(self) -> None:
        await self.backend.start()
        self.sessions.start()
        self.ready = True

    async def shutdown(self) -> None:
        """Stop admitting, let admitted runs finish (bounded), close sessions, then the backend."""
        self.ready = False
        await self.admission.drain(self.config.drain_s)
        await self.sessions.close_all()
        if self.owns_backend:
            await self.backend.close()

    def begin_drain(self) -> None:
        self.ready = False
        self.admission.draining = True

    # ------------------------------------------------------------------ helpers
    def _limits(self, timeout_s: float | None, memory_mb: int | None) -> tuple[float, int | None]:
        return self.config.cap_timeout(timeout_s), self.config.cap_memory(memory_mb)

    async def admitted(self, request: Request, work: Callable[[], Awaitable[Any]]) -> tuple[Any, float]:
        """Reserve a place, wait (bounded) for a slot, run ``work``; cancelled if the client goes."""
        try:
            self.admission.reserve(1)
        except Overloaded as exc:
            self.metrics.rejections.labels("overloaded").inc()
            raise ApiError(429, "overloaded", str(exc), retryable=True, retry_after_s=exc.retry_after_s) from None
        except Draining as exc:
            self.metrics.rejections.labels("draining").inc()
            raise ApiError(503, "draining", str(exc), retryable=True, retry_after_s=1.0) from None

        started = False

        async def admitted_work():
            nonlocal started
            started = True
            async with self.admission.slot() as grant:
                self.metrics.queue_seconds.observe(grant.queue_s)
                request.state.queue_s = round(grant.queue_s, 6)
                run_started = time.monotonic()
                out = await work()
                run_s = time.monotonic() - run_started
                self.metrics.run_seconds.observe(run_s)
                request.state.run_s = round(run_s, 6)
                return out, grant.queue_s

        try:
            return await until_disconnect(request, admitted_work())
        except QueueTimeout as exc:
            self.metrics.rejections.labels("queue_timeout").inc()
            raise ApiError(503, "queue_timeout", str(exc), retryable=True, retry_after_s=exc.retry_after_s) from None
        finally:
            if not started:  # cancelled before it ever waited: its place was never taken back
                self.admission.release_reservation(1)

    def count(self, result: ExecResult) -> None:
        self.metrics.runs.labels(result.status.value).inc()


async def _wait_disconnect(request: Request) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


async def until_disconnect(request: Request, coro: Awaitable[Any]) -> Any:
    """Run ``coro``; if the client disconnects first, cancel it (freeing its worker) and raise ClientGone."""
    work = asyncio.ensure_future(coro)
    watch = asyncio.ensure_future(_wait_disconnect(request))
    try:
        await asyncio.wait((work, watch), return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        work.cancel()
        watch.cancel()
        raise
    if work.done():
        watch.cancel()
        return work.result()
    work.cancel()
    try:
        await work
    except asyncio.CancelledError:
        pass  # what we asked for
    except Exception:  # it failed while being cancelled: nobody is left to answer, so it is logged
        log.exception("work of a disconnected request failed while being cancelled")
    raise ClientGone("client disconnected; run cancelled")


async def parse(request: Request, model: type[M]) -> M:
    body = await request.body()
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False)
        if any(e.get("type") == "json_invalid" for e in errors):
            raise ApiError(400, "invalid_json", f"the request body is not valid JSON: {errors[0].get('msg')}") from None
        detail = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in errors[:5])
        raise ApiError(422, "invalid_request", f"the request does not match {model.__name__}: {detail}") from None


def _decode(files: dict[str, str]) -> dict[str, bytes] | None:
    if not files:
        return None
    out = {}
    for name, data in files.items():
        try:
            out[check_path(name)] = base64.b64decode(data, validate=True)
        except BadRequest as exc:
            raise ApiError(400, "bad_path", str(exc)) from None
        except (binascii.Error, ValueError) as exc:
            raise ApiError(400, "bad_base64", f"file {name!r} is not valid base64: {exc}") from None
    return out


def create_app(backend: SandboxBackend, config: ServiceConfig | None = None, *, owns_backend: bool = True):
    """The ASGI app (FastAPI behind the gate). ``app.state.service`` holds the `Service`."""
    config = config or ServiceConfig()
    service = Service(backend, config, owns_backend=owns_backend)

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        await service.startup()
        try:
            yield
        finally:
            await service.shutdown()

    api = FastAPI(title="retool-stack sandbox", lifespan=lifespan, docs_url="/docs", redoc_url=None)
    api.state.service = service

    @api.exception_handler(ApiError)
    async def _api_error(_request, exc: ApiError):
        return exc.response()

    @api.exception_handler(BodyTooLarge)
    async def _too_large(_request, exc: BodyTooLarge):
        return ApiError(413, "body_too_large", f"request body exceeds the limit of {config.max_body_bytes} bytes"
                        ).response()

    @api.exception_handler(SessionLimitReached)
    async def _sessions_full(_request, exc: SessionLimitReached):
        service.metrics.rejections.labels("sessions_full").inc()
        return ApiError(429, "sessions_full", str(exc), retryable=True, retry_after_s=1.0).response()

    @api.exception_handler(SandboxError)
    async def _backend_refused(_request, exc: SandboxError):  # e.g. the sandbox closed while shutting down
        return ApiError(503, "sandbox_unavailable", str(exc), retryable=True, retry_after_s=1.0).response()

    @api.exception_handler(Exception)
    async def _ours(request, exc: Exception):
        log.exception("request %s failed", request.state.request_id)
        return ApiError(500, "internal", f"{type(exc).__name__}: {exc} (the service's fault; retry)",
                        retryable=True).response()

    @api.exception_handler(ClientGone)
    async def _gone(request, exc: ClientGone):
        service.metrics.rejections.labels("client_gone").inc()
        return Response(status_code=499)

    # ------------------------------------------------------------------ SandboxFusion
    @api.post("/run_code")
    async def run_code(request: Request):
        request.state.endpoint = "/run_code"
        req = await parse(request, RunCodeRequest)
        resp, _ = await service.admitted(request, lambda: service.fusion.run_code(req))
        request.state.status = resp.status.value
        return _json(resp)

    @api.post("/run_jupyter")
    async def run_jupyter(request: Request):
        request.state.endpoint = "/run_jupyter"
        req = await parse(request, RunJupyterRequest)
        resp, _ = await service.admitted(request, lambda: service.fusion.run_jupyter(req))
        request.state.status = resp.status.value
        return _json(resp)

    @api.get("/v1/ping")
    async def ping():
        return JSONResponse("pong")

    # ------------------------------------------------------------------ native
    async def _run_one(item: RunRequest) -> ExecResult:
        timeout, memory = service._limits(item.timeout_s, item.memory_mb)
        try:
            result = await backend.run(item.code, timeout_s=timeout, memory_mb=memory, stdin=item.stdin,
                                       files=_decode(item.files), output_bytes=item.output_bytes)
        except ApiError as exc:
            return ExecResult(Status.REJECTED, error=exc.body.error)
        except SandboxError as exc:  # a request the backend refuses (limits, closed): the caller's to fix
            return ExecResult(Status.REJECTED, error=str(exc))
        service.count(result)
        return result

    @api.post("/v1/run")
    async def run(request: Request):
        request.state.endpoint = "/v1/run"
        item = await parse(request, RunRequest)
        _decode(item.files)  # a bad file is a 400 before admission
        result, queue_s = await service.admitted(request, lambda: _run_one(item))
        request.state.status = result.status.value
        return _json(RunResponse.of(result, queue_s, item.id))

    @api.post("/v1/batch")
    async def batch(request: Request):
        request.state.endpoint = "/v1/batch"
        req = await parse(request, BatchRequest)
        n = len(req.programs)
        if n > config.max_batch:
            raise ApiError(413, "batch_too_large", f"{n} programs in one batch; the limit is {config.max_batch}")
        try:
            service.admission.reserve(n)
        except Overloaded as exc:
            service.metrics.rejections.labels("overloaded").inc()
            raise ApiError(429, "overloaded", str(exc), retryable=True, retry_after_s=exc.retry_after_s) from None
        except Draining as exc:
            raise ApiError(503, "draining", str(exc), retryable=True, retry_after_s=1.0) from None

        started = 0

        async def one(item: RunRequest) -> RunResponse:
            nonlocal started
            started += 1
            try:
                async with service.admission.slot() as grant:
                    service.metrics.queue_seconds.observe(grant.queue_s)
                    result = await _run_one(item)
                    service.metrics.run_seconds.observe(result.duration_s)
                    return RunResponse.of(result, grant.queue_s, item.id)
            except QueueTimeout as exc:
                return RunResponse(status=Status.SANDBOX_ERROR, error=str(exc), infrastructure_error=True,
                                   queue_s=exc.waited_s, id=item.id)

        try:
            results = await until_disconnect(request, asyncio.gather(*(one(p) for p in req.programs)))
        finally:
            if started < n:  # items cancelled before they started still hold their places
                service.admission.release_reservation(n - started)
        return _json(BatchResponse(results=results))

    @api.post("/v1/sessions")
    async def create_session(request: Request):
        request.state.endpoint = "/v1/sessions"
        req = await parse(request, SessionRequest)
        if service.admission.draining:
            raise ApiError(503, "draining", "the server is shutting down", retryable=True, retry_after_s=1.0)
        timeout, memory = service._limits(req.timeout_s, req.memory_mb)
        try:
            sid = await until_disconnect(request, service.sessions.create(
                timeout_s=timeout, memory_mb=memory, display=req.display, files=_decode(req.files)))
        except (TooManySessions, SessionLimitReached) as exc:
            service.metrics.rejections.labels("sessions_full").inc()
            raise ApiError(429, "sessions_full", str(exc), retryable=True, retry_after_s=1.0) from None
        except SandboxError as exc:
            raise ApiError(400, "bad_request", str(exc)) from None
        return _json(SessionCreated(session_id=sid, instance=service.sessions.instance,
                                    idle_timeout_s=config.session_idle_s))

    def _entry(session_id: str):
        try:
            return service.sessions.get(session_id)
        except UnknownSession:
            raise ApiError(404, "unknown_session", f"no session {session_id!r} on this server: it was closed, "
                           "expired, or lost when the server restarted; its state is gone", session_lost=True) from None

    @api.post("/v1/sessions/{session_id}/run")
    async def session_run(session_id: str, request: Request):
        request.state.endpoint = "/v1/sessions/{id}/run"
        req = await parse(request, SessionRunRequest)
        entry = _entry(session_id)
        timeout = config.cap_timeout(req.timeout_s) if req.timeout_s else None
        entry.busy += 1
        started = time.monotonic()
        try:
            result = await until_disconnect(request, entry.handle.run(req.code, timeout, display=req.display))
        except SessionClosed as exc:
            with contextlib.suppress(UnknownSession):
                await service.sessions.close(session_id)
            raise ApiError(410, "session_lost", f"the session is gone: {exc}", session_lost=True) from None
        finally:
            entry.busy -= 1
        request.state.run_s = round(time.monotonic() - started, 6)
        request.state.status = result.status.value
        service.count(result)
        body = SessionRunResponse(**RunResponse.of(result).model_dump(), interpreter_lost=entry.handle.interpreter_lost,
                                  state_reset=entry.handle.state_reset)
        return _json(body)

    @api.delete("/v1/sessions/{session_id}")
    async def delete_session(session_id: str, request: Request):
        request.state.endpoint = "/v1/sessions/{id}"
        try:
            await service.sessions.close(session_id)
        except UnknownSession:
            raise ApiError(404, "unknown_session", f"no session {session_id!r} on this server",
                           session_lost=True) from None
        return Response(status_code=204)

    # ------------------------------------------------------------------ operations
    @api.get("/healthz")
    async def healthz():
        return JSONResponse({"ok": True})

    @api.get("/readyz")
    async def readyz():
        if not service.ready:
            return JSONResponse({"ready": False, "draining": service.admission.draining}, status_code=503)
        return JSONResponse({"ready": True, "inflight": service.admission.inflight,
                             "queued": service.admission.queued})

    @api.get("/metrics")
    async def metrics():
        return PlainTextResponse(service.metrics.render(), media_type=CONTENT_TYPE)

    return Gate(api, service)


__all__ = ["ApiError", "Service", "create_app", "until_disconnect"]
