"""How the sandbox spreads over a Ray cluster: which nodes, how big each node's sandbox is, deadlines."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..config import SandboxConfig
from ..types import SandboxError


@dataclass(frozen=True)
class ClusterConfig:
    """One sandbox actor per selected node, each owning a `Sandbox` sized to the node's CPUs.

    The actors claim `actor_num_cpus` logical CPUs from Ray's accounting (0 by default, so placing
    them never blocks a trainer's own actors); their workers are real processes on the node either way.
    """

    sandbox: SandboxConfig = field(default_factory=SandboxConfig)
    address: str | None = None  # ray.init address when Ray is not initialised yet (None: Ray's default)
    namespace: str | None = None
    node_resource: str | None = None  # only nodes offering this custom resource get an actor
    workers_per_cpu: float = 1.0  # a node's sandbox gets round(CPUs * this) warm workers, at least 1
    workers_per_node: int | None = None  # fixed worker count instead (overrides workers_per_cpu)
    actor_num_cpus: float = 0.0
    # Share the node actors between routers (e.g. one SandboxCluster per rollout worker of a trainer):
    # actors are named f"{share_as}-{node id}" in the Ray namespace and found, not duplicated. Shared
    # actors are not killed by close(); they end with the process that created them.
    share_as: str | None = None
    max_concurrency_per_worker: int = 64  # Ray-side queue of one actor: workers * this concurrent calls
    start_timeout_s: float = 180.0  # an actor's sandbox must be up within this
    call_grace_s: float = 120.0  # a call's reply deadline is its run timeout plus this (queueing, transfer)
    health_interval_s: float = 2.0  # actors are pinged this often; new and lost nodes are found too
    ping_timeout_s: float = 10.0  # an actor that does not answer a ping for this long is replaced
    replace_backoff_s: float = 1.0  # first wait before retrying a failed replacement (doubles, up to 30 s)

    def __post_init__(self) -> None:
        checks = {
            "workers_per_cpu": self.workers_per_cpu > 0,
            "workers_per_node": self.workers_per_node is None or self.workers_per_node >= 1,
            "actor_num_cpus": self.actor_num_cpus >= 0,
            "max_concurrency_per_worker": self.max_concurrency_per_worker >= 1,
            "start_timeout_s": self.start_timeout_s > 0,
            "call_grace_s": self.call_grace_s > 0,
            "health_interval_s": self.health_interval_s > 0,
            "ping_timeout_s": self.ping_timeout_s > 0,
            "replace_backoff_s": self.replace_backoff_s > 0,
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise SandboxError(f"invalid ClusterConfig value(s): {', '.join(bad)}")

    def workers_for(self, node_cpus: float) -> int:
        if self.workers_per_node is not None:
            return self.workers_per_node
        return max(1, round(node_cpus * self.workers_per_cpu))
