"""The rollout state machine against a scripted engine, the real tiny tokenizer and the real sandbox.

Every test checks the token-level invariants the trainer relies on (`check`): equal lengths of ids,
mask and logprobs; the context budget; text derived from the ids; observation tokens masked with
logprob 0; model tokens exactly the engine's ids and logprobs; each engine call saw the trajectory so
far as its prompt.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace

import pytest
import pytest_asyncio

from retool.engines.base import EngineError, Generation, SamplingConfig
from retool.agent_loop import RolloutConfig, Trajectory, TrajectoryStatus, rollout
from retool.testing.scripted_engine import ScriptedEngine
from retool.testing.tiny_model import build_tiny_tokenizer
from retool.formats import encode_observation as encode_text
from retool.formats import tool_schema
from retool.tool_protocol import Tool
from retool.tool import CodeInterpreterTool, ToolResult, ToolStatus
from sandbox import Sandbox, SandboxConfig

MESSAGES = [{"role": "user", "content": "What is 6 * 7?"}]
FINAL = "The answer is \\boxed{42}.<|im_end|>"


@pytest_asyncio.fixture(scope="module")
async def sandbox():
    async with Sandbox(SandboxConfig(workers=2)) as sb:
        yield sb


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    return build_tiny_tokenizer(tmp_path_factory.mktemp("tok"))


@pytest.fixture
def tool(sandbox):
    return CodeInterpreterTool(sandbox, timeout_s=5.0, memory_mb=256)


def call(code: str) -> str:
    return "<tool_call>\n" + json.dumps({"name": "code_interpreter", "arguments": {"code": code}}) + "\n</tool_call>"


def prompt_ids(tok, messages=MESSAGES) -> list[int]:
    out = tok.apply_chat_template(messages, tokenize=True, add_generation_prompt=True)
    return list(out["input_ids"] if hasattr(out, "keys") else out)


def check(traj: Trajectory, tok, cfg: RolloutConfig, engine: ScriptedEngine) -> None:
    n = len(traj.response_token_ids)
    assert n == len(traj.loss_mask) == len(traj.logprobs)
    assert len(traj.prompt_token_ids) + n <= cfg.max_context_tokens
    assert tok.decode(traj.response_token_ids, skip_special_tokens=False) == traj.response_text
    assert set(traj.loss_mask) <= {0, 1}
    assert all(lp == 0.0 for lp, m in zip(traj.logprobs, traj.loss_mask) if m == 0)
    assert traj.generated_tokens == sum(traj.loss_mask)
    model_ids = [t for t, m in zip(traj.response_token_ids, traj.loss_mask) if m]
    model_lps = [lp for lp, m in zip(traj.logprobs, traj.loss_mask) if m]
    gens = [c.generation for c in engine.calls if c.generation is not None]
    assert model_ids == [t for g in gens for t in g.token_ids]
    assert model_lps == [lp for g in gens for lp in g.logprobs]
    assert all(lp != 0.0 for lp in model_lps)  # the scripted engine's fake logprobs are never 0
    full = traj.prompt_token_ids + traj.response_token_ids
    for c in engine.calls:
        assert c.prompt_token_ids == full[: len(c.prompt_token_ids)]
        assert len(c.prompt_token_ids) + c.sampling.max_new_tokens <= cfg.max_context_tokens


def segments(traj: Trajectory, tok) -> list[tuple[int, str]]:
    """(mask, text) runs of the response."""
    runs: list[tuple[int, list[int]]] = []
    for t, m in zip(traj.response_token_ids, traj.loss_mask):
        if runs and runs[-1][0] == m:
            runs[-1][1].append(t)
        else:
            runs.append((m, [t]))
    return [(m, tok.decode(ids, skip_special_tokens=False)) for m, ids in runs]


async def run(tok, tool, script, cfg=RolloutConfig(), messages=MESSAGES, **engine_kw):
    engine = ScriptedEngine(tok, script, **engine_kw)
    traj = await rollout(engine, messages, cfg, tool=tool)
    check(traj, tok, cfg, engine)
    return traj, engine


# ------------------------------------------------------------------------------------ completion
async def test_completed_without_tools(tok, tool):
    traj, engine = await run(tok, tool, [FINAL])
    assert traj.status is TrajectoryStatus.COMPLETED and traj.end_reason == "completed"
    assert traj.turns == 1 and traj.tool_calls == [] and traj.num_tool_calls == 0
    assert traj.prompt_token_ids == prompt_ids(tok)
    assert traj.response_text == FINAL
    assert traj.response_token_ids[-1] == tok.eos_token_id
    assert set(traj.loss_mask) == {1}
    assert traj.finish_reason == "stop" and traj.error is None
    sampling = engine.calls[0].sampling
    assert "</tool_call>" in sampling.stop
    assert tok.convert_tokens_to_ids("</tool_call>") in sampling.stop_token_ids


async def test_one_call_hermes_chat(tok, tool):
    first = "Let me compute.\n" + call("print(6 * 7)")
    traj, engine = await run(tok, tool, [first + "\nJUNK AFTER THE STOP", FINAL])
    assert traj.status is TrajectoryStatus.COMPLETED and traj.turns == 2
    (rec,) = traj.tool_calls
    assert rec.turn == 1 and rec.code == "print(6 * 7)" and rec.status == "ok" and rec.observation == "42"
    assert traj.num_tool_calls == 1
    obs = "<|im_end|>\n<|im_start|>user\n<tool_response>\n42\n</tool_response><|im_end|>\n<|im_start|>assistant\n"
    assert segments(traj, tok) == [(1, first), (0, obs), (1, FINAL)]
    assert traj.response_text == first + obs + FINAL
    assert "JUNK" not in traj.response_text
    assert traj.tool_s > 0 and traj.generation_s >= 0


async def test_several_calls_in_one_turn_run_concurrently(tok, tool):
    cfg = RolloutConfig(stop_at_call_end=False)
    turn = (call("import time\ntime.sleep(0.5)\nprint('a')") + "\n"
            + call("import time\ntime.sleep(0.5)\nprint('b')") + "<|im_end|>")
    traj, engine = await run(tok, tool, [turn, FINAL], cfg)
    assert engine.calls[0].sampling.stop == ()
    assert [r.observation for r in traj.tool_calls] == ["a", "b"]
    assert traj.tool_s < 0.9, f"calls of one turn ran one after the other ({traj.tool_s:.2f}s)"
    # The model closed its turn with eos itself: the observation must not close it a second time.
    (_, first), (_, obs), _ = segments(traj, tok)
    assert first.endswith("</tool_call><|im_end|>")
    assert obs == ("\n<|im_start|>user\n<tool_response>\na\n</tool_response><|im_end|>\n"
                   "<|im_start|>user\n<tool_response>\nb\n</tool_response><|im_end|>\n<|im_start|>assistant\n")


async def test_code_format_with_interpreter_observations(tok, tool):
    cfg = RolloutConfig(call_format="code", observation_format="interpreter")
    first = "Compute.\n<code>\n```python\nprint(2 ** 10)\n```\n</code>"
    traj, engine = await run(tok, tool, [first + "tail", "So \\boxed{1024}.<|im_end|>"], cfg)
    assert engine.calls[0].sampling.stop == ("</code>",)
    assert traj.status is TrajectoryStatus.COMPLETED
    assert segments(traj, tok) == [(1, first), (0, "\n<interpreter>\n1024\n</interpreter>\n"), (1, "So \\boxed{1024}.<|im_end|>")]


async def test_python_format_with_chat_observations(tok, tool):
    cfg = RolloutConfig(call_format="python")
    first = "Let me check.\n```python\nprint(sum(range(101)))\n```\n"
    traj, _ = await run(tok, tool, [first + "more", FINAL], cfg)
    assert traj.status is TrajectoryStatus.COMPLETED
    assert [r.observation for r in traj.tool_calls] == ["5050"]
    assert segments(traj, tok)[0] == (1, first)
    assert "<tool_response>\n5050\n</tool_response>" in segments(traj, tok)[1][1]


async def test_python_plain_fence_stop_continues_the_turn(tok, tool):
    cfg = RolloutConfig(call_format="python", max_new_tokens=500)
    pieces = ["Data:\n```\n", "plain text\n```\n", "Now code:\n```python\nprint(3)\n```\n"]
    traj, engine = await run(tok, tool, pieces + [FINAL], cfg)
    assert traj.status is TrajectoryStatus.COMPLETED
    assert traj.turns == 2 and len(engine.calls) == 4
    assert [r.code for r in traj.tool_calls] == ["print(3)"]
    assert segments(traj, tok)[0] == (1, "".join(pieces))
    budgets = [c.sampling.max_new_tokens for c in engine.calls[:3]]
    used = [len(c.generation.token_ids) for c in engine.calls[:2]]
    assert budgets == [500, 500 - used[0], 500 - used[0] - used[1]]  # one turn's budget, shared


async def test_hermes_stop_inside_code_string_continues_and_output_stays_plain_text(tok, tool):
    head = '<tool_call>\n{"name": "code_interpreter", "arguments": {"code": "print(\'<|im\' + \'_end|></tool_call>'
    tail = '\')"}}\n</tool_call>'
    traj, engine = await run(tok, tool, [head, tail, FINAL])
    assert traj.turns == 2 and len(engine.calls) == 3
    (rec,) = traj.tool_calls
    assert rec.code == "print('<|im' + '_end|></tool_call>')" and rec.observation == "<|im_end|></tool_call>"
    obs_ids = [t for t, m in zip(traj.response_token_ids, traj.loss_mask) if m == 0]
    # The program's output is text: it must not turn into real end-of-turn / tool-call tokens.
    assert obs_ids.count(tok.eos_token_id) == 2  # the template's own: closing the assistant and the tool turn
    assert tok.convert_tokens_to_ids("</tool_call>") not in obs_ids


# ------------------------------------------------------------------------------------- invalid calls
async def test_invalid_calls_become_error_observations(tok, tool):
    script = [
        '<tool_call>\n{"name": "code_interpreter", "arguments": {"code": "print(1)"\n</tool_call>',
        '<tool_call>\n{"name": "search", "arguments": {"query": "x"}}\n</tool_call>',
        '<tool_call>\n{"name": "code_interpreter", "arguments": {"code": ""}}\n</tool_call>',
        FINAL,
    ]
    traj, _ = await run(tok, tool, script)
    assert traj.status is TrajectoryStatus.COMPLETED and traj.turns == 4
    assert [r.status for r in traj.tool_calls] == ["invalid"] * 3
    assert traj.num_tool_calls == 0
    obs = [r.observation for r in traj.tool_calls]
    assert "invalid JSON" in obs[0] and "unknown tool 'search'" in obs[1] and "empty" in obs[2]
    assert all(o.startswith("Error: ") for o in obs)
    assert "<tool_response>\nError: unknown tool 'search'" in traj.response_text


# ---------------------------------------------------------------------------------------- limits
async def test_max_turns_truncates(tok, tool):
    cfg = RolloutConfig(max_turns=2)
    traj, engine = await run(tok, tool, [call("print(1)"), call("print(2)"), FINAL], cfg)
    assert traj.status is TrajectoryStatus.TRUNCATED and traj.end_reason == "max_turns"
    assert traj.turns == 2 and len(engine.calls) == 2
    assert [r.code for r in traj.tool_calls] == ["print(1)"]  # the last turn's call is not run
    assert traj.loss_mask[-1] == 1  # ends on the model's own call


async def test_max_tool_calls_skips_the_excess(tok, tool):
    cfg = RolloutConfig(max_tool_calls=1, stop_at_call_end=False)
    turn = call("print(1)") + call("print(2)") + "<|im_end|>"
    traj, _ = await run(tok, tool, [turn, call("print(3)") + "<|im_end|>", FINAL], cfg)
    assert traj.status is TrajectoryStatus.COMPLETED
    assert [r.status for r in traj.tool_calls] == ["ok", "skipped", "skipped"]
    assert traj.num_tool_calls == 1
    assert "limit of 1 tool calls was reached" in traj.tool_calls[1].observation


async def test_context_budget_clamps_max_new_tokens(tok, tool):
    n_prompt = len(prompt_ids(tok))
    cfg = RolloutConfig(max_context_tokens=n_prompt + 12, max_new_tokens=1000)
    traj, engine = await run(tok, tool, ["word " * 50], cfg)
    assert engine.calls[0].sampling.max_new_tokens == 12
    assert traj.status is TrajectoryStatus.TRUNCATED and traj.end_reason == "context"
    assert traj.finish_reason == "length"
    assert len(traj.prompt_token_ids) + len(traj.response_token_ids) == cfg.max_context_tokens


async def test_per_turn_max_new_tokens_truncates(tok, tool):
    cfg = RolloutConfig(max_new_tokens=5)
    traj, _ = await run(tok, tool, ["word " * 50], cfg)
    assert traj.status is TrajectoryStatus.TRUNCATED and traj.end_reason == "max_new_tokens"
    assert len(traj.response_token_ids) == 5


async def test_observation_overflowing_the_context_is_trimmed(tok, tool):
    first = call("print('x' * 400)")
    n_first = len(tok.encode(first, add_special_tokens=False))
    cfg = RolloutConfig(max_context_tokens=len(prompt_ids(tok)) + n_first + 10, max_observation_tokens=10_000)
    traj, engine = await run(tok, tool, [first, FINAL], cfg)
    assert traj.status is TrajectoryStatus.TRUNCATED and traj.end_reason == "context"
    assert len(engine.calls) == 1
    assert len(traj.prompt_token_ids) + len(traj.response_token_ids) == cfg.max_context_tokens
    assert traj.loss_mask[-10:] == [0] * 10


async def test_observation_token_budget(tok, tool):
    cfg = RolloutConfig(max_observation_tokens=40)
    traj, _ = await run(tok, tool, [call("for i in range(500):\n    print(i)"), FINAL], cfg)
    (rec,) = traj.tool_calls
    assert len(encode_text(tok, rec.observation)) <= 40
    assert rec.observation.startswith("0\n1\n") and rec.observation.endswith("498\n499")
    assert "tokens omitted]" in rec.observation and rec.observation in traj.response_text


async def test_prompt_longer_than_the_context(tok, tool):
    cfg = RolloutConfig(max_context_tokens=5)
    engine = ScriptedEngine(tok, [FINAL])
    traj = await rollout(engine, MESSAGES, cfg, tool=tool)  # the prompt itself is never cut
    assert traj.status is TrajectoryStatus.TRUNCATED and traj.end_reason == "prompt_too_long"
    assert engine.calls == [] and traj.response_token_ids == [] and "prompt" in traj.error


# --------------------------------------------------------------------------------- engine & tool faults
async def test_engine_error_aborts_and_keeps_what_was_generated(tok, tool):
    traj, _ = await run(tok, tool, [call("print(1)"), EngineError("server went away")])
    assert traj.status is TrajectoryStatus.ABORTED and "server went away" in traj.error
    assert [r.observation for r in traj.tool_calls] == ["1"]
    assert traj.loss_mask[-1] == 0  # the observation was appended before the failed call


async def test_engine_abort_finish_reason(tok, tool):
    ids = tok.encode("partial", add_special_tokens=False)
    traj, _ = await run(tok, tool, [Generation(ids, [-0.5] * len(ids), "abort")])
    assert traj.status is TrajectoryStatus.ABORTED and traj.response_text == "partial"


async def test_unexpected_exception_fails_without_raising(tok, tool):
    traj, _ = await run(tok, tool, [ValueError("bug in an engine")])
    assert traj.status is TrajectoryStatus.FAILED and "ValueError: bug in an engine" in traj.error


async def test_tool_timeout_is_in_the_observation(tok, sandbox):
    slow_tool = CodeInterpreterTool(sandbox, timeout_s=0.5, memory_mb=256)
    traj, _ = await run(tok, slow_tool, [call("import time\ntime.sleep(5)"), FINAL])
    (rec,) = traj.tool_calls
    assert rec.status == "timeout" and "[timeout:" in rec.observation
    assert traj.status is TrajectoryStatus.COMPLETED


async def test_user_sampling_settings_are_kept(tok, tool):
    cfg = RolloutConfig(sampling=SamplingConfig(temperature=0.6, top_p=0.9, stop=("STOP",), stop_token_ids=(0,), seed=7))
    _, engine = await run(tok, tool, [FINAL], cfg)
    s = engine.calls[0].sampling
    assert (s.temperature, s.top_p, s.seed) == (0.6, 0.9, 7)
    assert s.stop == ("STOP", "</tool_call>")
    assert s.stop_token_ids == (0, tok.convert_tokens_to_ids("</tool_call>"))


def test_config_validation():
    with pytest.raises(ValueError):
        RolloutConfig(call_format="xml")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        RolloutConfig(observation_format="text")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        RolloutConfig(max_turns=0)


# ------------------------------------------------------------------------------------------- overlap
async def test_a_slow_tool_does_not_delay_other_rollouts(tok, tool):
    """8 rollouts at once; one runs a 1.5 s program. The other 7 must finish long before it does."""
    finished: dict[int, float] = {}
    start = time.monotonic()

    async def one(i: int) -> Trajectory:
        code = "import time\ntime.sleep(1.5)\nprint('slow')" if i == 0 else f"print({i} * {i})"
        engine = ScriptedEngine(tok, [call(code), FINAL], delay_s=0.02)
        traj = await rollout(engine, MESSAGES, RolloutConfig(), tool=tool)
        finished[i] = time.monotonic() - start
        check(traj, tok, RolloutConfig(), engine)
        return traj

    trajs = await asyncio.gather(*(one(i) for i in range(8)))
    assert all(t.status is TrajectoryStatus.COMPLETED for t in trajs)
    assert [t.tool_calls[0].observation for t in trajs] == ["slow"] + [str(i * i) for i in range(1, 8)]
    assert finished[0] >= 1.5
    others = max(finished[i] for i in range(1, 8))
    assert others < 1.0, f"fast rollouts waited for the slow tool: {others:.2f}s"


async def test_rollout_accepts_prompt_token_ids(tok, tool):
    ids = tok.encode("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", add_special_tokens=False)
    engine = ScriptedEngine(tok, [call("print(2)"), FINAL])
    cfg = RolloutConfig()
    traj = await rollout(engine, [], cfg, tool=tool, prompt_token_ids=ids)
    check(traj, tok, cfg, engine)
    assert traj.prompt_token_ids == ids and traj.status is TrajectoryStatus.COMPLETED
    assert "<tool_response>\n2\n</tool_response>" in traj.response_text


async def test_trajectory_to_dict(tok, tool):
    traj, _ = await run(tok, tool, [call("print(1)"), FINAL])
    d = traj.to_dict()
    assert d["status"] == "completed" and d["num_tool_calls"] == 1
    assert json.loads(json.dumps(d))["tool_calls"][0]["observation"] == "1"
    assert replace(RolloutConfig(), max_turns=3).max_turns == 3


# --------------------------------------------------------------------------- other chat templates
# Qwen-like behaviour our tiny template lacks: consecutive tool messages share one user turn, the tool
# list goes into a system prompt, and the last assistant message renders differently (a think block).
GROUPING_TEMPLATE = (
    "{%- if tools %}{{- '<|im_start|>system\\nTools: ' + (tools | map(attribute='function') | map(attribute='name')"
    " | join(', ')) + '<|im_end|>\\n' }}{%- endif %}"
    "{%- for m in messages %}"
    "{%- if m.role == 'tool' %}"
    "{%- if loop.first or messages[loop.index0 - 1].role != 'tool' %}{{- '<|im_start|>user' }}{%- endif %}"
    "{{- '\\n<tool_response>\\n' + m.content + '\\n</tool_response>' }}"
    "{%- if loop.last or messages[loop.index0 + 1].role != 'tool' %}{{- '<|im_end|>\\n' }}{%- endif %}"
    "{%- elif m.role == 'assistant' and loop.last %}"
    "{{- '<|im_start|>assistant\\n<think>\\n\\n</think>\\n\\n' + m.content + '<|im_end|>\\n' }}"
    "{%- else %}{{- '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' }}{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)


async def test_grouping_template_and_declared_tools(tok, tool):
    cfg = RolloutConfig(stop_at_call_end=False, chat_template_kwargs={"chat_template": GROUPING_TEMPLATE})
    turn = call("print('a')") + call("print('b')") + "<|im_end|>"
    traj, _ = await run(tok, tool, [turn, FINAL], cfg)
    assert tok.decode(traj.prompt_token_ids).startswith("<|im_start|>system\nTools: code_interpreter<|im_end|>\n")
    assert segments(traj, tok)[1] == (0, "\n<|im_start|>user\n<tool_response>\na\n</tool_response>\n"
                                         "<tool_response>\nb\n</tool_response><|im_end|>\n<|im_start|>assistant\n")


async def test_template_that_drops_tool_messages_fails_cleanly(tok, tool):
    template = ("{%- for m in messages if m.role != 'tool' %}{{- '<|im_start|>' + m.role + '\\n' + m.content"
                " + '<|im_end|>\\n' }}{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}")
    cfg = RolloutConfig(chat_template_kwargs={"chat_template": template})
    traj, _ = await run(tok, tool, [call("print(1)"), FINAL], cfg)
    assert traj.status is TrajectoryStatus.FAILED and "did not render the tool message" in traj.error
    assert traj.loss_mask and set(traj.loss_mask) == {1}  # the model's turn is kept


class InstantTool:
    """A tool of our own (what the overlap benchmark compares against): any `retool.Tool` will do."""

    name = "code_interpreter"
    schema = tool_schema()

    async def execute(self, code: str) -> ToolResult:
        if "boom" in code:
            raise RuntimeError("tool crashed")
        return ToolResult(observation="instant", status=ToolStatus.OK, duration_s=0.0)


async def test_any_tool_and_a_raising_tool(tok):
    assert isinstance(InstantTool(), Tool)
    cfg = RolloutConfig(stop_at_call_end=False)
    turn = call("print(1)") + call("boom()") + "<|im_end|>"
    traj, _ = await run(tok, InstantTool(), [turn, FINAL], cfg)
    assert traj.status is TrajectoryStatus.COMPLETED
    assert [(r.status, r.observation) for r in traj.tool_calls] == [
        ("ok", "instant"), ("sandbox_error", "[tool error: RuntimeError: tool crashed]")]
