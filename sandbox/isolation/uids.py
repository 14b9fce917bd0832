"""Host uid ranges: each `Sandbox` on a host gets its own, so no two instances share a uid.

Host uids carry per-user kernel accounting that namespaces do not separate (pipe-buffer quota,
process counts, inotify instances): two sandboxes whose workers shared a uid could starve each
other. The uid space is cut into blocks of ``UID_BLOCK`` uids; an instance takes the first run of
free blocks it needs, from ``DEFAULT_UID_START`` up, by holding an exclusive ``flock`` on one lock
file per block (``/run/retool-sandbox/uids/<block>.lock``, or under the temp dir when /run is not
writable) for its whole life. Closing the sandbox releases the locks; so does the process dying,
however it dies, since the kernel drops a dead process's flocks. The files stay (unlinking a lock
file would race with the next taker) and record the holder's pid for `check`'s messages.

An explicit ``SandboxConfig.uid_base`` is honoured, and its blocks are locked the same way, so two
instances configured with overlapping ranges fail at start-up instead of sharing uids.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from dataclasses import dataclass, field

from ..types import SandboxError

UID_BLOCK = 1024
DEFAULT_UID_START = 1 << 20  # well above distributions' user ranges and rootless containers' subuids
MAX_BLOCKS = 4096
_RUN_DIR = "/run/retool-sandbox/uids"


def lock_dir() -> str:
    """One folder per host for the lock files: /run when we may write there, else the temp dir."""
    for path in (_RUN_DIR, os.path.join(tempfile.gettempdir(), "retool-sandbox-uids")):
        with contextlib.suppress(OSError):
            os.makedirs(path, mode=0o755, exist_ok=True)
            if os.access(path, os.W_OK):
                return path
    raise SandboxError("no writable folder for uid range locks (tried /run and the temp dir)")


@dataclass
class UidLease:
    """Host uids ``[base, base + size)``, reserved for one sandbox until `release`."""

    base: int
    size: int
    _fds: list[int] = field(default_factory=list, repr=False)

    def release(self) -> None:
        for fd in self._fds:
            with contextlib.suppress(OSError):
                os.close(fd)  # closing the only descriptor drops the flock
        self._fds = []

    @property
    def held(self) -> bool:
        return bool(self._fds)


def _try_lock(folder: str, block: int) -> int | None:
    fd = os.open(os.path.join(folder, f"{block}.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def _holder(folder: str, block: int) -> str:
    with contextlib.suppress(OSError, ValueError):
        with open(os.path.join(folder, f"{block}.lock")) as f:
            return f"pid {int(f.read().strip())}"
    return "another process"


def _lock_blocks(folder: str, first: int, count: int) -> list[int] | None:
    fds = []
    for block in range(first, first + count):
        fd = _try_lock(folder, block)
        if fd is None:
            for held in fds:
                os.close(held)
            return None
        fds.append(fd)
    return fds


def lease_uids(size: int, base: int | None = None) -> UidLease:
    """Reserve ``size`` host uids: at ``base`` if given (error if another sandbox holds any of
    them), else the first free range from DEFAULT_UID_START."""
    folder = lock_dir()
    if base is not None:
        first, last = base // UID_BLOCK, (base + size - 1) // UID_BLOCK
        fds = _lock_blocks(folder, first, last - first + 1)
        if fds is None:
            taken = next((b for b in range(first, last + 1) if _try_probe(folder, b)), first)
            raise SandboxError(f"host uids {base}..{base + size - 1} (uid_base) overlap a range held by "
                               f"{_holder(folder, taken)}; choose another uid_base or leave it unset")
        return UidLease(base, size, fds)
    count = -(-size // UID_BLOCK)
    start = DEFAULT_UID_START // UID_BLOCK
    for first in range(start, start + MAX_BLOCKS, count):
        fds = _lock_blocks(folder, first, count)
        if fds is not None:
            return UidLease(first * UID_BLOCK, size, fds)
    raise SandboxError(f"no free host uid range: {MAX_BLOCKS // count} sandboxes already run on this host")


def _try_probe(folder: str, block: int) -> bool:
    """True if the block is held by someone (probing takes and drops the lock at once)."""
    fd = _try_lock(folder, block)
    if fd is None:
        return True
    os.close(fd)
    return False


__all__ = ["DEFAULT_UID_START", "UID_BLOCK", "UidLease", "lease_uids", "lock_dir"]
