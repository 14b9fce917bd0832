"""One warm worker seen from the host: start it, send it one request at a time, replace it if broken."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import shutil
import signal

from .config import SandboxConfig
from .isolation import Backend
from .protocol import ProtocolError, encode_frame, read_frame


class WorkerLost(Exception):
    """The worker died or stopped answering; the request's outcome is unknown and it is our fault."""


class Worker:
    def __init__(self, backend: Backend, config: SandboxConfig, index: int, init: dict) -> None:
        self.backend = backend
        self.config = config
        self.index = index
        self._init = init
        self.proc: asyncio.subprocess.Process | None = None
        self.info: dict = {}
        self._stderr_tail: collections.deque[bytes] = collections.deque(maxlen=64)
        self._stderr_task: asyncio.Task | None = None
        self._cleanup: list[str] = []
        self.cgroup_memory: str | None = None
        self.runs = 0
        self._killed = False

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None and not self._killed

    def stderr_tail(self) -> str:
        return b"".join(self._stderr_tail).decode(errors="replace")[-4000:]

    async def start(self) -> None:
        spec = self.backend.worker_spec(self.index)
        self._cleanup = spec.cleanup
        kwargs = {}
        if spec.user is not None:
            kwargs.update(user=spec.user, group=spec.group, extra_groups=[])
        self.proc = await asyncio.create_subprocess_exec(
            *spec.argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=spec.env,
            cwd=spec.cwd,
            start_new_session=True,
            limit=1 << 20,
            **kwargs,
        )
        self._stderr_task = asyncio.create_task(self._drain_stderr())
        try:
            self._send({**self._init, "scratch": spec.scratch})
            header, _ = await asyncio.wait_for(read_frame(self.proc.stdout), self.config.start_timeout_s)
        except (ProtocolError, asyncio.TimeoutError, OSError) as exc:
            await self.close()
            raise WorkerLost(f"worker {self.index} failed to start: {exc}; stderr: {self.stderr_tail()}") from exc
        if not header.get("ready"):
            await self.close()
            raise WorkerLost(f"worker {self.index} sent {header!r} instead of ready")
        self.info = header
        if spec.cgroup_memory_parent:
            self.cgroup_memory = self._find_cgroup(spec.cgroup_memory_parent)

    def _find_cgroup(self, parent: str) -> str | None:
        """nsjail puts its child in <parent>/NSJAIL.<host pid of the child>."""
        try:
            import psutil

            for child in psutil.Process(self.proc.pid).children():
                path = os.path.join(parent, f"NSJAIL.{child.pid}")
                if os.path.isdir(path):
                    return path
        except Exception:
            return None
        return None

    def oom_kills(self) -> int | None:
        if not self.cgroup_memory:
            return None
        try:
            with open(os.path.join(self.cgroup_memory, "memory.oom_control")) as f:
                for line in f:
                    if line.startswith("oom_kill "):
                        return int(line.split()[1])
        except (OSError, ValueError):
            return None
        return None

    async def _drain_stderr(self) -> None:
        with contextlib.suppress(Exception):
            while True:
                chunk = await self.proc.stderr.read(4096)
                if not chunk:
                    return
                self._stderr_tail.append(chunk)

    def _send(self, header: dict, payload: bytes = b"") -> None:
        self.proc.stdin.write(encode_frame(header, payload))

    async def request(self, header: dict, payload: bytes, deadline_s: float) -> tuple[dict, bytes]:
        """One round trip. Any failure leaves the worker unusable: the caller must replace it."""
        if not self.alive:
            raise WorkerLost(f"worker {self.index} is not running")
        try:
            self._send(header, payload)
            await self.proc.stdin.drain()
            reply = await asyncio.wait_for(read_frame(self.proc.stdout), deadline_s)
        except asyncio.CancelledError:
            # The reply would arrive for nobody and desynchronise the channel: the worker goes.
            self.kill()
            raise
        except asyncio.TimeoutError as exc:
            await self.close()
            raise WorkerLost(f"worker {self.index} did not answer within {deadline_s:.1f}s") from exc
        except (ProtocolError, OSError, ConnectionError) as exc:
            await self.close()
            raise WorkerLost(f"worker {self.index} failed: {exc}; stderr: {self.stderr_tail()}") from exc
        self.runs += 1
        return reply

    def kill(self) -> None:
        """Synchronous kill of the worker and everything it started (safe from any context)."""
        self._killed = True
        proc = self.proc
        if proc is not None and proc.returncode is None:
            # Runs live in their own sessions, so a process-group kill would miss them: kill the
            # whole tree (for nsjail, the jail's pid 1 dying takes its pid namespace with it).
            # The worker itself is signalled through asyncio only: a direct os.kill could let
            # Popen.poll() reap it behind the child watcher's back.
            tree = _descendants(proc.pid)
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            for pid in tree:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)

    async def close(self) -> None:
        proc = self.proc
        self.kill()
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(proc.wait(), 10)
        if proc is not None and proc.stdin is not None:
            with contextlib.suppress(Exception):
                proc.stdin.close()
        if self._stderr_task is not None:
            self._stderr_task.cancel()
            with contextlib.suppress(BaseException):
                await self._stderr_task
            self._stderr_task = None
        for path in self._cleanup:
            shutil.rmtree(path, ignore_errors=True)
        self._cleanup = []


def _descendants(pid: int) -> list[int]:
    try:
        import psutil

        return [p.pid for p in psutil.Process(pid).children(recursive=True)]
    except Exception:
        return []
