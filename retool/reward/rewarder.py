"""`Rewarder`: one object that owns everything stateful about scoring -- the worker pool, the verdict
cache, identical verdicts in flight, the fast-path memos and the counters.

Keeping them on an instance (instead of module globals) means two configurations can live side by
side, tests make their own instead of resetting globals, and a forked child simply notices it is not
the owner and starts afresh. ``retool.reward.score`` and friends use `default_rewarder()`, made on
first use.

A verdict goes through the cheapest step that can decide it: extraction and exact fast paths in the
caller (microseconds), then the verdict cache, then math-verify in a worker process under a hard
deadline. Every entry point turns failures into a wrong verdict with a ``reason`` instead of raising,
because one odd rollout must not take down an RL step.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import os
import threading
import time
import weakref
from collections import Counter, OrderedDict
from concurrent.futures import CancelledError, Future
from dataclasses import dataclass
from typing import Any, Iterable, Optional, Union

from . import fastpath
from .options import DEFAULT_TIMEOUT_S, RewardOptions, RewardResult, make_options
from .pool import RemoteError, TaskTimeout, WorkerCrashed, WorkerPool, WorkerStartError
from .verdict import Decided, Memo, Pending, final_result, prepare

__all__ = ["Rewarder", "default_rewarder"]

DEFAULT_CACHE_SIZE = 65536
_MEMO_SIZE = 65536
_ASYNC_CHUNK = 256  # items prepared between two yields to the event loop
_NOT_CACHED = ("worker crashed", "cancelled", "math-verify unavailable")


def _default_workers() -> int:
    from ..settings import RuntimeConfig, read  # the one reader of RETOOL_*; imported when a pool is sized

    configured = read(RuntimeConfig).reward_workers
    if configured is not None:
        if configured < 1:
            raise ValueError(f"RETOOL_REWARD_WORKERS must be at least 1, not {configured}")
        return configured
    try:
        usable = len(os.sched_getaffinity(0))  # a container's CPU set, not the host's
    except (AttributeError, OSError):
        usable = 0
    return usable or os.cpu_count() or 1


@dataclass
class _Ticket:
    """How a slow-path verdict will be obtained: a cached verdict, or a future we run or share."""

    verdict: Optional[tuple] = None  # (acc, reason, shown_pred)
    future: Optional[Future] = None
    owner: bool = False  # this request submitted the task (its worker time is this verdict's cost)


def _golds(ground_truth: Any) -> list:
    if isinstance(ground_truth, (list, tuple)):
        return list(ground_truth) or [""]
    return [ground_truth]


def _split_pair(item: Any) -> tuple[Any, Any, Any]:
    if isinstance(item, dict):
        return item.get("solution"), item.get("ground_truth"), item.get("tool_calls")
    if isinstance(item, (str, bytes)):
        return item, None, None
    try:
        seq = tuple(item)
    except TypeError:
        return item, None, None
    if len(seq) >= 3:
        return seq[0], seq[1], seq[2]
    if len(seq) == 2:
        return seq[0], seq[1], None
    return (seq[0] if seq else None), None, None


def _string_fallback(p: Pending, why: str) -> tuple[bool, str]:
    from .dapo import normalize_final_answer

    if p.from_text:
        return False, why
    try:
        a = normalize_final_answer(p.gold).replace(" ", "").lower()
        b = normalize_final_answer(p.pred).replace(" ", "").lower()
    except Exception:  # noqa: BLE001 - the fallback itself must not raise
        return False, why
    if a and a == b:
        return True, f"{why}; normalised string match"
    return False, f"{why}; normalised strings differ"


def _outcome(p: Pending, fut: Future) -> tuple[bool, str, Optional[str]]:
    """(acc, reason, shown prediction) from a resolved future."""
    try:
        acc, reason, shown = fut.result(timeout=0)
        return bool(acc), str(reason), (shown if p.from_text else p.shown_pred)
    except TaskTimeout:
        return False, "timeout", p.shown_pred
    except CancelledError:
        return False, "cancelled (reward pool shut down)", p.shown_pred
    except WorkerCrashed as e:
        return False, f"worker crashed: {e}", p.shown_pred
    except WorkerStartError as e:
        return (*_string_fallback(p, f"math-verify unavailable ({e})"), p.shown_pred)
    except RemoteError as e:
        return (*_string_fallback(p, f"parse error: {e}"), p.shown_pred)
    except Exception as e:  # noqa: BLE001
        return (*_string_fallback(p, f"error: {type(e).__name__}: {e}"), p.shown_pred)


def _wait(fut: Future) -> float:
    """Block until ``fut`` is resolved (the pool resolves every future); returns its worker time."""
    try:
        fut.exception()
    except CancelledError:
        pass
    return getattr(fut, "service_s", 0.0)


def _shutdown_at_exit(ref: "weakref.ref[Rewarder]") -> None:
    rewarder = ref()
    if rewarder is not None:
        rewarder.shutdown(kill=True)


class Rewarder:
    """Scores math answers; owns its pool, caches and counters. Safe to use from any thread.

    ``workers`` defaults to the usable CPUs (``RETOOL_REWARD_WORKERS`` overrides), ``cache_size`` is
    the verdict-cache size (0 turns caching and sharing of identical in-flight verdicts off). The
    pool starts on the first verdict that needs math-verify, and stops at ``shutdown()`` or exit.
    """

    def __init__(
        self,
        *,
        workers: Optional[int] = None,
        memory_limit_mb: Optional[int] = None,
        warm_up: Optional[bool] = None,
        cache_size: int = DEFAULT_CACHE_SIZE,
    ):
        self._pool_kwargs: dict = {}
        self._cache_size = DEFAULT_CACHE_SIZE
        self._pool: Optional[WorkerPool] = None
        self._reset_process_state()
        self._stats: Counter = Counter()
        self._cache: "OrderedDict[tuple, tuple]" = OrderedDict()
        self._memo = self._new_memo()
        self.configure(workers=workers, memory_limit_mb=memory_limit_mb, warm_up=warm_up, cache_size=cache_size)
        atexit.register(_shutdown_at_exit, weakref.ref(self))

    # -- lifecycle --------------------------------------------------------------------------------
    def _reset_process_state(self) -> None:
        self._owner_pid = os.getpid()
        self._lock = threading.RLock()
        self._inflight: dict = {}
        self._pool = None

    def _own(self) -> None:
        # A forked child must not touch the parent's workers or a lock another thread held at fork.
        if self._owner_pid != os.getpid():
            self._reset_process_state()

    @staticmethod
    def _new_memo() -> Memo:
        return Memo(
            prepare_gold=functools.lru_cache(maxsize=_MEMO_SIZE)(fastpath.prepare_gold),
            parse_number=functools.lru_cache(maxsize=_MEMO_SIZE)(fastpath.parse_number),
        )

    def configure(
        self,
        *,
        workers: Optional[int] = None,
        memory_limit_mb: Optional[int] = None,
        warm_up: Optional[bool] = None,
        cache_size: Optional[int] = None,
    ) -> None:
        """Change pool parameters or the verdict-cache size. A running pool is stopped; the next
        verdict that needs one starts a new one."""
        self._own()
        with self._lock:
            if cache_size is not None:
                self._cache_size = max(0, int(cache_size))
                self._cache.clear()
            if workers is not None:
                self._pool_kwargs["max_workers"] = int(workers)
            if memory_limit_mb is not None:
                self._pool_kwargs["memory_limit_mb"] = int(memory_limit_mb)
            if warm_up is not None:
                self._pool_kwargs["warm_up"] = bool(warm_up)
        self.shutdown()

    def _get_pool(self) -> WorkerPool:
        self._own()
        pool = self._pool
        if pool is not None:
            return pool
        with self._lock:
            if self._pool is None:
                kw = {"max_workers": _default_workers(), "timeout_s": DEFAULT_TIMEOUT_S}
                kw.update(self._pool_kwargs)
                self._pool = WorkerPool(**kw)
            return self._pool

    def shutdown(self, *, kill: bool = True) -> None:
        """Stop the worker pool (pending verdicts are cancelled). Safe to call at any time, and again."""
        if self._owner_pid != os.getpid():
            self._reset_process_state()
            return
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True, kill=kill)

    def worker_pids(self) -> list[int]:
        """Process ids of the running pool workers (empty when no pool is running)."""
        pool = self._pool
        return pool.worker_pids() if pool is not None and self._owner_pid == os.getpid() else []

    def wait_ready(self, timeout_s: Optional[float] = None) -> bool:
        """Start the pool if needed and wait until every worker is up (benchmarks, warm starts)."""
        return self._get_pool().wait_ready(timeout_s)

    def clear_caches(self) -> None:
        """Forget cached verdicts and parsed ground truths here (workers keep their parse caches)."""
        with self._lock:
            self._cache.clear()
            self._memo = self._new_memo()

    def stats(self, *, reset: bool = False) -> dict:
        """Counters of how verdicts were decided (fast path, cache, pool, timeouts)."""
        with self._lock:
            out = dict(self._stats)
            if reset:
                self._stats.clear()
            return out

    def _count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self._stats[key] += n

    # -- the slow path --------------------------------------------------------------------------
    def _on_done(self, key: tuple, p: Pending, fut: Future) -> None:
        acc, reason, shown = _outcome(p, fut)
        with self._lock:
            if self._inflight.get(key) is fut:
                del self._inflight[key]
            if reason != "timeout" and not reason.startswith(_NOT_CACHED):
                if self._cache_size:
                    self._cache[key] = (acc, reason, shown)
                    while len(self._cache) > self._cache_size:
                        self._cache.popitem(last=False)
            else:
                self._stats["timeouts" if reason == "timeout" else "pool_failures"] += 1

    def _submit(self, p: Pending, timeout_s: float) -> Future:
        from ._mv import mv_verdict

        try:
            fut = self._get_pool().submit_with_timeout(timeout_s, mv_verdict, *p.task_args)
        except RuntimeError:  # the pool was shut down under us: the next one starts fresh
            fut = self._get_pool().submit_with_timeout(timeout_s, mv_verdict, *p.task_args)
        self._stats["pool_tasks"] += 1
        return fut

    def _lookup_or_submit(self, p: Pending, timeout_s: float) -> _Ticket:
        """A cached verdict, the future of an identical verdict in flight, or a newly submitted task."""
        key = p.key
        self._own()
        with self._lock:
            if self._cache_size:
                hit = self._cache.get(key)
                if hit is not None:
                    self._cache.move_to_end(key)
                    self._stats["cache_hits"] += 1
                    return _Ticket(verdict=hit)
                fut = self._inflight.get(key)
                if fut is not None:
                    self._stats["inflight_joins"] += 1
                    return _Ticket(future=fut)
            fut = self._submit(p, timeout_s)
            if self._cache_size:
                self._inflight[key] = fut
        fut.add_done_callback(lambda f, key=key, p=p: self._on_done(key, p, f))
        return _Ticket(future=fut, owner=True)

    def _prepare(self, solution: Any, gold: Any, opts: RewardOptions) -> Union[Decided, Pending]:
        d = prepare(solution, gold, opts, self._memo)
        if isinstance(d, Decided):
            self._count("fast_path" if d.reason.startswith(("fast-path", "exact")) else "decided_early")
        return d

    def _stage(self, solution: Any, ground_truth: Any, opts: RewardOptions) -> list:
        """Prepare every acceptable answer; slow ones are submitted to the pool right away."""
        staged = []
        for gold in _golds(ground_truth):
            prep = self._prepare(solution, gold, opts)
            if isinstance(prep, Pending):
                try:
                    staged.append((prep, self._lookup_or_submit(prep, opts.timeout_s)))
                except Exception as e:  # noqa: BLE001
                    staged.append((Decided(False, f"internal error: {type(e).__name__}: {e}", prep.shown_pred), None))
            else:
                staged.append((prep, None))
            if isinstance(prep, Decided) and prep.acc:
                break
        return staged

    @staticmethod
    def _collect(staged: list) -> tuple[tuple, float]:
        """(first correct part, else the first part), and the worker time spent."""
        parts = []
        worker_s = 0.0
        for prep, got in staged:
            if isinstance(prep, Decided):
                parts.append((prep.acc, prep.reason, prep.pred))
                continue
            if got.future is not None:
                service = _wait(got.future)
                worker_s += service if got.owner else 0.0
                parts.append(_outcome(prep, got.future))
            else:
                parts.append(got.verdict)
        for part in parts:
            if part[0]:
                return part, worker_s
        return parts[0], worker_s

    # -- public entry points ----------------------------------------------------------------------
    def score(
        self, solution: Any, ground_truth: Any, *, tool_calls: Optional[int] = None, **options: Any
    ) -> RewardResult:
        """Score one solution (blocking; safe from any thread). Options: see `retool.reward.score`."""
        return self.score_with(solution, ground_truth, tool_calls, make_options(**options))

    def score_with(self, solution: Any, ground_truth: Any, tool_calls: Any, opts: RewardOptions) -> RewardResult:
        t0 = time.perf_counter()
        prep_s = worker_s = 0.0
        try:
            staged = self._stage(solution, ground_truth, opts)
            prep_s = time.perf_counter() - t0
            (acc, reason, pred), worker_s = self._collect(staged)
        except Exception as e:  # noqa: BLE001 - a reward must not raise
            acc, reason, pred = False, f"internal error: {type(e).__name__}: {e}", None
        return final_result(opts, acc, reason, pred, tool_calls, prep_s + worker_s)

    def score_many(self, pairs: Iterable[Any], **options: Any) -> list[RewardResult]:
        """Score a batch in parallel on the pool; blocks until all are done (see `retool.reward.score_many`)."""
        opts = make_options(**options)
        staged = []
        for item in pairs:
            t0 = time.perf_counter()
            try:
                sol, gt, tc = _split_pair(item)
                entries = self._stage(sol, gt, opts)
            except Exception as e:  # noqa: BLE001
                tc, entries = None, [(Decided(False, f"internal error: {type(e).__name__}: {e}", None), None)]
            staged.append((entries, tc, time.perf_counter() - t0))
        out = []
        for entries, tc, prep_s in staged:
            try:
                (acc, reason, pred), worker_s = self._collect(entries)
            except Exception as e:  # noqa: BLE001
                (acc, reason, pred), worker_s = (False, f"internal error: {type(e).__name__}: {e}", None), 0.0
            out.append(final_result(opts, acc, reason, pred, tc, prep_s + worker_s))
        return out

    async def _await_outcome(self, prep: Pending, ticket: _Ticket) -> tuple[tuple, float]:
        """((acc, reason, pred), worker seconds charged to this request) without blocking the loop."""
        fut = ticket.future
        if fut is None:
            return ticket.verdict, 0.0
        if not fut.done():
            try:
                # shield: one caller's cancellation must not cancel a verdict that other callers share
                await asyncio.shield(asyncio.wrap_future(fut))
            except asyncio.CancelledError:
                if not fut.done():
                    raise
            except Exception:  # noqa: BLE001 - _outcome turns it into a reason
                pass
        return _outcome(prep, fut), (getattr(fut, "service_s", 0.0) if ticket.owner else 0.0)

    async def ascore_with(
        self, solution: Any, ground_truth: Any, tool_calls: Any, opts: RewardOptions
    ) -> RewardResult:
        """Async scoring with prepared options (adapters call this; it never raises but for cancel)."""
        cost = 0.0  # preparation here plus worker time of tasks this call ran; waiting is not counted
        try:
            parts = []
            for gold in _golds(ground_truth):
                t0 = time.perf_counter()
                prep = self._prepare(solution, gold, opts)
                if isinstance(prep, Pending):
                    ticket = self._lookup_or_submit(prep, opts.timeout_s)
                    cost += time.perf_counter() - t0
                    part, worker_s = await self._await_outcome(prep, ticket)
                    cost += worker_s
                    parts.append(part)
                else:
                    cost += time.perf_counter() - t0
                    parts.append((prep.acc, prep.reason, prep.pred))
                if parts[-1][0]:
                    break
            acc, reason, pred = next((p for p in parts if p[0]), parts[0])
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - a reward must not raise
            acc, reason, pred = False, f"internal error: {type(e).__name__}: {e}", None
        return final_result(opts, acc, reason, pred, tool_calls, cost)

    async def ascore(
        self, solution: Any, ground_truth: Any, *, tool_calls: Optional[int] = None, **options: Any
    ) -> RewardResult:
        """Async `score`: the CPU-heavy part runs in the worker pool, never on the event loop."""
        return await self.ascore_with(solution, ground_truth, tool_calls, make_options(**options))

    async def ascore_many(self, pairs: Iterable[Any], **options: Any) -> list[RewardResult]:
        """Async `score_many`; yields to the event loop between chunks of preparation."""
        opts = make_options(**options)
        tasks = []
        for i, item in enumerate(pairs):
            sol, gt, tc = _split_pair(item)
            tasks.append(asyncio.ensure_future(self.ascore_with(sol, gt, tc, opts)))
            if i % _ASYNC_CHUNK == _ASYNC_CHUNK - 1:
                await asyncio.sleep(0)
        return list(await asyncio.gather(*tasks))


@functools.lru_cache(maxsize=None)
def default_rewarder() -> Rewarder:
    """The process's shared `Rewarder`, made on first use (behind ``retool.reward.score`` etc.)."""
    return Rewarder()

