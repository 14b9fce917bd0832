"""Math answer rewards for RL: right (math-verify semantics, with extraction that is never weaker
than the library's), fast (exact fast paths, caches, a process pool) and safe (hard per-verdict
deadlines, no SIGALRM in the caller, never raises).

All state (pool, caches, counters) lives in a `Rewarder`; the functions here use one made on first
use (`default_rewarder()`). Make your own ``Rewarder(workers=..., cache_size=...)`` for a separate
configuration. slime's ``reward_func`` is in ``retool.integrations.slime`` (``from retool import
reward_func``).

Importing this package is cheap: sympy and math-verify are only imported inside pool workers.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional

from .extract import Extraction, Source, extract, extract_answer
from .options import DEFAULT_FLOAT_ROUNDING, DEFAULT_TIMEOUT_S, DapoVariant, Mode, RewardOptions, RewardResult
from .rewarder import Rewarder, default_rewarder

__all__ = [
    "DEFAULT_FLOAT_ROUNDING",
    "DEFAULT_TIMEOUT_S",
    "DapoVariant",
    "Extraction",
    "Mode",
    "RewardOptions",
    "RewardResult",
    "Rewarder",
    "Source",
    "ascore",
    "ascore_many",
    "clear_caches",
    "configure",
    "default_rewarder",
    "extract",
    "extract_answer",
    "score",
    "score_many",
    "shutdown",
    "stats",
    "wait_ready",
    "worker_pids",
]


def score(solution: Any, ground_truth: Any, *, tool_calls: Optional[int] = None, **options: Any) -> RewardResult:
    """Score one solution against its ground truth (blocking; safe from any thread).

    ``mode="math"`` (default): extract the final answer and decide equivalence (fast paths, then
    math-verify in a worker process with a hard ``timeout_s``); ``strict``, ``float_rounding`` and
    ``allow_set_relation_comp`` are math-verify's ``verify`` settings, with its defaults;
    ``written_precision`` (default on) also accepts a decimal of 4+ significant digits rounded at its own
    places (``2.6667`` for ``8/3``; see `RewardOptions`). Several
    boxes written as one answer (``\\boxed{1}, \\boxed{2}``) are compared as a set. ``mode="dapo"``:
    DAPO's strict-box rule, exactly (``strict_box_verify=False`` for its Minerva ``Answer:`` rule;
    ``dapo_variant="slime"`` for slime's copy). A list/tuple ``ground_truth`` means "any of these".
    ``tool_shaping`` applies the ReTool recipe's ``min(-0.6, score + (tool_calls - 2) / 2 * 0.1)`` to
    wrong answers. Scores default to +1/-1; ``correct_score``/``incorrect_score`` override them.
    """
    return default_rewarder().score(solution, ground_truth, tool_calls=tool_calls, **options)


def score_many(pairs: Iterable[Any], **options: Any) -> list[RewardResult]:
    """Score a batch in parallel on the worker pool; blocks the calling thread until all are done.

    ``pairs`` holds ``(solution, ground_truth)`` or ``(solution, ground_truth, tool_calls)`` tuples, or
    dicts with those keys. Options are those of :func:`score`. Each result's ``elapsed_ms`` is its own
    work (preparation plus worker time), not its wait in the queue. From a coroutine use
    :func:`ascore_many`, which does not block the event loop.
    """
    return default_rewarder().score_many(pairs, **options)


async def ascore(solution: Any, ground_truth: Any, *, tool_calls: Optional[int] = None, **options: Any) -> RewardResult:
    """Async :func:`score`: the CPU-heavy part runs in the worker pool, never on the event loop."""
    return await default_rewarder().ascore(solution, ground_truth, tool_calls=tool_calls, **options)


async def ascore_many(pairs: Iterable[Any], **options: Any) -> list[RewardResult]:
    """Async :func:`score_many`; yields to the event loop between chunks of preparation."""
    return await default_rewarder().ascore_many(pairs, **options)


def configure(
    *,
    workers: Optional[int] = None,
    memory_limit_mb: Optional[int] = None,
    warm_up: Optional[bool] = None,
    cache_size: Optional[int] = None,
) -> None:
    """Reconfigure the default `Rewarder` (its running pool is stopped; the next verdict starts one)."""
    default_rewarder().configure(workers=workers, memory_limit_mb=memory_limit_mb, warm_up=warm_up, cache_size=cache_size)


def shutdown(*, kill: bool = True) -> None:
    """Stop the default `Rewarder`'s pool. Safe to call at any time, and again."""
    default_rewarder().shutdown(kill=kill)


def worker_pids() -> list[int]:
    """Process ids of the default `Rewarder`'s pool workers."""
    return default_rewarder().worker_pids()


def wait_ready(timeout_s: Optional[float] = None) -> bool:
    """Start the default `Rewarder`'s pool and wait until every worker is up."""
    return default_rewarder().wait_ready(timeout_s)


def clear_caches() -> None:
    """Forget the default `Rewarder`'s cached verdicts and parsed ground truths."""
    default_rewarder().clear_caches()


def stats(*, reset: bool = False) -> dict:
    """How the default `Rewarder`'s verdicts were decided (fast path, cache, pool, timeouts)."""
    return default_rewarder().stats(reset=reset)
