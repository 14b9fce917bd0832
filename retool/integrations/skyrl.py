"""SkyRL adapter (``skyrl-gym``): a ``ToolGroup`` whose ``python`` tool is our sandbox, and a ReTool text
environment.

    import skyrl_gym
    from retool.integrations import skyrl as retool_skyrl

    skyrl_gym.register(id="retool", entry_point="retool.integrations.skyrl:ReToolEnv")
    env = skyrl_gym.make("retool", env_config={}, extras={"reward_spec": {"ground_truth": "42"}})
    out = env.step(model_turn)     # parse the call, run it, observation messages; reward when done

`ReToolEnv.step(action)` is a `retool.text_env.TextEnv` step: the call is parsed in the configured format
(``RETOOL_CALL_FORMAT``), run in our sandbox, and answered with one observation message per call (role
``tool``; with ``RETOOL_OBSERVATION_FORMAT=interpreter`` one ``user`` message holding ReTool's
``<interpreter>`` block). A turn without a call ends the episode with `retool.reward`'s score of the whole
response against ``extras["reward_spec"]["ground_truth"]`` (or ``reward_model``, as SkyRL's AIME env).
``extras["max_turns"]`` overrides ``RETOOL_MAX_TURNS``.

`SandboxToolGroup` replaces SkyRL's ``PythonCodeExecutorToolGroup`` (a bare ``subprocess.run`` of the
model's code) in environments of your own: ``self.init_tool_groups([SandboxToolGroup()])``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from skyrl_gym.envs.base_text_env import BaseTextEnv, BaseTextEnvStepOutput
from skyrl_gym.tools.core import ToolGroup, tool

from retool.eval.data import row_label
from retool.formats import ObservationFormat, render_interpreter
from retool.settings import IntegrationSettings
from retool.text_env import TextEnv
from retool.tool_host import shared_host

__all__ = ["SandboxToolGroup", "ReToolEnv", "TOOL_NAME"]

TOOL_NAME = "python"


class SandboxToolGroup(ToolGroup):
    """SkyRL tool group with one tool, ``python``, run in our sandbox (limits from ``RETOOL_*``)."""

    def __init__(self, settings: IntegrationSettings | None = None) -> None:
        self._settings = settings or IntegrationSettings.from_env()
        super().__init__(name="RetoolSandboxToolGroup")

    @tool
    def python(self, code: str) -> str:
        host = shared_host(self._settings.tool)
        return host.run_function_call(TOOL_NAME, {"code": code}, tool_name=TOOL_NAME).observation


class ReToolEnv(BaseTextEnv):
    """Multi-turn math with the code interpreter; SkyRL builds it as ``ReToolEnv(env_config, extras)``."""

    def __init__(self, env_config: Any = None, extras: dict[str, Any] | None = None) -> None:
        super().__init__()
        extras = dict(extras or {})
        settings = IntegrationSettings.from_env()
        if extras.get("max_turns") is not None:
            settings = replace(settings, rollout=replace(settings.rollout, max_turns=int(extras["max_turns"])))
        self.settings = settings
        self.max_turns = settings.rollout.max_turns
        self.init_tool_groups([SandboxToolGroup(settings)])
        self.env = TextEnv(row_label(extras), settings=settings, host=shared_host(settings.tool))

    def step(self, action: str) -> BaseTextEnvStepOutput:
        outcome = self.env.step(action)
        self.turns = self.env.turns
        if self.settings.rollout.observation_format is ObservationFormat.INTERPRETER:
            observations = [{"role": "user", "content": "".join(render_interpreter(o) for o in outcome.observations)}]
        else:
            observations = [{"role": "tool", "content": o} for o in outcome.observations]
        metadata = {**outcome.extra, "tool_statuses": [s.value for s in outcome.statuses]}
        if outcome.done:
            metadata.update(acc=outcome.acc, pred=outcome.pred, end_reason=outcome.end_reason.value)
        return BaseTextEnvStepOutput(observations=observations if outcome.observations else [],
                                     reward=outcome.reward if outcome.done else 0.0, done=outcome.done,
                                     metadata=metadata)

    def get_metrics(self) -> dict[str, Any]:
        return {"turns": self.env.turns, "tool_calls": self.env.num_tool_calls}
