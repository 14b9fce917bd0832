"""Prometheus metrics of one service process, in its own registry (no process-global state).

Counters and histograms are updated once per request; gauges (queue depth, in-flight runs, live
workers, sessions, worker restarts) are read at scrape time from their owners, so nothing is
updated in a hot loop.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

from ..backend import StatsSource
from .admission import Admission

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class _LiveGauges:
    """A collector that reads the current values when Prometheus scrapes."""

    def __init__(self, admission: Admission, backend: object, sessions: Callable[[], int]) -> None:
        self.admission = admission
        self.backend = backend
        self.sessions = sessions

    def collect(self):
        yield GaugeMetricFamily("sandbox_queue_depth", "Runs admitted and waiting for a slot",
                                value=self.admission.queued)
        yield GaugeMetricFamily("sandbox_inflight_runs", "Runs handed to the backend", value=self.admission.inflight)
        yield GaugeMetricFamily("sandbox_sessions_live", "Open HTTP sessions", value=self.sessions())
        if isinstance(self.backend, StatsSource):
            stats = self.backend.stats()
            yield GaugeMetricFamily("sandbox_workers_live", "Warm workers in the pool", value=stats.workers_live)
            yield GaugeMetricFamily("sandbox_worker_restarts", "Workers replaced after dying or failing",
                                    value=stats.worker_restarts)


class Metrics:
    def __init__(self, admission: Admission, backend: object, sessions: Callable[[], int]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("sandbox_requests", "HTTP requests by endpoint and HTTP status",
                                ["endpoint", "code"], registry=self.registry)
        self.runs = Counter("sandbox_runs", "Program runs by result status", ["status"], registry=self.registry)
        self.rejections = Counter("sandbox_rejections", "Requests refused before running, by reason",
                                  ["reason"], registry=self.registry)
        self.run_seconds = Histogram("sandbox_run_seconds", "Time a run spent in the backend",
                                     buckets=_BUCKETS, registry=self.registry)
        self.queue_seconds = Histogram("sandbox_queue_wait_seconds", "Time a run waited for an in-flight slot",
                                       buckets=_BUCKETS, registry=self.registry)
        self.registry.register(_LiveGauges(admission, backend, sessions))

    def render(self) -> bytes:
        return generate_latest(self.registry)


__all__ = ["CONTENT_TYPE", "Metrics"]
