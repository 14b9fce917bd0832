"""OpenRLHF 0.11 adapter through OpenRLHF's real `MultiTurnAgentExecutor.execute`, with a scripted engine
(vLLM's generate contract), the tiny model's real tokenizer and our real sandbox.

Needs openrlhf (installed with --no-deps into .venv-adapters by `make test-adapters`)."""

from __future__ import annotations

import importlib.util
from types import SimpleNamespace

import pytest

pytest.importorskip("openrlhf.utils.agent", reason="openrlhf is not installed here; run `make test-adapters`")

import retool.integrations.openrlhf as adapter_module  # noqa: E402

END = "<|im_end|>"


def load_agent_module():
    """Exactly how OpenRLHF loads --train.agent_func_path (vllm_engine._load_agent_executor)."""
    from openrlhf.utils.agent import AgentExecutorBase

    spec = importlib.util.spec_from_file_location("agent_module", adapter_module.__file__)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert issubclass(module.AgentExecutor, AgentExecutorBase)
    return module


class ScriptedVLLM:
    """vLLM's `generate(token_ids, params)` contract: cuts at the first stop string (kept when
    include_stop_str_in_output) or at eos, and returns ids and text (special tokens kept)."""

    def __init__(self, tokenizer, turns):
        self.tok, self.turns, self.params = tokenizer, list(turns), []

    async def generate(self, token_ids, params, multi_modal_data=None):
        self.params.append(params)
        text = self.turns.pop(0)
        for stop in params.stop or ():
            if stop in text:
                cut = text.index(stop)
                text = text[: cut + len(stop)] if params.include_stop_str_in_output else text[:cut]
        ids = self.tok.encode(text, add_special_tokens=False)[: params.max_tokens]
        finish = "length" if len(ids) == params.max_tokens else "stop"
        out = SimpleNamespace(token_ids=ids, text=self.tok.decode(ids), finish_reason=finish, logprobs=None)
        return SimpleNamespace(outputs=[out])


def sampling():
    return SimpleNamespace(max_tokens=None, logprobs=None, stop=None, include_stop_str_in_output=False)


@pytest.fixture
def env(monkeypatch):
    monkeypatch.setenv("RETOOL_SANDBOX_WORKERS", "1")
    monkeypatch.setenv("RETOOL_TOOL_TIMEOUT_S", "5")


def hermes(code):
    from retool.formats import render_call

    return render_call(code, "hermes")


async def test_chat_format_through_the_real_executor(env, tokenizer):
    module = load_agent_module()
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "What is 6 * 7?"}], tokenize=False,
                                           add_generation_prompt=True)
    engine = ScriptedVLLM(tokenizer, ["Let me compute.\n" + hermes("print('<|im_end|>', 6 * 7)") + END,
                                      "The answer is \\boxed{42}." + END])
    result = await module.AgentExecutor().execute(prompt, "42", sampling(), 4096, tokenizer, engine)
    assert result["reward"] == 1.0 and result["scores"] == 1.0
    assert result["extra_logs"]["tool_calls"].item() == 1 and result["extra_logs"]["acc"].item() == 1.0
    assert len(result["action_ranges"]) == 2 and not result["truncated"]
    text = tokenizer.decode(result["observation_tokens"])
    # the feedback carries the template's turn markers: tool turn, then the next generation prompt
    assert ("</tool_call><|im_end|>\n<|im_start|>user\n<tool_response>\n<|im_end|> 42\n</tool_response><|im_end|>\n"
            "<|im_start|>assistant\nThe answer is") in text
    (s0, e0), (s1, _) = result["action_ranges"]
    feedback = result["observation_tokens"][e0:s1]
    assert tokenizer.decode(feedback).startswith("\n<|im_start|>user")  # no doubled end of turn
    # the feedback ids are the rollout's: the printed <|im_end|> is plain text, not the end-of-turn token
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert feedback.count(im_end) == 1  # the tool turn's own end only
    from retool.formats import encode_observation

    assert encode_observation(tokenizer, "<|im_end|> 42") == feedback[
        len(tokenizer.encode("\n<|im_start|>user\n<tool_response>\n", add_special_tokens=False)):][:len(
            encode_observation(tokenizer, "<|im_end|> 42"))]
    # turns after the first stop right after a call (kept in the output)
    assert engine.params[1].stop == ["</tool_call>"] and engine.params[1].include_stop_str_in_output


async def test_interpreter_format_wrong_answer_and_budget(env, monkeypatch, tokenizer):
    monkeypatch.setenv("RETOOL_CALL_FORMAT", "code")
    monkeypatch.setenv("RETOOL_OBSERVATION_FORMAT", "interpreter")
    monkeypatch.setenv("RETOOL_MAX_TOOL_CALLS", "1")
    module = load_agent_module()
    cell = "<code>\n```python\nprint(1 / 0)\n```\n</code>"
    engine = ScriptedVLLM(tokenizer, [cell, cell + "\nignored text", "So \\boxed{41}." + END])
    result = await module.AgentExecutor().execute("Q: 6*7?\n", "42", sampling(), 4096, tokenizer, engine)
    text = tokenizer.decode(result["observation_tokens"])
    assert "</code>\n<interpreter>\nTraceback" in text and "ZeroDivisionError" in text
    assert "the limit of 1 tool calls was reached" in text  # the second call was not run
    assert "ignored text" not in text  # the stop string cut the second turn after </code>
    assert result["reward"] < 0 and result["extra_logs"]["acc"].item() == 0.0


async def test_a_malformed_call_is_answered_not_raised(env, tokenizer):
    module = load_agent_module()
    engine = ScriptedVLLM(tokenizer, ['<tool_call>\n{"name": "code_interpreter", "arguments": {"cod": 1}}\n</tool_call>' + END,
                                      "\\boxed{42}" + END])
    result = await module.AgentExecutor().execute("Q", "42", sampling(), 4096, tokenizer, engine)
    assert "missing the 'code' argument" in tokenizer.decode(result["observation_tokens"])
    assert result["reward"] == 1.0 and result["extra_logs"]["tool_calls"].item() == 0
