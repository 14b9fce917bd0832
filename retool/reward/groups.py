"""GRPO group normalisation that leaves removed samples out of their group's statistics.

A rollout that failed for a reason of ours (an engine error, a sandbox fault) is kept in the batch with a
zero loss mask, so it trains nothing itself; but slime's default post-processing still puts its reward
(scored as wrong) into its group's mean and standard deviation. Every other sample of that prompt then
gets a higher advantage for our failure: an infrastructure fault becomes a training signal. Here the mean
and deviation come from the kept samples only, and removed samples get advantage 0.

Without removed samples the numbers are slime's own, to float precision: mean subtracted per group of
``group_size`` consecutive samples, divided by (unbiased std + eps) when asked.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["group_advantages"]

DEFAULT_EPS = 1e-6  # slime's and verl's GRPO epsilon


def group_advantages(
    rewards: Sequence[float],
    kept: Sequence[bool],
    group_size: int,
    *,
    std_normalize: bool,
    eps: float = DEFAULT_EPS,
) -> list[float]:
    """Per-sample advantages for consecutive groups of ``group_size`` samples.

    A group with no kept sample, or (with ``std_normalize``) a single one, has no statistics to
    normalise by: its advantages are 0, never NaN. Raises ``ValueError`` for mismatched lengths or a
    batch that is not a whole number of groups, which slime's own reshape would also refuse.
    """
    if len(rewards) != len(kept):
        raise ValueError(f"{len(rewards)} rewards for {len(kept)} samples")
    if group_size < 1 or len(rewards) % group_size:
        raise ValueError(f"{len(rewards)} samples do not split into groups of {group_size}")
    out = [0.0] * len(rewards)
    for start in range(0, len(rewards), group_size):
        idx = [i for i in range(start, start + group_size) if kept[i]]
        if not idx or (std_normalize and len(idx) < 2):
            continue
        values = [float(rewards[i]) for i in idx]
        mean = math.fsum(values) / len(values)
        scale = 1.0
        if std_normalize:
            std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1))
            scale = std + eps
        for i, v in zip(idx, values):
            out[i] = (v - mean) / scale
    return out
