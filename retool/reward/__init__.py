"""Math answer rewards for RL: right (math-verify semantics), fast (exact fast paths, caches, a
process pool) and safe (hard per-verdict deadlines, no SIGALRM in the caller, never raises).

Importing this package is cheap: sympy and math-verify are only imported inside pool workers.
"""

from .api import (
    DEFAULT_TIMEOUT_S,
    RewardResult,
    ascore,
    ascore_many,
    clear_caches,
    configure,
    reward_func,
    score,
    score_many,
    shutdown,
    stats,
    wait_ready,
    worker_pids,
)
from .extract import extract_answer

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "RewardResult",
    "ascore",
    "ascore_many",
    "clear_caches",
    "configure",
    "extract_answer",
    "reward_func",
    "score",
    "score_many",
    "shutdown",
    "stats",
    "wait_ready",
    "worker_pids",
]
