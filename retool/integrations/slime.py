"""slime's custom generate hook: ``--custom-generate-function-path retool.generate``.

``generate(args, sample, sampling_params, evaluation=False)`` runs one `retool.rollout` for ``sample.prompt`` and
writes the result back in slime's layout: ``tokens`` (prompt + response ids), ``response``,
``response_length``, ``loss_mask`` and ``rollout_log_probs`` (response only), ``status`` (slime's
``Sample.Status`` when the sample class has one) and the tool-call count the reward's shaping reads
(``metadata["tool_call_count"]`` and ``tool_call_count``). The sample is duck-typed: any object with
those attributes works, so this module never imports slime.

Budgets follow the call, as slime's own generate does: the response budget is the
``max_new_tokens`` slime puts in ``sampling_params`` for this call (``rollout_max_response_len`` in
training, the eval dataset's ``max_response_len`` -- ``--eval-max-response-len`` -- when slime passes
``evaluation=True``), and the total is capped by ``rollout_max_context_len`` (``eval_max_context_len``
in evaluation). The args' lengths are only the fallback when the sampling dict has no budget.

What slime receives on a failure (checked against THUDM/slime ``slime/rollout/sglang_rollout.py``
and ``slime/ray/rollout.py`` at 624b824, 2026-08): slime computes a reward for every sample whose
status is not ``ABORTED`` and trains on every sample of a finished group, reading
``sample.reward[reward_key]``; an ``ABORTED`` sample has no reward and would crash the step. So an
engine error (HTTP 400 for a prompt over the context, retries exhausted), an engine abort and our own
failure all come back as ``Status.FAILED`` (``TRUNCATED`` on a slime without it) with
``remove_sample=True``: slime's reward function still scores it (so the group's rewards are all
there), and its loss mask is zeroed, so the model is never trained on the broken trajectory. The
cause is in ``metadata["retool"]`` (``status``, ``end_reason``, ``error``).

``--rollout-top-p`` below 1.0 is refused (`UnsupportedSlimeOption`, on the first call): slime then
asks SGLang for the kept top-p token ids of every generated token and asserts they are on each
sample, which this hook does not collect.

Options come from slime's ``args`` (``rollout_max_context_len``, ``rollout_max_response_len``,
``sglang_router_ip``/``sglang_router_port``, ``hf_checkpoint``) plus our own settings, read by
`retool.settings` (the one reader; defaults are those of `RolloutConfig`, `ToolConfig`, `SlimeConfig`)
from the ``RETOOL_*`` environment variables, which is how a slime launch script sets them
(``RETOOL_CALL_FORMAT=code``; slime parses its command line with ``parse_known_args``, so a
``--retool-*`` flag would be dropped without a word), with an ``args.retool_*`` attribute of the same name in lower case taking
precedence (``--custom-config-path`` YAML): ``retool_max_turns``, ``retool_max_tool_calls``,
``retool_call_format``, ``retool_observation_format``, ``retool_max_observation_tokens``,
``retool_max_observation_chars``, ``retool_tool_timeout_s``, ``retool_tool_memory_mb``,
``retool_sandbox_workers``, ``retool_stop_at_call_end``, ``retool_engine_kind`` (README: the table).
``args.retool_engine`` / ``args.retool_tool`` are an `Engine` / `CodeInterpreterTool` to use instead
(tests, custom engines, a sandbox shared with something else).

A string ``sample.prompt`` is taken as already rendered (slime's ``--apply-chat-template``) and
tokenised as is, so a hermes-format tool declaration must already be in it; a list of messages is
rendered here with the tool declared.

The engine and the tool are built once and cached on ``args`` itself (attribute ``_retool_runtime``),
not in a module global: their lifetime is then that of the run's configuration, two configurations in
one process never share an engine by accident, and there is no module state to reset between tests.
Building is synchronous (it blocks the event loop once, while the tokenizer loads), so concurrent
first calls cannot race and no lock is needed; the sandbox itself starts lazily under the tool's own
lock.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from ..engines.base import Engine, SamplingConfig
from ..agent_loop import RolloutConfig, Trajectory, TrajectoryStatus, render_prompt, rollout
from ..settings import SlimeConfig, ToolConfig, parse_bool, read
from ..tool import CodeInterpreterTool

__all__ = ["UnsupportedSlimeOption", "generate", "make_engine", "rollout_config", "sampling_from_slime", "shutdown"]

_RUNTIME_ATTR = "_retool_runtime"
_DEFAULT_RESPONSE_LEN = 4096
# slime sampling keys forwarded to the engine as-is (SamplingConfig.extra); the rest are either mapped
# to SamplingConfig fields or owned by the engine (logprobs, stop trimming, special-token handling).
_PASSTHROUGH = ("min_p", "repetition_penalty", "frequency_penalty", "presence_penalty")
_STALE_NONE = ("rollout_log_probs", "rollout_top_p_token_ids", "rollout_top_p_token_offsets",
               "rollout_routed_experts", "teacher_log_probs", "reward")
_OUR_METADATA = ("tool_call_count", "retool")


class UnsupportedSlimeOption(ValueError):
    """A slime setting this hook cannot honour; the message names the flag and what to do."""


async def generate(
    args: Any, sample: Any, sampling_params: Mapping[str, Any] | None, evaluation: bool = False
) -> Any:
    """Fill ``sample`` with one tool-using trajectory; returns the same object (slime's contract).
    ``evaluation`` is what slime passes for its eval rollouts (it inspects the signature for it)."""
    _refuse_unsupported(args, sampling_params)
    _reset(sample)
    runtime, cached = _runtime(args)
    try:
        engine, tool = runtime.engine, runtime.tool
        tokenizer = engine.tokenizer
        prompt = getattr(sample, "prompt", "")
        probe = rollout_config(args, sampling_params, prompt_tokens=0, evaluation=evaluation)
        prompt_ids: list[int] | None
        if isinstance(prompt, str):  # tokenizer work in a thread: a long prompt must not stall the loop
            messages: list[Mapping[str, Any]] = []
            prompt_ids = await asyncio.to_thread(_encode_prompt, tokenizer, prompt)
        else:
            messages = list(prompt)
            try:
                prompt_ids = await asyncio.to_thread(render_prompt, tokenizer, messages, probe, tool)
            except Exception:  # noqa: BLE001 - the rollout renders again and reports it as failed
                prompt_ids = None
        config = rollout_config(args, sampling_params, prompt_tokens=len(prompt_ids or ()), evaluation=evaluation)
        traj = await rollout(engine, messages, config, tool=tool, prompt_token_ids=prompt_ids)
    finally:
        if not cached:
            await runtime.close()
    _fill(sample, traj)
    return sample


def rollout_config(
    args: Any, sampling_params: Mapping[str, Any] | None, *, prompt_tokens: int, evaluation: bool = False
) -> RolloutConfig:
    """slime's limits for this call as a `RolloutConfig`: the response budget is the sampling
    ``max_new_tokens`` slime sent (training: ``rollout_max_response_len``; evaluation: the eval
    dataset's ``max_response_len``), else the args' length for the mode; the total is capped by
    ``rollout_max_context_len`` (evaluation: ``eval_max_context_len``, which slime defaults to it)."""
    params = dict(sampling_params or {})
    fallback = _opt(args, "eval_max_response_len") if evaluation else None
    fallback = fallback or _opt(args, "rollout_max_response_len")
    response_len = params.get("max_new_tokens") or fallback or _DEFAULT_RESPONSE_LEN
    context = prompt_tokens + int(response_len)
    max_context = (_opt(args, "eval_max_context_len") if evaluation else None) or _opt(args, "rollout_max_context_len")
    if max_context:
        context = min(context, int(max_context))
    per_turn = int(params.get("max_new_tokens") or response_len)
    return replace(
        read(RolloutConfig, args=args),  # RETOOL_* and args.retool_*: formats, turns, calls, observation budget
        max_context_tokens=max(1, context),
        max_new_tokens=max(1, per_turn),
        sampling=sampling_from_slime(params),
    )


def sampling_from_slime(params: Mapping[str, Any] | None) -> SamplingConfig:
    """slime's sampling dict as a `SamplingConfig` (``max_new_tokens`` is set per turn by the rollout)."""
    p = dict(params or {})
    stop = p.get("stop") or ()
    stop = (stop,) if isinstance(stop, str) else tuple(str(s) for s in stop)
    stop_ids = p.get("stop_token_ids") or ()
    stop_ids = (stop_ids,) if isinstance(stop_ids, int) else tuple(int(t) for t in stop_ids)
    seed = p.get("sampling_seed", p.get("seed"))
    return SamplingConfig(
        max_new_tokens=int(p.get("max_new_tokens") or _DEFAULT_RESPONSE_LEN),
        temperature=float(p.get("temperature", 1.0)),
        top_p=float(p.get("top_p", 1.0)),
        top_k=int(p.get("top_k", -1) if p.get("top_k") is not None else -1),
        stop=stop,
        stop_token_ids=stop_ids,
        seed=None if seed is None else int(seed),
        logprobs=True,
        extra={k: p[k] for k in _PASSTHROUGH if p.get(k) is not None},
    )


def make_engine(args: Any) -> Engine:
    """The engine ``args`` asks for: ``args.retool_engine`` if set, else SGLang's router over HTTP
    (``sglang_router_ip``/``sglang_router_port``) with the tokenizer of ``hf_checkpoint``."""
    injected = _opt(args, "retool_engine")
    if injected is not None:
        return injected
    kind = read(SlimeConfig, args=args).engine_kind
    if kind != "sglang":
        raise ValueError(f"retool_engine_kind={kind!r} is not supported by retool.generate; pass args.retool_engine")
    ip, port = _opt(args, "sglang_router_ip"), _opt(args, "sglang_router_port")
    if not ip or not port:
        raise ValueError("retool.generate needs args.sglang_router_ip and args.sglang_router_port (or args.retool_engine)")
    checkpoint = _opt(args, "hf_checkpoint")
    if not checkpoint:
        raise ValueError("retool.generate needs args.hf_checkpoint for the tokenizer")
    from transformers import AutoTokenizer

    from ..engines.http import SGLangEngine  # imported here: only slime runs need the HTTP client

    tokenizer = AutoTokenizer.from_pretrained(checkpoint, trust_remote_code=True)
    return SGLangEngine(f"http://{ip}:{port}", tokenizer)


async def shutdown(args: Any) -> None:
    """Close the engine (if we built it) and the tool cached on ``args``."""
    runtime = getattr(args, _RUNTIME_ATTR, None)
    if runtime is not None:
        try:
            delattr(args, _RUNTIME_ATTR)
        except AttributeError:
            pass
        await runtime.close()


# ---------------------------------------------------------------------------------------------
@dataclass
class _Runtime:
    key: tuple
    loop: asyncio.AbstractEventLoop
    engine: Engine
    tool: CodeInterpreterTool
    owns_engine: bool
    owns_tool: bool
    retiring: "asyncio.Task | None" = None  # the close of the runtime this one replaced

    async def close(self) -> None:
        if self.owns_tool:
            await self.tool.close()
        if self.owns_engine:
            await self.engine.close()


def _runtime_key(args: Any) -> tuple:
    injected = _opt(args, "retool_engine")
    engine_key = ("injected", id(injected)) if injected is not None else (
        read(SlimeConfig, args=args).engine_kind,
        f"{_opt(args, 'sglang_router_ip')}:{_opt(args, 'sglang_router_port')}",
        _opt(args, "hf_checkpoint"),
    )
    return engine_key + (id(_opt(args, "retool_tool")), read(ToolConfig, args=args))


def _runtime(args: Any) -> tuple[_Runtime, bool]:
    """The cached runtime for ``args`` on this event loop, built on first use. Returns (runtime,
    cached); an uncached runtime (``args`` refuses attributes) must be closed by the caller."""
    loop = asyncio.get_running_loop()
    key = _runtime_key(args)
    current = getattr(args, _RUNTIME_ATTR, None)
    if isinstance(current, _Runtime) and current.key == key and current.loop is loop:
        return current, True
    injected_engine, injected_tool = _opt(args, "retool_engine"), _opt(args, "retool_tool")
    runtime = _Runtime(
        key, loop, make_engine(args), injected_tool or _make_tool(args),
        owns_engine=injected_engine is None, owns_tool=injected_tool is None,
    )
    try:
        setattr(args, _RUNTIME_ATTR, runtime)
    except (AttributeError, TypeError):
        return runtime, False
    if isinstance(current, _Runtime) and current.loop is loop:  # the configuration changed mid-run
        runtime.retiring = loop.create_task(current.close())  # referenced: not collected mid-close
    return runtime, True


def _make_tool(args: Any) -> CodeInterpreterTool:
    return read(ToolConfig, args=args).make_tool()


def _refuse_unsupported(args: Any, sampling_params: Mapping[str, Any] | None) -> None:
    """Settings under which slime would assert on what we return: refuse them by name, up front."""
    top_p = _opt(args, "rollout_top_p")
    custom = (sampling_params or {}).get("custom_params") or {}
    if (top_p is not None and float(top_p) != 1.0) or (isinstance(custom, Mapping) and custom.get("return_top_p_token_ids")):
        raise UnsupportedSlimeOption(
            f"--rollout-top-p {top_p} is not supported by retool.generate: below 1.0 slime asks SGLang for "
            "the kept top-p token ids of every response token and asserts them on each sample "
            "(rollout_top_p_token_ids/offsets), which retool.generate does not collect. Use --rollout-top-p 1.0 "
            "(--eval-top-p may still be below 1.0: evaluation does not replay top-p)."
        )


def _encode_prompt(tokenizer: Any, prompt: str) -> list[int]:
    """A prompt string slime already rendered: its special-token text is meant as special tokens."""
    out = tokenizer(prompt, add_special_tokens=False)
    ids = out["input_ids"] if isinstance(out, Mapping) or hasattr(out, "keys") else out
    return [int(t) for t in ids]


def _reset(sample: Any) -> None:
    """Clear what a previous attempt left on a retried sample, so nothing stale reaches the trainer."""
    sample.tokens = []
    sample.response = ""
    sample.response_length = 0
    sample.loss_mask = None
    if hasattr(sample, "remove_sample"):
        sample.remove_sample = False
    for name in _STALE_NONE:
        if hasattr(sample, name):
            setattr(sample, name, None)
    if isinstance(getattr(sample, "weight_versions", None), list):
        sample.weight_versions = []
    status_cls = getattr(type(sample), "Status", None)
    if isinstance(status_cls, type) and issubclass(status_cls, enum.Enum) and "PENDING" in status_cls.__members__:
        sample.status = status_cls.PENDING
    elif hasattr(sample, "status"):
        sample.status = "pending"
    meta = getattr(sample, "metadata", None)
    if isinstance(meta, dict):
        for key in _OUR_METADATA:
            meta.pop(key, None)
    sample.tool_call_count = 0


def _fill(sample: Any, traj: Trajectory) -> None:
    sample.tokens = traj.prompt_token_ids + traj.response_token_ids
    sample.response = traj.response_text
    sample.response_length = len(traj.response_token_ids)
    sample.loss_mask = list(traj.loss_mask)
    sample.rollout_log_probs = list(traj.logprobs)
    sample.status = _status(sample, traj.status)
    if traj.status in _NOT_TRAINED:
        sample.remove_sample = True  # slime zeroes its loss mask: scored with its group, never learned from
    sample.tool_call_count = traj.num_tool_calls
    meta = getattr(sample, "metadata", None)
    if not isinstance(meta, dict):
        meta = {}
        try:
            sample.metadata = meta
        except AttributeError:
            pass
    meta["tool_call_count"] = traj.num_tool_calls
    meta["retool"] = {
        "status": traj.status.value,
        "end_reason": traj.end_reason,
        "error": traj.error,
        "turns": traj.turns,
        "finish_reason": traj.finish_reason,
        "generated_tokens": traj.generated_tokens,
        "generation_s": traj.generation_s,
        "tool_s": traj.tool_s,
        "tool_statuses": [r.status for r in traj.tool_calls],
    }
    if hasattr(sample, "non_generation_time"):
        sample.non_generation_time = traj.tool_s


# Trajectories slime must not learn from: the engine failed or aborted, or we did.
_NOT_TRAINED = frozenset({TrajectoryStatus.ABORTED, TrajectoryStatus.FAILED})


def _status(sample: Any, status: TrajectoryStatus) -> Any:
    """slime's ``Sample.Status`` for a trajectory status. Never ``ABORTED``: slime skips the reward of
    an aborted sample but still trains on its group, reading ``reward[reward_key]`` from ``None``.
    Failures (ours or the engine's) become ``FAILED`` (``TRUNCATED`` on a slime without it), which
    slime scores like any other sample; `_fill` also sets ``remove_sample``."""
    cls = getattr(type(sample), "Status", None)
    if isinstance(cls, type) and issubclass(cls, enum.Enum):
        members = cls.__members__
        if status in _NOT_TRAINED:
            return members.get("FAILED") or members["TRUNCATED"]
        return members[status.name]
    return TrajectoryStatus.FAILED.value if status in _NOT_TRAINED else status.value


def _opt(args: Any, name: str, default: Any = None) -> Any:
    """``args.<name>``, else ``default`` (our ``retool_*`` settings go through `retool.settings.read`)."""
    value = getattr(args, name, None)
    return default if value is None else value


# ---------------------------------------------------------------------------------------------
# slime's custom reward hook (--custom-rm-path retool.reward_func): maps a slime Sample and args
# onto `retool.reward`; the scoring itself is the default Rewarder's.
# ---------------------------------------------------------------------------------------------
__all__.append("reward_func")


def _sample_attr(obj: Any, name: str, default: Any = None) -> Any:
    try:
        value = getattr(obj, name, default)
    except Exception:  # noqa: BLE001 - a sample whose property raises reads as missing
        return default
    return default if value is None else value


def _reward_label(sample: Any) -> Any:
    label = _sample_attr(sample, "label")
    if isinstance(label, dict):
        for k in ("ground_truth", "answer", "label", "solution"):
            if label.get(k) is not None:
                return label[k]
        return ""
    return label


def _reward_tool_calls(sample: Any, kwargs: dict) -> Any:
    if kwargs.get("tool_call_count") is not None:
        return kwargs["tool_call_count"]
    meta = _sample_attr(sample, "metadata")
    if isinstance(meta, dict):
        for k in ("tool_call_count", "num_tool_calls", "num_turns"):
            if meta.get(k) is not None:
                return meta[k]
    for k in ("tool_call_count", "num_tool_calls"):
        v = _sample_attr(sample, k)
        if v is not None:
            return v
    return 0


def _reward_flag(value: Any, default: bool) -> bool:
    return default if value is None else parse_bool(value, name="reward option")


def _reward_options(args: Any):
    from ..reward.options import DapoVariant, Mode, make_options

    mode = _sample_attr(args, "reward_mode", Mode.MATH.value)
    mode = mode if isinstance(mode, str) and mode in {m.value for m in Mode} else Mode.MATH.value
    timeout = _sample_attr(args, "reward_timeout_s")
    try:
        timeout = float(timeout) if timeout is not None else None
        if timeout is not None and not timeout > 0:
            timeout = None
    except (TypeError, ValueError):
        timeout = None
    variant = _sample_attr(args, "reward_dapo_variant", DapoVariant.VERL.value)
    return make_options(
        mode,
        timeout,
        _reward_flag(_sample_attr(args, "reward_tool_shaping"), False),
        strict_box_verify=_reward_flag(_sample_attr(args, "reward_strict_box_verify"), True),
        dapo_variant=variant if isinstance(variant, str) and variant in {v.value for v in DapoVariant} else DapoVariant.VERL.value,
    )


async def _reward_one(opts: Any, sample: Any, kwargs: dict) -> dict:
    from ..reward import default_rewarder
    from ..reward.options import Mode
    from ..reward.verdict import as_text, final_result

    try:
        response = as_text(_sample_attr(sample, "response", ""))
        if opts.mode is Mode.DAPO:
            prompt = _sample_attr(sample, "prompt", "")
            solution = (prompt if isinstance(prompt, str) else as_text(prompt)) + response
        else:
            solution = response
        result = await default_rewarder().ascore_with(
            solution, _reward_label(sample), _reward_tool_calls(sample, kwargs), opts
        )
    except asyncio.CancelledError:
        raise
    except Exception as e:  # noqa: BLE001 - a reward hook must answer for every sample
        result = final_result(opts, False, f"internal error: {type(e).__name__}: {e}", None, 0, 0.0)
    return result.as_dict()


async def reward_func(args: Any, sample: Any, **kwargs: Any) -> dict | list[dict]:
    """slime's custom reward hook (``--custom-rm-path retool.reward_func``).

    Reads ``sample.response`` and ``sample.label`` (a dict label's ``ground_truth`` too), the tool-call
    count from ``sample.metadata["tool_call_count"]`` or ``sample.tool_call_count``, and options from
    ``args``: ``reward_mode`` ("math"/"dapo"), ``reward_tool_shaping``, ``reward_timeout_s``,
    ``reward_strict_box_verify``, ``reward_dapo_variant``. Returns ``{"score", "acc", "pred"}``; given a
    list of samples (slime's group reward mode) it returns one dict per sample.

    In ``dapo`` mode the solution is ``prompt + response`` as in slime's ReTool example (DAPO reads only
    the last 300 characters); in ``math`` mode only the response is read, so a boxed example in the
    prompt cannot leak in.
    """
    opts = _reward_options(args)
    if isinstance(sample, (list, tuple)):
        return list(await asyncio.gather(*(_reward_one(opts, s, kwargs) for s in sample)))
    return await _reward_one(opts, sample, kwargs)


# slime's estimators whose default post-processing normalises rewards per group (slime/ray/rollout.py)
_GROUP_NORMALISED = ("grpo", "gspo", "cispo", "reinforce_plus_plus_baseline")
_STD_NORMALISED = ("grpo", "gspo", "cispo")


def reward_post_process(args: Any, samples: list) -> tuple[list, list]:
    """slime's reward post-processing hook (``--custom-reward-post-process-path
    retool.integrations.slime.reward_post_process``): slime's own group normalisation, except that
    samples marked ``remove_sample`` (our engine and sandbox failures) are left out of their group's
    mean and deviation and get advantage 0 (see ``retool.reward.groups``). Returns ``(raw_rewards,
    rewards)`` as slime's default does; for estimators slime does not normalise, both are the raw rewards.
    """
    from ..reward.groups import group_advantages

    raw = [s.get_reward_value(args) for s in samples]
    if _opt(args, "advantage_estimator") not in _GROUP_NORMALISED or not _opt(args, "rewards_normalization", True):
        return raw, raw
    n = int(_opt(args, "n_samples_per_prompt", 1) or 1)
    batch = int(_opt(args, "rollout_batch_size", 0) or 0)
    group = n if len(raw) == n * batch else len(raw)  # slime: one group when the counts differ
    std = _opt(args, "advantage_estimator") in _STD_NORMALISED and bool(_opt(args, "grpo_std_normalization", True))
    kept = [not bool(_sample_attr(s, "remove_sample", False)) for s in samples]
    return raw, group_advantages(raw, kept, group, std_normalize=std)


__all__.append("reward_post_process")
