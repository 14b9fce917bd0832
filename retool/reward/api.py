"""Public scoring API: ``score``, ``score_many``, their async forms, and slime's ``reward_func``.

A verdict goes through the cheapest step that can decide it: extraction and exact fast paths in the
caller (microseconds), then a verdict cache, then math-verify in a worker process under a hard
deadline. Every entry point turns failures into a wrong verdict with a ``reason`` instead of raising,
because one odd rollout must not take down an RL step.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import threading
import time
from collections import Counter, OrderedDict
from concurrent.futures import CancelledError, Future
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional, Sequence, Union

from . import dapo as _dapo
from .extract import MAX_ANSWER_CHARS, extract_answer
from .fastpath import canonical, compare_numbers, norm_ws, parse_number, prepare_gold, strip_simple_lhs
from .pool import RemoteError, TaskTimeout, WorkerCrashed, WorkerPool, WorkerStartError

__all__ = [
    "RewardResult",
    "score",
    "score_many",
    "ascore",
    "ascore_many",
    "reward_func",
    "configure",
    "shutdown",
    "clear_caches",
    "stats",
    "worker_pids",
    "wait_ready",
    "DEFAULT_TIMEOUT_S",
]

DEFAULT_TIMEOUT_S = 5.0
MODES = ("math", "dapo")
_cache_size = 65536
_ASYNC_CHUNK = 256  # items prepared between two yields to the event loop


@dataclass(frozen=True)
class RewardResult:
    """One verdict.

    ``elapsed_ms`` is the work charged to this verdict, for monitoring: answer extraction and fast
    paths in the caller, plus worker time when this call ran the math-verify task itself. Waiting (in
    the pool's queue, or for an identical verdict another call is already computing) is not counted.
    """

    score: float
    acc: bool
    pred: Optional[str]
    reason: str
    elapsed_ms: float = field(default=0.0, compare=False)

    def as_dict(self) -> dict:
        """slime/verl's reward dict: ``{"score", "acc", "pred"}`` with ``pred`` "" when none."""
        return {"score": float(self.score), "acc": bool(self.acc), "pred": self.pred if self.pred is not None else ""}


@dataclass(frozen=True)
class _Options:
    mode: str = "math"
    timeout_s: float = DEFAULT_TIMEOUT_S
    tool_shaping: bool = False
    correct_score: Optional[float] = None
    incorrect_score: Optional[float] = None
    strict: bool = True
    strict_box_verify: bool = True
    dapo_variant: str = "verl"
    pause_tokens_index: Optional[tuple] = None


def _options(
    mode: str = "math",
    timeout_s: Optional[float] = None,
    tool_shaping: bool = False,
    correct_score: Optional[float] = None,
    incorrect_score: Optional[float] = None,
    strict: bool = True,
    strict_box_verify: bool = True,
    dapo_variant: str = "verl",
    pause_tokens_index: Optional[Sequence[int]] = None,
) -> _Options:
    if mode not in MODES:
        raise ValueError(f"unknown reward mode {mode!r}; expected one of {MODES}")
    if dapo_variant not in ("verl", "slime"):
        raise ValueError(f"unknown dapo_variant {dapo_variant!r}; expected 'verl' or 'slime'")
    t = DEFAULT_TIMEOUT_S if timeout_s is None else float(timeout_s)
    if not t > 0:
        raise ValueError("timeout_s must be positive")
    return _Options(
        mode=mode,
        timeout_s=t,
        tool_shaping=bool(tool_shaping),
        correct_score=None if correct_score is None else float(correct_score),
        incorrect_score=None if incorrect_score is None else float(incorrect_score),
        strict=bool(strict),
        strict_box_verify=bool(strict_box_verify),
        dapo_variant=dapo_variant,
        pause_tokens_index=tuple(pause_tokens_index) if pause_tokens_index is not None else None,
    )


# ---------------------------------------------------------------------------------------------
# shared state: pool, verdict cache, counters
# ---------------------------------------------------------------------------------------------
_state_lock = threading.RLock()
_pool: Optional[WorkerPool] = None
_pool_kwargs: dict = {}
_cache: "OrderedDict[tuple, tuple[bool, str]]" = OrderedDict()
_inflight: dict = {}
_stats: Counter = Counter()


def _default_workers() -> int:
    env = os.environ.get("RETOOL_REWARD_WORKERS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        usable = len(os.sched_getaffinity(0))  # a container's CPU set, not the host's
    except (AttributeError, OSError):
        usable = 0
    return usable or os.cpu_count() or 1


def _get_pool() -> WorkerPool:
    global _pool
    pool = _pool
    if pool is not None and pool.owner_pid == os.getpid():
        return pool
    with _state_lock:
        if _pool is None or _pool.owner_pid != os.getpid():
            kw = {"max_workers": _default_workers(), "timeout_s": DEFAULT_TIMEOUT_S}
            kw.update(_pool_kwargs)
            _pool = WorkerPool(**kw)
        return _pool


def configure(
    *,
    workers: Optional[int] = None,
    memory_limit_mb: Optional[int] = None,
    warm_up: Optional[bool] = None,
    cache_size: Optional[int] = None,
) -> None:
    """Set worker-pool parameters and the verdict-cache size (0 turns caching and sharing of
    identical in-flight verdicts off). A running pool is stopped; the next verdict starts a new one."""
    global _cache_size
    with _state_lock:
        if cache_size is not None:
            _cache_size = max(0, int(cache_size))
            _cache.clear()
        if workers is not None:
            _pool_kwargs["max_workers"] = int(workers)
        if memory_limit_mb is not None:
            _pool_kwargs["memory_limit_mb"] = int(memory_limit_mb)
        if warm_up is not None:
            _pool_kwargs["warm_up"] = bool(warm_up)
    shutdown()


def shutdown(*, kill: bool = True) -> None:
    """Stop the worker pool (pending verdicts are cancelled). Safe to call at any time, and again."""
    global _pool
    with _state_lock:
        pool, _pool = _pool, None
    if pool is not None and pool.owner_pid == os.getpid():
        pool.shutdown(wait=True, cancel_futures=True, kill=kill)


def worker_pids() -> list[int]:
    """Process ids of the running pool workers (empty when no pool is running)."""
    pool = _pool
    return pool.worker_pids() if pool is not None and pool.owner_pid == os.getpid() else []


def wait_ready(timeout_s: Optional[float] = None) -> bool:
    """Start the pool if needed and wait until every worker is up (benchmarks, warm starts)."""
    return _get_pool().wait_ready(timeout_s)


def clear_caches() -> None:
    """Forget cached verdicts and parsed ground truths in this process (workers keep theirs)."""
    with _state_lock:
        _cache.clear()
    prepare_gold.cache_clear()
    parse_number.cache_clear()
    canonical.cache_clear()


def stats(*, reset: bool = False) -> dict:
    """Counters of how verdicts were decided (fast path, cache, pool, timeouts), since start or reset."""
    with _state_lock:
        out = dict(_stats)
        if reset:
            _stats.clear()
        return out


def _count(key: str, n: int = 1) -> None:
    with _state_lock:
        _stats[key] += n


def _after_fork_in_child() -> None:
    # The child must not touch the parent's workers or a lock another thread held at fork time.
    global _pool, _state_lock, _inflight
    _pool = None
    _state_lock = threading.RLock()
    _inflight = {}


def _at_exit() -> None:
    try:
        shutdown(kill=True)
    except Exception:
        pass


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_at_exit)


# ---------------------------------------------------------------------------------------------
# verdict pipeline
# ---------------------------------------------------------------------------------------------
@dataclass
class _Decided:
    acc: bool
    reason: str
    pred: Optional[str]


@dataclass
class _Pending:
    key: tuple
    gold: str
    pred: str  # what math-verify sees
    shown_pred: str  # what the caller gets back


def _as_text(x: Any) -> str:
    if x is None:
        return ""
    if isinstance(x, str):
        return x
    if isinstance(x, (bytes, bytearray)):
        return bytes(x).decode("utf-8", errors="replace")
    try:
        return str(x)
    except Exception:
        return ""


def _num_kind(a, b) -> str:
    kinds = {a.kind, b.kind}
    if kinds <= {"integer"}:
        return "integer"
    if kinds & {"decimal", "integer_like_decimal"}:
        return "decimal"
    return "fraction"


def _math_prepare(solution: Any, ground_truth: Any, opts: _Options) -> Union[_Decided, _Pending]:
    gold_raw = _as_text(ground_truth)
    if not gold_raw.strip():
        return _Decided(False, "empty ground truth", None)
    pred, source = extract_answer(_as_text(solution))
    if pred is None:
        return _Decided(False, "no answer found" if source == "none" else f"no answer found ({source})", None)
    if len(pred) > MAX_ANSWER_CHARS:
        return _Decided(False, f"answer too long ({len(pred)} chars)", pred[:200])
    gold, gnum, g_rhs = prepare_gold(gold_raw)
    if not gold:
        return _Decided(False, "empty ground truth", pred)
    if len(gold) > MAX_ANSWER_CHARS:
        return _Decided(False, f"ground truth too long ({len(gold)} chars)", pred)

    if norm_ws(pred) == norm_ws(gold):
        return _Decided(True, "exact string match", pred)
    pnum = parse_number(pred)
    if pnum is None and "=" in pred and "=" not in gold:
        rhs = strip_simple_lhs(pred)
        if rhs is not None:
            if norm_ws(rhs) == norm_ws(gold):
                return _Decided(True, "exact string match (right-hand side)", pred)
            pnum = parse_number(rhs)
    gnum_use = gnum if gnum is not None else (g_rhs if "=" not in pred else None)
    if pnum is not None and gnum_use is not None:
        verdict = compare_numbers(gnum_use, pnum)
        if verdict is not None:
            kind = _num_kind(gnum_use, pnum)
            return _Decided(verdict, f"fast-path {kind} {'match' if verdict else 'mismatch'}", pred)

    mv_gold = canonical(gold) or gold
    mv_pred = canonical(pred) or pred
    return _Pending((mv_gold, mv_pred, opts.strict), mv_gold, mv_pred, pred)


def _string_fallback(p: _Pending, why: str) -> tuple[bool, str]:
    try:
        a = _dapo.normalize_final_answer(p.gold).replace(" ", "").lower()
        b = _dapo.normalize_final_answer(p.pred).replace(" ", "").lower()
    except Exception:
        return False, why
    if a and a == b:
        return True, f"{why}; normalised string match"
    return False, f"{why}; normalised strings differ"


def _outcome(p: _Pending, fut: Future) -> tuple[bool, str]:
    try:
        acc, reason = fut.result(timeout=0)
        return bool(acc), str(reason)
    except TaskTimeout:
        return False, "timeout"
    except CancelledError:
        return False, "cancelled (reward pool shut down)"
    except WorkerCrashed as e:
        return False, f"worker crashed: {e}"
    except WorkerStartError as e:
        return _string_fallback(p, f"math-verify unavailable ({e})")
    except RemoteError as e:
        return _string_fallback(p, f"parse error: {e}")
    except Exception as e:  # noqa: BLE001
        return _string_fallback(p, f"error: {type(e).__name__}: {e}")


def _on_done(key: tuple, p: _Pending, fut: Future) -> None:
    acc, reason = _outcome(p, fut)
    with _state_lock:
        if _inflight.get(key) is fut:
            del _inflight[key]
        if reason != "timeout" and not reason.startswith(("worker crashed", "cancelled", "math-verify unavailable")):
            _cache[key] = (acc, reason)
            while len(_cache) > _cache_size:
                _cache.popitem(last=False)
        else:
            _stats["timeouts" if reason == "timeout" else "pool_failures"] += 1


@dataclass
class _Ticket:
    """How a slow-path verdict will be obtained: a cached verdict, or a future we run or share."""

    verdict: Optional[tuple] = None
    future: Optional[Future] = None
    owner: bool = False  # this request submitted the task (its worker time is this verdict's cost)


def _submit(p: _Pending, timeout_s: float) -> Future:
    from ._mv import mv_verdict

    try:
        fut = _get_pool().submit_with_timeout(timeout_s, mv_verdict, p.gold, p.pred, p.key[2])
    except RuntimeError:  # the pool was shut down under us: the next one starts fresh
        fut = _get_pool().submit_with_timeout(timeout_s, mv_verdict, p.gold, p.pred, p.key[2])
    _stats["pool_tasks"] += 1
    return fut


def _lookup_or_submit(p: _Pending, timeout_s: float) -> _Ticket:
    """A cached verdict, the future of an identical verdict in flight, or a newly submitted task."""
    key = p.key
    with _state_lock:
        if _cache_size:
            hit = _cache.get(key)
            if hit is not None:
                _cache.move_to_end(key)
                _stats["cache_hits"] += 1
                return _Ticket(verdict=hit)
            fut = _inflight.get(key)
            if fut is not None:
                _stats["inflight_joins"] += 1
                return _Ticket(future=fut)
        fut = _submit(p, timeout_s)
        if _cache_size:
            _inflight[key] = fut
    fut.add_done_callback(lambda f, key=key, p=p: _on_done(key, p, f))
    return _Ticket(future=fut, owner=True)


def _final(opts: _Options, acc: bool, reason: str, pred: Optional[str], tool_calls: Any, elapsed_s: float) -> RewardResult:
    good = 1.0 if opts.correct_score is None else opts.correct_score
    bad = -1.0 if opts.incorrect_score is None else opts.incorrect_score
    value = good if acc else bad
    if opts.tool_shaping and not acc:
        # ReTool recipe (slime/verl): nudge wrong answers that tried the tool, capped at -0.6.
        n = _as_int(tool_calls)
        value = min(-0.6, value + (n - 2) / 2 * 0.1)
    return RewardResult(float(value), bool(acc), pred, reason, elapsed_s * 1000.0)


def _as_int(x: Any) -> int:
    try:
        return int(x)
    except (TypeError, ValueError, OverflowError):
        return 0


def _dapo_decide(solution: Any, ground_truth: Any, opts: _Options) -> _Decided:
    sol = _as_text(solution)
    gt = _as_text(ground_truth)
    pause = list(opts.pause_tokens_index) if opts.pause_tokens_index is not None else None
    try:
        r = _dapo.compute_score(
            sol, gt, strict_box_verify=opts.strict_box_verify, pause_tokens_index=pause, variant=opts.dapo_variant
        )
    except Exception as e:  # upstream raises on a bad pause index or slime's int cast of a non-integer gt
        return _Decided(False, f"dapo error: {type(e).__name__}: {e}", None)
    pred, acc = r["pred"], bool(r["acc"])
    rule = "strict-box" if opts.strict_box_verify else "minerva"
    if opts.strict_box_verify and pred is None:
        return _Decided(False, "dapo strict-box: no \\boxed{} in the last 100 characters", None)
    if not opts.strict_box_verify and pred == "[INVALID]":
        return _Decided(False, "dapo minerva: no Answer: line", pred)
    return _Decided(acc, f"dapo {rule} {'match' if acc else 'mismatch'}", pred)


def _golds(ground_truth: Any) -> list:
    if isinstance(ground_truth, (list, tuple)):
        return list(ground_truth) or [""]
    return [ground_truth]


def _prepare_one(solution: Any, gold: Any, opts: _Options) -> Union[_Decided, _Pending]:
    try:
        if opts.mode == "dapo":
            return _dapo_decide(solution, gold, opts)
        d = _math_prepare(solution, gold, opts)
        if isinstance(d, _Decided):
            _count("fast_path" if d.reason.startswith(("fast-path", "exact")) else "decided_early")
        return d
    except Exception as e:  # noqa: BLE001 - a reward must not raise
        return _Decided(False, f"internal error: {type(e).__name__}: {e}", None)


# ---------------------------------------------------------------------------------------------
# public entry points
# ---------------------------------------------------------------------------------------------
_Part = tuple  # (acc, reason, pred)


def _wait(fut: Future) -> float:
    """Block until ``fut`` is resolved (the pool resolves every future); returns its worker time."""
    try:
        fut.exception()
    except CancelledError:
        pass
    return getattr(fut, "service_s", 0.0)


def _stage(solution: Any, ground_truth: Any, opts: _Options) -> list:
    """Prepare every acceptable answer; slow ones are submitted to the pool right away."""
    staged = []
    for gold in _golds(ground_truth):
        prep = _prepare_one(solution, gold, opts)
        if isinstance(prep, _Pending):
            try:
                staged.append((prep, _lookup_or_submit(prep, opts.timeout_s)))
            except Exception as e:  # noqa: BLE001
                staged.append((_Decided(False, f"internal error: {type(e).__name__}: {e}", prep.shown_pred), None))
        else:
            staged.append((prep, None))
        if isinstance(prep, _Decided) and prep.acc:
            break
    return staged


def _collect(staged: list) -> tuple[_Part, float]:
    """(first correct part, else the first part), and the worker time spent."""
    parts = []
    worker_s = 0.0
    for prep, got in staged:
        if isinstance(prep, _Decided):
            parts.append((prep.acc, prep.reason, prep.pred))
            continue
        if got.future is not None:
            service = _wait(got.future)
            worker_s += service if got.owner else 0.0
            acc, reason = _outcome(prep, got.future)
        else:
            acc, reason = got.verdict
        parts.append((acc, reason, prep.shown_pred))
    for part in parts:
        if part[0]:
            return part, worker_s
    return parts[0], worker_s


def score(
    solution: Any,
    ground_truth: Any,
    *,
    mode: str = "math",
    timeout_s: Optional[float] = None,
    tool_calls: Optional[int] = None,
    tool_shaping: bool = False,
    correct_score: Optional[float] = None,
    incorrect_score: Optional[float] = None,
    strict: bool = True,
    strict_box_verify: bool = True,
    dapo_variant: str = "verl",
    pause_tokens_index: Optional[Sequence[int]] = None,
) -> RewardResult:
    """Score one solution against its ground truth (blocking; safe from any thread).

    ``mode="math"``: extract the final answer and decide equivalence (fast paths, then math-verify in
    a worker process with a hard ``timeout_s``). ``mode="dapo"``: DAPO's strict-box rule, exactly
    (``strict_box_verify=False`` for its Minerva ``Answer:`` rule; ``dapo_variant="slime"`` for slime's
    copy). A list/tuple ``ground_truth`` means "any of these". ``tool_shaping`` applies the ReTool
    recipe's ``min(-0.6, score + (tool_calls - 2) / 2 * 0.1)`` to wrong answers. Scores default to
    +1/-1; ``correct_score``/``incorrect_score`` override them.
    """
    opts = _options(
        mode, timeout_s, tool_shaping, correct_score, incorrect_score, strict, strict_box_verify, dapo_variant,
        pause_tokens_index,
    )
    t0 = time.perf_counter()
    prep_s = worker_s = 0.0
    try:
        staged = _stage(solution, ground_truth, opts)
        prep_s = time.perf_counter() - t0
        (acc, reason, pred), worker_s = _collect(staged)
    except Exception as e:  # noqa: BLE001 - a reward must not raise
        acc, reason, pred = False, f"internal error: {type(e).__name__}: {e}", None
    return _final(opts, acc, reason, pred, tool_calls, prep_s + worker_s)


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


def score_many(pairs: Iterable[Any], *, mode: str = "math", **options: Any) -> list[RewardResult]:
    """Score a batch in parallel on the worker pool; blocks the calling thread until all are done.

    ``pairs`` holds ``(solution, ground_truth)`` or ``(solution, ground_truth, tool_calls)`` tuples, or
    dicts with those keys. Options are those of :func:`score`. Each result's ``elapsed_ms`` is its own
    work (preparation plus worker time), not its wait in the queue. From a coroutine use
    :func:`ascore_many`, which does not block the event loop.
    """
    opts = _options(mode, **options)
    staged = []
    for item in pairs:
        t0 = time.perf_counter()
        try:
            sol, gt, tc = _split_pair(item)
            entries = _stage(sol, gt, opts)
        except Exception as e:  # noqa: BLE001
            tc, entries = None, [(_Decided(False, f"internal error: {type(e).__name__}: {e}", None), None)]
        staged.append((entries, tc, time.perf_counter() - t0))
    out = []
    for entries, tc, prep_s in staged:
        try:
            (acc, reason, pred), worker_s = _collect(entries)
        except Exception as e:  # noqa: BLE001
            (acc, reason, pred), worker_s = (False, f"internal error: {type(e).__name__}: {e}", None), 0.0
        out.append(_final(opts, acc, reason, pred, tc, prep_s + worker_s))
    return out


async def _await_outcome(prep: _Pending, ticket: _Ticket) -> tuple[bool, str, float]:
    """(acc, reason, worker seconds charged to this request) without blocking the event loop."""
    fut = ticket.future
    if fut is None:
        return ticket.verdict[0], ticket.verdict[1], 0.0
    if not fut.done():
        try:
            # shield: one caller's cancellation must not cancel a verdict that other callers share
            await asyncio.shield(asyncio.wrap_future(fut))
        except asyncio.CancelledError:
            if not fut.done():
                raise
        except Exception:  # noqa: BLE001 - _outcome turns it into a reason
            pass
    acc, reason = _outcome(prep, fut)
    return acc, reason, (getattr(fut, "service_s", 0.0) if ticket.owner else 0.0)


async def _ascore_opts(solution: Any, ground_truth: Any, tool_calls: Any, opts: _Options) -> RewardResult:
    cost = 0.0  # preparation here plus worker time of tasks this call ran; waiting is not counted
    try:
        parts = []
        for gold in _golds(ground_truth):
            t0 = time.perf_counter()
            prep = _prepare_one(solution, gold, opts)
            if isinstance(prep, _Pending):
                ticket = _lookup_or_submit(prep, opts.timeout_s)
                cost += time.perf_counter() - t0
                acc, reason, worker_s = await _await_outcome(prep, ticket)
                cost += worker_s
                parts.append((acc, reason, prep.shown_pred))
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
    return _final(opts, acc, reason, pred, tool_calls, cost)


async def ascore(
    solution: Any, ground_truth: Any, *, mode: str = "math", tool_calls: Optional[int] = None, **options: Any
) -> RewardResult:
    """Async :func:`score`: the CPU-heavy part runs in the worker pool, never on the event loop."""
    return await _ascore_opts(solution, ground_truth, tool_calls, _options(mode, **options))


async def ascore_many(pairs: Iterable[Any], *, mode: str = "math", **options: Any) -> list[RewardResult]:
    """Async :func:`score_many`; yields to the event loop between chunks of preparation."""
    opts = _options(mode, **options)
    tasks = []
    for i, item in enumerate(pairs):
        sol, gt, tc = _split_pair(item)
        tasks.append(asyncio.ensure_future(_ascore_opts(sol, gt, tc, opts)))
        if i % _ASYNC_CHUNK == _ASYNC_CHUNK - 1:
            await asyncio.sleep(0)
    return list(await asyncio.gather(*tasks))


# ---------------------------------------------------------------------------------------------
# slime adapter
# ---------------------------------------------------------------------------------------------
def _get(obj: Any, name: str, default: Any = None) -> Any:
    try:
        value = getattr(obj, name, default)
    except Exception:
        return default
    return default if value is None else value


def _label_of(sample: Any) -> Any:
    label = _get(sample, "label")
    if isinstance(label, dict):
        for k in ("ground_truth", "answer", "label", "solution"):
            if label.get(k) is not None:
                return label[k]
        return ""
    return label


def _tool_calls_of(sample: Any, kwargs: dict) -> Any:
    if kwargs.get("tool_call_count") is not None:
        return kwargs["tool_call_count"]
    meta = _get(sample, "metadata")
    if isinstance(meta, dict):
        for k in ("tool_call_count", "num_tool_calls", "num_turns"):
            if meta.get(k) is not None:
                return meta[k]
    for k in ("tool_call_count", "num_tool_calls"):
        v = _get(sample, k)
        if v is not None:
            return v
    return 0


def _flag(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() not in ("", "0", "false", "no", "off")
    return bool(value)


def _reward_options(args: Any) -> _Options:
    mode = _get(args, "reward_mode", "math")
    mode = mode if isinstance(mode, str) and mode in MODES else "math"
    timeout = _get(args, "reward_timeout_s")
    try:
        timeout = float(timeout) if timeout is not None else None
        if timeout is not None and not timeout > 0:
            timeout = None
    except (TypeError, ValueError):
        timeout = None
    variant = _get(args, "reward_dapo_variant", "verl")
    return _options(
        mode,
        timeout,
        _flag(_get(args, "reward_tool_shaping"), False),
        strict_box_verify=_flag(_get(args, "reward_strict_box_verify"), True),
        dapo_variant=variant if isinstance(variant, str) and variant in ("verl", "slime") else "verl",
    )


async def _reward_one(opts: _Options, sample: Any, kwargs: dict) -> dict:
    try:
        response = _as_text(_get(sample, "response", ""))
        if opts.mode == "dapo":
            prompt = _get(sample, "prompt", "")
            solution = (prompt if isinstance(prompt, str) else _as_text(prompt)) + response
        else:
            solution = response
        result = await _ascore_opts(solution, _label_of(sample), _tool_calls_of(sample, kwargs), opts)
    except (CancelledError, asyncio.CancelledError):
        raise
    except Exception as e:  # noqa: BLE001
        result = _final(opts, False, f"internal error: {type(e).__name__}: {e}", None, 0, 0.0)
    return result.as_dict()


async def reward_func(args: Any, sample: Any, **kwargs: Any) -> Union[dict, list[dict]]:
    """slime's custom reward hook (``--custom-rm-path retool.reward_func``).

    Reads ``sample.response`` and ``sample.label`` (a dict label's ``ground_truth`` too), the tool-call
    count from ``sample.metadata["tool_call_count"]`` or ``sample.tool_call_count``, and options from
    ``args``: ``reward_mode`` ("math"/"dapo"), ``reward_tool_shaping``, ``reward_timeout_s``,
    ``reward_strict_box_verify``, ``reward_dapo_variant``. Returns ``{"score", "acc", "pred"}``; given a
    list of samples (slime's group reward mode) it returns one dict per sample.

    In ``dapo`` mode the solution is ``prompt + response`` as in slime's ReTool example (DAPO reads only
    the last 300 characters); in ``math`` mode only the response is read, so a boxed example in the
    prompt cannot leak in.
    """
    opts = _reward_options(args)
    if isinstance(sample, (list, tuple)):
        return list(await asyncio.gather(*(_reward_one(opts, s, kwargs) for s in sample)))
    return await _reward_one(opts, sample, kwargs)
