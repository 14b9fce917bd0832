"""Run the service under uvicorn with graceful shutdown.

On SIGTERM or SIGINT: /readyz turns 503 and new runs are refused at once (503 + Retry-After, so
clients go elsewhere); uvicorn stops accepting connections and gives in-flight requests up to
``drain_s``; then sessions are closed and the sandbox stops its workers (no process or cgroup left).
"""

from __future__ import annotations

import uvicorn

from ..backend import SandboxBackend
from . import access_log
from .app import create_app
from .config import ServiceConfig


class _DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, on_exit) -> None:
        super().__init__(config)
        self._on_exit = on_exit

    def handle_exit(self, sig, frame) -> None:
        self._on_exit()
        super().handle_exit(sig, frame)


def build_server(backend: SandboxBackend, config: ServiceConfig) -> uvicorn.Server:
    access_log.configure(config.access_log)
    app = create_app(backend, config)
    uv = uvicorn.Config(app, host=config.host, port=config.port, lifespan="on", access_log=False,
                        log_level="warning", timeout_graceful_shutdown=max(1, int(config.drain_s)),
                        backlog=4096, timeout_keep_alive=30)
    return _DrainingServer(uv, app.state.service.begin_drain)


def serve(backend: SandboxBackend, config: ServiceConfig) -> int:
    """Blocks until the server is stopped; returns the process exit code."""
    server = build_server(backend, config)
    server.run()
    return 0 if server.started else 1


__all__ = ["build_server", "serve"]
