"""Configuration: limits with per-call overrides capped by configured maxima, and the allowlist."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field, replace
from typing import Literal

from .types import SandboxError

# The standard library's math, text and data modules, plus the numeric libraries models reach for.
DEFAULT_ALLOWED_MODULES: frozenset[str] = frozenset(
    {
        # math and numbers
        "math", "cmath", "fractions", "decimal", "numbers", "statistics", "random",
        # iteration and functional tools
        "itertools", "functools", "operator", "collections", "heapq", "bisect", "array",
        "copy", "contextlib", "abc", "atexit", "enum", "dataclasses", "typing", "types", "typing_extensions",
        # text
        "re", "string", "textwrap", "unicodedata", "difflib", "pprint", "reprlib",
        # data formats and misc
        "json", "csv", "datetime", "calendar", "time", "sys", "warnings", "traceback", "hashlib",
        "base64", "binascii", "struct", "io", "zlib", "queue", "threading", "weakref", "__future__",
        # third-party numeric libraries (imported only where installed)
        "numpy", "sympy", "scipy", "mpmath", "networkx",
    }
)

DEFAULT_PRELOAD: tuple[str, ...] = ("numpy", "sympy")


def default_python() -> str:
    """This interpreter as a clean absolute path: started as ``../venv/bin/python``, ``sys.executable``
    keeps the ``..`` (through folders the jail does not mount, so its execve fails). Symlinks are kept:
    resolving them would leave the venv for the base interpreter and lose the venv's packages."""
    return os.path.abspath(sys.executable)

# Run once in each warm worker before it forks any run: sympy fills its caches and imports solver
# modules lazily, so a child forked after this pays milliseconds instead of ~150 ms on its first solve.
DEFAULT_WARMUP = """
try:
    import sympy as _sp
    _x, _y = _sp.symbols("x y")
    _sp.solve([_x + _y - 3, _x - _y - 1], [_x, _y])
    _sp.solve(_x**2 - 5*_x + 6, _x)
    _sp.simplify(_sp.sin(_x)**2 + _sp.cos(_x)**2)
    _sp.factor(_x**3 - 1); _sp.expand((_x + 1)**5); _sp.integrate(_x**2, (_x, 0, 1))
    _sp.Rational(3, 4) + _sp.sqrt(2); _sp.nsimplify(0.5); _sp.isprime(97); _sp.factorint(360)
    _sp.series(_sp.exp(_x), _x, 0, 4); _sp.limit(_sp.sin(_x) / _x, _x, 0); _sp.Matrix([[1, 2], [3, 4]]).det()
    _sp.latex(_x**2); _sp.N(_sp.pi, 20); _sp.summation(_x, (_x, 1, 10)); _sp.diff(_sp.sin(_x), _x)
except ImportError:
    pass
try:
    import numpy as _np
    _np.linalg.solve(_np.eye(2), _np.ones(2)); _np.roots([1, -3, 2]); _np.linalg.eigvals(_np.eye(2))
except ImportError:
    pass
"""

Isolation = Literal["auto", "nsjail", "process"]


@dataclass(frozen=True)
class Limits:
    """Per-run limits after defaults and caps are applied: what a worker enforces."""

    timeout_s: float
    cpu_s: float
    memory_mb: int
    output_bytes: int


@dataclass(frozen=True)
class SandboxConfig:
    """How the sandbox runs programs. Per-call overrides may lower or raise a limit up to its max_*."""

    timeout_s: float = 10.0
    memory_mb: int = 1024
    cpu_s: float | None = None  # defaults to timeout_s
    output_bytes: int = 64 * 1024  # stdout + stderr together
    max_timeout_s: float = 300.0
    max_memory_mb: int = 8192
    max_output_bytes: int = 16 * 1024 * 1024
    max_processes: int = 64  # processes + threads per worker (cgroup pids, RLIMIT_NPROC)
    max_file_bytes: int = 64 * 1024 * 1024  # RLIMIT_FSIZE: largest file a program may write
    scratch_mb: int = 128  # tmpfs size of the scratch directory
    max_open_files: int = 256
    max_code_bytes: int = 1024 * 1024
    max_stdin_bytes: int = 16 * 1024 * 1024
    workers: int | None = None  # warm workers; default: one per core, at least 2
    max_pending: int = 100_000  # runs waiting for a worker before run() itself waits (backpressure)
    isolation: Isolation = "auto"
    allowed_modules: frozenset[str] = DEFAULT_ALLOWED_MODULES
    preload: tuple[str, ...] = DEFAULT_PRELOAD
    warmup: str = DEFAULT_WARMUP  # trusted code each warm worker runs once after preloading
    policy: bool = True
    disabled_rules: frozenset[str] = frozenset()
    max_sessions: int = 64
    session_idle_s: float = 600.0
    python: str = field(default_factory=lambda: default_python())
    uid_base: int | None = None  # first host uid of this instance's range; None: a free range (isolation/uids.py)
    nice: int = 0  # scheduling niceness of jailed workers (nsjail's own default would be 19)
    cpu_cores_per_worker: float = 1.0  # cgroup CPU quota per worker; 0 disables it
    start_timeout_s: float = 120.0

    def __post_init__(self) -> None:
        checks = {
            "timeout_s": self.timeout_s > 0,
            "memory_mb": self.memory_mb >= 16,
            "output_bytes": self.output_bytes > 0,
            "max_processes": self.max_processes >= 4,
            "scratch_mb": self.scratch_mb >= 1,
            "max_open_files": self.max_open_files >= 16,
            "max_code_bytes": self.max_code_bytes > 0,
            "max_pending": self.max_pending > 0,
            "max_sessions": self.max_sessions > 0,
            "session_idle_s": self.session_idle_s > 0,
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise SandboxError(f"invalid SandboxConfig value(s): {', '.join(bad)}")
        if self.workers is not None and self.workers < 1:
            raise SandboxError("SandboxConfig.workers must be at least 1")
        if self.isolation not in ("auto", "nsjail", "process"):
            raise SandboxError(f"isolation must be 'auto', 'nsjail' or 'process', not {self.isolation!r}")
        for name, value, cap in (
            ("timeout_s", self.timeout_s, self.max_timeout_s),
            ("memory_mb", self.memory_mb, self.max_memory_mb),
            ("output_bytes", self.output_bytes, self.max_output_bytes),
        ):
            if value > cap:
                raise SandboxError(f"{name}={value} exceeds its maximum {cap}")

    @property
    def worker_count(self) -> int:
        return self.workers or max(2, os.cpu_count() or 1)

    @property
    def worker_slots(self) -> int:
        """Workers that can exist at once: the pool, one per live session, and kept spares."""
        return self.worker_count + self.max_sessions + min(self.worker_count, self.max_sessions)

    @property
    def host_uids(self) -> int:
        """Host uids one instance uses: per worker slot, one for its runs and one for its zygote."""
        return 2 * self.worker_slots

    def with_(self, **changes) -> "SandboxConfig":
        return replace(self, **changes)

    def limits(
        self,
        timeout_s: float | None = None,
        memory_mb: int | None = None,
        output_bytes: int | None = None,
        cpu_s: float | None = None,
    ) -> Limits:
        """Apply per-call overrides; a value above its maximum is an error the caller can fix."""
        t = self.timeout_s if timeout_s is None else float(timeout_s)
        m = self.memory_mb if memory_mb is None else int(memory_mb)
        o = self.output_bytes if output_bytes is None else int(output_bytes)
        if not 0 < t <= self.max_timeout_s:
            raise SandboxError(f"timeout_s={t} must be in (0, {self.max_timeout_s}]")
        if not 16 <= m <= self.max_memory_mb:
            raise SandboxError(f"memory_mb={m} must be in [16, {self.max_memory_mb}]")
        if not 0 < o <= self.max_output_bytes:
            raise SandboxError(f"output_bytes={o} must be in (0, {self.max_output_bytes}]")
        c = cpu_s if cpu_s is not None else (self.cpu_s if self.cpu_s is not None else t)
        return Limits(timeout_s=t, cpu_s=min(float(c), t) if c else t, memory_mb=m, output_bytes=o)
