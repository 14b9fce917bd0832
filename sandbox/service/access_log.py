"""One structured JSON line per request on stderr: id, endpoint, status, queue and run time.

The logger gets its handler from `configure` (called by `serve`), never at import, so importing the
service or embedding its app in tests writes nothing unless asked.
"""

from __future__ import annotations

import json
import logging
import sys
import time

LOGGER_NAME = "sandbox.service.access"


class _JsonLine(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(record.msg, ensure_ascii=False, separators=(",", ":"))


def configure(enabled: bool = True) -> logging.Logger:
    """Attach one stderr handler (idempotent) and return the access logger."""
    logger = logging.getLogger(LOGGER_NAME)
    logger.propagate = False
    if not any(getattr(h, "_sandbox_access", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_JsonLine())
        handler._sandbox_access = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.setLevel(logging.INFO if enabled else logging.WARNING)
    return logger


def log_request(logger: logging.Logger, *, request_id: str, method: str, endpoint: str, http_status: int,
                total_s: float, queue_s: float | None, run_s: float | None, status: str | None,
                client: str | None) -> None:
    if not logger.isEnabledFor(logging.INFO):
        return
    logger.info({
        "ts": round(time.time(), 3), "id": request_id, "method": method, "endpoint": endpoint,
        "http_status": http_status, "status": status, "queue_s": queue_s, "run_s": run_s,
        "total_s": round(total_s, 6), "client": client,
    })


__all__ = ["LOGGER_NAME", "configure", "log_request"]
