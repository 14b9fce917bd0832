"""ReTool-style rollout, code-interpreter tool and reward.

Public names are resolved lazily (PEP 562) so that ``import retool`` stays light: a trainer that only
needs the reward does not pay for engines or the sandbox, and vice versa. Add a public name by adding
it to ``_EXPORTS`` (name -> module).
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

_EXPORTS = {
    "reward_func": "retool.reward",
    "RewardResult": "retool.reward",
    "generate": "retool.generate",
    "CodeInterpreterTool": "retool.tool",
    "rollout": "retool.rollout",
    "RolloutConfig": "retool.rollout",
    "Trajectory": "retool.rollout",
    "TrajectoryStatus": "retool.rollout",
}

__all__ = sorted(_EXPORTS)

# `generate` and `rollout` are functions living in submodules of the same name. Importing a submodule
# binds it on the package (``retool.rollout = <module>``), which would make ``from retool import
# rollout`` return the module or the function depending on import order. The package refuses that
# binding for these names so they always mean the function; the modules stay importable as usual
# (``from retool.rollout import RolloutConfig``, ``importlib.import_module("retool.rollout")``).
_FUNCTION_NAMED_SUBMODULES = frozenset({"generate", "rollout"})


class _Package(types.ModuleType):
    def __setattr__(self, name: str, value: Any) -> None:
        if name in _FUNCTION_NAMED_SUBMODULES and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'retool' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
