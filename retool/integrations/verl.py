"""verl adapter: the ``code_interpreter`` tool as a verl ``BaseTool``, and a ``compute_score`` for
verl's ``custom_reward_function``.

Matched against verl 0.9.1 (``verl/tools/base_tool.py``, ``verl/tools/schemas.py``,
``verl/experimental/agent_loop/tool_agent_loop.py``, ``verl/tools/tool_registry.py``) and tested
inside it (``make test-verl``: tests/frameworks/test_verl_real.py). Each agent-loop worker loads the
tools once (``load_all_tools`` -> ``initialize_tools_from_config``) and every trajectory it runs
shares those instances; verl's tool agent loop calls, per tool call::

    instance_id, _ = await tool.create(create_kwargs=tools_kwargs[name].get("create_kwargs", {}))
    response, reward, metrics = await tool.execute(instance_id, arguments, agent_data=...)
    await tool.release(instance_id)

and reads ``response.text``. verl's older SGLang rollout passed ``create_kwargs`` spread out as
keyword arguments instead; `CodeInterpreterVerlTool.create` accepts both.

Tool config (``rl_scripts/verl_tool_config.yaml``)::

    tools:
      - class_name: retool.integrations.verl.CodeInterpreterVerlTool
        config: {type: native, timeout_s: 10, memory_mb: 1024, max_observation_chars: 4096}
        tool_schema: {...CodeInterpreterTool().schema...}

The module imports without verl (it is not installable everywhere we test): when ``verl`` is
missing, `BaseTool`, `ToolResponse` and `OpenAIFunctionToolSchema` are local stand-ins with verl's
interface, so the lifecycle can be exercised against the real sandbox anywhere.

verl loads ``custom_reward_function.path`` by file path, outside any package; point it at
``rl_scripts/verl_reward.py``, which re-exports `compute_score` (this module's dataclasses and
pydantic models cannot be loaded that way).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional
from uuid import uuid4

from retool.settings import ToolConfig, parse_bool, read
from retool.tool import CodeInterpreterTool, invalid_result

if TYPE_CHECKING:
    from sandbox import Sandbox, SandboxConfig

__all__ = [
    "VERL_AVAILABLE",
    "BaseTool",
    "CodeInterpreterVerlTool",
    "OpenAIFunctionToolSchema",
    "ToolResponse",
    "compute_score",
    "default_tool_schema",
    "shutdown",
]

try:
    from verl.tools.base_tool import BaseTool
    from verl.tools.schemas import OpenAIFunctionToolSchema, ToolResponse
    from verl.utils.rollout_trace import rollout_trace_op

    VERL_AVAILABLE = True
except ImportError:
    from pydantic import BaseModel, ConfigDict, Field

    VERL_AVAILABLE = False

    def rollout_trace_op(fn):  # type: ignore[no-redef]
        """verl's tracing decorator; nothing to trace without verl."""
        return fn

    class _PropertySchema(BaseModel):
        model_config = ConfigDict(extra="allow")
        type: str | list[str]
        description: str | None = None
        enum: list[Any] | None = None

    class _ParametersSchema(BaseModel):
        model_config = ConfigDict(extra="allow")
        type: str
        properties: dict[str, _PropertySchema]
        required: list[str] = Field(default_factory=list)

    class _FunctionSchema(BaseModel):
        name: str
        description: str
        parameters: _ParametersSchema = Field(
            default_factory=lambda: _ParametersSchema(type="object", properties={}, required=[])
        )
        strict: bool = False

    class OpenAIFunctionToolSchema(BaseModel):  # type: ignore[no-redef]
        """Stand-in for ``verl.tools.schemas.OpenAIFunctionToolSchema`` (same fields)."""

        type: str
        function: _FunctionSchema

    class ToolResponse(BaseModel):  # type: ignore[no-redef]
        """Stand-in for ``verl.tools.schemas.ToolResponse`` (text-only use here)."""

        text: str | None = None
        image: list[Any] | None = None
        video: list[Any] | None = None

        def is_empty(self) -> bool:
            return not self.text and not self.image and not self.video

        def is_text_only(self) -> bool:
            return bool(self.text) and not self.image and not self.video

    class BaseTool:  # type: ignore[no-redef]
        """Stand-in for ``verl.tools.base_tool.BaseTool``: same constructor and lifecycle."""

        def __init__(self, config: dict, tool_schema: OpenAIFunctionToolSchema | None):
            self.config = config
            self.tool_schema = tool_schema or self.get_openai_tool_schema()
            assert self.tool_schema is not None, "Tool schema is not set!"
            self.name = self.tool_schema.function.name

        def get_openai_tool_schema(self) -> OpenAIFunctionToolSchema:
            return self.tool_schema

        async def create(self, instance_id: Optional[str] = None, **kwargs: Any) -> tuple[str, ToolResponse]:
            return (instance_id or str(uuid4())), ToolResponse()

        async def execute(
            self, instance_id: str, parameters: dict[str, Any], **kwargs: Any
        ) -> tuple[ToolResponse, float, dict]:
            return ToolResponse(text="Updated the tool state."), 0.0, {}

        async def calc_reward(self, instance_id: str, **kwargs: Any) -> float:
            return 0.0

        async def release(self, instance_id: str, **kwargs: Any) -> None:
            return None


def default_tool_schema() -> OpenAIFunctionToolSchema:
    """The ``code_interpreter`` schema, exactly `CodeInterpreterTool().schema`, as verl's model."""
    return OpenAIFunctionToolSchema.model_validate(CodeInterpreterTool().schema)


# ---------------------------------------------------------------------------------------------
# one sandbox per process (and event loop), shared by every tool instance
# ---------------------------------------------------------------------------------------------
@dataclass
class _LoopSandboxes:
    lock: asyncio.Lock
    sandboxes: dict[tuple, "Sandbox"]


# Keyed by event loop: a sandbox's worker pipes belong to the loop that started it. verl runs one
# loop per agent-loop worker process, so this is one sandbox per process in practice; tests that
# run several loops get one each, and a loop that is garbage-collected drops its entry.
_SHARED: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopSandboxes]" = weakref.WeakKeyDictionary()
_SHARED_PID = os.getpid()


def _loop_sandboxes() -> _LoopSandboxes:
    global _SHARED_PID
    if os.getpid() != _SHARED_PID:  # a forked child must not use its parent's workers
        _SHARED.clear()
        _SHARED_PID = os.getpid()
    loop = asyncio.get_running_loop()
    state = _SHARED.get(loop)
    if state is None:
        state = _SHARED[loop] = _LoopSandboxes(asyncio.Lock(), {})
    return state


def _sandbox_key(config: "SandboxConfig") -> tuple:
    """What must match for two tools to share workers; per-call limits are passed per run."""
    return (config.workers, config.isolation)


async def _shared_sandbox(config: "SandboxConfig") -> "Sandbox":
    state = _loop_sandboxes()
    key = _sandbox_key(config)
    sandbox = state.sandboxes.get(key)
    if sandbox is not None:
        return sandbox
    async with state.lock:  # concurrent first calls must not start several sandboxes
        sandbox = state.sandboxes.get(key)
        if sandbox is None:
            from sandbox import Sandbox
            from sandbox.client import client_from_env  # $RETOOL_SANDBOX_URL: a remote service

            sandbox = client_from_env(default_timeout_s=config.timeout_s) or Sandbox(config)
            await sandbox.start()
            state.sandboxes[key] = sandbox
    return sandbox


async def shutdown() -> None:
    """Stop the shared sandboxes started on the running event loop (verl never calls this: its
    workers end with the process; tests and embedding code do)."""
    loop = asyncio.get_running_loop()
    state = _SHARED.pop(loop, None)
    if state is None:
        return
    async with state.lock:
        sandboxes, state.sandboxes = list(state.sandboxes.values()), {}
    for sandbox in sandboxes:
        await sandbox.close()


# ---------------------------------------------------------------------------------------------
# the tool
# ---------------------------------------------------------------------------------------------
# Keys of verl's own SandboxFusionTool config: accepted (and ignored) so a sandbox_fusion tool
# config can be pointed at this class by changing class_name only.
_IGNORED_CONFIG_KEYS = frozenset(
    {"type", "num_workers", "rate_limit", "enable_global_rate_limit", "default_language", "sandbox_fusion_url"}
)
_CONFIG_KEYS = frozenset(
    {"timeout_s", "memory_mb", "max_observation_chars", "sandbox_workers", "isolation",
     "default_timeout", "memory_limit_mb"}
)
# A whole argument that is one fenced block: models trained on markdown often wrap the code they
# pass as a tool argument; running the fence itself would be a SyntaxError the model cannot see.
_FENCED = re.compile(r"\A\s*```[ \t]*(?:python3?|py)?[ \t]*\n(?P<code>.*?)\n?[ \t]*```\s*\Z", re.DOTALL)


def _config_value(config: Mapping[str, Any], name: str, alias: str | None, default: Any) -> Any:
    value = config.get(name)
    if value is None and alias is not None:
        value = config.get(alias)
    return default if value is None else value


class CodeInterpreterVerlTool(BaseTool):
    """verl tool that runs ``code`` through `retool.tool.CodeInterpreterTool` in our sandbox.

    Config keys (all optional): ``timeout_s`` (alias ``default_timeout``), ``memory_mb`` (alias
    ``memory_limit_mb``), ``max_observation_chars``, ``sandbox_workers``, ``isolation`` ("auto"); a key
    left out takes `retool.settings.ToolConfig`'s value (``RETOOL_*`` variables, else its defaults).
    Unknown keys are an error at start-up, so a typo cannot silently leave a limit at its default.

    One instance serves every trajectory of a verl agent-loop worker (verl loads the tools once per
    worker and shares them), so per-trajectory state lives under the ``instance_id`` from ``create``;
    the sandbox is shared per process and started on the first call. Per-instance state (from ``create_kwargs``: the ground
    truth, if given) records the calls made, for metrics.
    """

    def __init__(self, config: Mapping[str, Any] | None, tool_schema: Any = None) -> None:
        config = dict(config or {})
        unknown = sorted(set(config) - _CONFIG_KEYS - _IGNORED_CONFIG_KEYS)
        if unknown:
            raise ValueError(
                f"unknown {type(self).__name__} config key(s): {', '.join(unknown)}; "
                f"known: {', '.join(sorted(_CONFIG_KEYS))}"
            )
        if tool_schema is None:
            schema = default_tool_schema()
        elif isinstance(tool_schema, Mapping):
            schema = OpenAIFunctionToolSchema.model_validate(dict(tool_schema))
        else:
            schema = tool_schema
        super().__init__(config, schema)
        base = read(ToolConfig)
        self.timeout_s = float(_config_value(config, "timeout_s", "default_timeout", base.timeout_s))
        self.memory_mb = int(_config_value(config, "memory_mb", "memory_limit_mb", base.memory_mb))
        self.max_observation_chars = int(_config_value(config, "max_observation_chars", None,
                                                       base.max_observation_chars))
        workers = _config_value(config, "sandbox_workers", None, base.sandbox_workers)
        if self.max_observation_chars < 1:
            raise ValueError("max_observation_chars must be at least 1")
        from sandbox import SandboxConfig

        # Built here so a bad limit fails when verl loads the tool config, not mid-rollout.
        self.sandbox_config = SandboxConfig(
            timeout_s=self.timeout_s,
            memory_mb=self.memory_mb,
            workers=None if workers is None else int(workers),
            isolation=str(config.get("isolation") or "auto"),  # type: ignore[arg-type]
        )
        self._instances: dict[str, dict[str, Any]] = {}

    def get_openai_tool_schema(self) -> OpenAIFunctionToolSchema:
        return self.tool_schema

    async def create(
        self, instance_id: Optional[str] = None, create_kwargs: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> tuple[str, ToolResponse]:
        """Register an instance; ``create_kwargs`` (verl's agent loop) or plain keyword arguments
        (verl's older SGLang rollout) may carry ``ground_truth``."""
        if instance_id is None:
            instance_id = str(uuid4())
        options = {**dict(create_kwargs or {}), **kwargs}
        self._instances[instance_id] = {
            "ground_truth": options.get("ground_truth"),
            "calls": 0,
            "statuses": [],
        }
        return instance_id, ToolResponse()

    @rollout_trace_op
    async def execute(
        self, instance_id: str, parameters: Mapping[str, Any] | str, **kwargs: Any
    ) -> tuple[ToolResponse, float, dict]:
        """Run ``parameters["code"]``; a malformed call is answered with an error the model can read.

        Returns (response, step reward 0.0, metrics): the outcome reward is `compute_score`'s, so a
        tool call itself is neither rewarded nor punished.
        """
        code, problem = _code_argument(parameters)
        if problem is not None:
            result = invalid_result(problem, self.max_observation_chars)
        else:
            tool = CodeInterpreterTool(
                await _shared_sandbox(self.sandbox_config),
                timeout_s=self.timeout_s,
                memory_mb=self.memory_mb,
                max_observation_chars=self.max_observation_chars,
            )
            result = await tool.execute(code)
        state = self._instances.get(instance_id)
        if state is not None:
            state["calls"] += 1
            state["statuses"].append(result.status)
        metrics = {"status": result.status, "duration_s": result.duration_s}
        return ToolResponse(text=result.observation), 0.0, metrics

    async def calc_reward(self, instance_id: str, **kwargs: Any) -> float:
        """0.0: correctness is judged once per trajectory by `compute_score`, not per tool state."""
        return 0.0

    async def release(self, instance_id: str, **kwargs: Any) -> None:
        self._instances.pop(instance_id, None)


def _code_argument(parameters: Any) -> tuple[str, Optional[str]]:
    """(code, None) or ("", why the call is malformed)."""
    if isinstance(parameters, str):  # some parsers hand over the raw JSON text
        try:
            parameters = json.loads(parameters)
        except json.JSONDecodeError as exc:
            return "", f"the tool arguments are not valid JSON ({exc.msg}); pass {{\"code\": \"...\"}}"
    if not isinstance(parameters, Mapping):
        return "", "the tool arguments must be an object like {\"code\": \"print(1)\"}"
    code = parameters.get("code")
    if code is None:
        return "", "missing the required argument 'code'"
    if not isinstance(code, str):
        return "", f"the 'code' argument must be a string, not {type(code).__name__}"
    fenced = _FENCED.match(code)
    if fenced:
        code = fenced.group("code")
    if not code.strip():
        return "", "the 'code' argument is empty"
    return code, None


# ---------------------------------------------------------------------------------------------
# reward
# ---------------------------------------------------------------------------------------------
def _tool_calls(extra_info: Any) -> int:
    """Tool calls of a trajectory: ``extra_info["tool_call_count"]`` when present, else derived from
    verl's ``num_turns`` (user + assistant turns + 1, where each user turn after the prompt is one
    round of tool results: ``(num_turns - 1) // 2`` rounds, one call each at verl's default
    ``max_parallel_calls=1``)."""
    if not isinstance(extra_info, Mapping):
        return 0
    explicit = extra_info.get("tool_call_count")
    if explicit is not None:
        try:
            return max(0, int(explicit))
        except (TypeError, ValueError):
            return 0
    turns = extra_info.get("num_turns")
    try:
        return max(0, (int(turns) - 1) // 2)
    except (TypeError, ValueError):
        return 0


def compute_score(
    data_source: Any,
    solution_str: str,
    ground_truth: Any,
    extra_info: Optional[Mapping[str, Any]] = None,
    *,
    mode: str = "math",
    tool_shaping: bool = False,
    timeout_s: Optional[float] = None,
    correct_score: Optional[float] = None,
    incorrect_score: Optional[float] = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """verl's ``custom_reward_function``: `retool.reward.score` of the decoded response.

    Returns ``{"score", "acc", "pred"}`` (verl takes ``score`` as the reward and logs the other keys;
    ``pred`` is "" when no answer was found, so every value stays a str). Options arrive through
    ``custom_reward_function.reward_kwargs``: ``mode`` ("math" or "dapo"), ``tool_shaping`` (the
    ReTool recipe's ``min(-0.6, score + (tool_calls - 2) / 2 * 0.1)`` on wrong answers, with the
    tool-call count of `_tool_calls` — the same rule slime's ``retool.reward_func`` applies, rather
    than verl's recipe, which puts ``num_turns`` in place of the call count), ``timeout_s``,
    ``correct_score``/``incorrect_score``. Other keyword arguments verl passes are ignored.
    """
    from retool.reward import score

    if hasattr(ground_truth, "tolist") and not isinstance(ground_truth, str):  # numpy from parquet
        ground_truth = ground_truth.tolist()
    result = score(
        solution_str,
        ground_truth,
        mode=mode,
        timeout_s=timeout_s,
        tool_calls=_tool_calls(extra_info),
        tool_shaping=parse_bool(tool_shaping, name="tool_shaping"),
        correct_score=correct_score,
        incorrect_score=incorrect_score,
    )
    return result.as_dict()
