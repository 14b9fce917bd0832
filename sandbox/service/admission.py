"""Admission control built for RL load: a hard cap on in-flight runs and on queued runs.

A trainer that sends 45K tool calls at once must get a fast, explicit "come back in N seconds"
(429 + Retry-After) for what does not fit, never an unbounded pile-up whose tail times out. A run
that was admitted but waited longer than the bound is refused before it runs (503, retryable), and
the time spent waiting is reported apart from the program's own run time.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass


class Overloaded(Exception):
    """The queue is full: answer 429 with ``retry_after_s``."""

    def __init__(self, retry_after_s: float, message: str) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class QueueTimeout(Exception):
    """An admitted run waited longer than the bound: answer 503 (retryable) without running it."""

    def __init__(self, waited_s: float, retry_after_s: float) -> None:
        super().__init__(f"waited {waited_s:.1f}s in the queue without a free slot; retry later")
        self.waited_s = waited_s
        self.retry_after_s = retry_after_s


class Draining(Exception):
    """The server is shutting down and admits no new runs."""


@dataclass
class Grant:
    """One admitted run; ``queue_s`` is how long it waited for its slot."""

    queue_s: float = 0.0


class Admission:
    """Counts in-flight and queued runs; `admit(n)` reserves n places at once or refuses them all."""

    def __init__(self, max_inflight: int, max_queued: int, max_queue_wait_s: float) -> None:
        self.max_inflight = max_inflight
        self.max_queued = max_queued
        self.max_queue_wait_s = max_queue_wait_s
        self._slots = asyncio.Semaphore(max_inflight)
        self.inflight = 0
        self.reserved = 0  # admitted, not yet running (the queue depth)
        self.draining = False
        self._mean_run_s = 0.05  # moving average, for Retry-After
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def queued(self) -> int:
        return self.reserved

    def retry_after_s(self) -> float:
        """Roughly when the queue will have drained enough to take more (at least one second)."""
        backlog = self.reserved + self.inflight
        return max(1.0, math.ceil(backlog * self._mean_run_s / self.max_inflight))

    def reserve(self, n: int = 1) -> None:
        """Reserve n queue places without waiting; raises `Overloaded` or `Draining`."""
        if self.draining:
            raise Draining("the server is shutting down")
        free_slots = self.max_inflight - self.inflight
        if self.reserved + n > self.max_queued + max(0, free_slots):
            raise Overloaded(self.retry_after_s(),
                             f"server is full ({self.inflight} running, {self.reserved} queued; "
                             f"queue cap {self.max_queued}); retry later")
        self.reserved += n
        self._idle.clear()

    def release_reservation(self, n: int = 1) -> None:
        """Give back places reserved but never used (a batch item refused before it ran)."""
        self.reserved -= n
        self._check_idle()

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[Grant]:
        """Wait (bounded) for an in-flight slot for one reserved place, and hold it while running."""
        started = time.monotonic()
        try:
            await asyncio.wait_for(self._slots.acquire(), self.max_queue_wait_s)
        except asyncio.TimeoutError:
            self.reserved -= 1
            self._check_idle()
            raise QueueTimeout(time.monotonic() - started, self.retry_after_s()) from None
        except BaseException:  # cancelled while waiting (the client went away)
            self.reserved -= 1
            self._check_idle()
            raise
        self.reserved -= 1
        grant = Grant(queue_s=time.monotonic() - started)
        self.inflight += 1
        run_started = time.monotonic()
        try:
            yield grant
        finally:
            self.inflight -= 1
            self._slots.release()
            self._mean_run_s = 0.9 * self._mean_run_s + 0.1 * (time.monotonic() - run_started)
            self._check_idle()

    def _check_idle(self) -> None:
        if self.inflight == 0 and self.reserved == 0:
            self._idle.set()

    async def drain(self, timeout_s: float) -> bool:
        """Stop admitting and wait up to ``timeout_s`` for admitted runs to finish; True if they did."""
        self.draining = True
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_s)
            return True
        except asyncio.TimeoutError:
            return False


__all__ = ["Admission", "Draining", "Grant", "Overloaded", "QueueTimeout"]
