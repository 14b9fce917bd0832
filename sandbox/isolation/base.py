"""What every isolation backend provides: the command that starts one jailed zygote."""

from __future__ import annotations

import abc
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..config import SandboxConfig
from .cgroups import CgroupVersion

GUEST_DIR = Path(__file__).resolve().parent.parent / "guest"
ZYGOTE = GUEST_DIR / "zygote.py"

# Same for every backend: nothing from the host environment, thread pools pinned to one thread
# (numpy's OpenBLAS otherwise reserves memory per core and trips low memory limits).
GUEST_ENV: dict[str, str] = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "PYTHONIOENCODING": "utf-8",
    "PYTHONDONTWRITEBYTECODE": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
    "MPLBACKEND": "Agg",
}


@dataclass
class WorkerSpec:
    """Everything needed to start one worker process: argv, environment, where its scratch is."""

    argv: list[str]
    env: dict[str, str]
    scratch: str  # the scratch directory as the zygote sees it
    cwd: str | None = None
    user: int | None = None
    group: int | None = None
    cleanup: list[str] = field(default_factory=list)  # host paths to remove when the worker ends
    jailed: bool = False  # argv starts a jail (nsjail) whose child is the zygote
    cgroup_controllers: tuple[str, ...] = ()  # controllers the jail puts the zygote under
    cgroup_version: CgroupVersion = CgroupVersion.V1  # the hierarchy they are in
    cgroup_v2_group: str | None = None  # v2: the folder nsjail makes each jail's group in
    guest: dict = field(default_factory=dict)  # start-up settings for the zygote (run uid, scratch mode)
    run_uid: int | None = None  # host uid the worker's runs have (None: the host's own)
    zygote_uid: int | None = None  # host uid of the zygote itself


class Backend(abc.ABC):
    name: str

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config

    @abc.abstractmethod
    def worker_spec(self, index: int) -> WorkerSpec:
        """The command for worker number `index` (distinct per concurrent worker)."""

    def describe(self) -> dict:
        return {"backend": self.name}

    def close(self) -> None:
        """Remove what the backend made on the host (config files); its workers are gone by now."""

    @property
    def uid_per_worker(self) -> bool:
        """True when each worker has a uid of its own, so RLIMIT_NPROC counts only its processes."""
        return True


def python_mount_roots(python: str) -> list[str]:
    """Directories the interpreter needs: its prefix, base prefix, and where its binary lives."""
    import subprocess

    out = subprocess.run(
        [python, "-I", "-c", "import sys; print(sys.prefix); print(sys.base_prefix); print(sys.executable)"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.split("\n")
    prefix, base_prefix, exe = out[0], out[1], out[2]
    roots = {prefix, base_prefix}
    real_exe = os.path.realpath(exe)
    if not any(real_exe.startswith(r.rstrip("/") + "/") for r in roots):
        roots.add(os.path.dirname(real_exe))
    return sorted(roots)


def world_traversable(path: str) -> bool:
    """True if every directory on the way to path lets 'other' users pass (o+x)."""
    p = Path(path)
    for part in [p, *p.parents]:
        try:
            if not part.stat().st_mode & 0o001:
                return False
        except OSError:
            return False
    return True
