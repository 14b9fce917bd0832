"""A fixed number of warm workers, handed out one run at a time, replaced when they break.

Runs queue for a worker in FIFO order; beyond `max_pending` queued runs, callers wait before even
queueing (backpressure). A worker taken for a session leaves the pool and a fresh one replaces it.
When the session closes cleanly (its interpreter killed, every process it started gone, the scratch
directory wiped: the same reset every run gets), the worker is kept as a spare that the next session
takes without a start-up; so a stream of short sessions costs a fork each, not a new jail each.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from .config import SandboxConfig
from .isolation import Backend
from .types import SandboxError
from .worker import Worker, WorkerLost

log = logging.getLogger(__name__)


class WorkerPool:
    def __init__(self, backend: Backend, config: SandboxConfig, init: dict) -> None:
        self.backend = backend
        self.config = config
        self.init = init
        self._idle: asyncio.Queue[Worker] = asyncio.Queue()
        self._spare_cap = min(config.worker_count, config.max_sessions)
        self._spares: list[Worker] = []
        self._free_indices = list(range(config.worker_slots))
        self._workers: set[Worker] = set()
        self._tasks: set[asyncio.Task] = set()
        self._pending = asyncio.Semaphore(config.max_pending)
        self._closed = False
        self.failures = 0
        self.discarded = 0  # workers dropped after failing or dying (each is replaced)
        self.last_failure: str | None = None
        self.retired = 0  # workers closed because their zygote reported damage or an error of ours

    async def start(self) -> None:
        results = await asyncio.gather(*(self._spawn() for _ in range(self.config.worker_count)),
                                       return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if len(errors) == len(results):
            await self.close()
            raise SandboxError(f"no sandbox worker could start: {errors[0]}")
        for _ in errors:
            self._schedule_replacement()

    async def _spawn(self) -> Worker:
        index = self._free_indices.pop(0)
        worker = Worker(self.backend, self.config, index, self.init)
        try:
            await worker.start()
        except BaseException:
            self._free_indices.append(index)
            raise
        self._workers.add(worker)
        self._idle.put_nowait(worker)
        return worker

    def _schedule_replacement(self) -> None:
        if self._closed:
            return
        task = asyncio.create_task(self._replace())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _replace(self) -> None:
        delay = 0.05
        while not self._closed:
            try:
                await self._spawn()
                return
            except Exception as exc:  # keep trying: a pool that shrinks silently would stall runs
                self.failures += 1
                self.last_failure = str(exc)
                log.warning("sandbox worker failed to start (retrying in %.1fs): %s", delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    @contextlib.asynccontextmanager
    async def worker(self):
        """A worker for one request; a worker that failed is dropped and replaced."""
        if self._closed:
            raise SandboxError("the sandbox is closed")
        async with self._pending:
            worker = await self._idle.get()
            while not worker.healthy():  # died while idle: nothing ran on it, so take another
                await self._discard(worker)
                worker = await self._idle.get()
            try:
                yield worker
            finally:
                # A worker that failed, answered with an error of ours or was retired by its zygote
                # is never put back: it is closed and a fresh one takes its place.
                if worker.reusable and not self._closed:
                    self._idle.put_nowait(worker)
                else:
                    if worker.retired:
                        self.retired += 1
                        log.warning("sandbox worker %d retired: %s", worker.index, worker.retired)
                    await self._discard(worker)

    async def take(self) -> Worker:
        """A worker for exclusive use: a spare from an earlier session, else one removed from the pool
        (a replacement starts at once)."""
        if self._closed:
            raise SandboxError("the sandbox is closed")
        while self._spares:
            spare = self._spares.pop()
            if spare.healthy() and spare.reusable:
                return spare
            await self._close_taken(spare)
        worker = await self._idle.get()
        self._workers.discard(worker)
        self._schedule_replacement()
        return worker

    async def give_back(self, worker: Worker, *, reset: bool = False) -> None:
        """A taken worker is finished with. ``reset`` means its zygote confirmed the session's cleanup
        (the same reset as after every run); such a worker is kept as a spare, up to a cap. Any other
        worker is closed, because nothing vouches for its state."""
        if (reset and worker.reusable and not self._closed and len(self._spares) < self._spare_cap
                and worker.healthy()):
            self._spares.append(worker)
            return
        if worker.retired:
            self.retired += 1
            log.warning("sandbox session worker %d retired: %s", worker.index, worker.retired)
        await self._close_taken(worker)

    async def _close_taken(self, worker: Worker) -> None:
        await worker.close()
        self._free_indices.append(worker.index)

    async def _discard(self, worker: Worker) -> None:
        self.discarded += 1
        self._workers.discard(worker)
        await worker.close()
        self._free_indices.append(worker.index)
        self._schedule_replacement()

    @property
    def size(self) -> int:
        return len(self._workers)

    @property
    def spare_count(self) -> int:
        return len(self._spares)

    async def close(self) -> None:
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        workers = list(self._workers) + self._spares
        self._workers.clear()
        self._spares = []
        await asyncio.gather(*(w.close() for w in workers), return_exceptions=True)


__all__ = ["WorkerPool", "WorkerLost"]
