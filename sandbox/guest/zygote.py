"""The warm template that runs inside the jail: one interpreter that pays for imports once.

This file is executed by the sandboxed interpreter itself (``python -I zygote.py``), never imported
by the host: it may use only the standard library, and it must stay small enough to audit. The
host talks to it over fd 0/1 with length-prefixed frames (see ``sandbox/protocol.py``): one JSON
header, then raw payloads. For every ``run`` it forks a fresh child from this warm process, applies
the per-run limits in the child, and execs the user's code there; after the child ends it kills
every process the run started and wipes the scratch directory, so nothing leaks into the next run.
Each child drops to the run's uid with no capability before any of the run's code (``confine``),
so it cannot act on this process; after each run the zygote checks that the scratch is empty and
that nothing of its own changed, and otherwise tells the host to retire the worker (``retire``).

A ``session`` keeps one forked child alive across cells so variables persist; it is stopped
(SIGSTOP) between cells, so nothing of it runs while no cell is being timed.

Status tokens from a child carry a per-run nonce (``StatusReader``), and every buffer kept for a
run is capped: the program's output by its limit, the status pipe by a fixed-size window.
"""

import builtins
import gc
import io
import json
import linecache
import os
import resource
import select
import signal
import struct
import sys
import time
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # -I leaves the script's folder out

from confine import Baseline, Privileges, deny_x32  # noqa: E402
from scratch import ScratchNotClean, wipe as wipe_scratch  # noqa: E402

HEADER = struct.Struct(">II")  # json length, payload length
READ_CHUNK = 65536

PROTO_IN = 0
PROTO_OUT = os.dup(1)
# Keep stray writes by preloaded libraries away from the protocol channel.
os.dup2(2, 1)

IS_INIT = os.getpid() == 1


# --------------------------------------------------------------------------- framing

def _read_exact(fd, n):
    chunks = []
    while n:
        b = os.read(fd, min(n, 1 << 20))
        if not b:
            raise EOFError
        chunks.append(b)
        n -= len(b)
    return b"".join(chunks)


def read_frame(fd=PROTO_IN):
    jlen, plen = HEADER.unpack(_read_exact(fd, HEADER.size))
    header = json.loads(_read_exact(fd, jlen))
    payload = _read_exact(fd, plen) if plen else b""
    return header, payload


def write_frame(header, payload=b"", fd=PROTO_OUT):
    data = json.dumps(header).encode()
    buf = HEADER.pack(len(data), len(payload)) + data + payload
    view = memoryview(buf)
    while view:
        n = os.write(fd, view)
        view = view[n:]


class HostGone(BaseException):
    """The host closed its end of the protocol pipe (it exited or was killed) while a run was in
    flight. Nobody will read the result: the run is killed and the zygote exits now, instead of
    letting the program run on to its own time limit."""


def _watch_host(poller):
    """Have `poller` report the host hanging up. Only POLLHUP/POLLERR (mask 0): the host sends
    nothing while a request is in flight, so there is no input to wake up for."""
    poller.register(PROTO_IN, 0)


def _check_host(fd, event):
    if fd == PROTO_IN and event & (select.POLLHUP | select.POLLERR | select.POLLNVAL):
        raise HostGone()
    return fd == PROTO_IN


# --------------------------------------------------------------------------- process hygiene

def _prctl(option, arg):
    return Zygote.privileges.libc.prctl(option, arg, 0, 0, 0)


PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36


def _children_of(pid):
    """Direct children via /proc, so a subreaper can find orphans it inherited."""
    kids = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                    kids.extend(int(x) for x in f.read().split())
            except OSError:
                pass
    except OSError:
        pass
    return kids


def _gone(pid):
    """True once pid has exited (a zombie counts: it runs nothing and its parent reaps it)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return True


def reap_zombies():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def kill_everything_but(keep=()):
    """SIGKILL every process this worker's runs started, and wait until they are gone.

    Nothing of a run may reach the next one, not even as a zombie that shows in /proc or counts
    against the next run's process limit, so this returns only when every victim has exited.
    """
    if IS_INIT and not keep:
        while True:  # pid 1 of the jail: kill(-1) reaches every other process in the namespace
            try:
                os.kill(-1, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                os.waitpid(-1, 0)
            except ChildProcessError:
                return
            except InterruptedError:
                pass
    me = os.getpid()
    deadline = time.monotonic() + 10
    while True:
        victims = []
        stack = [k for k in _children_of(me) if k not in keep]
        for k in keep:
            stack.extend(_children_of(k))  # what a session's cell started
        while stack:
            p = stack.pop()
            victims.append(p)
            stack.extend(_children_of(p))
        for p in victims:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        reap_zombies()
        if all(_gone(p) for p in victims) or time.monotonic() > deadline:
            return
        time.sleep(0.0005)


# --------------------------------------------------------------------------- the child side

class Child:
    """State the forked child needs, set up once in the zygote (so it is shared copy-on-write)."""

    allowed = frozenset()
    forbidden_attrs = frozenset()
    filename = "main.py"


def _guarded_import_factory(real_import, user_globals, allowed):
    """Check only imports made *by the program*: a library's own imports pass untouched.

    The import statement passes the importing frame's globals, so identity with the program's
    module dict tells program imports from library-internal ones without any frame walking.
    """
    allowed_list = ", ".join(sorted(allowed))

    def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
        if globals is user_globals and level == 0:
            top = name.partition(".")[0]
            if top not in allowed:
                raise ImportError(
                    "import of '%s' is not allowed in this sandbox; allowed modules: %s"
                    % (top, allowed_list),
                    name=top,
                )
        return real_import(name, globals, locals, fromlist, level)

    return guarded_import


def _guarded_getattr_factory(real_getattr, forbidden):
    def guarded_getattr(obj, name, *default):
        if isinstance(name, str) and name in forbidden:
            raise AttributeError("access to attribute '%s' is not allowed in this sandbox" % name)
        return real_getattr(obj, name, *default)

    return guarded_getattr


def _set_limits(req, cpu_hard=True):
    """Apply the run's limits to this process; raises if one cannot be applied (never run unlimited).

    A session's cells set only the soft CPU limit: a hard limit cannot be raised again for the next
    cell. Its wall-clock deadline still bounds every cell.
    """
    def setrl(which, soft, hard=None):
        resource.setrlimit(which, (soft, soft if hard is None else hard))

    cpu = req.get("cpu_s")
    if cpu:
        used = resource.getrusage(resource.RUSAGE_SELF)
        base = int(used.ru_utime + used.ru_stime)
        if cpu_hard:
            setrl(resource.RLIMIT_CPU, base + int(cpu), base + int(cpu) + 1)
        else:
            setrl(resource.RLIMIT_CPU, base + int(cpu), resource.getrlimit(resource.RLIMIT_CPU)[1])
    if req.get("fsize_bytes"):
        setrl(resource.RLIMIT_FSIZE, int(req["fsize_bytes"]))
    if req.get("nofile"):
        setrl(resource.RLIMIT_NOFILE, int(req["nofile"]))
    if req.get("nproc"):
        setrl(resource.RLIMIT_NPROC, int(req["nproc"]))
    setrl(resource.RLIMIT_CORE, 0)
    mem = req.get("memory_bytes")
    if mem:
        # RLIMIT_DATA counts private writable mappings (heap, numpy buffers) since Linux 4.7,
        # so an allocation past the limit fails with MemoryError instead of an OOM kill.
        base = 0
        try:
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith("VmData:"):
                        base = int(line.split()[1]) * 1024
                        break
        except OSError:
            pass
        setrl(resource.RLIMIT_DATA, base + int(mem))


def _first_to_go_on_oom():
    """Runs, not the zygote, are what the OOM killer should pick.

    Raising one's own oom_score_adj needs no privilege, but a non-dumpable process's /proc files
    belong to root: the child turns dumpable for the one write (it is a fresh fork with nothing
    else of the run alive yet, and ptrace is refused by seccomp), then non-dumpable again.
    """
    _prctl(PR_SET_DUMPABLE, 1)
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000")
    except OSError:
        pass  # a read-only /proc (some containers): the run still runs, only the OOM preference is lost
    finally:
        _prctl(PR_SET_DUMPABLE, 0)


def _fresh_stdio():
    """Python-level streams configured as ``python3 file.py`` has them with pipes attached."""
    sys.stdout = io.TextIOWrapper(io.BufferedWriter(io.FileIO(1, "w", closefd=False)),
                                  encoding="utf-8", errors="strict", write_through=False)
    sys.stderr = io.TextIOWrapper(io.BufferedWriter(io.FileIO(2, "w", closefd=False)),
                                  encoding="utf-8", errors="backslashreplace", line_buffering=True)
    sys.stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)),
                                 encoding="utf-8", errors="strict")
    sys.__stdout__, sys.__stderr__, sys.__stdin__ = sys.stdout, sys.stderr, sys.stdin


def _reseed():
    """Every child would otherwise replay the zygote's random state."""
    import random

    random.seed()
    np = sys.modules.get("numpy")
    if np is not None:
        try:
            np.random.seed()
        except Exception:
            pass


def _new_main_module(filename):
    """A fresh ``__main__`` whose builtins carry the guards; libraries keep the real builtins."""
    mod = types.ModuleType("__main__")
    mod.__file__ = filename
    user_globals = mod.__dict__
    user_builtins = dict(builtins.__dict__)
    user_builtins["__import__"] = _guarded_import_factory(builtins.__import__, user_globals, Child.allowed)
    if Child.forbidden_attrs:
        user_builtins["getattr"] = _guarded_getattr_factory(builtins.getattr, Child.forbidden_attrs)
    user_globals["__builtins__"] = user_builtins
    sys.modules["__main__"] = mod
    return user_globals


def _strip_our_frames(exc, seen=None):
    """Unlink this file's frames from exc's traceback and from every exception chained to it.

    Traceback objects are a linked list with a writable tb_next, so the interpreter's own C
    printer can then format the result exactly as ``python3 main.py`` would.
    """
    seen = set() if seen is None else seen
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        head = tb = exc.__traceback__
        prev = None
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == __file__:
                if prev is None:
                    head = tb.tb_next
                else:
                    prev.tb_next = tb.tb_next
            else:
                prev = tb
            tb = tb.tb_next
        exc.__traceback__ = head
        for sub in getattr(exc, "exceptions", ()) or ():
            _strip_our_frames(sub, seen)
        _strip_our_frames(exc.__cause__, seen)
        exc = exc.__context__


def _print_exception(exc):
    """Print like the interpreter does, minus our own frames (the user's code comes first)."""
    try:
        _strip_our_frames(exc)
        sys.__excepthook__(type(exc), exc, exc.__traceback__)
        sys.stderr.flush()
    except Exception:
        pass


def _exit_code_for(exc):
    """SystemExit handling as in CPython's handle_system_exit()."""
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    try:
        sys.stderr.write(str(code) + "\n")
        sys.stderr.flush()
    except Exception:
        pass
    return 1


def _run_source(source, user_globals, status_fd, nonce, display=False, filename=None):
    """Compile and run one program or cell; returns the exit code the interpreter would give.

    The source is also written to the scratch directory under its file name: the interpreter's
    traceback printer reads source lines from disk, as it does for ``python3 main.py``.
    """
    filename = filename or Child.filename
    try:
        with open(filename, "w", encoding="utf-8", errors="surrogatepass") as f:
            f.write(source)
    except OSError:
        pass
    lines = source.splitlines(True)
    linecache.cache[filename] = (len(source), None, lines, filename)
    try:
        for code in _compile(source, filename, display):
            exec(code, user_globals)
        rc = 0
    except SystemExit as exc:
        rc = _exit_code_for(exc)
    except BaseException as exc:  # noqa: BLE001 - we are the interpreter's top level here
        if isinstance(exc, MemoryError):
            _note(status_fd, b"M" + nonce)
        _print_exception(exc)
        rc = 130 if isinstance(exc, KeyboardInterrupt) else 1
    return rc


def _compile(source, filename, display):
    """Code objects to run in order; with display, a bare last expression is echoed like a notebook."""
    if not display:
        return (compile(source, filename, "exec", dont_inherit=True),)
    import ast

    tree = ast.parse(source, filename)
    if not (tree.body and isinstance(tree.body[-1], ast.Expr)):
        return (compile(tree, filename, "exec", dont_inherit=True),)
    last = ast.Interactive(body=[tree.body.pop()])
    return (compile(tree, filename, "exec", dont_inherit=True),
            compile(last, filename, "single", dont_inherit=True))


def _note(fd, token):
    if fd is not None:
        try:
            os.write(fd, token)
        except OSError:
            pass


def _finish_streams():
    """Flush like interpreter shutdown; a broken stdout gives exit 120 as in CPython."""
    rc = 0
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            if stream is sys.stdout:
                rc = 120
    return rc


def _shutdown_hooks():
    try:
        import threading

        threading._shutdown()
    except Exception:
        pass
    try:
        import atexit

        atexit._run_exitfuncs()
    except Exception:
        pass


def _compensate_recursion_limit():
    """Our frames sit below the program's; without this, deep recursion fails a few calls early."""
    depth = 0
    frame = sys._getframe(1)
    while frame is not None:
        depth += 1
        frame = frame.f_back
    sys.setrecursionlimit(sys.getrecursionlimit() + depth + 2)  # + _run_source, which calls exec


def child_main(req, status_fd):
    """Runs in the forked child: becomes `python3 main.py` for the user's program."""
    _compensate_recursion_limit()
    _fresh_stdio()
    nonce = req["nonce"].encode()
    try:
        _set_limits(req)
    except (ValueError, OSError):
        _note(status_fd, b"L" + nonce)
        os._exit(127)
    _reseed()
    sys.argv = [Child.filename]
    user_globals = _new_main_module(Child.filename)
    rc = _run_source(req["code"], user_globals, status_fd, nonce, display=req.get("display", False))
    _shutdown_hooks()
    rc = _finish_streams() or rc
    os._exit(rc)


def session_main(req, status_fd, cmd_fd):
    """A persistent child: one namespace, cells arrive on cmd_fd, 'done' goes to status_fd."""
    _compensate_recursion_limit()
    _fresh_stdio()
    try:
        _set_limits({k: v for k, v in req.items() if k != "cpu_s"})
    except (ValueError, OSError):
        _note(status_fd, b"L" + req["nonce"].encode())
        os._exit(127)
    _reseed()
    sys.argv = [Child.filename]
    user_globals = _new_main_module(Child.filename)
    cells = 0
    while True:
        try:
            cell, _ = read_frame(cmd_fd)
        except EOFError:
            os._exit(0)
        reap_zombies()  # what the previous cell started was killed by the zygote; reap it here
        cells += 1
        nonce = cell["nonce"].encode()
        try:
            _set_limits({"cpu_s": cell.get("cpu_s")}, cpu_hard=False)
        except (ValueError, OSError):
            _note(status_fd, b"L" + nonce)
            os._exit(127)
        # Each cell keeps its own file so tracebacks through earlier cells' functions stay right.
        rc = _run_source(cell["code"], user_globals, status_fd, nonce, display=cell.get("display", False),
                         filename="cell_%d.py" % cells)
        _finish_streams()
        # 'D' + nonce + exit code marks the end of a cell; stdout/stderr were flushed before it.
        _note(status_fd, b"D" + nonce + bytes([rc & 0xFF]))


# --------------------------------------------------------------------------- the zygote side

class Output:
    """Collects stdout and stderr under one shared cap, as the pipes deliver them."""

    def __init__(self, cap):
        self.cap = cap
        self.total = 0
        self.out = bytearray()
        self.err = bytearray()
        self.truncated = False

    def feed(self, which, data):
        room = self.cap - self.total
        if len(data) > room:
            data = data[:max(room, 0)]
            self.truncated = True
        self.total += len(data)
        (self.out if which == 1 else self.err).extend(data)


class StatusReader:
    """Tokens a child writes on its status pipe, each ending in this run's (or cell's) nonce:
    ``M`` (the program raised MemoryError), ``L`` (its limits could not be applied), ``D`` + exit
    code (a session cell finished). Only a window of the last few bytes is kept, so a program that
    floods the pipe costs the zygote reads, never memory; a stale or guessed token without the
    nonce means nothing.
    """

    def __init__(self, nonce):
        self.nonce = nonce
        self.window = b""
        self.memory_error = False
        self.limits_failed = False
        self.done_rc = None

    def feed(self, data):
        buf = self.window + data
        nonce = self.nonce
        if not self.memory_error and b"M" + nonce in buf:
            self.memory_error = True
        if not self.limits_failed and b"L" + nonce in buf:
            self.limits_failed = True
        if self.done_rc is None:
            i = buf.find(b"D" + nonce)
            end = i + 1 + len(nonce)
            if i != -1 and len(buf) > end:
                self.done_rc = buf[end]
        self.window = buf[-(len(nonce) + 2):]


def _new_nonce():
    return os.urandom(12).hex()


def _drain(fds, output, deadline, status, until_done=False, exit_fd=None):
    """Read the pipes until EOF on all of them, the deadline, the cap, or the program's exit.

    exit_fd is a pidfd: once the program itself has exited we stop waiting for EOF, because a
    process it left behind may hold the pipes open; the caller kills those, then drains the rest.
    Status bytes go to the StatusReader; with until_done, a cell's end token ends the drain.
    """
    poller = select.poll()
    for fd in fds:
        poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
    if exit_fd is not None:
        poller.register(exit_fd, select.POLLIN)
    _watch_host(poller)
    live = dict(fds)
    while live and not output.truncated:
        timeout_ms = None if deadline is None else max(0, int((deadline - time.monotonic()) * 1000))
        events = poller.poll(timeout_ms)
        if not events:
            break
        exited = False
        for fd, event in events:
            if _check_host(fd, event):
                continue
            if fd == exit_fd:
                exited = True
                continue
            try:
                data = os.read(fd, READ_CHUNK)
            except OSError:
                data = b""
            if not data:
                poller.unregister(fd)
                live.pop(fd, None)
                continue
            which = live[fd]
            if which == "status":
                status.feed(data)
                if until_done and status.done_rc is not None:
                    return
            else:
                output.feed(which, data)
        if exited:
            _drain_ready({fd: w for fd, w in live.items()}, output, status)
            break


def _pipe_nonblocking():
    r, w = os.pipe()
    os.set_blocking(r, False)
    return r, w


def _write_stdin(data):
    """A pipe pre-filled with stdin when it fits; else a scratch file (never blocks the zygote).

    The write end is non-blocking: a pipe smaller than usual (the kernel shrinks new pipes of a
    user over its pipe-buffer quota) gets the file instead of stalling the zygote.
    """
    if not data:
        return os.open(os.devnull, os.O_RDONLY)
    if len(data) <= 65536:
        r, w = os.pipe()
        os.set_blocking(w, False)
        try:
            written = os.write(w, data)
        except BlockingIOError:
            written = 0
        os.close(w)
        if written == len(data):
            return r
        os.close(r)
    path = os.path.join(Zygote.scratch, ".stdin")
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.lseek(fd, 0, os.SEEK_SET)
    finally:
        os.unlink(path)
    return fd


def _split_files(index, payload):
    """{name: bytes} from the header's [name, size] list and the payload they were packed into."""
    blobs, offset = {}, 0
    for name, size in index or ():
        blobs[name] = payload[offset:offset + size]
        offset += size
    return blobs


def _give_to_run(path_or_fd):
    """Input files belong to the run's uid, as if the program had written them itself."""
    priv = Zygote.privileges
    if priv.uid is not None:
        os.chown(path_or_fd, priv.uid, priv.gid)


def _write_files(files):
    for name, data in (files or {}).items():
        path = os.path.normpath(os.path.join(Zygote.scratch, name))
        if not path.startswith(Zygote.scratch + os.sep):
            raise ValueError("file path escapes the scratch directory: %r" % name)
        folder = Zygote.scratch
        for part in os.path.relpath(os.path.dirname(path), Zygote.scratch).split(os.sep):
            if part in ("", "."):
                continue
            folder = os.path.join(folder, part)
            if not os.path.isdir(folder):
                os.mkdir(folder)
                _give_to_run(folder)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        try:
            _give_to_run(fd)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)


class Zygote:
    scratch = "/tmp"
    scratch_mode = 0o700
    private_scratch = False
    privileges = None
    baseline = None
    session_pid = None
    session_cmd = None
    session_fds = None


def _spawn(req, payload, session=False):
    """Fork a child with fresh pipes; returns (pid, out_r, err_r, status_r, cmd_w)."""
    out_r, out_w = _pipe_nonblocking()
    err_r, err_w = _pipe_nonblocking()
    st_r, st_w = _pipe_nonblocking()
    cmd_r = cmd_w = None
    if session:
        cmd_r, cmd_w = os.pipe()
        os.set_blocking(cmd_w, False)
    stdin_fd = _write_stdin(payload)
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            os.dup2(stdin_fd, 0)
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            keep = {st_w} | ({cmd_r} if cmd_r is not None else set())
            for fd in (stdin_fd, out_w, err_w, out_r, err_r, st_r, PROTO_OUT, cmd_w):
                if fd is not None and fd > 2 and fd not in keep:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
            # Everything else of the zygote's goes (its protocol channel, /proc files it keeps open).
            lo, hi = min(keep), max(keep)
            os.closerange(3, lo)
            os.closerange(lo + 1, hi)
            os.closerange(hi + 1, 1 << 20)
            signal.signal(signal.SIGPIPE, signal.SIG_IGN)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            _first_to_go_on_oom()
            Zygote.privileges.drop()
            if session:
                session_main(req, st_w, cmd_r)
            else:
                child_main(req, st_w)
        except BaseException:
            _note(st_w, b"L" + req["nonce"].encode())
            os._exit(127)
        os._exit(0)
    for fd in (out_w, err_w, st_w, stdin_fd, cmd_r):
        if fd is not None:
            os.close(fd)
    return pid, out_r, err_r, st_r, cmd_w


def _wait_exit(pid, deadline):
    """Wait for pid to exit until the deadline; returns the raw wait status or None."""
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = None
    poller = select.poll()
    _watch_host(poller)
    if pidfd is not None:
        poller.register(pidfd, select.POLLIN)
    try:
        while True:
            try:
                wpid, st = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                return 0
            if wpid == pid:
                return st
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            wait_ms = int(remaining * 1000) + 1 if pidfd is not None else min(int(remaining * 1000) + 1, 2)
            for fd, event in poller.poll(wait_ms):
                _check_host(fd, event)
    finally:
        if pidfd is not None:
            os.close(pidfd)


def _stop(pid):
    """Stop the session process (all its threads) and wait until it is stopped or gone.

    Returns the exit status if it had exited instead, else None.
    """
    try:
        os.kill(pid, signal.SIGSTOP)
    except ProcessLookupError:
        pass
    while True:
        try:
            wpid, st = os.waitpid(pid, os.WUNTRACED)
        except ChildProcessError:
            return 0
        except InterruptedError:
            continue
        if wpid == pid:
            return None if os.WIFSTOPPED(st) else st


def _describe(st):
    if st is None:
        return None, None
    if os.WIFSIGNALED(st):
        return -os.WTERMSIG(st), os.WTERMSIG(st)
    return os.WEXITSTATUS(st), None


def _cpu_of_children():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _reset():
    """After a run: the scratch wiped and verified, and nothing of the zygote changed.

    Returns why the worker must be retired, or None when the next run gets a worker exactly as
    fresh as a new one. Every process of the run is gone before this is called.
    """
    try:
        wipe_scratch(Zygote.scratch, Zygote.scratch_mode, Zygote.private_scratch)
    except (ScratchNotClean, OSError) as exc:
        return "scratch not clean: %s" % (exc,)
    if Zygote.baseline is None:
        return None
    return Zygote.baseline.damage()


def _limits_error(header, status):
    if status.limits_failed:
        header["error"] = "zygote: the run's limits or uid could not be applied"
        header["retire"] = header.get("retire") or "limits could not be applied"
    return header


def handle_run(req, payload):
    files = req.get("files")
    stdin = payload
    if files:
        blobs = {}
        offset = 0
        for name, size in files:
            blobs[name] = payload[offset:offset + size]
            offset += size
        stdin = payload[offset:]
        _write_files(blobs)
    output = Output(int(req.get("output_bytes", 65536)))
    nonce = _new_nonce()
    req["nonce"] = nonce
    status = StatusReader(nonce.encode())
    cpu0 = _cpu_of_children()
    t0 = time.monotonic()
    deadline = t0 + float(req.get("timeout_s", 10))
    pid, out_r, err_r, st_r, _ = _spawn(req, stdin)
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = None
    _drain({out_r: 1, err_r: 2, st_r: "status"}, output, deadline, status, exit_fd=pidfd)
    if pidfd is not None:
        os.close(pidfd)
    st = _wait_exit(pid, deadline if not output.truncated else time.monotonic())
    timed_out = st is None and not output.truncated
    if st is None:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        st = _wait_exit(pid, time.monotonic() + 5)
    kill_everything_but()
    # Grandchildren are gone now, so every pipe reaches EOF: collect what they wrote before dying.
    _drain({out_r: 1, err_r: 2, st_r: "status"}, output, time.monotonic() + 1, status)
    for fd in (out_r, err_r, st_r):
        os.close(fd)
    duration = time.monotonic() - t0
    cpu = _cpu_of_children() - cpu0
    retire = _reset()
    exit_code, sig = _describe(st)
    header = {
        "exit_code": exit_code,
        "signal": sig,
        "timed_out": timed_out,
        "cpu_s": round(cpu, 6),
        "duration_s": round(duration, 6),
        "truncated": output.truncated,
        "memory_error": status.memory_error,
        "out_len": len(output.out),
        "retire": retire,
    }
    write_frame(_limits_error(header, status), bytes(output.out) + bytes(output.err))


def handle_session_open(req, payload):
    _end_session()
    retire = _reset()
    if retire:
        write_frame({"error": "zygote: " + retire, "retire": retire})
        return
    _write_files(_split_files(req.get("files"), payload))
    req["nonce"] = _new_nonce()
    pid, out_r, err_r, st_r, cmd_w = _spawn(req, b"", session=True)
    Zygote.session_pid = pid
    Zygote.session_cmd = cmd_w
    Zygote.session_fds = (out_r, err_r, st_r)
    status = StatusReader(req["nonce"].encode())
    st = _stop(pid)  # until its first cell: nothing of a session runs untimed
    _drain_ready({st_r: "status"}, Output(0), status)
    if st is not None or status.limits_failed:
        _end_session()
        write_frame(_limits_error({"error": "zygote: the session's interpreter did not start"}, status))
        return
    write_frame({"ok": True})


def handle_session_run(req, payload):
    if Zygote.session_pid is None:
        write_frame({"error": "no session is open"})
        return
    out_r, err_r, st_r = Zygote.session_fds
    output = Output(int(req.get("output_bytes", 65536)))
    nonce = _new_nonce()
    status = StatusReader(nonce.encode())
    cpu0 = _cpu_of_children()
    t0 = time.monotonic()
    deadline = t0 + float(req.get("timeout_s", 10))
    try:
        os.kill(Zygote.session_pid, signal.SIGCONT)
    except ProcessLookupError:
        pass
    cell = {"code": req["code"], "cpu_s": req.get("cpu_s"), "display": req.get("display", False), "nonce": nonce}
    if _send_cell(cell, deadline):
        _drain({out_r: 1, err_r: 2, st_r: "status"}, output, deadline, status, until_done=True)
    done = status.done_rc is not None
    st = _stop(Zygote.session_pid) if done else None
    if st is not None:  # it ended right after the marker: the cell finished, the session did not
        done = False
    exit_code = sig = None
    lost = killed = False
    if not done:
        # The cell timed out, hit the output cap, or the session process died: it cannot go on. Settle
        # the interpreter before the sweep below, whose zombie reaping would otherwise collect its exit
        # status (a CPU-limit SIGXCPU right at the deadline would then read as a clean exit).
        if st is None:
            st = _wait_exit(Zygote.session_pid, time.monotonic())
        if st is None:  # still running when the drain gave up: the deadline (or the cap) ended it
            killed = True
            os.kill(Zygote.session_pid, signal.SIGKILL)
            st = _wait_exit(Zygote.session_pid, time.monotonic() + 5)
        exit_code, sig = _describe(st)
        lost = True
    # Whatever the cell left running (threads aside) does not outlive it.
    kill_everything_but(keep=(Zygote.session_pid,) if done else ())
    if done:
        exit_code = status.done_rc
        # Output written just before the marker may still sit in the pipes.
        _drain_ready({out_r: 1, err_r: 2}, output)
    else:
        _drain({out_r: 1, err_r: 2}, output, time.monotonic() + 1, status)
        Zygote.session_pid = None
        _close_session_fds()
    retire = Zygote.baseline.damage() if Zygote.baseline is not None else None
    header = {
        "exit_code": exit_code,
        "signal": sig,
        # As for a run: a timeout is a cell we had to kill, not a clock comparison (the drain's select
        # may return a hair before the deadline it was given).
        "timed_out": killed and not output.truncated,
        "cpu_s": round(_cpu_of_children() - cpu0, 6),
        "duration_s": round(time.monotonic() - t0, 6),
        "truncated": output.truncated,
        "memory_error": status.memory_error,
        "session_lost": lost,
        "out_len": len(output.out),
        "retire": retire,
    }
    write_frame(_limits_error(header, status), bytes(output.out) + bytes(output.err))


def _send_cell(cell, deadline):
    """Write a cell to the session's command pipe without ever blocking past the deadline (the
    interpreter may be busy with something else than reading it). False if it could not."""
    data = json.dumps(cell).encode()
    view = memoryview(HEADER.pack(len(data), 0) + data)
    fd = Zygote.session_cmd
    while view:
        try:
            view = view[os.write(fd, view):]
        except BlockingIOError:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([], [fd], [], remaining)[1]:
                return False
        except OSError:
            return False
    return True


def _drain_ready(fds, output, status=None):
    """Take what is already in the pipes without waiting for more."""
    for fd, which in fds.items():
        while not output.truncated or which == "status":
            try:
                data = os.read(fd, READ_CHUNK)
            except (BlockingIOError, OSError):
                break
            if not data:
                break
            if which == "status":
                if status is not None:
                    status.feed(data)
            else:
                output.feed(which, data)


def _close_session_fds():
    for fd in (Zygote.session_cmd,) + tuple(Zygote.session_fds or ()):
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass
    Zygote.session_cmd = None
    Zygote.session_fds = None


def _end_session():
    if Zygote.session_pid is not None:
        try:
            os.kill(Zygote.session_pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        _wait_exit(Zygote.session_pid, time.monotonic() + 5)
        Zygote.session_pid = None
        _close_session_fds()
    kill_everything_but()


def handle_session_close(req, payload):
    """End the session; ``ok`` only when the worker is as clean as a fresh one (it may serve the
    next session), else ``retire`` says why it must not."""
    _end_session()
    retire = _reset()
    write_frame({"ok": not retire, "retire": retire})


HANDLERS = {
    "run": handle_run,
    "session_open": handle_session_open,
    "session_run": handle_session_run,
    "session_close": handle_session_close,
    "ping": lambda req, payload: write_frame({"ok": True}),
}


def _warm_child_paths(warmup):
    """Pay once, here, for the lazy imports and caches a child would otherwise fill on every run."""
    import traceback

    _reseed()
    try:
        raise ValueError("warm-up")
    except ValueError as exc:
        traceback.format_exception(type(exc), exc, exc.__traceback__)
    scope = {"__builtins__": builtins}
    for code in _compile("x = None\nx", "<warm-up>", True):
        exec(code, scope)
    if warmup:
        try:
            exec(compile(warmup, "<warm-up>", "exec"), {"__builtins__": builtins, "__name__": "__warmup__"})
        except Exception as exc:  # a failed warm-up only costs speed
            sys.stderr.write("zygote warm-up failed: %r\n" % (exc,))


def main():
    init, _ = read_frame()
    Zygote.scratch = os.path.realpath(init.get("scratch") or os.getcwd())
    Child.allowed = frozenset(init.get("allowed_modules", ()))
    Child.forbidden_attrs = frozenset(init.get("forbidden_attributes", ()))
    Child.filename = init.get("filename", "main.py")
    Zygote.scratch_mode = int(init.get("scratch_mode", 0o700))
    Zygote.private_scratch = bool(init.get("private_scratch"))
    Zygote.privileges = Privileges(init.get("run_uid"), init.get("run_gid"))
    os.chmod(Zygote.scratch, Zygote.scratch_mode)
    os.chdir(Zygote.scratch)
    try:
        deny_x32()
    except OSError as exc:
        if Zygote.private_scratch:  # in the jail seccomp always works: never run without the filter
            raise
        # The process backend, on a kernel without seccomp: already the weaker isolation `check` flags.
        sys.stderr.write("zygote: x32 syscall filter unavailable: %s\n" % (exc,))
    # As the jail's pid 1 we receive only signals we handle: ignoring SIGINT (Python's one handler)
    # leaves a run no signal that can stop the zygote. Children get the default handler back.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _prctl(PR_SET_DUMPABLE, 0)
    if not IS_INIT:
        _prctl(PR_SET_CHILD_SUBREAPER, 1)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    preloaded = []
    failed = {}
    for name in init.get("preload", ()):
        try:
            __import__(name)
            preloaded.append(name)
        except Exception as exc:  # a missing optional library is not fatal
            failed[name] = "%s: %s" % (type(exc).__name__, exc)
    _warm_child_paths(init.get("warmup") if preloaded else None)
    gc.collect()
    gc.freeze()  # keep the warm heap shared copy-on-write with every child
    write_frame({"ready": True, "pid": os.getpid(), "preloaded": preloaded, "failed": failed,
                 "python": sys.version.split()[0]})
    while True:
        try:
            req, payload = read_frame()
        except EOFError:
            break
        if Zygote.baseline is None:
            # Taken at the first request, after the host has set what it sets from outside.
            Zygote.baseline = Baseline()
        handler = HANDLERS.get(req.get("op"))
        if handler is None:
            write_frame({"error": "unknown op %r" % req.get("op")})
            continue
        try:
            handler(req, payload)
        except HostGone:
            break
        except BaseException as exc:  # report our own fault instead of dying silently
            kill_everything_but()
            reason = "zygote: %s: %s" % (type(exc).__name__, exc)
            write_frame({"error": reason, "retire": reason})
    kill_everything_but()


if __name__ == "__main__":
    main()
