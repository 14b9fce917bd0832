"""Entry point of a reward pool worker: ``python -m retool.reward._worker FD MEMORY_MB WARM``.

The worker runs each task on its main thread, so a SIGALRM-based timer is allowed here (it is not
in the caller, which may be any thread or an event loop). The timer is a soft deadline that lets a
slow verdict end without losing the process; the parent's hard deadline covers code that never
returns to the interpreter (big-integer arithmetic in C).

A task function that names a ``worker_context`` class gets that class's instance for this process as
its first argument (made on first use, kept in ``main``'s locals): math-verify and its parse caches
live there, not in module globals.
"""

from __future__ import annotations

import os
import signal
import sys


class _SoftTimeout(BaseException):
    """BaseException so that sympy's and math-verify's ``except Exception`` cannot swallow it."""


def _on_alarm(signum, frame):
    raise _SoftTimeout()


def _die_with_parent() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def _limit_memory(memory_mb: int) -> None:
    if memory_mb <= 0:
        return
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = memory_mb * 1024 * 1024
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ImportError, ValueError, OSError):
        pass


def _describe(exc: BaseException) -> str:
    parts = [a for a in getattr(exc, "args", ()) if isinstance(a, str)]
    return f"{type(exc).__name__}: {parts[0][:300]}" if parts else type(exc).__name__


def main(argv: list[str]) -> int:
    fd, memory_mb, warm = int(argv[1]), int(argv[2]), argv[3] == "1"
    parent = os.getppid()
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _limit_memory(memory_mb)
    from multiprocessing.connection import Connection

    conn = Connection(fd)
    if os.getppid() != parent:
        return 0
    contexts: dict = {}

    def call(fn, args, kwargs):
        kind = getattr(fn, "worker_context", None)
        if kind is None:
            return fn(*args, **kwargs)
        ctx = contexts.get(kind)
        if ctx is None:
            ctx = contexts[kind] = kind()
        return fn(ctx, *args, **kwargs)

    if warm:
        from retool.reward._mv import warm_up

        call(warm_up, (), {})
    signal.signal(signal.SIGALRM, _on_alarm)
    conn.send(("ready", os.getpid()))
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return 0
        except Exception as e:  # a task that cannot be unpickled here
            conn.send(("error", f"bad task: {_describe(e)}"))
            continue
        fn, args, kwargs, soft = msg
        try:
            signal.setitimer(signal.ITIMER_REAL, soft)
            try:
                reply = ("ok", call(fn, args, kwargs))
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        except _SoftTimeout:
            reply = ("timeout", f"soft timeout after {soft:g}s")
        except BaseException as e:  # noqa: BLE001 - report everything, keep serving
            reply = ("error", _describe(e))
        try:
            conn.send(reply)
        except (EOFError, OSError):
            return 0
        except Exception as e:
            conn.send(("error", f"unpicklable result: {_describe(e)}"))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
