"""The zygote's replies, typed where they enter the host.

guest/zygote.py writes each reply as the JSON header of a frame (it runs inside the jail with the
standard library only, so it cannot import these classes); the host reads it here, once, into a frozen
dataclass, and nothing past `Worker.request` looks at raw dicts. A reply whose fields have the wrong
types means the zygote is broken: `ProtocolError`, so the worker is replaced and the run reported as a
failure of ours, never read as the program's exit.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from .protocol import ProtocolError

__all__ = ["Reply", "RunReply", "parse_reply"]

R = TypeVar("R", bound="Reply")


@dataclass(frozen=True)
class Reply:
    """Every reply: ``error`` is a failure of ours the zygote reports (the request's outcome is
    unknown); ``retire`` says why this worker must not serve again. ``ok`` acknowledges session_open,
    session_close and ping."""

    ok: bool = False
    error: str | None = None
    retire: str | None = None

    # field -> accepted JSON types (bool is checked before int: JSON true is not an exit code)
    TYPES: ClassVar[dict[str, tuple[type, ...]]] = {"ok": (bool,), "error": (str,), "retire": (str,)}


@dataclass(frozen=True)
class RunReply(Reply):
    """The facts of one run or session cell; `sandbox.engine.to_result` turns them into a status."""

    exit_code: int | None = None
    signal: int | None = None
    timed_out: bool = False
    cpu_s: float = 0.0
    duration_s: float = 0.0
    truncated: bool = False
    memory_error: bool = False
    out_len: int | None = None  # stdout's share of the payload (stderr follows it)
    session_lost: bool = False  # a session cell ended the interpreter

    TYPES: ClassVar[dict[str, tuple[type, ...]]] = {
        **Reply.TYPES,
        "exit_code": (int,), "signal": (int,), "timed_out": (bool,), "cpu_s": (int, float),
        "duration_s": (int, float), "truncated": (bool,), "memory_error": (bool,), "out_len": (int,),
        "session_lost": (bool,),
    }


def _checked(cls: type[Reply], name: str, value: Any) -> Any:
    kinds = cls.TYPES[name]
    if isinstance(value, bool) and bool not in kinds:
        raise ProtocolError(f"zygote reply field {name!r} is a boolean, expected {kinds[0].__name__}")
    if not isinstance(value, kinds):
        raise ProtocolError(f"zygote reply field {name!r} is {type(value).__name__}, expected "
                            f"{' or '.join(k.__name__ for k in kinds)}")
    return float(value) if float in kinds else value


def parse_reply(header: Any, cls: type[R]) -> R:
    """The header of a zygote frame as ``cls``. Unknown fields are ignored (a newer zygote may say
    more); a missing or null one takes its default."""
    if not isinstance(header, dict):
        raise ProtocolError(f"zygote reply is {type(header).__name__}, not an object")
    values = {}
    for f in dataclasses.fields(cls):
        value = header.get(f.name)
        if value is not None:
            values[f.name] = _checked(cls, f.name, value)
    return cls(**values)
