"""SandboxFusion semantics on top of any backend: `/run_code` and `/run_jupyter`.

Status rules as SandboxFusion's ``parse_run_status``: a run that finished with return code 0 is
Success; a non-zero return code or a time limit is Failed (the program's fault); a failure of the
sandbox itself is SandboxError (its client retries those). Only Python runs here: any other
language, and any absolute or escaping path, is a SandboxError that says so — never a host file.

Programs that need files fetched after the run, and notebooks, run in a backend session: the user's
code is one cell, and trusted cells before and after it set stdin and read the requested files back.
"""

from __future__ import annotations

import base64
import binascii
import json
import posixpath
import secrets
import time
from collections.abc import Callable

from ..backend import SandboxBackend, SessionHandle
from ..types import ExecResult, Status
from .config import ServiceConfig
from .models import (
    CellRunResult,
    CommandRunResult,
    CommandRunStatus,
    RunCodeRequest,
    RunCodeResponse,
    RunJupyterRequest,
    RunJupyterResponse,
    RunStatus,
)

SUPPORTED_LANGUAGES = frozenset({"python", "python3"})
_TRACEBACK_HEAD = "Traceback (most recent call last):\n"


class BadRequest(ValueError):
    """The request cannot run here (unsupported language, bad path, bad base64); says why."""


def check_path(path: str) -> str:
    """A relative path inside the scratch directory, normalised; raises BadRequest otherwise."""
    if not isinstance(path, str) or not path or path.startswith("/") or "\x00" in path:
        raise BadRequest(f"path {path!r} must be relative to the sandbox's working directory")
    norm = posixpath.normpath(path)
    if norm == "." or norm.startswith("../") or norm == "..":
        raise BadRequest(f"path {path!r} escapes the sandbox's working directory")
    return norm


def decode_files(files: dict[str, str | None]) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for name, data in files.items():
        path = check_path(name)
        try:
            out[path] = base64.b64decode(data or "", validate=True)
        except (binascii.Error, ValueError) as exc:
            raise BadRequest(f"file {name!r} is not valid base64: {exc}") from None
    return out


def error_response(message: str) -> RunCodeResponse:
    return RunCodeResponse(status=RunStatus.SandboxError, message=message)


def to_command_result(result: ExecResult) -> CommandRunResult:
    """An ExecResult as SandboxFusion's run_result (a time limit has no return code)."""
    if result.status is Status.SANDBOX_ERROR:
        return CommandRunResult(status=CommandRunStatus.Error, execution_time=result.duration_s,
                                stdout=result.stdout, stderr=result.stderr or result.error or "")
    if result.status is Status.TIMEOUT:
        return CommandRunResult(status=CommandRunStatus.TimeLimitExceeded, execution_time=result.duration_s,
                                return_code=None, stdout=result.stdout, stderr=result.stderr)
    stderr = result.stderr
    if result.status is Status.REJECTED:  # refused before running: the refusal is what python would print
        stderr = (stderr + "\n" if stderr else "") + (result.error or "rejected")
    code = result.exit_code
    if code is None or (code == 0 and result.status is not Status.OK):
        code = 1 if result.status in (Status.REJECTED, Status.ERROR) else -9
    return CommandRunResult(status=CommandRunStatus.Finished, execution_time=result.duration_s,
                            return_code=code, stdout=result.stdout, stderr=stderr)


def run_status(run: CommandRunResult) -> tuple[RunStatus, str]:
    if run.status is CommandRunStatus.Error:
        return RunStatus.SandboxError, run.stderr or ""
    if run.status is CommandRunStatus.TimeLimitExceeded or run.return_code != 0:
        return RunStatus.Failed, ""
    return RunStatus.Success, ""


class Fusion:
    """Runs SandboxFusion requests on a backend, with the service's caps applied."""

    def __init__(self, backend: SandboxBackend, config: ServiceConfig,
                 on_result: Callable[[ExecResult], None] = lambda result: None) -> None:
        self.backend = backend
        self.config = config
        self.on_result = on_result  # the service counts every program's result in its metrics

    async def run_code(self, req: RunCodeRequest) -> RunCodeResponse:
        if req.language not in SUPPORTED_LANGUAGES:
            return error_response(f"language {req.language!r} is not supported: this sandbox runs python only")
        try:
            files = decode_files(req.files)
            fetch = [check_path(p) for p in req.fetch_files]
        except BadRequest as exc:
            return error_response(str(exc))
        timeout = self.config.cap_timeout(req.run_timeout)
        memory = self.config.cap_memory(req.memory_limit_MB)
        fetched: dict[str, str] = {}
        if fetch:
            result, fetched = await self._run_and_fetch(req.code, timeout, memory, req.stdin, files, fetch)
        else:
            result = await self.backend.run(req.code, timeout_s=timeout, memory_mb=memory, stdin=req.stdin,
                                            files=files or None)
        self.on_result(result)
        run = to_command_result(result)
        status, message = run_status(run)
        if result.status is Status.SANDBOX_ERROR:
            message = result.error or message
        return RunCodeResponse(status=status, message=message, run_result=run, files=fetched)

    async def _run_and_fetch(self, code, timeout, memory, stdin, files, fetch) -> tuple[ExecResult, dict]:
        async with self.backend.session(timeout_s=timeout, memory_mb=memory, files=files or None,
                                        wait_s=self.config.max_queue_wait_s) as s:
            if stdin is not None:
                setup = await s.run(f"import io as _sf_io, sys as _sf_sys\n_sf_sys.stdin = _sf_io.StringIO({stdin!r})\n"
                                    "del _sf_io, _sf_sys\n")
                if setup.status is not Status.OK:
                    return _infra(f"could not set stdin: {setup.error or setup.stderr}"), {}
            result = await s.run(code)
            if s.interpreter_lost:
                return result, {}
            fetched = await _fetch(s, fetch)
            if fetched is None:
                return _infra("the files in fetch_files could not be read back (larger than the output cap?)"), {}
            return result, fetched

    async def run_jupyter(self, req: RunJupyterRequest) -> RunJupyterResponse:
        if req.kernel not in ("python3", "python"):
            return RunJupyterResponse(status=RunStatus.SandboxError,
                                      message=f"kernel {req.kernel!r} is not supported: only python3")
        try:
            files = decode_files(req.files)
            fetch = [check_path(p) for p in req.fetch_files]
        except BadRequest as exc:
            return RunJupyterResponse(status=RunStatus.SandboxError, message=str(exc))
        total = self.config.cap_timeout(req.total_timeout)
        per_cell = self.config.cap_timeout(req.cell_timeout) if req.cell_timeout > 0 else total
        memory = self.config.cap_memory(req.memory_limit_MB)
        mark = "\x1e" + secrets.token_hex(8) + "\x1e"
        started = time.monotonic()
        cells: list[CellRunResult] = []
        async with self.backend.session(timeout_s=per_cell, memory_mb=memory, files=files or None, display=True,
                                        wait_s=self.config.max_queue_wait_s) as s:
            setup = await s.run(_display_hook(mark), display=False)
            if setup.status is not Status.OK:
                return RunJupyterResponse(status=RunStatus.SandboxError,
                                          message=f"could not start the notebook: {setup.error or setup.stderr}")
            for code in req.cells:
                left = total - (time.monotonic() - started)
                if left <= 0:
                    break
                result = await s.run(code, timeout_s=min(per_cell, left))
                self.on_result(result)
                if result.status is Status.SANDBOX_ERROR:
                    return RunJupyterResponse(status=RunStatus.SandboxError, message=result.error or "sandbox error",
                                              cells=cells)
                cells.append(_cell(result, mark))
                if result.status is Status.TIMEOUT and time.monotonic() - started >= total:
                    break
            fetched = {} if s.interpreter_lost else await _fetch(s, fetch)
            if fetched is None:
                return RunJupyterResponse(status=RunStatus.SandboxError, cells=cells,
                                          message="the files in fetch_files could not be read back")
        elapsed = time.monotonic() - started
        finished = len(cells) == len(req.cells) and elapsed < total
        driver = CommandRunResult(status=CommandRunStatus.Finished if finished else CommandRunStatus.TimeLimitExceeded,
                                  execution_time=round(elapsed, 6), return_code=0 if finished else None,
                                  stdout="", stderr="")
        return RunJupyterResponse(status=RunStatus.Success if finished else RunStatus.Failed, message="",
                                  driver=driver, cells=cells, files=fetched)


def _infra(message: str) -> ExecResult:
    return ExecResult(Status.SANDBOX_ERROR, error=message)


def _display_hook(mark: str) -> str:
    """A trusted first cell: the value of a bare last expression is framed by ``mark`` on stdout, so
    it can be told apart from what the cell printed (the mark is random per request)."""
    return (
        "import sys as _sf_sys\n"
        "def _sf_display(value, _sys=_sf_sys):\n"
        "    if value is not None:\n"
        f"        _sys.stdout.write({mark!r} + repr(value) + {mark!r})\n"
        "_sf_sys.displayhook = _sf_display\n"
        "del _sf_display, _sf_sys\n"
    )


def _cell(result: ExecResult, mark: str) -> CellRunResult:
    parts = result.stdout.split(mark)
    stdout = "".join(parts[0::2])
    display = [{"text/plain": text} for text in parts[1::2]]
    stderr, error = result.stderr, []
    if result.status is Status.ERROR and result.exit_code not in (0, None):
        head = stderr.rfind(_TRACEBACK_HEAD)
        tb = stderr[head:] if head >= 0 else stderr
        stderr = stderr[:head] if head >= 0 else ""
        last = tb.rstrip("\n").rsplit("\n", 1)[-1]
        ename, _, evalue = last.partition(": ")
        error = [{"ename": ename.strip(), "evalue": evalue, "traceback": tb.rstrip("\n").split("\n")}]
    elif result.status is not Status.OK:  # timeout, memory, refusal: what happened, as an error
        error = [{"ename": result.status.value, "evalue": result.error or "", "traceback": []}]
    return CellRunResult(stdout=stdout, stderr=stderr, display=display, error=error)


async def _fetch(session: SessionHandle, paths: list[str]) -> dict[str, str] | None:
    """Read the requested files (those that exist) back through a trusted cell, as base64; None when
    the answer did not come back whole (the caller reports that as a sandbox error)."""
    if not paths:
        return {}
    code = (
        "import base64 as _sf_b64, json as _sf_json\n"
        "_sf_out = {}\n"
        f"for _sf_p in {paths!r}:\n"
        "    try:\n"
        "        with open(_sf_p, 'rb') as _sf_f:\n"
        "            _sf_out[_sf_p] = _sf_b64.b64encode(_sf_f.read()).decode()\n"
        "    except OSError:\n"
        "        pass\n"
        "print(_sf_json.dumps(_sf_out))\n"
    )
    result = await session.run(code, display=False)
    if result.status is not Status.OK:
        return None
    try:
        return json.loads(result.stdout)
    except ValueError:
        return None


__all__ = ["BadRequest", "Fusion", "check_path", "decode_files", "run_status", "to_command_result"]
