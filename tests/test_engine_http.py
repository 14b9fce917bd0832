"""HTTP engines: SGLang's `/generate` against a scripted test server (no SGLang here), and vLLM's
OpenAI-compatible server as a real `vllm` process started on 127.0.0.1 with the tiny model."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

aiohttp = pytest.importorskip("aiohttp")
from aiohttp import web  # noqa: E402

from retool.engines.base import EngineError, SamplingConfig  # noqa: E402
from retool.engines.http import SGLangEngine, VLLMHTTPEngine  # noqa: E402

def literal(text: str) -> str:
    """A regex matching `text` exactly (re.escape also escapes spaces, which xgrammar warns about)."""
    return "".join("\\" + c if c in ".^$*+?{}[]\\|()" else c for c in text)


TOOL_CALL = '<tool_call>\n{"name": "code_interpreter", "arguments": {"code": "print(6 * 7)"}}\n</tool_call>'
FAST_RETRY = dict(max_retries=3, backoff_s=0.01, max_backoff_s=0.02, timeout_s=10)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------------------------------
# SGLang: a deterministic stand-in for the `/generate` protocol (payload in, meta_info out).


class FakeSGLang:
    """Answers `/generate` like SGLang: tokens are `input_ids[-1] + 1, + 2, ...`, logprob -0.1 * k.

    `script` is a queue of behaviours for the next requests: an int HTTP status to fail with, "drop"
    to close the connection, "garbage" for a non-JSON body, or a dict overriding the finish reason.
    """

    def __init__(self):
        self.requests: list[dict] = []
        self.script: list = []
        self.runner = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        action = self.script.pop(0) if self.script else None
        if isinstance(action, int):
            return web.Response(status=action, text=f"scripted failure {action}")
        if action == "drop":
            request.transport.close()
            return web.Response(status=500)
        if action == "garbage":
            return web.Response(text="<html>not json</html>")
        sp = body["sampling_params"]
        n = sp["max_new_tokens"]
        last = body["input_ids"][-1]
        toks = [last + k for k in range(1, n + 1)]
        finish: dict = {"type": "length", "length": n}
        for i, t in enumerate(toks):
            if t in sp.get("stop_token_ids", []):
                toks, finish = toks[:i + 1], {"type": "stop", "matched": t}
                break
        if isinstance(action, dict):
            finish = action
        rows = [[-0.1 * (k + 1), t, None] for k, t in enumerate(toks)]
        return web.json_response({"text": "", "meta_info": {
            "id": "x", "prompt_tokens": len(body["input_ids"]), "completion_tokens": len(toks),
            "output_token_logprobs": rows, "finish_reason": finish}})

    async def health(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/generate", self.handle)
        app.router.add_get("/health", self.health)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        port = free_port()
        await web.TCPSite(self.runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        await self.runner.cleanup()


@pytest.fixture
async def fake_sglang():
    server = FakeSGLang()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def sglang(fake_sglang, tokenizer):
    eng = SGLangEngine(fake_sglang.url, tokenizer, **FAST_RETRY)
    yield eng
    await eng.close()


async def test_sglang_payload_and_parse(sglang, fake_sglang):
    cfg = SamplingConfig(max_new_tokens=5, temperature=0.6, top_p=0.9, top_k=20, seed=7, stop=("</tool_call>",),
                         stop_token_ids=(99,), extra={"structured_outputs": {"regex": "a+"}, "min_new_tokens": 1})
    g = await sglang.generate([1, 2, 3], cfg)
    assert g.token_ids == [4, 5, 6, 7, 8]
    assert g.logprobs == pytest.approx([-0.1, -0.2, -0.3, -0.4, -0.5])
    assert g.finish_reason == "length" and g.stop_reason is None
    body = fake_sglang.requests[-1]
    assert body["input_ids"] == [1, 2, 3] and body["return_logprob"] is True
    sp = body["sampling_params"]
    assert sp["max_new_tokens"] == 5 and sp["temperature"] == 0.6 and sp["top_p"] == 0.9 and sp["top_k"] == 20
    assert sp["stop"] == ["</tool_call>"] and sp["stop_token_ids"] == [99]
    assert sp["no_stop_trim"] is True and sp["skip_special_tokens"] is False
    assert sp["sampling_seed"] == 7 and sp["regex"] == "a+" and sp["min_new_tokens"] == 1
    assert "structured_outputs" not in sp
    assert await sglang.health()


async def test_sglang_finish_reasons(sglang, fake_sglang, tokenizer):
    g = await sglang.generate([10], SamplingConfig(max_new_tokens=8, stop_token_ids=(13,)))
    assert g.token_ids == [11, 12, 13] and g.finish_reason == "stop" and g.stop_reason == 13
    fake_sglang.script.append({"type": "stop", "matched": "</tool_call>"})
    g = await sglang.generate([10], SamplingConfig(max_new_tokens=2))
    assert g.finish_reason == "stop" and g.stop_reason == "</tool_call>"
    fake_sglang.script.append({"type": "stop", "matched": tokenizer.eos_token_id})  # EOS: like vLLM, None
    g = await sglang.generate([10], SamplingConfig(max_new_tokens=2))
    assert g.finish_reason == "stop" and g.stop_reason is None
    fake_sglang.script.append({"type": "abort", "message": "client disconnected"})
    g = await sglang.generate([10], SamplingConfig(max_new_tokens=2))
    assert g.finish_reason == "abort" and len(g.token_ids) == len(g.logprobs) == 2
    g = await sglang.generate([10], SamplingConfig(max_new_tokens=3, logprobs=False))
    assert g.logprobs == [0.0, 0.0, 0.0]


async def test_sglang_retries_then_succeeds(sglang, fake_sglang):
    fake_sglang.script.extend([503, "drop", 502])
    g = await sglang.generate([1], SamplingConfig(max_new_tokens=2))
    assert g.token_ids == [2, 3]
    assert len(fake_sglang.requests) == 4


async def test_sglang_errors(sglang, fake_sglang, tokenizer):
    fake_sglang.script.append(400)
    with pytest.raises(EngineError, match="HTTP 400"):
        await sglang.generate([1], SamplingConfig(max_new_tokens=2))
    assert len(fake_sglang.requests) == 1  # client errors are not retried
    fake_sglang.script.extend([500] * 4)
    with pytest.raises(EngineError, match="giving up after 4 attempts.*HTTP 500"):
        await sglang.generate([1], SamplingConfig(max_new_tokens=2))
    fake_sglang.script.append("garbage")
    with pytest.raises(EngineError, match="non-JSON"):
        await sglang.generate([1], SamplingConfig(max_new_tokens=2))
    with pytest.raises(EngineError):
        sglang.parse_response({"meta_info": {"finish_reason": {"type": "stop"}}}, SamplingConfig())
    with pytest.raises(EngineError):
        sglang.parse_response({"error": "x"}, SamplingConfig())
    dead = SGLangEngine(f"http://127.0.0.1:{free_port()}", tokenizer, **FAST_RETRY)
    try:
        with pytest.raises(EngineError, match="giving up"):
            await dead.generate([1], SamplingConfig(max_new_tokens=2))
        assert not await dead.health()
    finally:
        await dead.close()
    await sglang.close()
    with pytest.raises(EngineError, match="closed"):
        await sglang.generate([1], SamplingConfig(max_new_tokens=2))


async def test_sglang_timeout_is_retried_and_reported(tokenizer):
    async def slow(request):
        await asyncio.sleep(1)
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/generate", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    eng = SGLangEngine(f"127.0.0.1:{port}", tokenizer, max_retries=1, backoff_s=0.01, timeout_s=0.2)
    try:
        t0 = time.monotonic()
        with pytest.raises(EngineError, match="giving up after 2 attempts.*Timeout"):
            await eng.generate([1], SamplingConfig(max_new_tokens=2))
        assert time.monotonic() - t0 < 1.0
    finally:
        await eng.close()
        await runner.cleanup()


def test_vllm_http_payload(tokenizer):
    from dataclasses import dataclass, field

    @dataclass
    class Params:  # shaped like vllm's StructuredOutputsParams
        regex: str | None = None
        json: dict | None = None
        disable_any_whitespace: bool = False
        _backend: str | None = field(default="xgrammar")

    eng = VLLMHTTPEngine("http://h:1", tokenizer, model="m")
    p = eng.build_payload([5, 6], SamplingConfig(max_new_tokens=7, temperature=0.5, top_k=-1, seed=1, stop=("x",),
                                                 extra={"structured_outputs": Params(regex="a+")}))
    assert p["prompt"] == [5, 6] and p["max_tokens"] == 7 and p["model"] == "m" and p["seed"] == 1
    assert p["structured_outputs"] == {"regex": "a+"} and p["top_k"] == -1 and p["logprobs"] == 0
    assert p["include_stop_str_in_output"] is True and p["skip_special_tokens"] is False
    assert p["return_token_ids"] is True and p["return_tokens_as_token_ids"] is True
    assert "logprobs" not in eng.build_payload([5], SamplingConfig(logprobs=False))


def test_vllm_http_parse_fallback_and_checks():
    data = {"choices": [{"text": "ab", "finish_reason": "stop", "stop_reason": "b",
                         "logprobs": {"tokens": ["token_id:5", "token_id:9"], "token_logprobs": [-1.0, -2.0]}}]}
    g = VLLMHTTPEngine.parse_response(data, SamplingConfig())  # no token_ids: from the labels
    assert g.token_ids == [5, 9] and g.logprobs == [-1.0, -2.0] and g.stop_reason == "b"
    data["choices"][0]["token_ids"] = [5, 8]
    with pytest.raises(EngineError, match="mismatch"):
        VLLMHTTPEngine.parse_response(data, SamplingConfig())
    with pytest.raises(EngineError, match="malformed"):
        VLLMHTTPEngine.parse_response({"object": "error"}, SamplingConfig())


# --------------------------------------------------------------------------------------------------
# vLLM: a real OpenAI-compatible server process.


class VLLMServer:
    def __init__(self, model: str, log_path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.log = open(log_path, "wb")
        cmd = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", model,
               "--host", "127.0.0.1", "--port", str(self.port), "--dtype", "bfloat16", "--max-model-len", "1024",
               "--enforce-eager", "--gpu-memory-utilization", "0.2", "--disable-log-stats", "--seed", "0"]
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def tail(self) -> str:
        self.log.flush()
        return self.log_path.read_bytes()[-3000:].decode(errors="replace")

    def wait_ready(self, timeout_s: float = 180.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"vLLM server exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            time.sleep(1)
        self.stop()
        raise RuntimeError(f"vLLM server not healthy after {timeout_s} s:\n{self.tail()}")

    def group_members(self) -> list:
        import psutil

        out = []
        for p in psutil.process_iter(["pid"]):
            try:
                if os.getpgid(p.pid) == self.proc.pid:
                    out.append(p)
            except (ProcessLookupError, psutil.Error):
                continue
        return out

    def stop(self) -> None:
        if self.proc.poll() is None or self.group_members():
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
            deadline = time.monotonic() + 15
            while self.group_members() and time.monotonic() < deadline:
                time.sleep(0.5)
            if self.group_members():
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=10)
        self.log.close()


@pytest.fixture(scope="module")
def vllm_server(tiny_model, tmp_path_factory):
    pytest.importorskip("vllm")
    server = VLLMServer(str(tiny_model), tmp_path_factory.mktemp("vllm_server") / "server.log")
    try:
        server.wait_ready(180)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
async def http_engine(vllm_server, tokenizer):
    eng = VLLMHTTPEngine(vllm_server.url, tokenizer)
    yield eng
    await eng.close()


@pytest.mark.slow
async def test_vllm_http_greedy_exact_ids(http_engine, vllm_server, prompt, tiny_model):
    assert await http_engine.health()
    cfg = SamplingConfig(max_new_tokens=16, temperature=0.0)
    g = await http_engine.generate(prompt, cfg)
    assert len(g.token_ids) == len(g.logprobs) == 16
    assert g.finish_reason == "length" and all(lp <= 0.0 for lp in g.logprobs)
    # The ids are the server's own (token_ids field, cross-checked against the token_id:N labels),
    # and agree with an independent implementation's greedy decode (transformers, fp32).
    from retool.engines.hf import HFEngine

    hf = HFEngine(str(tiny_model), device="cpu")
    try:
        ref = await hf.generate(prompt, SamplingConfig(max_new_tokens=8, temperature=0.0))
    finally:
        await hf.close()
    assert g.token_ids[:4] == ref.token_ids[:4]
    assert g.logprobs[:4] == pytest.approx(ref.logprobs[:4], abs=0.1)
    # Raw response: token_ids and the logprob labels name the same tokens.
    async with aiohttp.ClientSession() as s:
        async with s.post(vllm_server.url + "/v1/completions", json=http_engine.build_payload(prompt, cfg)) as r:
            raw = await r.json()
    choice = raw["choices"][0]
    assert choice["token_ids"] == g.token_ids
    assert [int(t.split(":")[1]) for t in choice["logprobs"]["tokens"]] == g.token_ids


@pytest.mark.slow
async def test_vllm_http_structured_tool_call_and_stop(http_engine, prompt, tokenizer):
    cfg = SamplingConfig(max_new_tokens=100, temperature=1.0, seed=0, stop=("</tool_call>",),
                         extra={"structured_outputs": {"regex": literal(TOOL_CALL)}})
    g = await http_engine.generate(prompt, cfg)
    assert tokenizer.decode(g.token_ids, skip_special_tokens=False) == TOOL_CALL
    assert g.finish_reason == "stop" and g.stop_reason == "</tool_call>"
    assert g.token_ids[-1] == tokenizer.convert_tokens_to_ids("</tool_call>")
    assert tokenizer.convert_tokens_to_ids("<tool_call>") == g.token_ids[0]


@pytest.mark.slow
async def test_vllm_http_stop_string_and_seed(http_engine, prompt, tokenizer):
    cfg = SamplingConfig(max_new_tokens=40, temperature=1.0, seed=3)
    base = await http_engine.generate(prompt, cfg)
    assert (await http_engine.generate(prompt, cfg)).token_ids == base.token_ids
    text = tokenizer.decode(base.token_ids, skip_special_tokens=False)
    start = next(i for i in range(8, len(text) - 2) if text[i:i + 2].isprintable() and text[i:i + 2].strip())
    stop = text[start:start + 2]
    g = await http_engine.generate(prompt, SamplingConfig(max_new_tokens=40, temperature=1.0, seed=3, stop=(stop,)))
    assert g.finish_reason == "stop" and g.stop_reason == stop
    assert g.token_ids == base.token_ids[:len(g.token_ids)]
    assert tokenizer.decode(g.token_ids, skip_special_tokens=False).find(stop) == text.find(stop)
    target = base.token_ids[5]
    g = await http_engine.generate(prompt, SamplingConfig(max_new_tokens=40, temperature=1.0, seed=3,
                                                          stop_token_ids=(target,)))
    assert g.finish_reason == "stop" and g.stop_reason == target and g.token_ids[-1] == target


@pytest.mark.slow
async def test_vllm_http_concurrent_and_errors(http_engine, prompt):
    cfgs = [SamplingConfig(max_new_tokens=16, temperature=1.0, seed=i) for i in range(8)]
    results = await asyncio.gather(*(http_engine.generate(prompt, c) for c in cfgs))
    assert all(len(r.token_ids) == len(r.logprobs) > 0 for r in results)
    with pytest.raises(EngineError, match="HTTP 400"):  # prompt over max_model_len: a 400, not retried
        await http_engine.generate(prompt * 200, SamplingConfig(max_new_tokens=4))
    # max_tokens beyond the context left is clamped by the server (as in-process).
    g = await http_engine.generate((prompt * 100)[:1010], SamplingConfig(max_new_tokens=100, temperature=0.0))
    assert g.finish_reason == "length" and len(g.token_ids) == 14


@pytest.mark.slow
async def test_vllm_server_stops(vllm_server, http_engine):
    assert vllm_server.group_members()
    await http_engine.close()
    await asyncio.to_thread(vllm_server.stop)
    assert vllm_server.proc.poll() is not None
    assert not vllm_server.group_members(), "vLLM server processes left after stop"
    with pytest.raises(EngineError):
        await http_engine.generate([1, 2], SamplingConfig(max_new_tokens=2))
