"""Which cgroup hierarchy limits the jails: v1 controllers, nsjail's cgroup v2 mode, or none.

Most current hosts and Kubernetes nodes mount only cgroup v2. There, nsjail's v1 options find no
`/sys/fs/cgroup/memory` and memory/pids limits fall back to rlimits. nsjail also has a v2 mode
(`use_cgroupv2`, `cgroupv2_mount`): it creates `<cgroupv2_mount>/NSJAIL.<pid>` per jail and writes
`memory.max`, `pids.max`, `cpu.max` there, provided the controllers are enabled in
`<cgroupv2_mount>/cgroup.subtree_control`.

We never point nsjail at the mount's root: in a container that is the container's own cgroup, which
holds processes, and cgroup v2's "no internal processes" rule then refuses to enable controllers for
children (nsjail would move itself into an `NSJAIL_SELF.<pid>` group it never removes). Instead:

    <our cgroup>/                 controllers enabled for children
        retool-host/              this process, moved here when our cgroup is not the real root
        retool-sandbox/           cgroupv2_mount: memory, pids (and cpu) enabled; holds no process
            NSJAIL.<pid>/         one per jail, made and removed by nsjail

`plan_cgroups` decides from the mount table and the tree alone (pure, so tests give it fake ones);
`prepare_cgroupv2` makes the folders and enables the controllers. Both report why v2 cannot be used
(controllers not delegated, other processes in our cgroup, read-only tree) instead of failing later.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

# Controllers a jail must have for its limits to hold; cpu is a bonus (a per-worker CPU quota).
REQUIRED = ("memory", "pids")
OPTIONAL = ("cpu",)
SANDBOX_GROUP = "retool-sandbox"
HOST_LEAF = "retool-host"
JAIL_PREFIX = "NSJAIL."
# cgroup v1 gives each process group 1024 cpu.shares; v2's cpu.weight default is 100.
V2_WEIGHT_PER_WORKER = 100
V2_MAX_WEIGHT = 10_000


class CgroupVersion(str, enum.Enum):
    V1 = "v1"  # memory and pids are v1 hierarchies (nsjail's default options)
    V2 = "v2"  # memory and pids are on a cgroup2 mount: nsjail's use_cgroupv2 mode
    NONE = "none"  # neither: rlimits only

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class CgroupMount:
    """One cgroup or cgroup2 line of /proc/self/mountinfo."""

    mountpoint: str
    fstype: str  # "cgroup" (v1) or "cgroup2"
    root: str  # the part of the hierarchy the mount shows ("/" unless a container bind-mounts a subtree)
    controllers: frozenset[str] = frozenset()  # v1: the controllers bound to this hierarchy


@dataclass(frozen=True)
class HostView:
    """What the decision reads: the mount table, our own cgroup, and a filesystem root.

    `root` is "/" on a real host; tests put a fake cgroup tree below a temporary folder.
    """

    mountinfo: str
    self_cgroup: str
    root: Path = Path("/")
    pid: int = field(default_factory=os.getpid)

    @classmethod
    def current(cls) -> "HostView":
        return cls(Path("/proc/self/mountinfo").read_text(), Path("/proc/self/cgroup").read_text())

    def path(self, absolute: str) -> Path:
        return self.root / absolute.lstrip("/")


@dataclass(frozen=True)
class CgroupPlan:
    """The hierarchy to use and, for v2, where the jails' groups go. `problem` says why not v2."""

    version: CgroupVersion
    controllers: tuple[str, ...] = ()  # usable for the jails
    base: Path | None = None  # v2: our own cgroup, which delegates to the two below
    problem: str | None = None

    @property
    def sandbox_group(self) -> Path | None:
        return self.base / SANDBOX_GROUP if self.base is not None else None

    @property
    def host_leaf(self) -> Path | None:
        return self.base / HOST_LEAF if self.base is not None else None

    def nsjail_options(self) -> dict[str, object]:
        """NsJailConfig fields for this plan (none for v1: nsjail's defaults are the v1 paths)."""
        if self.version is not CgroupVersion.V2:
            return {}
        return {"use_cgroupv2": True, "cgroupv2_mount": str(self.sandbox_group)}

    def jail_group(self, jailed_pid: int) -> Path | None:
        """The v2 group nsjail makes for the jailed process with this host pid."""
        group = self.sandbox_group
        return group / f"{JAIL_PREFIX}{jailed_pid}" if group is not None else None


def parse_mountinfo(text: str) -> list[CgroupMount]:
    """The cgroup mounts in /proc/<pid>/mountinfo (fields: id parent dev root mountpoint opts [tags] - type src superopts)."""
    mounts = []
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 1 or tail[0] not in ("cgroup", "cgroup2"):
            continue
        supers = set(tail[2].split(",")) if len(tail) > 2 else set()
        controllers = frozenset(supers & {"memory", "pids", "cpu", "cpuacct", "cpuset", "io", "blkio"}) \
            if tail[0] == "cgroup" else frozenset()
        mounts.append(CgroupMount(mountpoint=_unescape(fields[4]), fstype=tail[0], root=_unescape(fields[3]),
                                  controllers=controllers))
    return mounts


def own_v2_path(self_cgroup: str) -> str | None:
    """Our path in the unified hierarchy: the `0::/path` line of /proc/self/cgroup."""
    for line in self_cgroup.splitlines():
        hid, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if hid == "0" and controllers == "":
            return path
    return None


def plan_cgroups(view: HostView) -> CgroupPlan:
    """Decide which hierarchy limits the jails; reads files, changes nothing."""
    mounts = parse_mountinfo(view.mountinfo)
    v1 = {ctl for m in mounts if m.fstype == "cgroup" for ctl in m.controllers}
    if set(REQUIRED) <= v1:
        return CgroupPlan(CgroupVersion.V1, tuple(c for c in (*REQUIRED, *OPTIONAL) if c in v1))
    v2_mounts = sorted((m for m in mounts if m.fstype == "cgroup2"),
                       key=lambda m: (m.mountpoint != "/sys/fs/cgroup", m.mountpoint))
    if not v2_mounts:
        return CgroupPlan(CgroupVersion.NONE, problem="no cgroup2 mount and no v1 memory/pids hierarchies")
    mount = v2_mounts[0]
    own = own_v2_path(view.self_cgroup)
    if own is None:
        return CgroupPlan(CgroupVersion.NONE, problem="/proc/self/cgroup has no cgroup v2 ('0::') line")
    if not (own == mount.root or own.startswith(mount.root.rstrip("/") + "/")):
        return CgroupPlan(CgroupVersion.NONE, problem=f"our cgroup {own} is outside the part of the hierarchy "
                          f"mounted at {mount.mountpoint} ({mount.root})")
    relative = own[len(mount.root.rstrip("/")):].strip("/")
    # Already set up by an earlier start in this process: we sit in our own host leaf.
    if relative == HOST_LEAF or relative.endswith("/" + HOST_LEAF):
        relative = relative[: -len(HOST_LEAF)].rstrip("/")
    base = view.path(mount.mountpoint) / relative if relative else view.path(mount.mountpoint)
    try:
        offered = set((base / "cgroup.controllers").read_text().split())
    except OSError as exc:
        return CgroupPlan(CgroupVersion.NONE, problem=f"cannot read {base}/cgroup.controllers: {exc}")
    missing = [c for c in REQUIRED if c not in offered]
    if missing:
        taken = sorted(set(missing) & v1)
        why = (f"bound to cgroup v1 hierarchies ({', '.join(taken)})" if taken else
               "not delegated to this cgroup (systemd: Delegate=yes; containers: a cgroup of their own)")
        return CgroupPlan(CgroupVersion.NONE, base=base,
                          problem=f"cgroup v2 at {base} lacks {', '.join(missing)}: {why}")
    if not os.access(base, os.W_OK):
        return CgroupPlan(CgroupVersion.NONE, base=base, problem=f"cgroup v2 at {base} is not writable by us")
    return CgroupPlan(CgroupVersion.V2, tuple(c for c in (*REQUIRED, *OPTIONAL) if c in offered), base=base)


def prepare_cgroupv2(plan: CgroupPlan, view: HostView, workers: int = 1) -> CgroupPlan:
    """Make the v2 layout for `plan` and enable its controllers; the plan with what is usable.

    On failure the plan comes back as NONE with the reason, so the caller warns and keeps rlimits.
    """
    if plan.version is not CgroupVersion.V2:
        return plan
    base, group, leaf = plan.base, plan.sandbox_group, plan.host_leaf
    try:
        if _holds_processes(base):
            # "No internal processes": a non-root group with processes cannot enable controllers
            # for its children. Move ourselves (only ourselves) into a leaf first.
            leaf.mkdir(exist_ok=True)
            (leaf / "cgroup.procs").write_text(str(view.pid))
            others = [p for p in _procs(base) if p != view.pid]
            if others:
                return replace(plan, version=CgroupVersion.NONE, controllers=(), problem=(
                    f"cgroup v2 at {base} also holds processes we did not start (pids {others[:5]}); "
                    "run the sandbox host in a cgroup of its own to get cgroup limits"))
        group.mkdir(exist_ok=True)
        usable = []
        for ctl in plan.controllers:
            try:
                _enable(base, ctl)
                _enable(group, ctl)
                usable.append(ctl)
            except OSError:
                if ctl in REQUIRED:
                    raise
        remove_stale_jail_groups(group)
        if "cpu" in usable:
            _raise_weight(group, workers)
    except OSError as exc:
        return replace(plan, version=CgroupVersion.NONE, controllers=(),
                       problem=f"cannot set up cgroup v2 below {base}: {exc}")
    return replace(plan, controllers=tuple(usable))


def host_cgroupv2(workers: int = 1) -> CgroupPlan:
    """Plan and prepare on this host (a no-op returning the plan on v1 hosts)."""
    view = HostView.current()
    return prepare_cgroupv2(plan_cgroups(view), view, workers)


def remove_stale_jail_groups(group: Path) -> None:
    """Remove the empty groups of jails whose nsjail was killed (it removes them itself otherwise)."""
    for child in group.glob(f"{JAIL_PREFIX}*"):
        pid = child.name[len(JAIL_PREFIX):]
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            try:
                child.rmdir()
            except OSError:
                pass  # still has processes or already gone: both fine to leave to the next start


# ---------------------------------------------------------------------- helpers

def _unescape(field_text: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal."""
    return field_text.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def _procs(group: Path) -> list[int]:
    return [int(p) for p in (group / "cgroup.procs").read_text().split() if p.isdigit()]


def _holds_processes(group: Path) -> bool:
    """True when `group` has processes and the no-internal-processes rule applies (not the real root,
    which alone lacks cgroup.type)."""
    return (group / "cgroup.type").exists() and bool(_procs(group))


def _enable(group: Path, controller: str) -> None:
    current = {c.lstrip("+") for c in (group / "cgroup.subtree_control").read_text().split()}
    if controller not in current:
        with open(group / "cgroup.subtree_control", "a") as f:  # as `echo +memory >> ...`
            f.write(f"+{controller}\n")


def _raise_weight(group: Path, workers: int) -> None:
    """Give the jails' parent the CPU weight of `workers` ordinary groups (as v1's cpu.shares does)."""
    path = group / "cpu.weight"
    try:
        current = int(path.read_text())
    except (OSError, ValueError):
        return
    wanted = min(V2_MAX_WEIGHT, V2_WEIGHT_PER_WORKER * max(1, workers))
    if wanted > current:
        path.write_text(str(wanted))


__all__ = [
    "CgroupMount",
    "CgroupPlan",
    "CgroupVersion",
    "HostView",
    "host_cgroupv2",
    "own_v2_path",
    "parse_mountinfo",
    "plan_cgroups",
    "prepare_cgroupv2",
    "remove_stale_jail_groups",
]
