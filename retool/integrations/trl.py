"""TRL adapter: our sandboxed interpreter for ``GRPOTrainer(tools=[...])`` and ``environment_factory``.

**Tools** (TRL renders the function's schema into the prompt, parses the model's calls, runs them)::

    from retool.integrations.trl import python, reward_func
    trainer = GRPOTrainer(model=..., train_dataset=ds, tools=[python], reward_funcs=[reward_func], ...)

`python` is a typed, documented ``python(code: str) -> str``: its docstring is our one tool description,
so ``transformers.utils.get_json_schema(python)`` gives the same schema as every other adapter (named
``python``). `reward_func` scores each completion's ``\\boxed{}`` answer against the row's label
(``answer``/``label``/``solution``/``ground_truth`` column) with `retool.reward`.

**Environment** (one instance per rollout; its public methods are the tools)::

    from retool.integrations.trl import ReToolEnvironment
    trainer = GRPOTrainer(model=..., train_dataset=ds, environment_factory=ReToolEnvironment, ...)

``reset(**row)`` takes the label from the row; the model runs code with ``python`` and gives its final
answer with ``submit``; ``get_reward()`` is our reward of the submitted answer (with the tool-call count
for ``RETOOL_TOOL_SHAPING``). Code runs in the process's shared sandbox (`retool.tool_host.shared_host`,
limits from the ``RETOOL_*`` variables); a tool never raises for what the program does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from retool.eval.data import row_label
from retool.formats import CODE_DESCRIPTION, DESCRIPTION
from retool.settings import IntegrationSettings
from retool.tool_host import shared_host
from retool.tool_protocol import ToolStatus

__all__ = ["python", "reward_func", "ReToolEnvironment", "TOOL_NAME"]

TOOL_NAME = "python"
_DOC = f"""{DESCRIPTION}

Args:
    code: {CODE_DESCRIPTION}

Returns:
    What the program printed: stdout, then the traceback, then a note if it did not end normally.
"""
_SUBMIT_DOC = """Submit the final answer. Call it once, at the end, with the answer alone (no explanation).

Args:
    answer: The final answer, e.g. 42 or \\frac{1}{2}.

Returns:
    A confirmation.
"""


def python(code: str) -> str:
    return _run(code)[0]


python.__doc__ = _DOC


def reward_func(completions: Sequence[Any], **kwargs: Any) -> list[float]:
    """TRL reward function: `retool.reward` score of each completion against its row's label.

    ``completions`` are strings or message lists (conversational data, tool turns included); the label
    comes from the dataset column TRL passes as a keyword (``answer``, ``label``, ``solution`` or
    ``ground_truth``). The tool-call count is taken from the completion's ``tool`` messages.
    """
    from retool.reward import score_many

    labels = _labels(kwargs, len(completions))
    pairs = [(_text(c), label, _tool_messages(c)) for c, label in zip(completions, labels)]
    options = IntegrationSettings.from_env().reward.options()
    return [r.score for r in score_many(pairs, **options)]


class ReToolEnvironment:
    """TRL ``environment_factory`` class: ``python`` and ``submit`` are its tools, ``get_reward`` its reward."""

    def __init__(self) -> None:
        self._settings = IntegrationSettings.from_env()
        self._label: Any = None
        self._answer: str | None = None
        self._statuses: list[ToolStatus] = []

    def reset(self, **row: Any) -> None:
        self._label = row_label(row)
        self._answer = None
        self._statuses = []
        return None

    def python(self, code: str) -> str:
        text, status = _run(code, self._settings)
        self._statuses.append(status)
        return text

    python.__doc__ = _DOC

    def submit(self, answer: str) -> str:
        self._answer = str(answer)
        return "Answer recorded."

    submit.__doc__ = _SUBMIT_DOC

    def get_reward(self) -> float:
        """`retool.reward` score of the submitted answer (an incorrect score when nothing was submitted)."""
        from retool.reward import score

        solution = "" if self._answer is None else "\\boxed{" + self._answer + "}"
        calls = sum(1 for s in self._statuses if s.executed)
        return score(solution, self._label, tool_calls=calls, **self._settings.reward.options()).score


def _run(code: str, settings: IntegrationSettings | None = None) -> tuple[str, ToolStatus]:
    settings = settings or IntegrationSettings.from_env()
    result = shared_host(settings.tool).run_function_call(TOOL_NAME, {"code": code}, tool_name=TOOL_NAME)
    return result.observation, result.status


def _labels(columns: Mapping[str, Any], n: int) -> list[Any]:
    rows = [{k: v[i] for k, v in columns.items() if isinstance(v, (list, tuple)) and len(v) == n} for i in range(n)]
    return [row_label(row) for row in rows]


def _text(completion: Any) -> str:
    if isinstance(completion, str):
        return completion
    return "\n".join(str(m.get("content") or "") for m in completion if m.get("role") == "assistant")


def _tool_messages(completion: Any) -> int:
    return 0 if isinstance(completion, str) else sum(1 for m in completion if m.get("role") == "tool")
