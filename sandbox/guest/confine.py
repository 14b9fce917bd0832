"""What keeps a run from acting on the zygote that forked it (runs inside the jail, stdlib only).

Two layers, see ``sandbox/isolation/__init__.py`` for the design:

- ``Privileges``: under nsjail the zygote runs as its own uid and keeps a handful of capabilities
  (setuid/setgid to become the run's uid, kill to end the run's processes, chown/fowner/dac_override
  to hand input files to the run and to wipe whatever it leaves). Every forked run drops to the run
  uid and clears every capability, so prlimit, sched_setaffinity, setpriority, ioprio_set and kill
  on the zygote all need a privilege the run lacks.
- ``Baseline``: a snapshot of everything of the zygote a run could change if it shared the zygote's
  uid (the process backend) — rlimits, CPU affinity, niceness, I/O priority, OOM score, resident
  memory — checked after every run; a difference retires the worker.

Also here: a seccomp filter for the x32 syscall ABI, which nsjail's policy compiler lets through.
"""

import ctypes
import os
import platform
import resource

PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
PR_CAPBSET_DROP = 24
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
_LINUX_CAPABILITY_VERSION_3 = 0x20080522

# ioprio_get by architecture (the kernel has no libc wrapper for it).
_IOPRIO_GET = {"x86_64": 252, "aarch64": 31}
_IOPRIO_WHO_PROCESS = 1

AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000
EPERM = 1

# Resident memory the zygote may gain over its start-up size before it counts as damaged; generous,
# since output buffers of up to max_output_bytes come and go through the allocator.
RSS_SLACK = 256 << 20


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def _libc():
    return ctypes.CDLL(None, use_errno=True)


class Privileges:
    """The run's uid and gid, and how to drop to them in a freshly forked child.

    Set up once in the zygote (ctypes loaded, capability structs built) so the per-run cost is a
    few syscalls. ``uid`` None means runs keep the zygote's uid (the process backend).
    """

    def __init__(self, uid=None, gid=None):
        self.uid = uid
        self.gid = gid
        self.libc = _libc()
        self.bounding = _bounding_caps() if uid is not None else ()
        self._hdr = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
        self._none = (_CapData * 2)()

    def drop(self):
        """In the forked child, before any of the run's code: become the run uid with no capability.

        Raises OSError if any step fails: the child must then not run the program.
        """
        if self.uid is None:
            return
        libc = self.libc
        for cap in self.bounding:  # needs CAP_SETPCAP, so before the capabilities go
            if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
                raise OSError(ctypes.get_errno(), "PR_CAPBSET_DROP %d" % cap)
        if libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "PR_CAP_AMBIENT_CLEAR_ALL")
        try:
            os.setgroups([])
        except OSError:
            if os.getgroups():
                raise
        os.setresgid(self.gid, self.gid, self.gid)
        os.setresuid(self.uid, self.uid, self.uid)
        # The zygote's uid is not 0, so changing uid kept its capabilities: clear all three sets.
        if libc.capset(ctypes.byref(self._hdr), self._none) != 0:
            raise OSError(ctypes.get_errno(), "capset")
        # The uid change made the run non-dumpable, which would hide its own processes from each
        # other in /proc (hidepid); the zygote is another uid and stays hidden either way.
        libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)


def _bounding_caps():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapBnd:"):
                mask = int(line.split()[1], 16)
                return tuple(i for i in range(64) if mask >> i & 1)
    return ()


def deny_x32():
    """Refuse every syscall made through the x32 ABI (number with bit 30 set) with EPERM.

    nsjail's kafel policy checks the architecture but not the x32 bit, so on a kernel built with
    x32 support those calls would reach the kernel unfiltered. Installed once in the zygote; every
    run inherits it and cannot remove it. A no-op on other architectures.
    """
    if platform.machine() != "x86_64":
        return
    ld_abs, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06
    prog = [
        (ld_abs, 0, 0, 4),  # A = arch
        (jeq, 0, 3, AUDIT_ARCH_X86_64),  # not x86_64: leave it to the other filters
        (ld_abs, 0, 0, 0),  # A = syscall number
        (jge, 0, 1, X32_SYSCALL_BIT),
        (ret, 0, 0, 0x00050000 | EPERM),  # SECCOMP_RET_ERRNO | EPERM
        (ret, 0, 0, 0x7FFF0000),  # SECCOMP_RET_ALLOW
    ]
    filters = (_SockFilter * len(prog))(*[_SockFilter(*ins) for ins in prog])
    fprog = _SockFprog(len(prog), filters)
    libc = _libc()
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS")
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "seccomp x32 filter")


_RLIMITS = tuple(sorted(getattr(resource, n) for n in dir(resource) if n.startswith("RLIMIT_")))


class Baseline:
    """What of the zygote a run could have changed, as it was when the zygote became ready."""

    def __init__(self):
        self.libc = _libc()
        self._ioprio_nr = _IOPRIO_GET.get(platform.machine())
        # Kept open: a pread per check instead of an open per run (children close every fd above 2).
        self._statm = os.open("/proc/self/statm", os.O_RDONLY | os.O_CLOEXEC)
        try:
            self._oom = os.open("/proc/self/oom_score_adj", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            self._oom = None
        self.state = self._snapshot()
        self.rss = self._rss()

    def _ioprio(self):
        if self._ioprio_nr is None:
            return None
        return self.libc.syscall(self._ioprio_nr, _IOPRIO_WHO_PROCESS, 0)

    def _snapshot(self):
        return (
            tuple(resource.getrlimit(r) for r in _RLIMITS),
            frozenset(os.sched_getaffinity(0)),
            os.getpriority(os.PRIO_PROCESS, 0),
            os.sched_getscheduler(0),
            self._ioprio(),
            None if self._oom is None else int(os.pread(self._oom, 32, 0)),
        )

    def _rss(self):
        return int(os.pread(self._statm, 128, 0).split()[1]) * resource.getpagesize()

    def damage(self):
        """None if nothing changed; else what did (the worker is then retired)."""
        now = self._snapshot()
        if now != self.state:
            names = ("rlimits", "cpu affinity", "niceness", "scheduling policy", "i/o priority", "oom score")
            changed = [n for n, a, b in zip(names, self.state, now) if a != b]
            return "the zygote's %s changed during a run" % ", ".join(changed)
        rss = self._rss()
        if rss > self.rss + RSS_SLACK:
            return "the zygote grew from %d to %d MB" % (self.rss >> 20, rss >> 20)
        return None


__all__ = ["Baseline", "Privileges", "deny_x32"]
