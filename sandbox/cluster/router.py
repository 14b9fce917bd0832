"""Which node's sandbox takes the next run or session: least loaded relative to its size.

Pure bookkeeping, no Ray: the cluster tells it about nodes, runs and sessions, and asks it where
to go. A node's load is what this router has in flight there, or what the node last reported
(other routers, e.g. one per trainer process, share the node), whichever is higher, plus its open
sessions (each holds a worker), divided by the node's worker count. Ties go round-robin so equal
nodes fill evenly. Sessions never move: their runs go to the node that holds them (affinity).

Up to `SCAN_LIMIT` ready nodes the least loaded is found by a scan; beyond, by the better of two
nodes drawn at random ("power of two choices"), which keeps the maximum load within a small
additive term of the best while costing the same at 64 or 1,000 nodes as at 2.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ..types import SandboxError


class NoSandboxNodes(SandboxError):
    """No node has a live sandbox actor right now (all starting, replacing, or none selected).

    Retryable: actors are being replaced or the cluster has no nodes matching the selection yet.
    """


@dataclass
class NodeLoad:
    """What the router knows about one node's sandbox."""

    key: str
    capacity: int  # warm workers
    inflight: int = 0  # runs this router has sent and not had back
    sessions: int = 0  # sessions this router holds there
    reported: int = 0  # runs in flight there as the node last reported (all routers together)
    ready: bool = True  # False while its actor starts or is being replaced

    @property
    def load(self) -> float:
        return (max(self.inflight, self.reported) + self.sessions) / self.capacity


SCAN_LIMIT = 16


class Router:
    def __init__(self, seed: int | None = None) -> None:
        self._nodes: dict[str, NodeLoad] = {}
        self._ready: list[NodeLoad] | None = None  # cache of the ready nodes; None when stale
        self._turn = 0
        self._random = random.Random(seed)

    # ---------------------------------------------------------------- membership
    def add(self, key: str, capacity: int, ready: bool = True) -> None:
        if capacity < 1:
            raise SandboxError(f"node {key} has capacity {capacity}; it needs at least one worker")
        self._nodes[key] = NodeLoad(key, capacity, ready=ready)
        self._ready = None

    def remove(self, key: str) -> None:
        self._nodes.pop(key, None)
        self._ready = None

    def set_ready(self, key: str, ready: bool) -> None:
        node = self._nodes.get(key)
        if node is not None:
            node.ready = ready
            if not ready:
                node.reported = 0
            self._ready = None

    def report(self, key: str, inflight: int) -> None:
        """The node's own count of runs in flight (all routers), from a ping or a reply."""
        node = self._nodes.get(key)
        if node is not None and node.ready:
            node.reported = inflight

    def any_ready(self) -> bool:
        return any(n.ready for n in self._nodes.values())

    def __contains__(self, key: str) -> bool:
        return key in self._nodes

    # ---------------------------------------------------------------- choices
    def _least_loaded(self) -> NodeLoad:
        if self._ready is None:
            self._ready = [n for n in self._nodes.values() if n.ready]
        ready = self._ready
        n = len(ready)
        if n == 0:
            known = len(self._nodes)
            raise NoSandboxNodes(
                f"no sandbox node is ready ({known} known, all starting or being replaced); retry shortly"
                if known else "no sandbox node: the Ray cluster has no node matching the selection")
        if n > SCAN_LIMIT:
            a, b = self._random.sample(ready, 2)
            return a if a.load <= b.load else b
        self._turn = (self._turn + 1) % n
        best = ready[self._turn]
        for i in range(1, n):
            node = ready[(self._turn + i) % n]
            if node.load < best.load:
                best = node
        return best

    def acquire(self) -> str:
        """The node for one stateless run; counted in flight until `release`."""
        node = self._least_loaded()
        node.inflight += 1
        return node.key

    def release(self, key: str, reported: int | None = None) -> None:
        node = self._nodes.get(key)
        if node is None:
            return
        node.inflight = max(0, node.inflight - 1)
        if reported is not None:
            node.reported = reported

    def open_session(self) -> str:
        """The node for a new session; its runs will all go there."""
        node = self._least_loaded()
        node.sessions += 1
        return node.key

    def close_session(self, key: str) -> None:
        node = self._nodes.get(key)
        if node is not None:
            node.sessions = max(0, node.sessions - 1)

    # ---------------------------------------------------------------- views
    def snapshot(self) -> dict[str, dict]:
        return {k: {"capacity": n.capacity, "inflight": n.inflight, "reported": n.reported,
                    "sessions": n.sessions, "ready": n.ready, "load": round(n.load, 3)}
                for k, n in self._nodes.items()}

    @property
    def capacity(self) -> int:
        return sum(n.capacity for n in self._nodes.values() if n.ready)


__all__ = ["NoSandboxNodes", "NodeLoad", "Router"]
