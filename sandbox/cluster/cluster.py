"""`SandboxCluster`: Sandbox's interface (`run`, `session`, `start`, `close`) over one actor per Ray node.

    from sandbox.cluster import SandboxCluster, ClusterConfig

    async with SandboxCluster(ClusterConfig(sandbox=SandboxConfig(timeout_s=10))) as sb:
        r = await sb.run("print(1)")
        async with sb.session() as s:
            await s.run("x = 41"); r = await s.run("print(x + 1)")

It can stand wherever a `Sandbox` does: behind the HTTP service, or inside a Ray-based trainer.

Faults: a run whose actor dies (process killed, node lost, actor hung past `ping_timeout_s`) comes
back at once as `Status.SANDBOX_ERROR` with an error naming the node: our failure, retryable, never
the program's. The actor is replaced on the same node in the background; new runs go to the other
nodes meanwhile, or wait for the replacement when there are none. A session on a lost actor says so
(`session.lost`, a SANDBOX_ERROR result) and then closes: it never replays silently elsewhere. Every
call has a deadline (its timeout plus `call_grace_s`), so nothing waits forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..config import SandboxConfig
from ..types import ExecResult, SandboxError, SandboxStats, SessionClosed, Status
from .actor import SandboxActor
from .config import ClusterConfig
from .router import NoSandboxNodes, Router

log = logging.getLogger(__name__)
# How often node membership (joined, lost nodes) is refreshed, in health intervals.
_NODE_SCAN_EVERY = 5


class RayUnavailable(SandboxError):
    """Ray is not installed here."""


class NodeLost(SandboxError):
    """A node's sandbox actor died or stopped answering; what it was doing is lost. Retryable."""


def import_ray():
    try:
        import ray
    except ImportError as exc:
        raise RayUnavailable("sandbox.cluster needs Ray: pip install 'retool-stack[ray]' "
                             "(or `make setup-ray` for the project's .venv-ray)") from exc
    return ray


@dataclass
class _Slot:
    """One node's actor. `generation` grows with each replacement; `dead` is set when this
    generation is lost, so every call waiting on it returns at once."""

    node_id: str
    cpus: float
    workers: int
    actor: Any = None
    generation: int = 0
    dead: asyncio.Event = field(default_factory=asyncio.Event)
    info: dict = field(default_factory=dict)
    replacing: bool = False
    last_error: str | None = None

    @property
    def short(self) -> str:
        return self.node_id[:12]


class SandboxCluster:
    """One `Sandbox` per Ray node behind a load-aware router with session affinity."""

    def __init__(self, config: ClusterConfig | SandboxConfig | None = None) -> None:
        if isinstance(config, SandboxConfig):
            config = ClusterConfig(sandbox=config)
        self.cluster_config = config or ClusterConfig()
        self.config: SandboxConfig = self.cluster_config.sandbox  # the limits every run is checked against
        self.router = Router()
        self.replacements = 0
        self._slots: dict[str, _Slot] = {}
        self._sessions: set[ClusterSession] = set()
        self._tasks: set[asyncio.Task] = set()
        self._health: asyncio.Task | None = None
        self._ready = asyncio.Event()
        self._start_lock = asyncio.Lock()
        self._started = False
        self._closed = False
        self._owns_ray = False
        self._actor_cls = None

    # ------------------------------------------------------------------ lifecycle
    async def __aenter__(self) -> "SandboxCluster":
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def start(self) -> None:
        async with self._start_lock:
            if self._started:
                return
            if self._closed:
                raise SandboxError("the sandbox cluster is closed")
            ray = import_ray()
            cfg = self.cluster_config
            if not ray.is_initialized():
                await asyncio.to_thread(ray.init, address=cfg.address, namespace=cfg.namespace)
                self._owns_ray = True
            self._actor_cls = ray.remote(SandboxActor)
            try:
                await self._deploy_all()
            except BaseException:
                await self._shutdown()
                raise
            self._health = asyncio.create_task(self._health_loop())
            self._started = True

    async def _deploy_all(self) -> None:
        cfg = self.cluster_config
        nodes = await self._selected_nodes()
        if not nodes:
            raise NoSandboxNodes("no alive Ray node has CPUs"
                                 + (f" and the resource {cfg.node_resource!r}" if cfg.node_resource else ""))
        results = await asyncio.gather(*(self._deploy(nid, cpus) for nid, cpus in nodes.items()),
                                       return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if len(errors) == len(results):
            raise SandboxError(f"no node's sandbox could start: {errors[0]}")
        for exc in errors:
            log.warning("a node's sandbox failed to start (retrying in the background): %s", exc)

    async def close(self) -> None:
        self._closed = True
        if self._health is not None:
            self._health.cancel()
            with contextlib.suppress(BaseException):
                await self._health
            self._health = None
        for session in list(self._sessions):
            await session.close()
        await self._shutdown()

    async def _shutdown(self) -> None:
        """Stop background replacements, the actors, and Ray when we started it."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._stop_actors()
        if self._owns_ray:
            ray = import_ray()
            await asyncio.to_thread(ray.shutdown)
            self._owns_ray = False
        self._started = False

    async def _stop_actors(self) -> None:
        ray = import_ray()
        slots = [s for s in self._slots.values() if s.actor is not None]

        async def stop(slot: _Slot) -> None:
            if self.cluster_config.share_as:  # other routers may use it; it ends with its creator
                slot.actor = None
                return
            with contextlib.suppress(Exception):
                await asyncio.wait_for(_future(slot.actor.close.remote()), self.cluster_config.ping_timeout_s)
            with contextlib.suppress(Exception):
                ray.kill(slot.actor, no_restart=True)
            slot.actor = None

        await asyncio.gather(*(stop(s) for s in slots))
        for key in list(self._slots):
            self.router.remove(key)
        self._slots.clear()

    # ------------------------------------------------------------------ nodes and actors
    async def _selected_nodes(self) -> dict[str, float]:
        """Alive nodes with CPUs (and the configured resource): node id -> CPUs."""
        ray = import_ray()
        want = self.cluster_config.node_resource
        nodes = await asyncio.to_thread(ray.nodes)
        return {n["NodeID"]: float(n["Resources"].get("CPU", 0)) for n in nodes
                if n.get("Alive") and n["Resources"].get("CPU", 0) > 0
                and (want is None or n["Resources"].get(want, 0) > 0)}

    async def _deploy(self, node_id: str, cpus: float) -> None:
        slot = _Slot(node_id, cpus, self.cluster_config.workers_for(cpus))
        self._slots[node_id] = slot
        self.router.add(node_id, slot.workers, ready=False)
        try:
            slot.actor, slot.info = await self._start_actor(slot)
        except Exception as exc:
            slot.last_error = str(exc)
            slot.replacing = True
            self._spawn(self._replace(slot, slot.generation))
            raise
        self._mark_ready(slot)

    async def _start_actor(self, slot: _Slot) -> tuple[Any, dict]:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        ray = import_ray()
        cfg = self.cluster_config
        shared = {"name": f"{cfg.share_as}-{slot.node_id}", "get_if_exists": True} if cfg.share_as else {}
        actor = self._actor_cls.options(
            num_cpus=cfg.actor_num_cpus,
            scheduling_strategy=NodeAffinitySchedulingStrategy(slot.node_id, soft=False),
            max_concurrency=slot.workers * cfg.max_concurrency_per_worker,
            max_restarts=0,
            **shared,
        ).remote(self.config.with_(workers=slot.workers))
        try:
            info = await asyncio.wait_for(_future(actor.start.remote()), cfg.start_timeout_s)
        except BaseException as exc:
            with contextlib.suppress(Exception):
                ray.kill(actor, no_restart=True)
            if isinstance(exc, asyncio.TimeoutError):
                raise NodeLost(f"the sandbox on node {slot.short} did not start within {cfg.start_timeout_s:g}s") \
                    from None
            raise
        return actor, info

    def _mark_ready(self, slot: _Slot) -> None:
        slot.replacing = False
        slot.last_error = None
        self.router.set_ready(slot.node_id, True)
        self._ready.set()

    def _lost(self, slot: _Slot, generation: int, reason: str) -> None:
        """This generation of the node's actor is gone: fail its waiting calls, replace it once."""
        if slot.generation != generation or slot.replacing or self._closed:
            return
        log.warning("sandbox actor on node %s lost (%s); replacing it", slot.short, reason)
        slot.replacing = True
        slot.last_error = reason
        slot.dead.set()
        self.router.set_ready(slot.node_id, False)
        if not self.router.any_ready():
            self._ready.clear()
        self.replacements += 1
        self._spawn(self._replace(slot, generation))

    async def _replace(self, slot: _Slot, generation: int) -> None:
        ray = import_ray()
        old, slot.actor = slot.actor, None
        if old is not None:
            with contextlib.suppress(Exception):
                ray.kill(old, no_restart=True)
        delay = self.cluster_config.replace_backoff_s
        while not self._closed:
            try:
                nodes = await self._selected_nodes()
            except Exception as exc:  # the GCS may be briefly unreachable: try again
                log.warning("listing Ray nodes failed while replacing %s (retrying): %s", slot.short, exc)
                await asyncio.sleep(delay)
                continue
            if slot.node_id not in nodes:
                log.warning("node %s left the cluster; its sandbox is not replaced", slot.short)
                self._slots.pop(slot.node_id, None)
                self.router.remove(slot.node_id)
                return
            try:
                actor, info = await self._start_actor(slot)
            except Exception as exc:  # keep trying with backoff: the node is still there
                slot.last_error = str(exc)
                log.warning("replacing the sandbox on node %s failed (retrying in %.1fs): %s",
                            slot.short, delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
                continue
            slot.actor, slot.info = actor, info
            slot.generation = generation + 1
            slot.dead = asyncio.Event()
            self._mark_ready(slot)
            return

    def _spawn(self, coro) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _health_loop(self) -> None:
        cfg = self.cluster_config
        tick = 0
        while not self._closed:
            await asyncio.sleep(cfg.health_interval_s)
            tick += 1
            live = [s for s in self._slots.values() if not s.replacing and s.actor is not None]
            for outcome in await asyncio.gather(*(self._ping(s) for s in live), return_exceptions=True):
                if isinstance(outcome, Exception):  # a bug in a ping must not end health checking
                    log.error("health ping failed unexpectedly: %r", outcome)
            if tick % _NODE_SCAN_EVERY == 0:
                await self._scan_nodes()

    async def _ping(self, slot: _Slot) -> None:
        ray = import_ray()
        generation = slot.generation
        try:
            inflight = await asyncio.wait_for(_future(slot.actor.ping.remote()), self.cluster_config.ping_timeout_s)
        except asyncio.TimeoutError:
            self._lost(slot, generation, f"no answer to a ping within {self.cluster_config.ping_timeout_s:g}s")
        except ray.exceptions.RayError as exc:
            self._lost(slot, generation, _first_line(exc))
        else:
            if slot.generation == generation:
                self.router.report(slot.node_id, int(inflight))

    async def _scan_nodes(self) -> None:
        """Deploy on nodes that joined; nodes that left are handled by their actors' loss."""
        try:
            nodes = await self._selected_nodes()
        except Exception as exc:  # the GCS may be briefly unreachable; the next scan retries
            log.warning("listing Ray nodes failed: %s", exc)
            return
        for node_id, cpus in nodes.items():
            if node_id not in self._slots:
                self._spawn(self._join(node_id, cpus))

    async def _join(self, node_id: str, cpus: float) -> None:
        try:
            await self._deploy(node_id, cpus)
        except Exception as exc:  # _deploy has scheduled retries; say why the first start failed
            log.warning("sandbox on new node %s failed to start (retrying): %s", node_id[:12], exc)

    # ------------------------------------------------------------------ calls
    async def _node_for(self, opening_session: bool) -> str:
        """A ready node (waiting for a replacement when none is ready), counted by the router."""
        deadline = time.monotonic() + self.cluster_config.start_timeout_s
        while True:
            try:
                return self.router.open_session() if opening_session else self.router.acquire()
            except NoSandboxNodes:
                left = deadline - time.monotonic()
                if left <= 0 or not self._slots:
                    raise
                self._ready.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._ready.wait(), left)

    async def _call(self, slot: _Slot, generation: int, ref, deadline_s: float):
        """The call's reply; NodeLost when its actor is lost or the deadline passes first."""
        ray = import_ray()
        if slot.generation != generation:
            raise NodeLost(f"the sandbox actor on node {slot.short} was replaced")
        reply = asyncio.ensure_future(_future(ref))
        dead = asyncio.ensure_future(slot.dead.wait())
        try:
            done, _ = await asyncio.wait({reply, dead}, timeout=deadline_s, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            reply.cancel()
            with contextlib.suppress(Exception):
                ray.cancel(ref)
            raise
        finally:
            dead.cancel()
        if reply not in done:
            reply.cancel()
            with contextlib.suppress(Exception):
                ray.cancel(ref)
            if dead in done:
                raise NodeLost(f"the sandbox actor on node {slot.short} was lost mid-run ({slot.last_error}); "
                               "retry the run")
            raise NodeLost(f"no reply from the sandbox on node {slot.short} within {deadline_s:g}s; retry the run")
        try:
            return reply.result()
        except ray.exceptions.RayTaskError as exc:
            if isinstance(exc.cause, SandboxError):
                raise exc.cause from None
            raise NodeLost(f"the sandbox on node {slot.short} failed: {_first_line(exc)}") from None
        except ray.exceptions.TaskCancelledError:
            raise NodeLost(f"the run on node {slot.short} was cancelled") from None
        except ray.exceptions.RayError as exc:  # actor died, worker crashed, object lost
            self._lost(slot, generation, _first_line(exc))
            raise NodeLost(f"the sandbox actor on node {slot.short} died mid-run ({_first_line(exc)}); "
                           "retry the run") from None

    async def run(
        self,
        code: str | bytes,
        timeout_s: float | None = None,
        memory_mb: int | None = None,
        stdin: str | bytes | None = None,
        files: Mapping[str, str | bytes] | None = None,
        *,
        output_bytes: int | None = None,
    ) -> ExecResult:
        """Run one program on the least loaded node; never raises for the program or a lost node."""
        limits = self.config.limits(timeout_s=timeout_s, memory_mb=memory_mb, output_bytes=output_bytes)
        started = time.monotonic()
        if not self._started:
            await self.start()
        try:
            key = await self._node_for(opening_session=False)
        except NoSandboxNodes as exc:
            return ExecResult(Status.SANDBOX_ERROR, error=str(exc), duration_s=time.monotonic() - started)
        slot = self._slots[key]
        reported = None
        try:
            ref = slot.actor.run.remote(code, timeout_s, memory_mb, stdin,
                                        dict(files) if files is not None else None, output_bytes)
            result, reported = await self._call(slot, slot.generation, ref,
                                                limits.timeout_s + self.cluster_config.call_grace_s)
            return result
        except NodeLost as exc:
            return ExecResult(Status.SANDBOX_ERROR, error=str(exc), duration_s=time.monotonic() - started)
        finally:
            self.router.release(key, reported)

    def session(self, *, memory_mb: int | None = None, timeout_s: float | None = None,
                display: bool = False, wait_s: float | None = None,
                files: Mapping[str, str | bytes] | None = None) -> "ClusterSession":
        """A stateful interpreter on one node; all its runs go there (affinity)."""
        return ClusterSession(self, memory_mb=memory_mb, timeout_s=timeout_s, display=display, wait_s=wait_s,
                              files=files)

    # ------------------------------------------------------------------ views
    @property
    def isolation(self) -> str:
        kinds = sorted({s.info.get("isolation", "?") for s in self._slots.values() if s.info})
        return "/".join(kinds) if kinds else "not started"

    @property
    def workers(self) -> int:
        return self.router.capacity

    def stats(self) -> SandboxStats:
        """Counts for the service's /metrics (`StatsSource`): live workers on ready nodes, replaced
        actors, open sessions. No Ray call: read from the router's own view."""
        return SandboxStats(workers_live=self.router.capacity, worker_restarts=self.replacements,
                            sessions_live=len(self._sessions))

    def describe(self) -> dict:
        return {
            "isolation": self.isolation,
            "backend": "ray",
            "workers": self.workers,
            "replacements": self.replacements,
            "nodes": {key: {"workers": s.workers, "generation": s.generation, "pid": s.info.get("pid"),
                            "replacing": s.replacing, "last_error": s.last_error,
                            **self.router.snapshot().get(key, {})}
                      for key, s in self._slots.items()},
        }


class ClusterSession:
    """A session pinned to one node's actor. If that actor is lost, `lost` (and `interpreter_lost`) is
    True, the run that found out returns SANDBOX_ERROR, and the session closes: its state existed only
    there. Otherwise `interpreter_lost` / `state_reset` mirror the node's session after each run."""

    def __init__(self, cluster: SandboxCluster, *, memory_mb: int | None, timeout_s: float | None,
                 display: bool, wait_s: float | None, files: Mapping[str, str | bytes] | None = None) -> None:
        self.cluster = cluster
        self.id = uuid.uuid4().hex
        self.limits = cluster.config.limits(timeout_s=timeout_s, memory_mb=memory_mb)
        self._memory_mb, self._timeout_s, self.display, self.wait_s = memory_mb, timeout_s, display, wait_s
        self._files = dict(files) if files else None
        self.node_id: str | None = None
        self.lost = False  # the node's actor was lost: this session is over
        self.interpreter_lost = False  # the latest run ended the interpreter (its state is gone)
        self.state_reset = False  # the latest run started in a fresh interpreter after a loss
        self._generation = -1
        self._closed = False
        self._close_reason = "closed"

    async def __aenter__(self) -> "ClusterSession":
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def start(self) -> None:
        c = self.cluster
        if not c._started:
            await c.start()
        key = await c._node_for(opening_session=True)
        slot = c._slots[key]
        generation = slot.generation
        try:
            ref = slot.actor.session_open.remote(self.id, self._memory_mb, self._timeout_s, self.display, self.wait_s,
                                                 self._files)
            await c._call(slot, generation, ref, c.cluster_config.start_timeout_s + (self.wait_s or 0))
        except BaseException:
            c.router.close_session(key)
            raise
        self.node_id, self._generation = key, generation
        c._sessions.add(self)

    async def run(self, code: str | bytes, timeout_s: float | None = None, *,
                  display: bool | None = None) -> ExecResult:
        if self._closed:
            raise SessionClosed(f"session is closed ({self._close_reason})")
        c = self.cluster
        limits = c.config.limits(timeout_s=timeout_s or self.limits.timeout_s, memory_mb=self.limits.memory_mb)
        started = time.monotonic()
        slot = c._slots.get(self.node_id)
        try:
            if slot is None or slot.actor is None:
                raise NodeLost(f"the sandbox actor on node {self.node_id[:12]} is gone")
            ref = slot.actor.session_run.remote(self.id, code, timeout_s, display)
            result, self.interpreter_lost, self.state_reset = await c._call(
                slot, self._generation, ref, limits.timeout_s + c.cluster_config.call_grace_s)
            return result
        except NodeLost as exc:
            self.lost = self.interpreter_lost = True
            self.state_reset = False
            await self.close(reason=f"node lost: {exc}")
            return ExecResult(Status.SANDBOX_ERROR, duration_s=time.monotonic() - started,
                              error=f"session lost: its interpreter lived on a sandbox actor that is gone ({exc}); "
                                    "earlier state is gone; open a new session and replay")
        except SessionClosed as exc:
            await self.close(reason=str(exc))
            raise

    async def close(self, reason: str = "closed") -> None:
        if self._closed:
            return
        self._closed = True
        self._close_reason = reason
        c = self.cluster
        c._sessions.discard(self)
        if self.node_id is None:
            return
        c.router.close_session(self.node_id)
        slot = c._slots.get(self.node_id)
        if slot is not None and slot.actor is not None and slot.generation == self._generation and not self.lost:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(_future(slot.actor.session_close.remote(self.id)),
                                       c.cluster_config.ping_timeout_s)


# ---------------------------------------------------------------------- helpers

def _future(ref) -> asyncio.Future:
    return asyncio.wrap_future(ref.future())


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


__all__ = ["ClusterSession", "NodeLost", "RayUnavailable", "SandboxCluster", "import_ray"]
