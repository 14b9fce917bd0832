"""transformers engine: `model.generate` on one prompt at a time, for small models, tests and the GPU check.

    engine = HFEngine("/path/to/model")                 # device and dtype auto-detected
    gen = await engine.generate(prompt_ids, SamplingConfig(temperature=0.0, stop=("</tool_call>",)))

Not a serving engine: Hugging Face `generate` is not concurrent, so each engine serialises its calls
with a lock and runs them in a worker thread (`asyncio.to_thread`), which keeps the event loop free
for tool calls and other work. Use vLLM (in-process or HTTP) for throughput.

Logprobs are the log-softmax of the model's *raw* logits (`output_logits=True`), before temperature,
top-k and top-p: the same quantity as vLLM's default `raw_logprobs` and what the trainer recomputes.

Sampling: `temperature == 0` is greedy; otherwise multinomial with the given temperature / top-p /
top-k (`top_k <= 0` disables it). A `seed` makes a call reproducible (it seeds torch's RNG for that
call, under the engine lock). Stop strings are checked on the decoded tail of the output after each
token and are kept in the output (the output ends with the token that completed the string);
`stop_token_ids` and the tokenizer's / model's EOS end generation too (`stop_reason` is the token id
for `stop_token_ids`, None for EOS, like vLLM).
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from .base import EngineError, Generation, SamplingConfig


def _default_device() -> str:
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def _resolve_dtype(dtype: Any, device: str):
    import torch

    if dtype is None or dtype == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    if isinstance(dtype, str):
        try:
            return getattr(torch, {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32", "half": "float16",
                                   "float": "float32"}.get(dtype, dtype))
        except AttributeError as exc:
            raise EngineError(f"unknown dtype {dtype!r}") from exc
    return dtype


class _StopOnStrings:
    """StoppingCriteria: stop once the decoded output ends with (contains, in its new tail) a stop string."""

    def __init__(self, tokenizer: Any, stops: tuple[str, ...], prompt_len: int):
        self.tokenizer = tokenizer
        self.stops = tuple(s for s in stops if s)
        self.prompt_len = prompt_len
        # A stop string of L characters spans at most L tokens (+ partial-byte tokens at its edges).
        self.window = max((len(s) for s in self.stops), default=0) + 4
        self.matched: str | None = None

    def __call__(self, input_ids, scores, **kwargs):  # noqa: ANN001 - transformers' signature
        import torch

        done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        if not self.stops:
            return done
        gen = input_ids[0, self.prompt_len:]
        if gen.numel() == 0:
            return done
        tail_ids = gen[-self.window:].tolist()
        last_len = len(self.tokenizer.decode(tail_ids[:-1], skip_special_tokens=False)) if len(tail_ids) > 1 else 0
        tail = self.tokenizer.decode(tail_ids, skip_special_tokens=False)
        for stop in self.stops:
            idx = tail.find(stop, max(0, last_len - len(stop) + 1))
            if idx != -1:
                self.matched = stop
                done[:] = True
                break
        return done


class HFEngine:
    """transformers `AutoModelForCausalLM` behind the `Engine` protocol (one generation at a time)."""

    def __init__(self, model_path: str, device: str | None = None, dtype: Any = None, *,
                 tokenizer: Any = None, trust_remote_code: bool = False):
        try:
            import torch  # noqa: F401
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise EngineError(f"transformers/torch are not installed: {exc}") from exc
        self.model_path = str(model_path)
        self.device = device or _default_device()
        self.dtype = _resolve_dtype(dtype, self.device)
        self.tokenizer = tokenizer or AutoTokenizer.from_pretrained(self.model_path, trust_remote_code=trust_remote_code)
        try:
            self.model = AutoModelForCausalLM.from_pretrained(
                self.model_path, dtype=self.dtype, trust_remote_code=trust_remote_code).to(self.device)
        except Exception as exc:
            raise EngineError(f"could not load {self.model_path!r} with transformers: {exc}") from exc
        self.model.eval()
        self._lock = threading.Lock()
        self._closed = False
        eos: list[int] = []
        for src in (getattr(self.model.generation_config, "eos_token_id", None), self.tokenizer.eos_token_id):
            for t in (src if isinstance(src, (list, tuple)) else [src]):
                if t is not None and int(t) not in eos:
                    eos.append(int(t))
        self.eos_token_ids = eos
        pad = self.tokenizer.pad_token_id
        self.pad_token_id = int(pad) if pad is not None else (eos[0] if eos else 0)

    @classmethod
    async def create(cls, model_path: str, **kwargs: Any) -> "HFEngine":
        return await asyncio.to_thread(cls, model_path, **kwargs)

    async def generate(self, prompt_token_ids: list[int], sampling: SamplingConfig) -> Generation:
        if self._closed:
            raise EngineError("HFEngine is closed")
        if not prompt_token_ids:
            raise EngineError("empty prompt")
        return await asyncio.to_thread(self._generate_sync, [int(t) for t in prompt_token_ids], sampling)

    def _generate_sync(self, prompt: list[int], sampling: SamplingConfig) -> Generation:
        import torch
        from transformers import GenerationConfig, StoppingCriteriaList

        if sampling.max_new_tokens <= 0:
            return Generation(token_ids=[], logprobs=[], finish_reason="length")
        stop_ids = [int(t) for t in sampling.stop_token_ids]
        end_ids = list(dict.fromkeys(self.eos_token_ids + stop_ids))
        greedy = sampling.temperature <= 0.0
        cfg = GenerationConfig(
            max_new_tokens=sampling.max_new_tokens,
            do_sample=not greedy,
            temperature=None if greedy else float(sampling.temperature),
            top_p=None if greedy else float(sampling.top_p),
            top_k=None if greedy else (int(sampling.top_k) if sampling.top_k and sampling.top_k > 0 else 0),
            eos_token_id=end_ids or None,
            pad_token_id=self.pad_token_id,
            return_dict_in_generate=True,
            output_logits=True,
            num_beams=1,
        )
        for key, value in sampling.extra.items():  # GenerationConfig passthrough (e.g. repetition_penalty)
            if not hasattr(cfg, key):
                raise EngineError(f"HFEngine does not support sampling.extra[{key!r}] (not a GenerationConfig "
                                  "field; structured outputs need the vLLM engine)")
            setattr(cfg, key, value)
        stopper = _StopOnStrings(self.tokenizer, tuple(sampling.stop), len(prompt))
        input_ids = torch.tensor([prompt], dtype=torch.long, device=self.device)
        with self._lock:
            if sampling.seed is not None:
                torch.manual_seed(int(sampling.seed))
            try:
                with torch.inference_mode():
                    out = self.model.generate(
                        input_ids=input_ids, attention_mask=torch.ones_like(input_ids), generation_config=cfg,
                        stopping_criteria=StoppingCriteriaList([stopper]),
                    )
            except Exception as exc:
                raise EngineError(f"transformers generate failed: {type(exc).__name__}: {exc}") from exc
        tokens = out.sequences[0, len(prompt):].tolist()
        logits = out.logits  # tuple, one [1, vocab] tensor per generated step (raw, unprocessed)
        n = min(len(tokens), len(logits))
        tokens = tokens[:n]
        logprobs: list[float] = []
        if sampling.logprobs:
            for i, tok in enumerate(tokens):
                logprobs.append(float(torch.log_softmax(logits[i][0].float(), dim=-1)[tok]))
        else:
            logprobs = [0.0] * n

        if stopper.matched is not None:
            return Generation(tokens, logprobs, "stop", stopper.matched)
        if tokens and tokens[-1] in stop_ids:
            return Generation(tokens, logprobs, "stop", tokens[-1])
        if tokens and tokens[-1] in self.eos_token_ids:
            return Generation(tokens, logprobs, "stop", None)
        return Generation(tokens, logprobs, "length", None)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with self._lock:
            model, self.model = self.model, None
            del model
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except Exception:  # noqa: BLE001 - best effort
            pass

    async def __aenter__(self) -> "HFEngine":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"HFEngine({self.model_path!r}, device={self.device!r}, dtype={self.dtype})"


__all__ = ["HFEngine"]
