"""What every request needs before routing, as a thin ASGI layer: a request id, the bearer-token check,
the body cap (refused before the body is read when Content-Length says so, else while it streams),
the request counter and one JSON access-log line."""

from __future__ import annotations

import hmac
import secrets
import time
from typing import TYPE_CHECKING

from . import access_log
from .errors import ApiError, BodyTooLarge

if TYPE_CHECKING:
    from .app import Service

OPEN_PATHS = frozenset({"/healthz", "/readyz", "/v1/ping"})  # probes stay open when a token is set


class Gate:
    """Pure ASGI wrapper: request id, auth, body cap, access log and request counter."""

    def __init__(self, app, service: Service) -> None:
        self.app = app
        self.service = service
        self.state = app.state  # so callers can reach app.state.service through the gate

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        service = self.service
        config = service.config
        started = time.monotonic()
        headers = dict(scope.get("headers") or ())
        request_id = (headers.get(b"x-request-id") or b"").decode("latin-1")[:64] or secrets.token_hex(8)
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        sent = {"status": 0}
        rid_header = (b"x-request-id", request_id.encode("latin-1"))

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                sent["status"] = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), rid_header]}
            await send(message)

        async def refuse(error: ApiError) -> None:
            response = error.response()
            await response(scope, receive, send_with_id)

        path = scope.get("path", "")
        try:
            if config.token and path not in OPEN_PATHS:
                auth = headers.get(b"authorization", b"").decode("latin-1")
                if not hmac.compare_digest(auth.encode(), f"Bearer {config.token}".encode()):
                    await refuse(ApiError(401, "unauthorized", "missing or wrong bearer token "
                                          "(send 'Authorization: Bearer <token>')"))
                    return
            length = headers.get(b"content-length")
            if length is not None and length.isdigit() and int(length) > config.max_body_bytes:
                await refuse(ApiError(413, "body_too_large", f"request body of {int(length)} bytes exceeds the "
                                      f"limit of {config.max_body_bytes} bytes"))
                return
            await self.app(scope, capped(receive, config.max_body_bytes), send_with_id)
        except BodyTooLarge:
            if not sent["status"]:
                await refuse(ApiError(413, "body_too_large",
                                      f"request body exceeds the limit of {config.max_body_bytes} bytes"))
        finally:
            endpoint = state.get("endpoint") or (path if path in OPEN_PATHS or path == "/metrics" else "other")
            code = sent["status"] or 499
            service.metrics.requests.labels(endpoint, str(code)).inc()
            if endpoint not in OPEN_PATHS and endpoint != "/metrics":
                client = scope.get("client")
                access_log.log_request(
                    service.access, request_id=request_id, method=scope.get("method", ""), endpoint=endpoint,
                    http_status=code, total_s=time.monotonic() - started, queue_s=state.get("queue_s"),
                    run_s=state.get("run_s"), status=state.get("status"),
                    client=f"{client[0]}:{client[1]}" if client else None)


def capped(receive, cap: int):
    """A receive() that raises once the body passes ``cap`` bytes (for bodies without Content-Length)."""
    seen = 0

    async def wrapped():
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > cap:
                raise BodyTooLarge()
        return message

    return wrapped


__all__ = ["Gate", "OPEN_PATHS", "capped"]
