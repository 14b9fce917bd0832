"""The public entry point: `Sandbox.run` and `Sandbox.session`, safe from thousands of coroutines."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace

from .config import Limits, SandboxConfig
from .isolation import BackendChoice, select_backend
from .isolation.uids import UidLease, lease_uids
from .pool import WorkerPool
from .prepare import FILENAME, check_program, decode_code
from .replies import RunReply
from .types import ExecResult, SandboxError, SandboxStats, SessionClosed, SessionLimitReached, Status
from .worker import Worker, WorkerLost

# Code larger than this is checked in a thread so parsing never stalls the event loop.
_INLINE_CHECK_BYTES = 64 * 1024
# Time a worker gets beyond the run's own timeout to kill, clean up and answer.
_GRACE_S = 10.0
TRUNCATION_MARKER = "\n[output truncated: stdout and stderr together exceeded {limit} bytes]\n"


class Sandbox:
    """Runs untrusted Python in warm, isolated workers.

    Use as ``async with Sandbox(config) as sb: await sb.run(code)``. Start-up picks the isolation
    backend (see `isolation`) and starts `config.worker_count` workers with the preload modules
    imported, so each run costs a fork, not an interpreter start.
    """

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self.choice: BackendChoice | None = None
        self._pool: WorkerPool | None = None
        self._sessions: set[Session] = set()
        self._session_slots = asyncio.Semaphore(self.config.max_sessions)
        self._start_lock = asyncio.Lock()
        self._closed = False
        self._uids: UidLease | None = None

    # ------------------------------------------------------------------ lifecycle
    async def __aenter__(self) -> "Sandbox":
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def start(self) -> None:
        async with self._start_lock:
            if self._pool is not None:
                return
            if self._closed:
                raise SandboxError("the sandbox is closed")
            # This instance's own host uid range, held until close (see isolation/uids.py).
            self._uids = await asyncio.to_thread(lease_uids, self.config.host_uids, self.config.uid_base)
            effective = replace(self.config, uid_base=self._uids.base)
            try:
                self.choice = await asyncio.to_thread(select_backend, effective)
            except BaseException:
                self._release_uids()
                raise
            from .policy import FORBIDDEN_ATTRIBUTES

            init = {
                "allowed_modules": sorted(self.config.allowed_modules),
                "forbidden_attributes": sorted(FORBIDDEN_ATTRIBUTES) if self.config.policy else [],
                "preload": list(self.config.preload),
                "warmup": self.config.warmup,
                "filename": FILENAME,
            }
            pool = WorkerPool(self.choice.backend, effective, init)
            try:
                await pool.start()
            except BaseException:
                self.choice.backend.close()
                self._release_uids()
                raise
            self._pool = pool

    async def close(self) -> None:
        self._closed = True
        for session in list(self._sessions):
            await session.close()
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
        if self.choice is not None:
            self.choice.backend.close()
        self._release_uids()

    def _release_uids(self) -> None:
        if self._uids is not None:
            self._uids.release()

    @property
    def isolation(self) -> str:
        return self.choice.backend.name if self.choice else "not started"

    def describe(self) -> dict:
        """What is in effect: backend, why, warnings, workers and what they preloaded."""
        if self.choice is None:
            return {"isolation": "not started"}
        info = {
            "isolation": self.choice.backend.name,
            "reason": self.choice.reason,
            "warnings": list(self.choice.warnings),
            **self.choice.backend.describe(),
            "workers": self._pool.size if self._pool else 0,
            "uid_range": [self._uids.base, self._uids.base + self._uids.size - 1] if self._uids else None,
            "workers_retired": self._pool.retired if self._pool else 0,
        }
        worker = next(iter(self._pool._workers), None) if self._pool else None
        if worker is not None:
            info["preloaded"] = worker.info.get("preloaded", [])
            info["preload_failed"] = worker.info.get("failed", {})
            info["python"] = worker.info.get("python")
        return info

    def stats(self) -> SandboxStats:
        """Counts for a service's metrics; cheap, no I/O."""
        pool = self._pool
        if pool is None:
            return SandboxStats(sessions_live=len(self._sessions))
        in_sessions = len(self._sessions)  # each holds a lease, so a worker out of the pool
        return SandboxStats(workers_live=pool.size + pool.spare_count + in_sessions,
                            worker_restarts=pool.discarded, sessions_live=len(self._sessions))

    # ------------------------------------------------------------------ runs
    async def run(
        self,
        code: str | bytes,
        timeout_s: float | None = None,
        memory_mb: int | None = None,
        stdin: str | bytes | None = None,
        files: Mapping[str, str | bytes] | None = None,
        *,
        output_bytes: int | None = None,
    ) -> ExecResult:
        """Run one program in a fresh process; never raises for anything the program does."""
        limits = self.config.limits(timeout_s=timeout_s, memory_mb=memory_mb, output_bytes=output_bytes)
        started = time.monotonic()
        prepared = await self._prepare(code)
        if isinstance(prepared, ExecResult):
            return _with_duration(prepared, started)
        try:
            payload, file_index = _pack_inputs(files, stdin, self.config.max_stdin_bytes)
        except ValueError as exc:
            return ExecResult(Status.REJECTED, error=str(exc))
        header = self._request_header("run", prepared, limits)
        header["files"] = file_index
        if self._pool is None:
            await self.start()
        try:
            async with self._pool.worker() as worker:
                worker.limit_memory(limits.memory_mb)
                oom_before = worker.oom_kills()
                reply, out = await worker.request(header, payload, limits.timeout_s + _GRACE_S, RunReply)
                oom_after = worker.oom_kills()
        except WorkerLost as exc:
            return ExecResult(Status.SANDBOX_ERROR, error=str(exc), duration_s=time.monotonic() - started)
        return to_result(reply, out, limits, oom_before, oom_after)

    async def _prepare(self, code: str | bytes) -> str | ExecResult:
        source = decode_code(code)
        if isinstance(source, ExecResult):
            return source
        args = dict(max_bytes=self.config.max_code_bytes, policy=self.config.policy,
                    disabled_rules=self.config.disabled_rules)
        if len(source) > _INLINE_CHECK_BYTES:
            refusal = await asyncio.to_thread(check_program, source, **args)
        else:
            refusal = check_program(source, **args)
        return refusal if refusal is not None else source

    def _request_header(self, op: str, source: str, limits: Limits) -> dict:
        return {
            "op": op,
            "code": source,
            "timeout_s": limits.timeout_s,
            "cpu_s": max(1, int(limits.cpu_s + 0.999)),
            "memory_bytes": limits.memory_mb << 20,
            "output_bytes": limits.output_bytes,
            "fsize_bytes": self.config.max_file_bytes,
            "nofile": self.config.max_open_files,
            "nproc": self.config.max_processes if self.choice.backend.uid_per_worker else None,
        }

    # ------------------------------------------------------------------ sessions
    async def _lease_session(self, session: "Session", wait_s: float | None) -> "SessionLease":
        """A slot of ``max_sessions`` and a worker taken out of the pool, for one session's lifetime.
        Raises `SessionLimitReached` when no slot frees up in ``wait_s`` (at once without it)."""
        if self._pool is None:
            await self.start()
        full = f"too many live sessions (max_sessions={self.config.max_sessions}); close one first"
        if self._session_slots.locked() and not wait_s:
            raise SessionLimitReached(full)
        try:
            await asyncio.wait_for(self._session_slots.acquire(), wait_s)
        except asyncio.TimeoutError:
            raise SessionLimitReached(f"{full} (waited {wait_s:g} s)") from None
        try:
            worker = await self._pool.take()
        except BaseException:
            self._session_slots.release()
            raise
        self._sessions.add(session)
        return SessionLease(worker, lambda reset: self._end_lease(session, worker, reset))

    async def _end_lease(self, session: "Session", worker: Worker, reset: bool) -> None:
        self._sessions.discard(session)
        try:
            if self._pool is not None:
                await self._pool.give_back(worker, reset=reset)
            else:
                await worker.close()
        finally:
            self._session_slots.release()

    def session(self, *, memory_mb: int | None = None, timeout_s: float | None = None,
                display: bool = False, wait_s: float | None = None,
                files: Mapping[str, str | bytes] | None = None) -> "Session":
        """A stateful interpreter: variables persist across `run` calls until the session closes.

        ``files`` are written into the session's scratch directory when its interpreter starts
        (and again if a lost interpreter is replaced), as `run` does for one program.

        When all ``max_sessions`` slots are taken, starting raises at once, or with ``wait_s`` waits
        up to that long for a slot (batch users such as data verification queue instead of failing).
        """
        return Session(self, memory_mb=memory_mb, timeout_s=timeout_s, display=display, wait_s=wait_s,
                       files=files)


class SessionLease:
    """A session's hold on its sandbox (see `Sandbox._lease_session`): the worker it owns until
    `release`, which gives the worker back (kept as a spare when ``reset``: its zygote confirmed the
    session's cleanup) and frees the slot. Released at most once."""

    def __init__(self, worker: Worker, end: Callable[[bool], Awaitable[None]]) -> None:
        self.worker = worker
        self._end: Callable[[bool], Awaitable[None]] | None = end

    async def release(self, reset: bool) -> None:
        end, self._end = self._end, None
        if end is not None:
            await end(reset)


class Session:
    """One persistent interpreter on a worker taken out of the pool for the session's lifetime.

    A cell that times out, runs out of memory or floods output ends the interpreter; the next
    cell starts a fresh one and its result says that earlier state is gone.
    """

    def __init__(self, sandbox: Sandbox, *, memory_mb: int | None, timeout_s: float | None, display: bool,
                 wait_s: float | None = None, files: Mapping[str, str | bytes] | None = None) -> None:
        self.sandbox = sandbox
        # Checked here so a bad name is the caller's error at once, not a failed start later.
        try:
            self._files = _pack_inputs(files, None, 0) if files else (b"", [])
        except ValueError as exc:
            raise SandboxError(str(exc)) from None
        self.limits = sandbox.config.limits(timeout_s=timeout_s, memory_mb=memory_mb)
        self.display = display
        self.wait_s = wait_s
        self._lease: SessionLease | None = None
        self._lock = asyncio.Lock()
        self._closed = False
        self._close_reason = "closed"
        self._open = False
        self._lost_note: str | None = None
        self._idle_handle: asyncio.TimerHandle | None = None
        self._expire_task: asyncio.Task | None = None  # referenced so it cannot be collected mid-run
        # Typed facts about the latest run, for callers that must not parse `error` text:
        self.interpreter_lost = False  # the latest run ended the interpreter (its state is gone)
        self.state_reset = False  # the latest run started in a fresh interpreter after a loss

    async def __aenter__(self) -> "Session":
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    @property
    def _worker(self) -> Worker | None:
        return self._lease.worker if self._lease is not None else None

    async def start(self) -> None:
        if self._closed:
            raise SessionClosed(f"session is closed ({self._close_reason})")
        if self._lease is not None:
            return
        self._lease = await self.sandbox._lease_session(self, self.wait_s)
        try:
            await self._open_interpreter()
        except BaseException:
            await self.close()
            raise
        self._touch()

    async def _open_interpreter(self) -> None:
        self._worker.limit_memory(self.limits.memory_mb)
        header = self.sandbox._request_header("session_open", "", self.limits)
        payload, header["files"] = self._files
        reply, _ = await self._worker.request(header, payload, self.sandbox.config.start_timeout_s)
        if not reply.ok:
            raise WorkerLost(f"session could not start: {reply.error}")
        self._open = True

    def _touch(self) -> None:
        if self._idle_handle is not None:
            self._idle_handle.cancel()
        loop = asyncio.get_running_loop()
        self._idle_handle = loop.call_later(self.sandbox.config.session_idle_s, self._start_expiry)

    def _start_expiry(self) -> None:
        self._expire_task = asyncio.get_running_loop().create_task(self._expire())

    async def _expire(self) -> None:
        if not self._lock.locked():
            await self.close(reason="idle timeout")

    async def run(self, code: str | bytes, timeout_s: float | None = None, *, display: bool | None = None) -> ExecResult:
        if self._closed:
            raise SessionClosed(f"session is closed ({self._close_reason})")
        limits = self.sandbox.config.limits(timeout_s=timeout_s or self.limits.timeout_s,
                                            memory_mb=self.limits.memory_mb)
        started = time.monotonic()
        prepared = await self.sandbox._prepare(code)
        if isinstance(prepared, ExecResult):
            return _with_duration(prepared, started)
        async with self._lock:
            if self._closed:
                raise SessionClosed(f"session is closed ({self._close_reason})")
            if self._worker is None:
                await self.start()  # used without `async with`: the first run starts it, as Sandbox.run does
            self._touch()
            note = None
            self.interpreter_lost = self.state_reset = False
            try:
                if not self._open:
                    await self._open_interpreter()
                    note, self._lost_note = self._lost_note, None
                header = self.sandbox._request_header("session_run", prepared, limits)
                header["display"] = self.display if display is None else display
                oom_before = self._worker.oom_kills()
                reply, out = await self._worker.request(header, b"", limits.timeout_s + _GRACE_S, RunReply)
                oom_after = self._worker.oom_kills()
            except WorkerLost as exc:
                self.interpreter_lost = True
                await self.close(reason=f"worker lost: {exc}")
                return ExecResult(Status.SANDBOX_ERROR, error=str(exc), duration_s=time.monotonic() - started)
            result = to_result(reply, out, limits, oom_before, oom_after)
            if self._worker.retired:
                # Its zygote reported damage: the interpreter's state cannot move to another worker.
                await self.close(reason=f"worker retired: {self._worker.retired}")
                return _with_error(result, "the session's worker was retired; start a new session")
            if reply.session_lost:
                self.interpreter_lost = True
                self._open = False
                self._lost_note = "the previous cell ended the session's interpreter; earlier state is gone"
                result = _with_error(result, "the session's interpreter ended; the next run starts a fresh one")
            if note:
                self.state_reset = True
                result = _with_error(result, note)
            self._touch()
            return result

    async def close(self, reason: str = "closed") -> None:
        if self._closed:
            return
        self._closed = True
        self._close_reason = reason
        if self._idle_handle is not None:
            self._idle_handle.cancel()
        if self._lease is not None:
            reset = await self._reset_worker()
            lease, self._lease = self._lease, None
            await lease.release(reset)


    async def _reset_worker(self) -> bool:
        """Ask the zygote to end the session (kill its processes, wipe the scratch directory); True
        when it confirmed, so the worker may serve another session. Never raises: a worker that does
        not answer is simply not reused."""
        worker = self._worker
        if worker is None or not worker.alive or self._lock.locked():
            return False
        try:
            header = self.sandbox._request_header("session_close", "", self.limits)
            reply, _ = await worker.request(header, b"", self.sandbox.config.start_timeout_s)
        except (WorkerLost, SandboxError, OSError, asyncio.TimeoutError):
            return False
        return reply.ok


# ---------------------------------------------------------------------- helpers

def _pack_inputs(files, stdin, max_stdin: int) -> tuple[bytes, list]:
    """Files then stdin as one payload; the header lists (name, size) so the zygote can split it."""
    blobs: list[bytes] = []
    index: list = []
    for name, data in (files or {}).items():
        if not isinstance(name, str) or not name or name.startswith("/") or ".." in name.split("/"):
            raise ValueError(f"file name {name!r} must be a relative path inside the scratch directory")
        raw = data.encode() if isinstance(data, str) else bytes(data)
        blobs.append(raw)
        index.append([name, len(raw)])
    raw_stdin = b"" if stdin is None else (stdin.encode() if isinstance(stdin, str) else bytes(stdin))
    if len(raw_stdin) > max_stdin:
        raise ValueError(f"stdin is {len(raw_stdin)} bytes; the limit is {max_stdin} bytes")
    return b"".join(blobs) + raw_stdin, index


def to_result(reply: RunReply, out: bytes, limits: Limits, oom_before: int | None,
              oom_after: int | None) -> ExecResult:
    """Turn the zygote's facts (exit code, signal, flags) into one status."""
    if reply.error:
        return ExecResult(Status.SANDBOX_ERROR, error=reply.error)
    split = reply.out_len if reply.out_len is not None else len(out)
    stdout = out[:split].decode("utf-8", errors="replace")
    stderr = out[split:].decode("utf-8", errors="replace")
    exit_code, sig, duration, truncated, cpu = (reply.exit_code, reply.signal, reply.duration_s, reply.truncated,
                                                reply.cpu_s)
    oom = oom_before is not None and oom_after is not None and oom_after > oom_before
    error = None
    if reply.timed_out:
        status, error = Status.TIMEOUT, f"wall-clock time limit of {limits.timeout_s:g}s exceeded"
    elif sig == signal.SIGXCPU or (sig == signal.SIGKILL and not oom and cpu >= limits.cpu_s - 0.05):
        status, error = Status.TIMEOUT, f"CPU time limit of {limits.cpu_s:g}s exceeded"
    elif reply.memory_error or oom or (sig == signal.SIGKILL and oom_before is None and not truncated):
        status, error = Status.MEMORY, f"memory limit of {limits.memory_mb} MB exceeded"
    elif truncated:
        status, error = Status.OUTPUT_LIMIT, f"output exceeded {limits.output_bytes} bytes and was cut"
    elif exit_code == 0:
        status = Status.OK
    else:
        status = Status.ERROR
        if sig is not None:
            error = f"killed by signal {signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else sig}"
    if truncated:
        stdout += TRUNCATION_MARKER.format(limit=limits.output_bytes)
    return ExecResult(status, stdout=stdout, stderr=stderr, exit_code=exit_code, duration_s=duration,
                      truncated=truncated, error=error)


def _with_duration(result: ExecResult, started: float) -> ExecResult:
    from dataclasses import replace

    return replace(result, duration_s=time.monotonic() - started)


def _with_error(result: ExecResult, note: str) -> ExecResult:
    from dataclasses import replace

    return replace(result, error=f"{result.error}; {note}" if result.error else note)


__all__ = ["Sandbox", "Session", "SessionLease", "to_result"]
