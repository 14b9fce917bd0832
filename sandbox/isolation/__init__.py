"""How a warm worker is confined: nsjail where it can run, a process backend elsewhere.

`select_backend` makes the choice and records why, so `python -m sandbox check` can say it.

What separates one run from the next (issue 10). A worker is one long-lived zygote that forks every
run, so anything a run can change about the zygote, or anything else that outlives the run, would
reach every later run on that worker. Two designs were possible: a per-run check of everything a run
could have changed (retiring the worker when something did), or a boundary that makes those changes
impossible. The boundary is the primary design, because a check only covers the list someone thought
of, while a missing privilege covers everything that privilege guards:

- Under nsjail the zygote and the runs have different uids (two host uids per worker, from a range
  of the instance's own, see `uids`). The zygote keeps only the capabilities it needs in the jail's
  user namespace (become the run uid, kill the run's processes, wipe what a run left); a forked run
  drops to the run uid and clears every capability and its bounding set before any of its code.
  prlimit, sched_setaffinity, setpriority, ioprio_set, kill and ptrace on the zygote then all need a
  privilege the run lacks, and /proc (hidepid) does not even show it. The scratch root belongs to
  the zygote, so a run cannot change its mode.
- What a run may change (its scratch files, its own processes) is reset after every run and then
  verified: every process in the jail killed, the scratch emptied by an fd-relative, iterative wipe
  and checked empty with its tmpfs holding no data.
- The per-run check stays as a second layer, and is the main one for the process backend, where
  runs share the zygote's uid (a second uid would need a root zygote): after every run the zygote
  compares its rlimits, CPU affinity, niceness, scheduling policy, I/O priority, OOM score and
  resident memory with their values at its first request. Any difference, a scratch that is not
  clean, or any error of ours retires the worker: it is closed and replaced, never queued again, and
  a session's worker is kept as a spare only when its reset came back clean.
- Every buffer the zygote keeps for a run is capped (output by the run's limit, the status pipe read
  through a fixed window), and status tokens carry a per-run nonce. A session's interpreter is
  stopped (SIGSTOP) between cells, so a cell that forges its own end gains nothing: nothing of it
  runs until the next cell, whose deadline then counts.

Not closed: runs share the worker's memory cgroup with the zygote, and a run may lower its OOM score
back to the zygote's (only CAP_SYS_RESOURCE could set a floor), so a run built for it can make the
zygote the OOM victim. That costs the attacker's run (sandbox_error) and its worker, which is replaced;
no other run sees anything. Closing it needs the runs in a memory cgroup of their own.
"""

from .base import Backend, WorkerSpec
from .choose import BackendChoice, select_backend

__all__ = ["Backend", "BackendChoice", "WorkerSpec", "select_backend"]
