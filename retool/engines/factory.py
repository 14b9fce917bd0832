"""Build an engine by name: `await make_engine("vllm", model=PATH)`.

Kinds:
- ``vllm``: in-process vLLM (`VLLMEngine`); needs `model`; extra kwargs go to `AsyncEngineArgs`.
- ``http``: vLLM's OpenAI-compatible server (`VLLMHTTPEngine`); needs `url` and a tokenizer
  (`tokenizer`, else `model` as the tokenizer path); `served_model` / `model_name` names the served model.
- ``sglang``: SGLang's native `/generate` (`SGLangEngine`); needs `url` and a tokenizer as for http.
- ``hf``: transformers (`HFEngine`); needs `model`; kwargs `device`, `dtype`.
"""

from __future__ import annotations

from typing import Any

from .base import Engine, EngineError

ENGINE_KINDS = ("vllm", "http", "sglang", "hf")
_ALIASES = {"vllm-http": "http", "openai": "http", "transformers": "hf", "sgl": "sglang"}


async def make_engine(kind: str, *, model: str | None = None, url: str | None = None,
                      tokenizer: Any = None, **kwargs: Any) -> Engine:
    """Create and start an engine of `kind` (see the module docstring); EngineError on bad arguments."""
    name = _ALIASES.get(str(kind).strip().lower(), str(kind).strip().lower())
    if name not in ENGINE_KINDS:
        raise EngineError(f"unknown engine kind {kind!r}; choose one of {', '.join(ENGINE_KINDS)}")

    if name in ("vllm", "hf"):
        if not model:
            raise EngineError(f"engine {name!r} needs model=PATH (a local model directory or hub name)")
        if url:
            raise EngineError(f"engine {name!r} runs in-process and takes no url; use 'http' or 'sglang' for a server")
        if name == "vllm":
            from .vllm_engine import VLLMEngine

            return await VLLMEngine.create(model, tokenizer=tokenizer, **kwargs)
        from .hf import HFEngine

        return await HFEngine.create(model, tokenizer=tokenizer, **kwargs)

    if not url:
        raise EngineError(f"engine {name!r} needs url=http://HOST:PORT of a running server")
    tok = tokenizer if tokenizer is not None else model
    if tok is None:
        raise EngineError(f"engine {name!r} needs tokenizer= (or model=) to load the model's tokenizer")
    from .http import SGLangEngine, VLLMHTTPEngine

    try:
        if name == "http":
            served = kwargs.pop("served_model", None) or kwargs.pop("model_name", None)
            return VLLMHTTPEngine(url, tok, model=served, **kwargs)
        return SGLangEngine(url, tok, **kwargs)
    except TypeError as exc:  # an option meant for an in-process engine (dtype, max_model_len, ...)
        raise EngineError(f"engine {name!r} does not take these options: {sorted(kwargs)} ({exc}); "
                          "HTTP engines accept timeout_s, connect_timeout_s, max_retries, backoff_s, "
                          "max_backoff_s, max_connections, headers") from exc


__all__ = ["make_engine", "ENGINE_KINDS"]
