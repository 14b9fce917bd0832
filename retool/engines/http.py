"""HTTP engines: vLLM's OpenAI-compatible server and SGLang's native `/generate` (as slime calls it).

    engine = VLLMHTTPEngine("http://127.0.0.1:8000", tokenizer="/path/to/model")
    engine = SGLangEngine("http://127.0.0.1:30000", tokenizer="/path/to/model")
    gen = await engine.generate(prompt_ids, SamplingConfig(stop=("</tool_call>",)))
    await engine.close()

Both send token-id prompts and read back exact token ids (never re-tokenised text):

- vLLM: `POST /v1/completions` with `prompt` = the id list, `return_token_ids: true` (the output ids in
  `choices[0].token_ids`), `logprobs: 0` (the sampled token's logprob in
  `choices[0].logprobs.token_logprobs`) and `return_tokens_as_token_ids: true` (the logprob entries
  are labelled `token_id:N`, used as a fallback and cross-check), `include_stop_str_in_output: true`,
  `skip_special_tokens: false` (stop strings are matched on the detokenised text, which must keep
  special tokens such as `</tool_call>`).
- SGLang: `POST /generate` with `{"input_ids", "sampling_params": {..., "no_stop_trim": true,
  "skip_special_tokens": false}, "return_logprob": true}`; ids and logprobs from
  `meta_info.output_token_logprobs` (`[logprob, token_id, text]` rows), finish from
  `meta_info.finish_reason` (`{"type": "stop"|"length"|"abort", "matched": ...}`).

`sampling.extra` is merged into the request: for vLLM into the JSON body (e.g.
`{"structured_outputs": {"regex": ...}}`; a `StructuredOutputsParams` object is converted), for
SGLang into `sampling_params` (`structured_outputs={"regex": r}` becomes SGLang's `regex`,
`json` becomes `json_schema`).

One `aiohttp.ClientSession` per engine (created on first use; use an engine from one event loop).
Connection errors, timeouts and 5xx/429 responses are retried with exponential backoff (bounded);
4xx responses and malformed bodies raise `EngineError` at once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import random
from typing import Any

from .base import EngineError, FinishReason, Generation, SamplingConfig

log = logging.getLogger(__name__)

_RETRY_STATUS = {408, 429, 500, 502, 503, 504}


def _load_tokenizer(tokenizer: Any) -> Any:
    if tokenizer is None or not isinstance(tokenizer, (str, bytes)) and not hasattr(tokenizer, "__fspath__"):
        return tokenizer
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tokenizer))


def _jsonable(value: Any) -> Any:
    """Make `sampling.extra` values JSON-serialisable (dataclasses such as StructuredOutputsParams)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)
                if not f.name.startswith("_") and getattr(value, f.name) is not None
                and getattr(value, f.name) is not False}
    if hasattr(value, "model_dump"):
        return value.model_dump(exclude_none=True)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


class _HTTPEngine:
    """Shared HTTP plumbing: one session, bounded retries with backoff, clear errors."""

    def __init__(self, base_url: str, tokenizer: Any, *, timeout_s: float = 600.0, connect_timeout_s: float = 10.0,
                 max_retries: int = 4, backoff_s: float = 0.5, max_backoff_s: float = 8.0,
                 max_connections: int = 512, headers: dict[str, str] | None = None):
        if not base_url:
            raise EngineError("an HTTP engine needs a base URL")
        if "://" not in base_url:
            base_url = "http://" + base_url
        self.base_url = base_url.rstrip("/")
        self.tokenizer = _load_tokenizer(tokenizer)
        self.timeout_s = float(timeout_s)
        self.connect_timeout_s = float(connect_timeout_s)
        self.max_retries = int(max_retries)
        self.backoff_s = float(backoff_s)
        self.max_backoff_s = float(max_backoff_s)
        self.max_connections = int(max_connections)
        self.headers = dict(headers or {})
        self._session = None
        self._closed = False

    def _get_session(self):
        if self._closed:
            raise EngineError(f"{type(self).__name__} is closed")
        if self._session is None or self._session.closed:
            import aiohttp

            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout_s, sock_connect=self.connect_timeout_s),
                connector=aiohttp.TCPConnector(limit=self.max_connections),
                headers=self.headers,
            )
        return self._session

    async def _request(self, method: str, path: str, payload: dict | None = None) -> Any:
        import aiohttp

        url = self.base_url + path
        session = self._get_session()
        last: str = ""
        for attempt in range(self.max_retries + 1):
            if attempt:
                delay = min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1)) * (0.75 + 0.5 * random.random())
                await asyncio.sleep(delay)
            try:
                async with session.request(method, url, json=payload) as resp:
                    body = await resp.text()
                    if resp.status in _RETRY_STATUS:
                        last = f"HTTP {resp.status} from {url}: {body[:500]}"
                        log.warning("retrying (%d/%d): %s", attempt + 1, self.max_retries, last)
                        continue
                    if resp.status >= 400:
                        raise EngineError(f"HTTP {resp.status} from {url}: {body[:2000]}")
                    if not body:
                        return None
                    try:
                        return json.loads(body)
                    except json.JSONDecodeError as exc:
                        raise EngineError(f"non-JSON response from {url}: {body[:500]!r}") from exc
            except EngineError:
                raise
            except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, asyncio.TimeoutError) as exc:
                last = f"{type(exc).__name__} for {url}: {exc}"
                log.warning("retrying (%d/%d): %s", attempt + 1, self.max_retries, last)
            except aiohttp.ClientError as exc:
                raise EngineError(f"HTTP client error for {url}: {type(exc).__name__}: {exc}") from exc
        raise EngineError(f"{type(self).__name__}: giving up after {self.max_retries + 1} attempts: {last}")

    async def health(self) -> bool:
        """True when `GET /health` answers 200 (one attempt, no retries)."""
        import aiohttp

        try:
            async with self._get_session().get(self.base_url + "/health",
                                               timeout=aiohttp.ClientTimeout(total=5)) as resp:
                return resp.status == 200
        except (aiohttp.ClientError, asyncio.TimeoutError):
            return False

    async def wait_until_ready(self, timeout_s: float = 180.0, interval_s: float = 1.0) -> None:
        """Poll `/health` until it answers 200; EngineError after `timeout_s`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not await self.health():
            if loop.time() > deadline:
                raise EngineError(f"{self.base_url} not healthy after {timeout_s:.0f} s")
            await asyncio.sleep(interval_s)

    async def close(self) -> None:
        self._closed = True
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_url!r})"


def _finish(reason: Any) -> FinishReason:
    if reason in ("stop", "length", "abort"):
        return reason
    if reason in ("repetition",):
        return "stop"
    if reason in ("error",):
        raise EngineError("the server reported a request-level error (finish_reason 'error')")
    return "abort"


class VLLMHTTPEngine(_HTTPEngine):
    """vLLM's OpenAI-compatible server (`vllm serve`), `/v1/completions` with token-id prompts."""

    def __init__(self, base_url: str, tokenizer: Any, model: str | None = None, **kwargs: Any):
        super().__init__(base_url, tokenizer, **kwargs)
        self.model = model

    def build_payload(self, prompt_token_ids: list[int], sampling: SamplingConfig) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "prompt": [int(t) for t in prompt_token_ids],
            "max_tokens": int(sampling.max_new_tokens),
            "temperature": float(sampling.temperature),
            "top_p": float(sampling.top_p),
            "top_k": int(sampling.top_k) if sampling.top_k and sampling.top_k > 0 else -1,
            "stop": list(sampling.stop),
            "stop_token_ids": [int(t) for t in sampling.stop_token_ids],
            "include_stop_str_in_output": True,
            "skip_special_tokens": False,
            "spaces_between_special_tokens": False,
            "return_token_ids": True,
            "return_tokens_as_token_ids": True,
            "n": 1,
            "stream": False,
        }
        if sampling.logprobs:
            payload["logprobs"] = 0
        if sampling.seed is not None:
            payload["seed"] = int(sampling.seed)
        if self.model is not None:
            payload["model"] = self.model
        payload.update(_jsonable(dict(sampling.extra)))
        return payload

    async def generate(self, prompt_token_ids: list[int], sampling: SamplingConfig) -> Generation:
        if not prompt_token_ids:
            raise EngineError("empty prompt")
        data = await self._request("POST", "/v1/completions", self.build_payload(prompt_token_ids, sampling))
        return self.parse_response(data, sampling)

    @staticmethod
    def parse_response(data: Any, sampling: SamplingConfig) -> Generation:
        try:
            choice = data["choices"][0]
        except (KeyError, IndexError, TypeError) as exc:
            raise EngineError(f"malformed /v1/completions response: {str(data)[:500]}") from exc
        lp = choice.get("logprobs") or {}
        labels = lp.get("tokens") or []
        token_ids = choice.get("token_ids")
        if token_ids is None:
            # Older servers: recover ids from the `token_id:N` labels of return_tokens_as_token_ids.
            try:
                token_ids = [int(str(t).split("token_id:", 1)[1]) for t in labels]
            except (IndexError, ValueError) as exc:
                raise EngineError("server returned neither token_ids nor token_id:N logprob labels; "
                                  "needs vLLM with return_token_ids / return_tokens_as_token_ids") from exc
            if not labels and choice.get("text"):
                raise EngineError("server returned text but no token ids")
        token_ids = [int(t) for t in token_ids]
        if sampling.logprobs:
            values = lp.get("token_logprobs")
            if values is None or len(values) != len(token_ids):
                raise EngineError(f"server returned {len(token_ids)} tokens but "
                                  f"{None if values is None else len(values)} logprobs")
            if labels and len(labels) == len(token_ids):
                for i, (tid, label) in enumerate(zip(token_ids, labels)):
                    if str(label).startswith("token_id:") and int(str(label)[9:]) != tid:
                        raise EngineError(f"token id mismatch at {i}: token_ids has {tid}, logprobs has {label}")
            logprobs = [float(v) if v is not None else 0.0 for v in values]
        else:
            logprobs = [0.0] * len(token_ids)
        return Generation(token_ids=token_ids, logprobs=logprobs, finish_reason=_finish(choice.get("finish_reason")),
                          stop_reason=choice.get("stop_reason"))


class SGLangEngine(_HTTPEngine):
    """SGLang's native `/generate` endpoint (or an sglang router), called the way slime calls it."""

    def build_payload(self, prompt_token_ids: list[int], sampling: SamplingConfig) -> dict[str, Any]:
        params: dict[str, Any] = {
            "max_new_tokens": int(sampling.max_new_tokens),
            "temperature": float(sampling.temperature),
            "top_p": float(sampling.top_p),
            "top_k": int(sampling.top_k) if sampling.top_k and sampling.top_k > 0 else -1,
            "stop": list(sampling.stop),
            "stop_token_ids": [int(t) for t in sampling.stop_token_ids],
            "no_stop_trim": True,
            "skip_special_tokens": False,
            "spaces_between_special_tokens": False,
        }
        if sampling.seed is not None:
            params["sampling_seed"] = int(sampling.seed)
        extra = _jsonable(dict(sampling.extra))
        so = extra.pop("structured_outputs", None)
        if isinstance(so, dict):
            for key, target in (("regex", "regex"), ("json", "json_schema"), ("grammar", "ebnf"),
                                ("structural_tag", "structural_tag")):
                if so.get(key) is not None:
                    value = so[key]
                    params[target] = json.dumps(value) if target == "json_schema" and not isinstance(value, str) else value
        params.update(extra)
        return {"input_ids": [int(t) for t in prompt_token_ids], "sampling_params": params,
                "return_logprob": True}  # always: the output token ids come from output_token_logprobs

    async def generate(self, prompt_token_ids: list[int], sampling: SamplingConfig) -> Generation:
        if not prompt_token_ids:
            raise EngineError("empty prompt")
        data = await self._request("POST", "/generate", self.build_payload(prompt_token_ids, sampling))
        return self.parse_response(data, sampling)

    def parse_response(self, data: Any, sampling: SamplingConfig) -> Generation:
        if isinstance(data, list):  # a batch endpoint answer; we sent one prompt
            data = data[0] if data else None
        try:
            meta = data["meta_info"]
        except (KeyError, TypeError) as exc:
            raise EngineError(f"malformed /generate response: {str(data)[:500]}") from exc
        rows = meta.get("output_token_logprobs")
        if rows is None:
            raise EngineError("SGLang response has no meta_info.output_token_logprobs (return_logprob ignored?)")
        try:
            token_ids = [int(row[1]) for row in rows]
            logprobs = [float(row[0]) if row[0] is not None else 0.0 for row in rows] if sampling.logprobs \
                else [0.0] * len(rows)
        except (IndexError, TypeError, ValueError) as exc:
            raise EngineError(f"malformed output_token_logprobs rows: {str(rows[:3])[:300]}") from exc
        fr = meta.get("finish_reason")
        if isinstance(fr, dict):
            kind, matched = fr.get("type"), fr.get("matched")
        else:
            kind, matched = fr, None
        if kind == "abort":
            log.warning("SGLang aborted a request: %s", (fr or {}).get("message") if isinstance(fr, dict) else fr)
        finish = _finish(kind)
        stop_reason: str | int | None = None
        if finish == "stop" and matched is not None:
            stop_reason = matched
            # Like vLLM: None when the model's EOS ended it (not a requested stop token / string).
            eos = getattr(self.tokenizer, "eos_token_id", None)
            if isinstance(matched, int) and matched == eos and matched not in sampling.stop_token_ids:
                stop_reason = None
        return Generation(token_ids=token_ids, logprobs=logprobs, finish_reason=finish, stop_reason=stop_reason)


__all__ = ["VLLMHTTPEngine", "SGLangEngine"]
