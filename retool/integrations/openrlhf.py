"""OpenRLHF adapter (0.11.x): multi-turn RL with our sandboxed interpreter, one flag.

    python -m openrlhf.cli.train_ppo_ray ... \\
        --train.agent_func_path "$(python -c 'import retool.integrations.openrlhf as m; print(m.__file__)')"

OpenRLHF loads this file by path and builds ``AgentExecutor()``; its ``MultiTurnAgentExecutor.execute``
then runs each prompt: generate, ``AgentInstance.step``, append the ``environment_feedback`` tokens, until
``done``. Each instance is a `retool.text_env.TextEnv`: the model's turn is parsed in the configured
call format, its calls run in our sandbox (one per process, shared by every instance through
`retool.tool_host.shared_host`), and the feedback is the text the chat template puts between the turns:
end of the assistant turn (unless the model wrote it), the tool messages, the next generation prompt
(``RETOOL_OBSERVATION_FORMAT=chat``), or ReTool's ``<interpreter>`` tags (``=interpreter``). A turn
without a call ends the trajectory; its reward is `retool.reward`'s score of the whole response against
the prompt's label (``rewards`` and ``scores`` as tensors; ``extra_logs`` has ``acc``, ``tool_calls`` and
``turns``). Settings: the ``RETOOL_*`` variables (`retool.settings`), set in the Ray runtime env.

Keep OpenRLHF's default ``skip_special_tokens=False``: the feedback must know whether the model wrote its
end-of-turn token. With ``RETOOL_STOP_AT_CALL_END`` (default) the turns after the first stop right after a
call (the stop strings are added to the sampling parameters the step returns; OpenRLHF gives no hook
before the first turn).

OpenRLHF tokenises the feedback text itself, with special-token strings parsed, so a program that prints
``<|im_end|>`` would put that token into the sequence. `AgentExecutor.execute` therefore hands OpenRLHF's
loop a tokenizer wrapper that encodes exactly the feedback texts our instances returned with
`retool.formats.observation_ids` (glue with its special tokens, tool output as plain text: the ids our
rollout and ``sft prepare`` produce) and passes everything else to the real tokenizer.
"""

from __future__ import annotations

import contextvars
import copy
from typing import Any

import torch
from openrlhf.utils.agent import AgentInstanceBase, MultiTurnAgentExecutor

from retool.formats import Piece, observation_ids, stop_strings
from retool.settings import IntegrationSettings
from retool.text_env import TextEnv
from retool.tool_host import shared_host

__all__ = ["AgentExecutor", "AgentInstance"]

class _FeedbackTokenizer:
    """The tokenizer OpenRLHF's loop sees during one `execute`: our feedback texts become the rollout's
    ids (`observation_ids` of their pieces); any other call goes to the real tokenizer."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self._pending: dict[str, list[Piece]] = {}

    def expect(self, feedback: str, pieces: list[Piece]) -> None:
        self._pending[feedback] = pieces

    def __call__(self, text: Any = None, **kwargs: Any) -> Any:
        pieces = self._pending.pop(text, None) if isinstance(text, str) else None
        if pieces is None:
            return self.tokenizer(text=text, **kwargs)
        ids = observation_ids(self.tokenizer, pieces)
        return {"input_ids": torch.tensor([ids], dtype=torch.long) if kwargs.get("return_tensors") == "pt" else [ids]}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.tokenizer, name)


# The tokenizer of the `execute` call an instance is built in. OpenRLHF constructs instances with no
# arguments inside `execute`; a context variable is scoped to that call's task, not shared state.
_TOKENIZER: contextvars.ContextVar["_FeedbackTokenizer | None"] = contextvars.ContextVar(
    "retool_openrlhf_tokenizer", default=None)


class AgentInstance(AgentInstanceBase):
    """One trajectory (OpenRLHF builds one per prompt, with no arguments)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.settings = IntegrationSettings.from_env()
        self.feedback_tokenizer = _TOKENIZER.get()
        self.tokenizer = self.feedback_tokenizer.tokenizer if self.feedback_tokenizer is not None else None
        self.env: TextEnv | None = None

    async def reset(self, states: dict, **kwargs: Any) -> dict:
        self.env = TextEnv(states.get("label"), settings=self.settings, host=shared_host(self.settings.tool),
                           tokenizer=self.tokenizer)
        return {"observation": states["observation"]}

    async def step(self, states: dict, **kwargs: Any) -> dict:
        if self.env is None:  # OpenRLHF always resets first; a direct caller may not
            await self.reset({"observation": states.get("observation_text", ""), "label": states.get("label")})
        outcome = await self.env.astep(states["action_text"])
        if outcome.feedback and self.feedback_tokenizer is not None:
            self.feedback_tokenizer.expect(outcome.feedback, outcome.pieces)
        reward = outcome.reward if outcome.done else 0.0
        result: dict[str, Any] = {
            "rewards": torch.tensor(reward),
            "scores": torch.tensor(reward),
            "environment_feedback": outcome.feedback,
            "done": outcome.done,
            "extra_logs": {k: torch.tensor(float(v)) for k, v in outcome.extra.items()},
        }
        params = _with_call_stops(states.get("sampling_params"), self.settings)
        if params is not None:
            result["sampling_params"] = params
        return result


class AgentExecutor(MultiTurnAgentExecutor):
    """OpenRLHF's multi-turn executor over `AgentInstance`; builds with no arguments."""

    def __init__(self) -> None:
        super().__init__(AgentInstance)

    async def execute(self, prompt, label, sampling_params, max_length: int, hf_tokenizer, llm_engine, images=None):
        wrapped = _FeedbackTokenizer(hf_tokenizer)
        token = _TOKENIZER.set(wrapped)
        try:
            return await super().execute(prompt, label, sampling_params, max_length, wrapped, llm_engine,
                                         images=images)
        finally:
            _TOKENIZER.reset(token)


def _with_call_stops(params: Any, settings: IntegrationSettings) -> Any:
    """vLLM sampling parameters that also stop right after a call (kept in the output), or None when
    there is nothing to add."""
    if params is None or not settings.rollout.stop_at_call_end or not hasattr(params, "stop"):
        return None
    stops = list(params.stop or [])
    wanted = [s for s in stop_strings(settings.rollout.call_format) if s not in stops]
    if not wanted:
        return None
    updated = copy.deepcopy(params)
    updated.stop = stops + wanted
    if hasattr(updated, "include_stop_str_in_output"):
        updated.include_stop_str_in_output = True
    return updated
