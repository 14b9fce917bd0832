"""retool.settings: the one reader of RETOOL_* variables, defaults from the config dataclasses."""

from __future__ import annotations

from pathlib import Path

import pytest

from retool.agent_loop import RolloutConfig
from retool.formats import CallFormat
from retool.settings import VARIABLES, IntegrationSettings, SettingsError, ToolConfig, describe, parse_bool, read


def test_defaults_are_the_dataclass_defaults():
    s = IntegrationSettings.from_env({})
    assert s.rollout == RolloutConfig() and s.tool == ToolConfig() and s.reward.options() == {}
    assert {v.name: v.default for v in VARIABLES}["RETOOL_MAX_TURNS"] == RolloutConfig().max_turns


def test_every_variable_parses_to_its_field_type():
    env = {"RETOOL_MAX_TURNS": "3", "RETOOL_CALL_FORMAT": "code", "RETOOL_STOP_AT_CALL_END": "off",
           "RETOOL_TOOL_TIMEOUT_S": "2.5", "RETOOL_SANDBOX_WORKERS": "2", "RETOOL_TOOL_SHAPING": "yes",
           "RETOOL_REWARD_MODE": "dapo", "RETOOL_MAX_OBSERVATION_TOKENS": " 64 ", "RETOOL_TOOL_MEMORY_MB": ""}
    s = IntegrationSettings.from_env(env)
    assert s.rollout.max_turns == 3 and s.rollout.call_format is CallFormat.CODE and s.rollout.stop_at_call_end is False
    assert s.rollout.max_observation_tokens == 64
    assert s.tool == ToolConfig(timeout_s=2.5, sandbox_workers=2)  # an empty variable is unset
    assert s.reward.options() == {"mode": "dapo", "tool_shaping": True}


@pytest.mark.parametrize("env, match", [
    ({"RETOOL_MAX_TURNS": "many"}, "RETOOL_MAX_TURNS='many'"),
    ({"RETOOL_CALL_FORMAT": "xml"}, "RETOOL_CALL_FORMAT='xml'"),
    ({"RETOOL_STOP_AT_CALL_END": "maybe"}, "not a boolean"),
    ({"RETOOL_TOOL_TIMEOUT_S": "-1"}, "timeout_s must be positive"),
    ({"RETOOL_MAX_TURNS": "0"}, "max_turns"),
])
def test_bad_values_say_which_variable(env, match):
    with pytest.raises(SettingsError, match=match):
        IntegrationSettings.from_env(env)


def test_parse_bool():
    assert parse_bool("True") and parse_bool(1) and not parse_bool("0") and not parse_bool(False)
    with pytest.raises(SettingsError):
        parse_bool("2")


def test_read_applies_to_a_base():
    base = RolloutConfig(max_turns=5, max_new_tokens=77)
    out = read(RolloutConfig, {"RETOOL_MAX_TOOL_CALLS": "1"}, base)
    assert (out.max_turns, out.max_new_tokens, out.max_tool_calls) == (5, 77, 1)


def test_readme_lists_every_variable():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for row in describe().splitlines()[2:]:
        assert row in readme, f"README is missing {row}"


def test_reward_workers_come_through_the_one_reader(monkeypatch):
    from retool.reward.rewarder import _default_workers

    monkeypatch.setenv("RETOOL_REWARD_WORKERS", "3")
    assert _default_workers() == 3
    monkeypatch.setenv("RETOOL_REWARD_WORKERS", "three")
    with pytest.raises(SettingsError, match="RETOOL_REWARD_WORKERS"):
        _default_workers()
    monkeypatch.delenv("RETOOL_REWARD_WORKERS")
    assert _default_workers() >= 1
