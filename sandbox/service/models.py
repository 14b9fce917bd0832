"""Request and response bodies of the HTTP API.

The SandboxFusion models restate bytedance/SandboxFusion's public schema (``sandbox/server/
sandbox_api.py`` and ``sandbox/runners/types.py`` at commit 469de08) field for field, so its
official client and verl's helper parse our answers unchanged. ``language`` is a plain string here
(SandboxFusion's is a Literal of its runners) so a language we do not run gets a SandboxFusion-shaped
answer that says so, instead of a validation error. The native models mirror `ExecResult` and add
what a trainer needs on top: queue time apart from run time, and a typed infrastructure flag.
"""

from __future__ import annotations

import enum
from dataclasses import fields
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..types import ExecResult, Status


# ---------------------------------------------------------------------- SandboxFusion

class RunStatus(str, enum.Enum):
    Success = "Success"  # every command finished with return code 0
    Failed = "Failed"  # the program failed: non-zero exit or time limit
    SandboxError = "SandboxError"  # the sandbox failed (ours, retryable) or the request cannot run here


class CommandRunStatus(str, enum.Enum):
    Finished = "Finished"
    Error = "Error"
    TimeLimitExceeded = "TimeLimitExceeded"


class CommandRunResult(BaseModel):
    status: CommandRunStatus
    execution_time: float | None = None
    return_code: int | None = None
    stdout: str | None = None
    stderr: str | None = None


class RunCodeRequest(BaseModel):
    compile_timeout: float = 10
    run_timeout: float = 10
    memory_limit_MB: int = -1
    code: str
    stdin: str | None = None
    language: str
    files: dict[str, str | None] = Field(default_factory=dict)  # path -> base64 content
    fetch_files: list[str] = Field(default_factory=list)


class RunCodeResponse(BaseModel):
    status: RunStatus
    message: str
    compile_result: CommandRunResult | None = None
    run_result: CommandRunResult | None = None
    executor_pod_name: str | None = None
    files: dict[str, str] = Field(default_factory=dict)  # path -> base64 content


class RunJupyterRequest(BaseModel):
    cells: list[str]
    cell_timeout: float = 0
    total_timeout: float = 45
    memory_limit_MB: int = -1
    kernel: str = "python3"
    files: dict[str, str] = Field(default_factory=dict)
    fetch_files: list[str] = Field(default_factory=list)


class CellRunResult(BaseModel):
    stdout: str
    stderr: str
    display: list[dict[str, Any]]
    error: list[dict[str, Any]]


class RunJupyterResponse(BaseModel):
    status: RunStatus
    message: str
    driver: CommandRunResult | None = None
    cells: list[CellRunResult] = Field(default_factory=list)
    executor_pod_name: str | None = None
    files: dict[str, str] = Field(default_factory=dict)


# ---------------------------------------------------------------------- native

class RunRequest(BaseModel):
    """One program. ``files`` values are base64, as in SandboxFusion."""

    model_config = ConfigDict(extra="forbid")

    code: str
    timeout_s: float | None = None
    memory_mb: int | None = None
    stdin: str | None = None
    files: dict[str, str] = Field(default_factory=dict)
    output_bytes: int | None = None  # stdout + stderr cap; above the server's maximum: rejected
    id: str | int | None = None  # echoed back, for callers matching answers to requests


class RunResponse(BaseModel):
    """An `ExecResult` plus the service's facts about the run."""

    status: Status
    stdout: str = ""
    stderr: str = ""
    exit_code: int | None = None
    duration_s: float = 0.0
    truncated: bool = False
    error: str | None = None
    queue_s: float = 0.0  # time waiting for a slot, not counted in duration_s
    infrastructure_error: bool = False  # our failure, not the program's: retry or mask, never score
    id: str | int | None = None

    @classmethod
    def of(cls, result: ExecResult, queue_s: float = 0.0, ident: str | int | None = None) -> "RunResponse":
        return cls(**result.to_dict(), queue_s=round(queue_s, 6),
                   infrastructure_error=result.status is Status.SANDBOX_ERROR, id=ident)

    def to_result(self) -> ExecResult:
        return ExecResult(**{f.name: getattr(self, f.name) for f in fields(ExecResult)})


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    programs: list[RunRequest]


class BatchResponse(BaseModel):
    results: list[RunResponse]  # in input order


class SessionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timeout_s: float | None = None  # default per-cell timeout
    memory_mb: int | None = None
    display: bool = False  # echo a bare last expression like a notebook
    files: dict[str, str] = Field(default_factory=dict)  # base64, written when the interpreter starts


class SessionCreated(BaseModel):
    session_id: str
    instance: str  # the server process that holds it: sessions are pinned there
    idle_timeout_s: float


class SessionRunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str
    timeout_s: float | None = None
    display: bool | None = None


class SessionRunResponse(RunResponse):
    interpreter_lost: bool = False  # this cell ended the interpreter: its state is gone
    state_reset: bool = False  # this cell ran in a fresh interpreter after an earlier loss


class ErrorBody(BaseModel):
    """Every non-200 answer of the native API (and refusals of the SandboxFusion endpoints)."""

    error: str
    code: str  # machine-readable: overloaded, queue_timeout, draining, bad_request, unauthorized, ...
    retryable: bool = False
    retry_after_s: float | None = None
    session_lost: bool = False


__all__ = [
    "BatchRequest", "BatchResponse", "CellRunResult", "CommandRunResult", "CommandRunStatus", "ErrorBody",
    "RunCodeRequest", "RunCodeResponse", "RunJupyterRequest", "RunJupyterResponse", "RunRequest", "RunResponse",
    "RunStatus", "SessionCreated", "SessionRequest", "SessionRunRequest", "SessionRunResponse",
]
