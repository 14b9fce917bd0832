"""Process backend: the fallback where nsjail cannot run (no root, no user namespaces).

Each worker is a plain subprocess: its own session, a scrubbed environment, a private 0700 scratch
directory, rlimits per run, and (when we are root and the interpreter is reachable) its own uid.
There is no network or filesystem isolation: `check` says so loudly.

Runs share the zygote's uid here (dropping to a second uid would need the zygote to hold root), so
what separates one run from the next is the zygote's check after every run (``guest/confine.py``:
its rlimits, affinity, priorities, OOM score and memory, and an empty scratch directory): a run that
changed any of them retires its worker.
"""

from __future__ import annotations

import os
import tempfile

from .base import GUEST_ENV, ZYGOTE, Backend, WorkerSpec, world_traversable


class ProcessBackend(Backend):
    name = "process"

    def _can_drop_uid(self) -> bool:
        return os.geteuid() == 0 and world_traversable(os.path.realpath(self.config.python)) and \
            world_traversable(str(ZYGOTE))

    def describe(self) -> dict:
        return {"backend": self.name, "uid_drop": self._can_drop_uid()}

    @property
    def uid_per_worker(self) -> bool:
        return self._can_drop_uid()

    def worker_spec(self, index: int) -> WorkerSpec:
        scratch = tempfile.mkdtemp(prefix=f"retool-sandbox-w{index}-")
        user = group = None
        if self._can_drop_uid():
            user = group = self.config.uid_base + index
            os.chown(scratch, user, group)
        os.chmod(scratch, 0o700)
        env = {**GUEST_ENV, "HOME": scratch, "TMPDIR": scratch}
        return WorkerSpec(
            argv=[self.config.python, "-I", "-B", str(ZYGOTE)],
            env=env,
            scratch=scratch,
            cwd=scratch,
            user=user,
            group=group,
            cleanup=[scratch],
            guest={"run_uid": None, "scratch_mode": 0o700, "private_scratch": False},
            run_uid=user,
            zygote_uid=user,
        )
