"""Scale-out on Ray: one sandbox actor per node, a load-aware router with session affinity.

`SandboxCluster` has `Sandbox`'s public interface (`run`, `session`, `start`, `close`, `async with`),
so it stands behind the HTTP service or inside a Ray-based trainer unchanged. Ray is optional
(`pip install 'retool-stack[ray]'`): this package imports it only when a cluster starts.
"""

from .cluster import ClusterSession, NodeLost, RayUnavailable, SandboxCluster
from .config import ClusterConfig
from .router import NoSandboxNodes, Router

__all__ = ["ClusterConfig", "ClusterSession", "NoSandboxNodes", "NodeLost", "RayUnavailable", "Router",
           "SandboxCluster"]
