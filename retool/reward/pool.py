"""A process pool whose tasks can be killed one at a time.

``concurrent.futures.ProcessPoolExecutor`` cannot stop one running task: a verdict stuck in sympy
would hold its worker forever, and killing that worker breaks the whole executor. Here each worker
slot is a parent-side thread that owns one worker process and talks to it over a socket pair. A slot
sends one task, waits for the answer with a deadline, and if the deadline passes it kills that one
process, fails that one future with ``TaskTimeout``, and starts a fresh process; the other slots keep
going.

Workers are started with ``subprocess`` (``python -m retool.reward._worker``), not ``fork``: forking
a parent that runs threads (event loops, engines, this pool) can copy held locks, and
``multiprocessing``'s spawn re-imports the parent's ``__main__``. A fresh interpreter depends on
nothing in the parent. Workers die with the parent: end of file on the socket, plus
``PR_SET_PDEATHSIG`` for a worker busy in C code.

The pool is a ``concurrent.futures.Executor``, so ``loop.run_in_executor(pool, fn, *args)`` works;
``submit_with_timeout`` sets a per-task deadline.
"""

from __future__ import annotations

import os
import queue
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Callable, Optional

__all__ = ["WorkerPool", "TaskTimeout", "WorkerCrashed", "WorkerStartError", "RemoteError"]


class TaskTimeout(TimeoutError):
    """The task ran past its deadline; its worker was stopped."""


class WorkerCrashed(RuntimeError):
    """The worker process died while running the task."""


class WorkerStartError(RuntimeError):
    """No worker process could be started for the task."""


class RemoteError(RuntimeError):
    """The task raised inside the worker (type and message only: sympy objects can hang in str())."""


@dataclass
class _Task:
    fn: Callable[..., Any]
    args: tuple
    kwargs: dict
    timeout_s: float
    future: Future


_STOP = object()


def _package_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class _Proc:
    """One worker process and the parent's end of its socket."""

    def __init__(self, memory_limit_mb: int, warm_up: bool):
        parent_sock, child_sock = socket.socketpair()
        env = dict(os.environ)
        root = _package_root()
        env["PYTHONPATH"] = os.pathsep.join([root] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env.setdefault(var, "1")
        cmd = [
            sys.executable,
            "-m",
            "retool.reward._worker",
            str(child_sock.fileno()),
            str(int(memory_limit_mb)),
            "1" if warm_up else "0",
        ]
        try:
            self.popen = subprocess.Popen(
                cmd,
                pass_fds=(child_sock.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                env=env,
                cwd=root,
                start_new_session=True,  # a Ctrl-C in the terminal is the parent's to handle
            )
        finally:
            child_sock.close()
        self.conn = Connection(parent_sock.detach())
        self.pid = self.popen.pid

    def wait_ready(self, timeout_s: float) -> None:
        try:
            if not self.conn.poll(timeout_s):
                raise WorkerStartError(f"worker {self.pid} not ready after {timeout_s:.0f}s")
            msg = self.conn.recv()
        except (EOFError, OSError) as e:
            raise WorkerStartError(f"worker {self.pid} exited during start-up (code {self.popen.poll()})") from e
        if not (isinstance(msg, tuple) and msg and msg[0] == "ready"):
            raise WorkerStartError(f"worker {self.pid} sent {msg!r} instead of ready")

    def kill(self) -> None:
        try:
            self.popen.kill()
        except OSError:
            pass
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.conn.close()

    def close(self, timeout_s: float = 2.0) -> None:
        self.conn.close()  # the worker sees end of file and exits
        try:
            self.popen.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()


class WorkerPool(Executor):
    """Fixed-size pool of worker processes with a hard deadline per task."""

    def __init__(
        self,
        max_workers: Optional[int] = None,
        *,
        timeout_s: float = 5.0,
        memory_limit_mb: int = 4096,
        warm_up: bool = True,
        start_timeout_s: float = 120.0,
    ):
        self.max_workers = max(1, int(max_workers or os.cpu_count() or 1))
        self.timeout_s = float(timeout_s)
        self.memory_limit_mb = int(memory_limit_mb)
        self.warm_up = bool(warm_up)
        self.start_timeout_s = float(start_timeout_s)
        self.owner_pid = os.getpid()
        self._queue: "queue.SimpleQueue[Any]" = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self._procs: list[Optional[_Proc]] = [None] * self.max_workers
        self._ready = [threading.Event() for _ in range(self.max_workers)]
        self.restarts = 0
        self._threads = [
            threading.Thread(target=self._slot, args=(i,), name=f"retool-reward-slot-{i}", daemon=True)
            for i in range(self.max_workers)
        ]
        for t in self._threads:
            t.start()

    # -- Executor API -------------------------------------------------------------------------
    def submit(self, fn, /, *args, **kwargs) -> Future:
        return self.submit_with_timeout(self.timeout_s, fn, *args, **kwargs)

    def submit_with_timeout(self, timeout_s: Optional[float], fn, /, *args, **kwargs) -> Future:
        fut: Future = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot submit to a WorkerPool after shutdown")
            self._queue.put(_Task(fn, args, kwargs, float(timeout_s or self.timeout_s), fut))
        return fut

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False, kill: bool = False) -> None:
        """Stop the pool; ``kill`` stops busy workers at once instead of letting their task finish."""
        with self._lock:
            first = not self._closed
            self._closed = True
        if first:
            if cancel_futures or kill:
                self._drain()
            for _ in self._threads:
                self._queue.put(_STOP)
            if kill:
                for proc in list(self._procs):
                    if proc is not None:
                        try:
                            proc.popen.kill()
                        except OSError:
                            pass
        if wait:
            for t in self._threads:
                if t is not threading.current_thread():
                    t.join()

    # -- introspection ------------------------------------------------------------------------
    def worker_pids(self) -> list[int]:
        return [p.pid for p in self._procs if p is not None]

    def wait_ready(self, timeout_s: Optional[float] = None) -> bool:
        """Block until every slot has a started worker (for benchmarks and tests)."""
        deadline = time.monotonic() + (timeout_s if timeout_s is not None else self.start_timeout_s)
        return all(ev.wait(max(0.0, deadline - time.monotonic())) for ev in self._ready)

    # -- internals ----------------------------------------------------------------------------
    def _drain(self) -> None:
        pending = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not _STOP:
                pending.append(item)
        for task in pending:
            task.future.cancel()

    def _start(self, i: int) -> Optional[_Proc]:
        try:
            proc = _Proc(self.memory_limit_mb, self.warm_up)
        except Exception:
            return None
        try:
            proc.wait_ready(self.start_timeout_s)
        except WorkerStartError:
            proc.kill()
            return None
        self._procs[i] = proc
        self._ready[i].set()
        return proc

    def _slot(self, i: int) -> None:
        proc: Optional[_Proc] = None
        failures = 0
        try:
            while True:
                if proc is None and not self._closed:
                    proc = self._start(i)
                    if proc is None:
                        failures += 1
                        time.sleep(min(2.0, 0.05 * 2**failures))
                    else:
                        failures = 0
                task = self._queue.get()
                if task is _STOP:
                    break
                if not task.future.set_running_or_notify_cancel():
                    continue
                if proc is None:
                    task.future.set_exception(WorkerStartError("no worker process could be started"))
                    continue
                try:
                    proc = self._run(proc, task)
                except BaseException as e:  # a bug here must not strand the futures behind it
                    if not task.future.done():
                        task.future.set_exception(WorkerCrashed(f"pool error: {type(e).__name__}: {e}"))
                    proc.kill()
                    proc = None
                if proc is None:
                    self._procs[i] = None
                    with self._lock:
                        self.restarts += 1
        finally:
            if proc is not None:
                proc.close()
            self._procs[i] = None

    def _run(self, proc: _Proc, task: _Task) -> Optional[_Proc]:
        """Run one task; returns the process if it can be reused, None if it was stopped."""
        soft = max(0.05, task.timeout_s - min(0.25, task.timeout_s * 0.2))
        fut = task.future
        t0 = time.perf_counter()
        try:
            proc.conn.send((task.fn, task.args, task.kwargs, soft))
        except (OSError, EOFError) as e:
            proc.kill()
            fut.set_exception(WorkerCrashed(f"worker {proc.pid} unreachable: {e}"))
            return None
        except Exception as e:  # the task could not be pickled: the worker is fine
            fut.set_exception(e)
            return proc
        try:
            ready = proc.conn.poll(task.timeout_s)
            reply = proc.conn.recv() if ready else None
        except (EOFError, OSError):
            fut.service_s = time.perf_counter() - t0
            code = proc.popen.poll()
            proc.kill()
            fut.set_exception(WorkerCrashed(f"worker {proc.pid} died (exit code {code})"))
            return None
        fut.service_s = time.perf_counter() - t0
        if reply is None:
            proc.kill()
            fut.set_exception(TaskTimeout(f"task exceeded {task.timeout_s:g}s; worker {proc.pid} stopped"))
            return None
        kind, payload = reply
        if kind == "ok":
            fut.set_result(payload)
        elif kind == "timeout":
            fut.set_exception(TaskTimeout(payload))
        else:
            fut.set_exception(RemoteError(payload))
        return proc
