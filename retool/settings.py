"""The one reader of ``RETOOL_*`` environment variables, and the settings object each integration uses.

Frameworks load our adapters in ways that leave no room for arguments: OpenRLHF imports a file and calls
``AgentExecutor()``, rLLM calls ``tool_cls(name=...)``, TRL calls ``environment_factory()``, slime's
argument parser rejects flags it does not know. So a launch script sets environment variables (they reach
every Ray worker through its runtime env) and each adapter builds one `IntegrationSettings` from them
with `IntegrationSettings.from_env()`.

Every variable is listed once, in `VARIABLES`, next to the config-dataclass field it overrides; its
default is that field's default (`RolloutConfig` for the rollout, `ToolConfig` for the tool), so no
default is written twice. ``python -c 'from retool.settings import describe; print(describe())'`` prints
the table the README shows.
"""

from __future__ import annotations

import dataclasses
import enum
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from .agent_loop import RolloutConfig

if TYPE_CHECKING:
    from .tool import CodeInterpreterTool

__all__ = [
    "ToolConfig",
    "RewardConfig",
    "RuntimeConfig",
    "SlimeConfig",
    "IntegrationSettings",
    "EnvVar",
    "VARIABLES",
    "SettingsError",
    "parse_bool",
    "read",
    "describe",
]

T = TypeVar("T")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


class SettingsError(ValueError):
    """A ``RETOOL_*`` variable (or a framework config value) that cannot be parsed; says which and why."""


@dataclass(frozen=True)
class ToolConfig:
    """The code-interpreter tool's limits, shared by every adapter (the one home of their defaults)."""

    timeout_s: float = 10.0  # per program
    memory_mb: int = 1024  # per program
    max_observation_chars: int = 4096  # the tool's own cap on what the model reads back
    sandbox_workers: int | None = None  # warm sandbox workers (None: one per core)

    def __post_init__(self) -> None:
        if self.timeout_s <= 0:
            raise SettingsError(f"timeout_s must be positive, not {self.timeout_s}")
        if self.memory_mb < 16:
            raise SettingsError(f"memory_mb must be at least 16, not {self.memory_mb}")
        if self.max_observation_chars < 1:
            raise SettingsError(f"max_observation_chars must be at least 1, not {self.max_observation_chars}")
        if self.sandbox_workers is not None and self.sandbox_workers < 1:
            raise SettingsError(f"sandbox_workers must be at least 1, not {self.sandbox_workers}")

    def make_tool(self) -> "CodeInterpreterTool":
        """A `CodeInterpreterTool` with these limits; it starts its sandbox on first use."""
        from .tool import CodeInterpreterTool

        config = None
        if self.sandbox_workers is not None:
            from sandbox import SandboxConfig

            config = SandboxConfig(timeout_s=self.timeout_s, memory_mb=self.memory_mb, workers=self.sandbox_workers)
        return CodeInterpreterTool(config=config, timeout_s=self.timeout_s, memory_mb=self.memory_mb,
                                   max_observation_chars=self.max_observation_chars)


@dataclass(frozen=True)
class RewardConfig:
    """Options passed to `retool.reward.score`; None leaves the reward's own default."""

    mode: str | None = None  # "math" or "dapo"
    tool_shaping: bool | None = None

    def options(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


@dataclass(frozen=True)
class SlimeConfig:
    """The slime hook's own choice: which engine `retool.generate` builds."""

    engine_kind: str = "sglang"


@dataclass(frozen=True)
class RuntimeConfig:
    """Process-level knobs outside any one rollout."""

    model_cache: str = "~/.cache/retool/models"  # where the embedded demo model is converted (retool.models)
    vllm_thread_start: bool = True  # start vLLM's engine in a worker thread, off the event loop
    reward_workers: int | None = None  # the default Rewarder's worker processes (None: the usable CPUs)


@dataclass(frozen=True)
class IntegrationSettings:
    """What an adapter needs: the rollout's formats and limits, the tool's limits, the reward's options."""

    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    tool: ToolConfig = field(default_factory=ToolConfig)
    reward: RewardConfig = field(default_factory=RewardConfig)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, args: Any = None) -> "IntegrationSettings":
        """From ``RETOOL_*``; attributes of ``args`` named like the variables in lower case
        (``args.retool_max_turns``: slime's ``--custom-config-path`` YAML) take precedence."""
        return cls(rollout=read(RolloutConfig, environ, args=args), tool=read(ToolConfig, environ, args=args),
                   reward=read(RewardConfig, environ, args=args))


@dataclass(frozen=True)
class EnvVar:
    """One ``RETOOL_*`` variable: the config dataclass and field it sets, and what it means."""

    name: str
    owner: type
    field: str
    help: str

    @property
    def default(self) -> Any:
        f = _field(self.owner, self.field)
        if f.default is not dataclasses.MISSING:
            return f.default
        return f.default_factory() if f.default_factory is not dataclasses.MISSING else None  # type: ignore[misc]


VARIABLES: tuple[EnvVar, ...] = (
    EnvVar("RETOOL_MAX_TURNS", RolloutConfig, "max_turns", "assistant turns per trajectory"),
    EnvVar("RETOOL_MAX_TOOL_CALLS", RolloutConfig, "max_tool_calls", "calls that reach the sandbox per trajectory"),
    EnvVar("RETOOL_CALL_FORMAT", RolloutConfig, "call_format", "how the model writes a call: hermes, code or python"),
    EnvVar("RETOOL_OBSERVATION_FORMAT", RolloutConfig, "observation_format",
           "where tool output goes: chat (tool messages) or interpreter (ReTool's inline tags)"),
    EnvVar("RETOOL_MAX_OBSERVATION_TOKENS", RolloutConfig, "max_observation_tokens", "tool output budget per call"),
    EnvVar("RETOOL_STOP_AT_CALL_END", RolloutConfig, "stop_at_call_end", "stop generation right after a call"),
    EnvVar("RETOOL_TOOL_TIMEOUT_S", ToolConfig, "timeout_s", "seconds per program"),
    EnvVar("RETOOL_TOOL_MEMORY_MB", ToolConfig, "memory_mb", "memory per program"),
    EnvVar("RETOOL_MAX_OBSERVATION_CHARS", ToolConfig, "max_observation_chars", "the tool's own cap on output text"),
    EnvVar("RETOOL_SANDBOX_WORKERS", ToolConfig, "sandbox_workers", "warm sandbox workers (default: one per core)"),
    EnvVar("RETOOL_REWARD_MODE", RewardConfig, "mode", "reward rule: math (math-verify) or dapo (DAPO's strict box)"),
    EnvVar("RETOOL_TOOL_SHAPING", RewardConfig, "tool_shaping", "ReTool's tool-call shaping of wrong answers"),
    EnvVar("RETOOL_ENGINE_KIND", SlimeConfig, "engine_kind", "the engine slime's retool.generate talks to (sglang)"),
    EnvVar("RETOOL_MODEL_CACHE", RuntimeConfig, "model_cache", "where the embedded demo model is converted"),
    EnvVar("RETOOL_VLLM_THREAD_START", RuntimeConfig, "vllm_thread_start",
           "start vLLM's engine in a worker thread (0: on the event loop's thread)"),
    EnvVar("RETOOL_REWARD_WORKERS", RuntimeConfig, "reward_workers", "the reward's worker processes"),
)


def parse_bool(value: Any, *, name: str = "value") -> bool:
    """A boolean from a flag, YAML/Hydra value or environment string ("false" and "0" are false)."""
    if isinstance(value, bool):
        return value
    if value is None:  # a YAML/Hydra null
        return False
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise SettingsError(f"{name}={value!r} is not a boolean; use one of 1/0, true/false, yes/no, on/off")


def read(owner: type[T], environ: Mapping[str, str] | None = None, base: T | None = None, *, args: Any = None) -> T:
    """``base`` (default: ``owner()``) with every set ``RETOOL_*`` variable of ``owner`` applied, and over
    them every non-None attribute of ``args`` named like a variable in lower case (``retool_max_turns``)."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for var in VARIABLES:
        if var.owner is not owner:
            continue
        kind = _field_type(owner, var.field)
        given = getattr(args, var.name.lower(), None) if args is not None else None
        if given is not None:
            values[var.field] = _parse(given, kind, var.name.lower())
            continue
        text = env.get(var.name)
        if text is None or not text.strip():
            continue
        values[var.field] = _parse(text.strip(), kind, var.name)
    current = base if base is not None else owner()
    try:
        return dataclasses.replace(current, **values)  # type: ignore[type-var]
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"invalid {owner.__name__} from the environment: {exc}") from exc


def describe() -> str:
    """The variables as a Markdown table (name, default, meaning): what the README lists."""
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for var in VARIABLES:
        default = var.default
        if default is None:
            shown = {"sandbox_workers": "one per core", "reward_workers": "usable CPUs"}.get(
                var.field, "the reward's default")
        elif isinstance(default, bool):
            shown = str(default).lower()
        else:
            shown = str(getattr(default, "value", default))
        rows.append(f"| `{var.name}` | {shown} | {var.help} |")
    return "\n".join(rows)


def _field(owner: type, name: str) -> dataclasses.Field:
    for f in dataclasses.fields(owner):
        if f.name == name:
            return f
    raise AttributeError(f"{owner.__name__} has no field {name!r}")


def _field_type(owner: type, name: str) -> Any:
    return typing.get_type_hints(owner)[name]


def _parse(text: Any, kind: Any, name: str) -> Any:
    """``text`` (a variable's string, or a config value of any type) as a value of ``kind``."""
    args = typing.get_args(kind)
    if typing.get_origin(kind) in (typing.Union, types.UnionType):  # Optional[X]
        inner = [a for a in args if a is not type(None)]
        if isinstance(text, str) and text.strip().lower() in ("none", "null"):
            return None
        kind = inner[0]
    try:
        if kind is bool:
            return parse_bool(text, name=name)
        if isinstance(kind, type) and issubclass(kind, enum.Enum):
            try:
                return kind(text.strip() if isinstance(text, str) else text)
            except ValueError:
                raise SettingsError(f"{name}={text!r}: must be one of {tuple(m.value for m in kind)}") from None
        if kind in (int, float):
            if isinstance(text, bool) or (kind is int and isinstance(text, float) and not text.is_integer()):
                raise ValueError(f"expected {kind.__name__}")
            return kind(text.strip() if isinstance(text, str) else text)
        if kind is str:
            return str(text)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"{name}={text!r}: {exc}") from None
    raise SettingsError(f"{name}: unsupported setting type {kind!r}")  # pragma: no cover - a table bug
