"""`retool.generate` on a slime-like Sample: fields, status, retries, the reward reading the tool count."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest
import pytest_asyncio

import retool
from retool.integrations.slime import make_engine, rollout_config, sampling_from_slime, shutdown
from retool.testing.scripted_engine import ScriptedEngine
from retool.testing.tiny_model import build_tiny_tokenizer
from retool.tool import CodeInterpreterTool
from sandbox import Sandbox, SandboxConfig

FINAL = "The answer is \\boxed{42}.<|im_end|>"


SLIME_COMMIT = "624b824a898ab0ec1fcb4d373004c7f3852bf515"  # THUDM/slime main, 2026-08-21


@dataclass
class Sample:
    """slime's `slime.utils.types.Sample` at SLIME_COMMIT: the fields generate, the reward and slime's
    train-data conversion touch (slime is not installable here; its source must not be copied)."""

    class Status(enum.Enum):
        PENDING = "pending"
        COMPLETED = "completed"
        TRUNCATED = "truncated"
        ABORTED = "aborted"
        FAILED = "failed"

    index: int | None = None
    prompt: str | list = ""
    label: str | None = None
    tokens: list = field(default_factory=list)
    response: str = ""
    response_length: int = 0
    reward: float | dict | None = None
    loss_mask: list | None = None
    weight_versions: list = field(default_factory=list)
    rollout_log_probs: list | None = None
    rollout_top_p_token_ids: list | None = None
    rollout_top_p_token_offsets: list | None = None
    rollout_routed_experts: list | None = None
    remove_sample: bool = False
    teacher_log_probs: list | None = None
    status: Status = Status.PENDING
    metadata: dict = field(default_factory=dict)
    non_generation_time: float = 0.0


@dataclass
class OldSample(Sample):
    """A slime from before ``Status.FAILED`` existed (PENDING..ABORTED only)."""

    class Status(enum.Enum):
        PENDING = "pending"
        COMPLETED = "completed"
        TRUNCATED = "truncated"
        ABORTED = "aborted"

    status: Status = Status.PENDING


async def slime_generate_and_rm(args, sample, sampling_params, *, evaluation=False, reward_key="score"):
    """What slime does around our hook, restated from SLIME_COMMIT's ``generate_and_rm``
    (slime/rollout/sglang_rollout.py) and ``_convert_samples_to_train_data`` (slime/ray/rollout.py):
    ``evaluation`` passed only when the hook's signature has it; no reward for an ABORTED sample; then
    every sample of the group is trained on, its reward read as ``reward[reward_key]``, its loss mask
    (zeroed when ``remove_sample``) asserted against ``response_length``; eval reads the reward the same
    way for every sample. Returns the loss mask slime would train with."""
    import inspect

    if "evaluation" in inspect.signature(retool.generate).parameters:
        sample = await retool.generate(args, sample, sampling_params, evaluation=evaluation)
    else:
        sample = await retool.generate(args, sample, sampling_params)
    assert isinstance(sample.status, type(sample).Status)
    if sample.status is not type(sample).Status.ABORTED and sample.reward is None:
        sample.reward = await retool.reward_func(args, sample)
    float(sample.reward[reward_key])  # TypeError on None: the crash a kept ABORTED sample causes
    loss_mask = sample.loss_mask if sample.loss_mask is not None else [1] * sample.response_length
    assert len(loss_mask) == sample.response_length
    if sample.rollout_log_probs is not None:
        assert len(sample.rollout_log_probs) == sample.response_length
    assert len(sample.tokens) >= sample.response_length
    if getattr(args, "rollout_top_p", 1.0) != 1.0:
        assert sample.rollout_top_p_token_ids is not None and sample.rollout_top_p_token_offsets is not None
        assert len(sample.rollout_top_p_token_offsets) == sample.response_length + 1
    return [0] * sample.response_length if sample.remove_sample else loss_mask


@pytest_asyncio.fixture(scope="module")
async def sandbox():
    async with Sandbox(SandboxConfig(workers=2)) as sb:
        yield sb


@pytest.fixture(scope="module")
def tok_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("tok")
    build_tiny_tokenizer(path)
    return path


@pytest.fixture(scope="module")
def tok(tok_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tok_dir)


def call(code: str) -> str:
    return "<tool_call>\n" + json.dumps({"name": "code_interpreter", "arguments": {"code": code}}) + "\n</tool_call>"


def make_args(engine, sandbox, **kw) -> SimpleNamespace:
    return SimpleNamespace(
        retool_engine=engine, retool_tool=CodeInterpreterTool(sandbox, timeout_s=5, memory_mb=256),
        rollout_max_context_len=None, rollout_max_response_len=512, **kw,
    )


def assert_consistent(sample: Sample, tok) -> None:
    n = sample.response_length
    assert n == len(sample.loss_mask) == len(sample.rollout_log_probs) > 0
    assert tok.decode(sample.tokens[-n:], skip_special_tokens=False) == sample.response
    assert sample.metadata["tool_call_count"] == sample.tool_call_count


async def test_generate_with_messages_and_reward(tok, sandbox):
    engine = ScriptedEngine(tok, ["Let me compute.\n" + call("print(6 * 7)"), FINAL])
    args = make_args(engine, sandbox)
    sample = Sample(prompt=[{"role": "user", "content": "What is 6 * 7?"}], label="42")
    out = await retool.generate(args, sample, {"temperature": 0.7, "top_p": 0.95, "max_new_tokens": 512})
    assert out is sample
    assert_consistent(sample, tok)
    assert sample.status is Sample.Status.COMPLETED
    assert sample.tool_call_count == 1 and sample.metadata["retool"]["turns"] == 2
    prompt = tok.apply_chat_template(sample.prompt, tokenize=True, add_generation_prompt=True)["input_ids"]
    assert sample.tokens[: len(prompt)] == list(prompt)
    assert len(sample.tokens) == len(prompt) + sample.response_length
    assert "<tool_response>\n42\n</tool_response>" in sample.response
    assert 0 in sample.loss_mask and sample.loss_mask[-1] == 1
    assert engine.calls[0].sampling.temperature == 0.7 and engine.calls[0].sampling.top_p == 0.95

    reward = await retool.reward_func(args, sample)
    assert reward["score"] == 1.0 and reward["acc"] is True and reward["pred"] == "42"


async def test_reward_shaping_reads_the_tool_count(tok, sandbox):
    engine = ScriptedEngine(tok, [call("print(1)"), "The answer is \\boxed{7}.<|im_end|>"])
    args = make_args(engine, sandbox, reward_tool_shaping=True)
    sample = Sample(prompt=[{"role": "user", "content": "What is 6 * 7?"}], label="42")
    await retool.generate(args, sample, {"max_new_tokens": 256})
    assert sample.tool_call_count == 1
    reward = await retool.reward_func(args, sample)
    assert reward["acc"] is False
    assert reward["score"] == pytest.approx(-1.05)  # min(-0.6, -1 + (1 - 2) / 2 * 0.1): one call counted


async def test_string_prompt_is_tokenised_as_rendered(tok, sandbox):
    rendered = "<|im_start|>user\nWhat is 6 * 7?<|im_end|>\n<|im_start|>assistant\n"
    engine = ScriptedEngine(tok, [FINAL])
    sample = Sample(prompt=rendered, label="42")
    await retool.generate(make_args(engine, sandbox), sample, {"max_new_tokens": 64})
    ids = tok(rendered, add_special_tokens=False)["input_ids"]
    assert engine.calls[0].prompt_token_ids == ids
    assert sample.tokens == ids + tok.encode(FINAL, add_special_tokens=False)
    assert sample.response == FINAL and sample.tool_call_count == 0
    assert sample.status is Sample.Status.COMPLETED


async def test_retried_sample_starts_clean(tok, sandbox):
    engine = ScriptedEngine(tok, [FINAL])
    sample = Sample(
        prompt=[{"role": "user", "content": "Again?"}], label="42",
        tokens=[9, 9, 9], response="stale", response_length=3, loss_mask=[1, 1, 1],
        rollout_log_probs=[-1.0, -1.0, -1.0], reward=0.5, status=Sample.Status.ABORTED,
        metadata={"tool_call_count": 5, "retool": {"turns": 9}, "keep": "me"},
    )
    sample.tool_call_count = 5
    await retool.generate(make_args(engine, sandbox), sample, {"max_new_tokens": 64})
    assert_consistent(sample, tok)
    assert sample.response == FINAL and sample.response_length == len(tok.encode(FINAL, add_special_tokens=False))
    assert 9 not in sample.tokens[-sample.response_length:]
    assert sample.reward is None and sample.status is Sample.Status.COMPLETED
    assert sample.tool_call_count == 0 and sample.metadata["tool_call_count"] == 0
    assert sample.metadata["keep"] == "me" and sample.metadata["retool"]["turns"] == 1


async def test_limits_and_status_mapping(tok, sandbox):
    engine = ScriptedEngine(tok, ["word " * 100])
    args = make_args(engine, sandbox)
    args.rollout_max_response_len = 10
    sample = Sample(prompt=[{"role": "user", "content": "Talk."}])
    await retool.generate(args, sample, {"max_new_tokens": 10})
    assert sample.status is Sample.Status.TRUNCATED and sample.response_length == 10
    assert sample.remove_sample is False

    plain = SimpleNamespace(prompt=[{"role": "user", "content": "Talk."}], metadata={})
    await retool.generate(make_args(ScriptedEngine(tok, [FINAL]), sandbox), plain, {"max_new_tokens": 64})
    assert plain.status == "completed" and plain.response == FINAL


@pytest.mark.parametrize("failure", ["http_400", "retries_exhausted", "engine_abort", "our_bug"])
@pytest.mark.parametrize("evaluation", [False, True], ids=["train", "eval"])
async def test_a_failed_engine_call_never_takes_down_a_step(tok, sandbox, failure, evaluation):
    from retool.engines.base import EngineError, Generation

    script = {
        "http_400": [EngineError("HTTP 400: the prompt is longer than the context")],
        "retries_exhausted": ["Let me compute.\n" + call("print(6 * 7)"), EngineError("retries exhausted: 503")],
        "engine_abort": [Generation([5, 6, 7], [-0.1, -0.2, -0.3], "abort")],
        "our_bug": [RuntimeError("bug")],
    }[failure]
    args = make_args(ScriptedEngine(tok, script), sandbox)
    sample = Sample(prompt=[{"role": "user", "content": "What is 6 * 7?"}], label="42")
    loss_mask = await slime_generate_and_rm(args, sample, {"max_new_tokens": 256}, evaluation=evaluation)
    assert sample.status is Sample.Status.FAILED  # never ABORTED: slime would skip its reward, then crash
    assert sample.remove_sample is True and set(loss_mask) <= {0}  # scored, never learned from
    assert sample.reward["acc"] is False
    assert sample.metadata["retool"]["status"] in ("aborted", "failed") and sample.metadata["retool"]["error"]
    if failure == "retries_exhausted":  # what was generated is kept, consistently
        assert sample.response_length > 0 and sample.tool_call_count == 1
        assert tok.decode(sample.tokens[-sample.response_length:], skip_special_tokens=False) == sample.response


async def test_failure_on_a_slime_without_status_failed(tok, sandbox):
    from retool.engines.base import EngineError

    args = make_args(ScriptedEngine(tok, [EngineError("HTTP 400")]), sandbox)
    sample = OldSample(prompt=[{"role": "user", "content": "Talk."}], label="1")
    await slime_generate_and_rm(args, sample, {"max_new_tokens": 16})
    assert sample.status is OldSample.Status.TRUNCATED and sample.remove_sample is True


async def test_every_outcome_meets_slimes_train_data_assertions(tok, sandbox):
    outcomes = {
        "completed": ["Let me compute.\n" + call("print(6 * 7)"), FINAL],
        "truncated": ["word " * 400],
        "max_turns": [call("print(1)")] * 3,
    }
    for name, script in outcomes.items():
        args = make_args(ScriptedEngine(tok, script), sandbox, retool_max_turns=2)
        sample = Sample(prompt=[{"role": "user", "content": "What is 6 * 7?"}], label="42")
        loss_mask = await slime_generate_and_rm(args, sample, {"max_new_tokens": 64})
        assert sample.status in (Sample.Status.COMPLETED, Sample.Status.TRUNCATED), name
        assert sample.remove_sample is False and 1 in loss_mask, name


async def test_eval_budget_comes_from_the_sampling_params_slime_sends(tok, sandbox):
    # slime's eval rollout sends max_new_tokens = --eval-max-response-len and evaluation=True;
    # rollout_max_response_len (the training length) must not cut AIME answers.
    engine = ScriptedEngine(tok, ["word " * 300])
    args = make_args(engine, sandbox)
    args.rollout_max_response_len, args.eval_max_response_len = 16, 200
    args.rollout_max_context_len, args.eval_max_context_len = None, None
    sample = Sample(prompt=[{"role": "user", "content": "Talk."}])
    await slime_generate_and_rm(args, sample, {"max_new_tokens": 200}, evaluation=True)
    assert sample.response_length == 200 and engine.calls[0].sampling.max_new_tokens == 200
    cfg = rollout_config(args, {}, prompt_tokens=10, evaluation=True)
    assert cfg.max_new_tokens == 200 and cfg.max_context_tokens == 210  # no budget sent: the eval length
    cfg = rollout_config(args, {}, prompt_tokens=10)
    assert cfg.max_new_tokens == 16 and cfg.max_context_tokens == 26  # training: the rollout length
    args.rollout_max_context_len, args.eval_max_context_len = 100, 150
    assert rollout_config(args, {"max_new_tokens": 200}, prompt_tokens=10, evaluation=True).max_context_tokens == 150
    assert rollout_config(args, {"max_new_tokens": 200}, prompt_tokens=10).max_context_tokens == 100


async def test_eval_sampling_params_are_not_mutated(tok, sandbox):
    # slime's eval hands the same dict to every eval sample (no copy unless deterministic inference)
    params = {"max_new_tokens": 64, "temperature": 0.6, "top_p": 0.95, "stop": None}
    before = dict(params)
    await retool.generate(make_args(ScriptedEngine(tok, [FINAL]), sandbox), Sample(prompt=[{"role": "user", "content": "a"}]),
                          params, evaluation=True)
    assert params == before


async def test_rollout_top_p_below_one_is_refused_by_name(tok, sandbox):
    from retool.integrations.slime import UnsupportedSlimeOption

    engine = ScriptedEngine(tok, [FINAL])
    args = make_args(engine, sandbox, rollout_top_p=0.9)
    with pytest.raises(UnsupportedSlimeOption, match="--rollout-top-p 0.9"):
        await retool.generate(args, Sample(prompt=[{"role": "user", "content": "a"}]),
                              {"max_new_tokens": 8, "custom_params": {"return_top_p_token_ids": True}})
    assert engine.calls == []  # refused before any work
    args.rollout_top_p = 1.0
    sample = Sample(prompt=[{"role": "user", "content": "a"}])
    await slime_generate_and_rm(args, sample, {"max_new_tokens": 64, "top_p": 0.7}, evaluation=True)  # --eval-top-p 0.7
    assert sample.status is Sample.Status.COMPLETED


async def test_runtime_is_cached_on_args_and_closed_by_shutdown(tok):
    engine = ScriptedEngine(tok, [FINAL, FINAL])
    args = SimpleNamespace(retool_engine=engine, retool_sandbox_workers=1, retool_tool_timeout_s=5)
    await retool.generate(args, Sample(prompt=[{"role": "user", "content": "a"}]), {"max_new_tokens": 64})
    runtime = args._retool_runtime
    await retool.generate(args, Sample(prompt=[{"role": "user", "content": "b"}]), {"max_new_tokens": 64})
    assert args._retool_runtime is runtime and runtime.tool._owns_sandbox
    await shutdown(args)
    assert not hasattr(args, "_retool_runtime") and runtime.tool._sandbox is None
    assert not engine.closed  # an injected engine belongs to the caller


def test_config_from_slime_args():
    args = SimpleNamespace(rollout_max_context_len=1000, rollout_max_response_len=800, retool_max_turns=3,
                           retool_call_format="code", retool_observation_format="interpreter")
    cfg = rollout_config(args, {"max_new_tokens": 800, "temperature": 0.5, "stop": "END", "min_p": 0.1}, prompt_tokens=300)
    assert cfg.max_context_tokens == 1000  # min(300 + 800, rollout_max_context_len)
    assert cfg.max_new_tokens == 800 and cfg.max_turns == 3
    assert (cfg.call_format, cfg.observation_format) == ("code", "interpreter")
    assert cfg.sampling.stop == ("END",) and cfg.sampling.temperature == 0.5 and cfg.sampling.extra == {"min_p": 0.1}
    cfg = rollout_config(SimpleNamespace(), {"max_new_tokens": 128}, prompt_tokens=50)
    assert cfg.max_context_tokens == 178
    s = sampling_from_slime({"top_k": None, "stop_token_ids": [1, 2], "sampling_seed": 3, "no_stop_trim": True})
    assert s.top_k == -1 and s.stop_token_ids == (1, 2) and s.seed == 3 and s.extra == {}


def test_retool_settings_come_from_the_environment_when_args_lack_them(monkeypatch):
    # slime drops unknown flags (parse_known_args), so launch scripts export RETOOL_* variables instead
    monkeypatch.setenv("RETOOL_CALL_FORMAT", "code")
    monkeypatch.setenv("RETOOL_OBSERVATION_FORMAT", "interpreter")
    monkeypatch.setenv("RETOOL_MAX_TURNS", "5")
    monkeypatch.setenv("RETOOL_STOP_AT_CALL_END", "false")
    cfg = rollout_config(SimpleNamespace(), {"max_new_tokens": 64}, prompt_tokens=10)
    assert (cfg.call_format, cfg.observation_format, cfg.max_turns) == ("code", "interpreter", 5)
    assert cfg.stop_at_call_end is False
    # an explicit argument still wins over the environment
    cfg = rollout_config(SimpleNamespace(retool_max_turns=2), {"max_new_tokens": 64}, prompt_tokens=10)
    assert cfg.max_turns == 2


def test_make_engine_needs_a_router():
    engine = object()
    assert make_engine(SimpleNamespace(retool_engine=engine)) is engine
    with pytest.raises(ValueError, match="sglang_router_ip"):
        make_engine(SimpleNamespace())
    with pytest.raises(ValueError, match="not supported"):
        make_engine(SimpleNamespace(retool_engine_kind="carrier-pigeon"))


def test_public_names():
    from retool.integrations.slime import generate
    from retool.agent_loop import rollout

    assert retool.generate is generate and retool.rollout is rollout
    assert retool.CodeInterpreterTool is CodeInterpreterTool
    assert {"generate", "rollout", "RolloutConfig", "Trajectory", "TrajectoryStatus", "CodeInterpreterTool"} <= set(retool.__all__)


async def test_make_engine_builds_the_sglang_client(tok_dir):
    http = pytest.importorskip("retool.engines.http")
    args = SimpleNamespace(sglang_router_ip="127.0.0.1", sglang_router_port=30000, hf_checkpoint=str(tok_dir))
    engine = make_engine(args)
    try:
        assert isinstance(engine, http.SGLangEngine)
        assert engine.base_url == "http://127.0.0.1:30000"
        assert engine.tokenizer.eos_token == "<|im_end|>"
    finally:
        await engine.close()
