"""One warm worker seen from the host: start it, send it one request at a time, replace it if broken."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import shutil
import signal
from typing import TypeVar

from .config import SandboxConfig
from .isolation import Backend
from .isolation.memcg import JailMemory
from .protocol import ProtocolError, encode_frame, read_frame
from .replies import Reply, parse_reply

R = TypeVar("R", bound=Reply)


# Headroom over a run's memory_mb for the copy-on-write copies it makes of the warm heap it touches.
MEMORY_SLACK = 96 << 20


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
        self.cgroups: dict[str, str] = {}
        self.memory: JailMemory | None = None
        self.zygote_pid: int | None = None
        self._jailed = False
        self._rss_baseline = 0
        self._memory_limit: int | None = None
        self.runs = 0
        self._killed = False
        self.retired: str | None = None  # why this worker must not serve again (it is then closed)
        self.run_uid: int | None = None
        self.zygote_uid: int | None = None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None and not self._killed

    @property
    def reusable(self) -> bool:
        """Alive and vouched for: its zygote never answered with an error of ours or asked to be
        retired (a scratch it could not empty, a change to itself a run made)."""
        return self.alive and self.retired is None

    def healthy(self) -> bool:
        """Alive, and its zygote too: a jail's nsjail can outlive a zygote that died between runs."""
        if not self.alive:
            return False
        if self.zygote_pid is None:
            return True
        try:
            with open(f"/proc/{self.zygote_pid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
        except (OSError, IndexError):
            return False

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
        self.run_uid, self.zygote_uid = spec.run_uid, spec.zygote_uid
        try:
            self._send({**self._init, "scratch": spec.scratch, **spec.guest})
            header, _ = await asyncio.wait_for(read_frame(self.proc.stdout), self.config.start_timeout_s)
        except (ProtocolError, asyncio.TimeoutError, OSError) as exc:
            await self.close()
            raise WorkerLost(f"worker {self.index} failed to start: {exc}; stderr: {self.stderr_tail()}") from exc
        if not header.get("ready"):
            await self.close()
            raise WorkerLost(f"worker {self.index} sent {header!r} instead of ready")
        self.info = header
        self._jailed = spec.jailed
        self.zygote_pid = _jailed_child(self.proc.pid) if spec.jailed else self.proc.pid
        if self.zygote_pid and spec.cgroup_controllers:
            from .isolation.nsjail_backend import jail_cgroups

            self.cgroups = jail_cgroups(self.zygote_pid, list(spec.cgroup_controllers), spec.cgroup_v2_group)
            if "memory" in self.cgroups:
                self.memory = JailMemory(self.cgroups["memory"], spec.cgroup_version)
                self._rss_baseline = self.memory.resident() or 0
        if self.zygote_pid and os.geteuid() == 0:
            # The zygote must never be the OOM victim: a run's processes are (they set +1000).
            # Lowering needs CAP_SYS_RESOURCE, which some containers drop; +1000 on runs suffices.
            with contextlib.suppress(OSError):
                with open(f"/proc/{self.zygote_pid}/oom_score_adj", "w") as f:
                    f.write("-1000")

    def limit_memory(self, memory_mb: int) -> None:
        """Bound everything one run can hold (all its processes, shared memory, scratch files).

        The worker's cgroup gets the zygote's own resident memory plus the run's allowance; slack
        covers the copy-on-write copies a run makes of the warm heap it touches.
        """
        if self.memory is None:
            return
        limit = self._rss_baseline + (memory_mb << 20) + MEMORY_SLACK
        if limit != self._memory_limit and self.memory.set_limit(limit):
            self._memory_limit = limit

    def oom_kills(self) -> int | None:
        return self.memory.oom_kills() if self.memory is not None else None

    async def _drain_stderr(self) -> None:
        with contextlib.suppress(Exception):
            while True:
                chunk = await self.proc.stderr.read(4096)
                if not chunk:
                    return
                self._stderr_tail.append(chunk)

    def _send(self, header: dict, payload: bytes = b"") -> None:
        self.proc.stdin.write(encode_frame(header, payload))

    async def request(self, header: dict, payload: bytes, deadline_s: float,
                      expect: type[R] = Reply) -> tuple[R, bytes]:
        """One round trip; the reply typed as ``expect``. Any failure leaves the worker unusable: the
        caller must replace it."""
        if not self.alive:
            raise WorkerLost(f"worker {self.index} is not running")
        try:
            self._send(header, payload)
            await self.proc.stdin.drain()
            raw, body = await asyncio.wait_for(read_frame(self.proc.stdout), deadline_s)
            reply = parse_reply(raw, expect)
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
        if reply.retire or reply.error:
            self.retired = reply.retire or reply.error
        return reply, body

    def kill(self) -> None:
        """Synchronous kill of the zygote and everything it started (safe from any context).

        Runs live in their own sessions, so a process-group kill would miss them: the whole tree
        goes. A jail's nsjail then exits by itself and removes its cgroups; the worker process is
        otherwise signalled through asyncio only, since a direct os.kill could let Popen.poll()
        reap it behind the child watcher's back.
        """
        self._killed = True
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return
        for pid in _descendants(proc.pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        if not self._jailed:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()

    async def close(self) -> None:
        proc = self.proc
        self.kill()
        if proc is not None and proc.returncode is None:
            try:
                await asyncio.wait_for(proc.wait(), 2)
            except asyncio.TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
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
        for path in set(self.cgroups.values()):  # normally already gone: nsjail removes them on exit
            with contextlib.suppress(OSError):
                os.rmdir(path)
        for path in self._cleanup:
            shutil.rmtree(path, ignore_errors=True)
        self._cleanup = []


def _jailed_child(pid: int) -> int | None:
    try:
        import psutil

        children = psutil.Process(pid).children()
        return children[0].pid if children else None
    except Exception:
        return None


def _descendants(pid: int) -> list[int]:
    try:
        import psutil

        return [p.pid for p in psutil.Process(pid).children(recursive=True)]
    except Exception:
        return []
