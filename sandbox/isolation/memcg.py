"""The memory cgroup of one jail, in either hierarchy: what it holds, its limit, its OOM kills.

The host bounds each run by its jail's memory cgroup (the zygote's own resident memory plus the run's
allowance, set before every run) and tells a run the OOM killer ended from one that crashed by the
cgroup's OOM-kill count before and after. cgroup v1 and v2 name the same three facts differently;
reading v1's names on a v2 host finds no files, and silently leaves every run with the jail-wide
ceiling and every OOM kill unexplained. So the names live here, once per version.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

from .cgroups import CgroupVersion

__all__ = ["MemoryFiles", "JailMemory", "memory_files"]


@dataclass(frozen=True)
class MemoryFiles:
    """Where one hierarchy keeps a memory cgroup's resident memory, limit and OOM-kill count."""

    resident: tuple[str, str]  # (file, key) of a `key value` file
    limit: str  # the file the limit in bytes is written to
    oom_kills: tuple[str, str]


_V1 = MemoryFiles(resident=("memory.stat", "total_rss"), limit="memory.limit_in_bytes",
                  oom_kills=("memory.oom_control", "oom_kill"))
# v2: anonymous memory is v1's rss; memory.events counts OOM kills in the group and below (kernel 4.13+).
_V2 = MemoryFiles(resident=("memory.stat", "anon"), limit="memory.max", oom_kills=("memory.events", "oom_kill"))


def memory_files(version: CgroupVersion) -> MemoryFiles:
    if version is CgroupVersion.V2:
        return _V2
    if version is CgroupVersion.V1:
        return _V1
    raise ValueError(f"no memory cgroup files for cgroup version {version}")


@dataclass(frozen=True)
class JailMemory:
    """One jail's memory cgroup folder. Reads give None when the folder or the line is gone (the jail
    ended, or the kernel lacks the counter): callers treat that as "unknown", never as zero kills."""

    path: str
    version: CgroupVersion

    def _value(self, name: tuple[str, str]) -> int | None:
        filename, key = name
        with contextlib.suppress(OSError, ValueError):
            with open(os.path.join(self.path, filename)) as f:
                for line in f:
                    found, _, value = line.partition(" ")
                    if found == key:
                        return int(value)
        return None

    def resident(self) -> int | None:
        """Bytes of anonymous memory the group's processes hold now."""
        return self._value(memory_files(self.version).resident)

    def oom_kills(self) -> int | None:
        """Processes of the group the OOM killer has ended so far."""
        return self._value(memory_files(self.version).oom_kills)

    def set_limit(self, limit_bytes: int) -> bool:
        """Write the group's hard limit; False when the kernel refused it (below current usage on v1,
        or the folder is gone)."""
        try:
            with open(os.path.join(self.path, memory_files(self.version).limit), "w") as f:
                f.write(str(int(limit_bytes)))
            return True
        except OSError:
            return False
