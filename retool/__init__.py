"""ReTool-style rollout, code-interpreter tool and reward.

Public names are resolved lazily (PEP 562) so that ``import retool`` stays light: a trainer that only
needs the reward does not pay for engines or the sandbox, and vice versa. Add a public name by adding
it to ``_EXPORTS`` (name -> module).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "reward_func": "retool.integrations.slime",
    "RewardResult": "retool.reward",
    "generate": "retool.integrations.slime",
    "CodeInterpreterTool": "retool.tool",
    "Tool": "retool.tool_protocol",
    "ToolResult": "retool.tool_protocol",
    "ToolStatus": "retool.tool_protocol",
    "EndReason": "retool.agent_loop",
    "rollout": "retool.agent_loop",
    "RolloutConfig": "retool.agent_loop",
    "Trajectory": "retool.agent_loop",
    "TrajectoryStatus": "retool.agent_loop",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'retool' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
