"""GRPO group normalisation without our failures (retool.reward.groups, slime's post-process hook).

slime's default (``_post_process_rewards`` in slime/ray/rollout.py at tests/test_generate.py's
SLIME_COMMIT; slime is not installable here) is restated below with torch, as slime computes it, so
the comparison is with its numbers, not with ours twice.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from types import SimpleNamespace

import pytest

from retool.integrations.slime import reward_post_process
from retool.reward.groups import group_advantages

torch = pytest.importorskip("torch")


def slime_default(args, samples):
    """slime's own post-processing at SLIME_COMMIT, restated."""
    raw_rewards = [s.get_reward_value(args) for s in samples]
    if args.advantage_estimator in ["grpo", "gspo", "cispo", "reinforce_plus_plus_baseline"] and args.rewards_normalization:
        rewards = torch.tensor(raw_rewards, dtype=torch.float)
        if rewards.shape[-1] == args.n_samples_per_prompt * args.rollout_batch_size:
            rewards = rewards.reshape(-1, args.n_samples_per_prompt)
        else:
            rewards = rewards.view(-1, rewards.shape[-1])
        rewards = rewards - rewards.mean(dim=-1, keepdim=True)
        if args.advantage_estimator in ["grpo", "gspo", "cispo"] and args.grpo_std_normalization:
            rewards = rewards / (rewards.std(dim=-1, keepdim=True) + 1e-6)
        return raw_rewards, rewards.flatten().tolist()
    return raw_rewards, raw_rewards


@dataclass
class Sample:
    """The two things slime's post-processing reads of a `slime.utils.types.Sample`."""

    reward: dict
    remove_sample: bool = False

    def get_reward_value(self, args):
        return self.reward if not args.reward_key else self.reward[args.reward_key]


def _args(**kw):
    base = dict(advantage_estimator="grpo", rewards_normalization=True, grpo_std_normalization=True,
                n_samples_per_prompt=4, rollout_batch_size=3, reward_key="score")
    return SimpleNamespace(**{**base, **kw})


def _samples(rng, n, removed=()):
    return [Sample({"score": rng.choice([1.0, -1.0, -0.6, -0.8]), "acc": False}, i in removed) for i in range(n)]


@pytest.mark.parametrize("estimator, std", [("grpo", True), ("grpo", False), ("gspo", True), ("cispo", True),
                                            ("reinforce_plus_plus_baseline", True), ("ppo", True)])
def test_without_removed_samples_it_is_slime_s_own_normalisation(estimator, std):
    rng = random.Random(3)
    for _ in range(20):
        args = _args(advantage_estimator=estimator, grpo_std_normalization=std)
        samples = _samples(rng, 12)
        ours, theirs = reward_post_process(args, samples), slime_default(args, samples)
        assert ours[0] == theirs[0]
        assert ours[1] == pytest.approx(theirs[1], abs=1e-5)


def test_a_batch_that_is_not_whole_groups_is_one_group_as_in_slime():
    rng = random.Random(5)
    args, samples = _args(), _samples(rng, 10)
    assert reward_post_process(args, samples)[1] == pytest.approx(slime_default(args, samples)[1], abs=1e-5)


def test_removed_samples_leave_their_group_s_statistics():
    """Group 0: one of four rollouts failed for a reason of ours and was scored wrong (-1). slime's
    default lets that -1 lift the other three; here they are normalised among themselves."""
    args = _args(rollout_batch_size=2)
    rewards = [1.0, -1.0, 1.0, -1.0, 1.0, -1.0, -1.0, -1.0]
    samples = [Sample({"score": r}, remove_sample=(i == 3)) for i, r in enumerate(rewards)]
    raw, adv = reward_post_process(args, samples)
    theirs = slime_default(args, samples)[1]
    assert raw == rewards
    assert adv[3] == 0.0
    three = _args(n_samples_per_prompt=3, rollout_batch_size=1)
    assert adv[:3] == pytest.approx(slime_default(three, samples[:3])[1], abs=1e-5)
    assert adv[4:] == pytest.approx(theirs[4:], abs=1e-5)  # group 1 has no failure: slime's numbers
    # slime's default: the failure drags group 0's mean to 0, so the wrong answer at 1 gets
    # advantage -0.87, where among the real attempts it is -1.15
    assert theirs[1] == pytest.approx(-0.866, abs=1e-3) and adv[1] == pytest.approx(-1.155, abs=1e-3)


def test_groups_without_statistics_get_zero_not_nan():
    adv = group_advantages([1.0, -1.0, 1.0, -1.0], [False, False, True, False], 2, std_normalize=True)
    assert adv == [0.0, 0.0, 0.0, 0.0]
    adv = group_advantages([1.0, -1.0, 1.0, 1.0], [True, True, True, True], 2, std_normalize=True)
    assert adv[2:] == [0.0, 0.0] and adv[0] > 0 > adv[1]


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError):
        group_advantages([1.0, 2.0], [True], 2, std_normalize=False)
    with pytest.raises(ValueError):
        group_advantages([1.0, 2.0, 3.0], [True] * 3, 2, std_normalize=False)


def test_disabled_normalisation_returns_the_raw_rewards():
    rng = random.Random(9)
    samples = _samples(rng, 12, removed={1})
    raw, rewards = reward_post_process(_args(rewards_normalization=False), samples)
    assert raw == rewards == [s.reward["score"] for s in samples]
