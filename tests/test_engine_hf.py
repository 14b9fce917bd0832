"""The transformers engine on the tiny model (CPU here; the same code runs on CUDA), and the engine factory."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from retool.engines.base import Engine, EngineError, SamplingConfig  # noqa: E402
from retool.engines.factory import make_engine  # noqa: E402
from retool.engines.hf import HFEngine  # noqa: E402


@pytest.fixture(scope="module")
async def engine(tiny_model):
    eng = await make_engine("hf", model=str(tiny_model))
    yield eng
    await eng.close()


def manual_logprobs(engine, prompt, tokens):
    """Per-token logprobs of `tokens` after `prompt` from one plain forward pass."""
    import torch

    ids = torch.tensor([prompt + tokens])
    with torch.inference_mode():
        logits = engine.model(ids).logits[0].float()
    lps = torch.log_softmax(logits, dim=-1)
    return [float(lps[len(prompt) - 1 + i, t]) for i, t in enumerate(tokens)]


async def test_protocol_and_greedy_length(engine, prompt):
    assert isinstance(engine, Engine) and isinstance(engine, HFEngine)
    g = await engine.generate(prompt, SamplingConfig(max_new_tokens=12, temperature=0.0))
    assert len(g.token_ids) == len(g.logprobs) == 12
    assert g.finish_reason == "length" and g.stop_reason is None
    assert all(lp <= 0.0 for lp in g.logprobs)
    again = await engine.generate(prompt, SamplingConfig(max_new_tokens=12, temperature=0.0))
    assert again.token_ids == g.token_ids  # greedy is deterministic
    # Raw-logit logprobs agree with a manual forward pass, token by token.
    assert manual_logprobs(engine, prompt, g.token_ids) == pytest.approx(g.logprobs, abs=1e-4)


async def test_sampling_seeded_and_logprobs_are_raw(engine, prompt):
    cfg = SamplingConfig(max_new_tokens=20, temperature=0.7, top_p=0.95, top_k=100, seed=11)
    a = await engine.generate(prompt, cfg)
    b = await engine.generate(prompt, cfg)
    assert a.token_ids == b.token_ids and a.logprobs == b.logprobs
    c = await engine.generate(prompt, SamplingConfig(max_new_tokens=20, temperature=0.7, seed=12))
    assert c.token_ids != a.token_ids
    # Logprobs are of the raw logits (temperature not applied): same as the plain forward pass.
    assert manual_logprobs(engine, prompt, a.token_ids)[:1] == pytest.approx(a.logprobs[:1], abs=1e-4)
    assert manual_logprobs(engine, prompt, a.token_ids) == pytest.approx(a.logprobs, abs=1e-4)


async def test_stop_string_kept(engine, prompt):
    tok = engine.tokenizer
    base = await engine.generate(prompt, SamplingConfig(max_new_tokens=40, temperature=1.0, seed=3))
    text = tok.decode(base.token_ids, skip_special_tokens=False)
    # A stop string taken from the middle of the unconstrained output (printable, 2 characters).
    start = next(i for i in range(8, len(text) - 2) if text[i:i + 2].isprintable() and text[i:i + 2].strip())
    stop = text[start:start + 2]
    g = await engine.generate(prompt, SamplingConfig(max_new_tokens=40, temperature=1.0, seed=3, stop=(stop,)))
    assert g.finish_reason == "stop" and g.stop_reason == stop
    out = tok.decode(g.token_ids, skip_special_tokens=False)
    assert stop in out and out.find(stop) == text.find(stop)
    assert not tok.decode(g.token_ids[:-1], skip_special_tokens=False).count(stop)  # stopped at the first match
    assert g.token_ids == base.token_ids[:len(g.token_ids)]
    assert len(g.token_ids) == len(g.logprobs)


async def test_special_token_stop_string_and_stop_token_ids(engine, prompt):
    tok = engine.tokenizer
    base = await engine.generate(prompt, SamplingConfig(max_new_tokens=30, temperature=1.0, seed=5))
    target = base.token_ids[6]
    first = base.token_ids.index(target)
    g = await engine.generate(prompt, SamplingConfig(max_new_tokens=30, temperature=1.0, seed=5,
                                                     stop_token_ids=(target,)))
    assert g.finish_reason == "stop" and g.stop_reason == target
    assert g.token_ids == base.token_ids[:first + 1]
    # A special token as a stop string (a random model will not emit it on cue: test the matcher).
    from retool.engines.hf import _StopOnStrings
    import torch

    close_id = tok.convert_tokens_to_ids("</tool_call>")
    seq = torch.tensor([prompt + tok.encode("x = 1\n", add_special_tokens=False) + [close_id]])
    stopper = _StopOnStrings(tok, ("</tool_call>",), len(prompt))
    assert bool(stopper(seq, None)[0]) and stopper.matched == "</tool_call>"
    no = _StopOnStrings(tok, ("</tool_call>",), len(prompt))
    assert not bool(no(seq[:, :-1], None)[0])


async def test_concurrent_calls_are_serialised(engine, prompt):
    cfgs = [SamplingConfig(max_new_tokens=8, temperature=1.0, seed=s) for s in range(4)]
    results = await asyncio.gather(*(engine.generate(prompt, c) for c in cfgs))
    singles = [await engine.generate(prompt, c) for c in cfgs]
    assert [r.token_ids for r in results] == [s.token_ids for s in singles]


async def test_zero_budget_and_errors(engine, prompt):
    g = await engine.generate(prompt, SamplingConfig(max_new_tokens=0))
    assert g.token_ids == [] and g.finish_reason == "length"
    with pytest.raises(EngineError):
        await engine.generate([], SamplingConfig(max_new_tokens=4))
    with pytest.raises(EngineError, match="structured outputs need the vLLM engine"):
        await engine.generate(prompt, SamplingConfig(max_new_tokens=4, extra={"structured_outputs": {"regex": "a"}}))
    # A GenerationConfig field passes through.
    g = await engine.generate(prompt, SamplingConfig(max_new_tokens=4, temperature=0.0,
                                                     extra={"repetition_penalty": 5.0}))
    assert len(g.token_ids) == 4


async def test_factory_errors(tiny_model):
    with pytest.raises(EngineError, match="unknown engine kind"):
        await make_engine("tgi", model="x")
    with pytest.raises(EngineError, match="needs model"):
        await make_engine("vllm")
    with pytest.raises(EngineError, match="needs url"):
        await make_engine("http", model=str(tiny_model))
    with pytest.raises(EngineError, match="needs tokenizer"):
        await make_engine("sglang", url="http://127.0.0.1:1")
    with pytest.raises(EngineError, match="takes no url"):
        await make_engine("hf", model=str(tiny_model), url="http://127.0.0.1:1")
    with pytest.raises(EngineError, match="does not take these options"):
        await make_engine("sglang", url="http://127.0.0.1:1", tokenizer=str(tiny_model), dtype="bfloat16")
    sgl = await make_engine("sglang", url="127.0.0.1:1", tokenizer=str(tiny_model))
    http = await make_engine("http", url="http://127.0.0.1:1/", model=str(tiny_model), served_model="m")
    try:
        assert sgl.base_url == "http://127.0.0.1:1" and http.base_url == "http://127.0.0.1:1"
        assert http.model == "m" and sgl.tokenizer.eos_token == "<|im_end|>"
    finally:
        await sgl.close()
        await http.close()


async def test_close(tiny_model):
    eng = HFEngine(str(tiny_model))
    await eng.close()
    await eng.close()  # idempotent
    with pytest.raises(EngineError, match="closed"):
        await eng.generate([1, 2], SamplingConfig(max_new_tokens=2))
