"""TextEnv (the trajectory logic OpenRLHF's and SkyRL's adapters step by text), in the main venv, with the
real sandbox and the tiny tokenizer."""

from __future__ import annotations

import pytest

from retool.agent_loop import EndReason, RolloutConfig
from retool.formats import render_call
from retool.settings import IntegrationSettings, ToolConfig
from retool.text_env import TextEnv
from retool.tool_host import ToolHost
from retool.tool_protocol import ToolStatus

END = "<|im_end|>"


@pytest.fixture(scope="module")
def host():
    h = ToolHost(ToolConfig(timeout_s=5, sandbox_workers=1).make_tool)
    yield h
    h.close()


def env(host, tokenizer=None, **rollout):
    return TextEnv("42", settings=IntegrationSettings(rollout=RolloutConfig(**rollout)), host=host, tokenizer=tokenizer)


def test_chat_feedback_is_the_template_glue_and_the_reward_comes_at_the_end(host, tokenizer):
    e = env(host, tokenizer)
    out = e.step("Let me run it.\n" + render_call("print(6 * 7)", "hermes") + END)
    assert not out.done and out.observations == ["42"] and out.statuses == [ToolStatus.OK]
    # the model closed its turn itself: the glue starts after <|im_end|>, ends with the generation prompt
    assert out.feedback == "\n<|im_start|>user\n<tool_response>\n42\n</tool_response><|im_end|>\n<|im_start|>assistant\n"
    out = e.step("So \\boxed{42}." + END)
    assert out.done and out.reward == 1.0 and out.acc and out.end_reason is EndReason.COMPLETED
    assert out.extra == {"tool_calls": 1, "turns": 2, "acc": 1.0}
    with pytest.raises(RuntimeError, match="after the trajectory ended"):
        e.step("more")


async def test_async_steps_budget_invalid_calls_and_max_turns(host, tokenizer):
    e = env(host, tokenizer, call_format="code", observation_format="interpreter", max_tool_calls=1, max_turns=3)
    cell = render_call("print(1 + 1)", "code")
    out = await e.astep(cell + "\n" + cell + "\n<code>\n\n</code>")
    assert out.statuses == [ToolStatus.OK, ToolStatus.SKIPPED, ToolStatus.INVALID]
    assert out.feedback.startswith("\n<interpreter>\n2\n</interpreter>\n") and "limit of 1 tool calls" in out.feedback
    await e.astep(cell)  # over the budget again
    out = await e.astep(cell)  # turn 3 of 3 with a call: the end
    assert out.done and out.end_reason is EndReason.MAX_TURNS and out.reward < 0 and e.num_tool_calls == 1


def test_a_stop_inside_a_call_continues_the_same_turn(host, tokenizer):
    e = env(host, tokenizer)
    first = '<tool_call>\n{"name": "code_interpreter", "arguments": {"code": "print(\\"</tool_call>'
    out = e.step(first)  # the stop string fired inside the JSON string
    assert not out.done and out.feedback == "" and out.observations == [] and e.turns == 0
    out = e.step('\\")"}}\n</tool_call>')
    assert out.observations == ["</tool_call>"] and e.turns == 1


def test_interpreter_format_needs_no_tokenizer(host):
    e = env(host, None, call_format="python", observation_format="interpreter")
    out = e.step("```python\nprint(40 + 2)\n```\n")
    assert out.feedback == "\n<interpreter>\n42\n</interpreter>\n"
