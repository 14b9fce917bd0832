"""`python -m sandbox serve`: the sandbox as an HTTP service.

SandboxFusion-compatible endpoints (`/run_code`, `/run_jupyter`, `/v1/ping`), a native API (`/v1/run`,
`/v1/batch`, `/v1/sessions`), admission control with 429 + Retry-After, Prometheus `/metrics`,
`/healthz` and `/readyz`, over any backend with the `sandbox.backend.SandboxBackend` interface.
FastAPI and uvicorn come with the ``[service]`` extra; importing `sandbox` alone does not need them.
"""

from .app import create_app
from .config import ServiceConfig
from .server import build_server, serve

__all__ = ["ServiceConfig", "build_server", "create_app", "serve"]
