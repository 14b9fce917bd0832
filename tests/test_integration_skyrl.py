"""SkyRL adapter against skyrl-gym's real registry, ``make`` and ``BaseTextEnv``/``ToolGroup`` classes,
with our real sandbox. Needs skyrl-gym (installed into .venv-adapters by `make test-adapters`)."""

from __future__ import annotations

import pytest

skyrl_gym = pytest.importorskip("skyrl_gym", reason="skyrl-gym is not installed here; run `make test-adapters`")

from retool.formats import render_call  # noqa: E402
from retool.integrations.skyrl import ReToolEnv, SandboxToolGroup  # noqa: E402


@pytest.fixture
def make_env(monkeypatch):
    monkeypatch.setenv("RETOOL_SANDBOX_WORKERS", "1")
    if "retool" not in skyrl_gym.registry:
        skyrl_gym.register(id="retool", entry_point="retool.integrations.skyrl:ReToolEnv")
    return lambda **extras: skyrl_gym.make("retool", env_config={}, extras=extras)


def test_tool_group_runs_code_in_the_sandbox():
    group = SandboxToolGroup()
    assert group.get_tool_names() == ["python"]
    assert group.execute_tool("python", "print('hi')\nprint(2 ** 10)") == "hi\n1024"
    assert "ZeroDivisionError" in group.execute_tool("python", "1/0")


def test_episode_call_observation_then_reward(make_env):
    env = make_env(reward_spec={"ground_truth": "42"})
    assert isinstance(env, ReToolEnv) and isinstance(env, skyrl_gym.envs.base_text_env.BaseTextEnv)
    prompt, _ = env.init([{"role": "user", "content": "What is 6 * 7?"}])
    out = env.step("Compute it.\n" + render_call("print(6 * 7)", "hermes"))
    assert out["observations"] == [{"role": "tool", "content": "42"}] and not out["done"] and out["reward"] == 0.0
    out = env.step("So the answer is \\boxed{42}.")
    assert out["done"] and out["observations"] == [] and out["reward"] == 1.0
    assert out["metadata"]["acc"] and out["metadata"]["tool_calls"] == 1
    assert env.get_metrics() == {"turns": 2, "tool_calls": 1}
    # the env's own tool group is ours (SkyRL's _execute_tool finds it by group name)
    assert env._execute_tool("RetoolSandboxToolGroup", "python", ["print(3)"]) == "3"


def test_interpreter_format_max_turns_and_a_wrong_answer(make_env, monkeypatch):
    monkeypatch.setenv("RETOOL_CALL_FORMAT", "code")
    monkeypatch.setenv("RETOOL_OBSERVATION_FORMAT", "interpreter")
    env = make_env(reward_model={"ground_truth": "42"}, max_turns=2)
    cell = render_call("print(40 + 1)", "code")
    out = env.step(cell)
    assert out["observations"] == [{"role": "user", "content": "\n<interpreter>\n41\n</interpreter>\n"}]
    out = env.step("It is \\boxed{41}\n" + cell)  # turn 2 of 2: a call here ends the episode unrun
    assert out["done"] and out["reward"] < 0 and out["metadata"]["end_reason"] == "max_turns"
