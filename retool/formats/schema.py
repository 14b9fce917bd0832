"""The one schema of the code-interpreter tool.

Every place that describes the tool to a model (the rollout's chat-template declaration, the few-shot
system prompt, SFT data's ``tools`` column, verl's tool config, the OpenAI/TRL/rLLM/SkyRL adapters)
builds it here, so a model is trained and evaluated on the same words. Frameworks that name the tool
differently (rLLM and SkyRL call it ``python``) pass ``name=``; the description and parameters stay.
"""

from __future__ import annotations

from typing import Any

__all__ = ["TOOL_NAME", "DESCRIPTION", "CODE_DESCRIPTION", "tool_schema"]

TOOL_NAME = "code_interpreter"

DESCRIPTION = (
    "Execute Python 3 code in a sandbox and return what it prints (stdout, then stderr). Each call "
    "runs in a fresh process: variables do not persist between calls, so print every value you need. "
    "numpy, sympy, scipy, mpmath and networkx are available; there is no network or file system access."
)
CODE_DESCRIPTION = "The Python source to run. Print the values you want to see."


def tool_schema(name: str = TOOL_NAME) -> dict[str, Any]:
    """The OpenAI function-tool schema (a fresh dict each call: callers may mutate theirs)."""
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": DESCRIPTION,
            "parameters": {
                "type": "object",
                "properties": {"code": {"type": "string", "description": CODE_DESCRIPTION}},
                "required": ["code"],
            },
        },
    }
