"""The service's refusals: an HTTP status, a machine-readable code, and whether retrying helps."""

from __future__ import annotations

from fastapi.responses import Response

from .models import ErrorBody


class ApiError(Exception):
    """An answer other than 200, with a machine-readable code."""

    def __init__(self, http_status: int, code: str, message: str, *, retryable: bool = False,
                 retry_after_s: float | None = None, session_lost: bool = False) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.body = ErrorBody(error=message, code=code, retryable=retryable, retry_after_s=retry_after_s,
                              session_lost=session_lost)

    def response(self) -> Response:
        headers = {}
        if self.body.retry_after_s is not None:
            headers["Retry-After"] = str(max(1, int(self.body.retry_after_s + 0.999)))
        return Response(self.body.model_dump_json(), status_code=self.http_status, headers=headers,
                        media_type="application/json")


class BodyTooLarge(Exception):
    """The request body passed the configured cap while it was being read."""


class ClientGone(Exception):
    """The client disconnected before its answer was ready; the work was cancelled."""


__all__ = ["ApiError", "BodyTooLarge", "ClientGone"]
