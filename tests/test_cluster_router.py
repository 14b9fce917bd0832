"""The cluster's router (sandbox/cluster/router.py): least loaded relative to size, sessions pinned,
nodes that are not ready skipped. Pure bookkeeping, so no Ray needed."""

from __future__ import annotations

import pytest

from sandbox import SandboxError
from sandbox.cluster import ClusterConfig, NoSandboxNodes, Router


def test_runs_fill_nodes_in_proportion_to_their_workers():
    r = Router()
    r.add("small", 2)
    r.add("big", 6)
    keys = [r.acquire() for _ in range(8)]
    assert keys.count("small") == 2 and keys.count("big") == 6
    snap = r.snapshot()
    assert snap["small"]["load"] == snap["big"]["load"] == 1.0


def test_release_frees_the_node_and_takes_its_report():
    r = Router()
    r.add("a", 1)
    r.add("b", 1)
    first, second = r.acquire(), r.acquire()
    assert {first, second} == {"a", "b"}
    r.release(first)
    assert r.acquire() == first
    # another router keeps "b" busy: its own count (reported by the node) outweighs ours
    r.release(second, reported=5)
    r.release(first)
    assert r.acquire() == first


def test_equal_nodes_are_taken_in_turn():
    r = Router()
    for k in "abcd":
        r.add(k, 4)
    picks = []
    for _ in range(4):
        key = r.acquire()
        picks.append(key)
        r.release(key)
    assert sorted(picks) == list("abcd")


def test_sessions_count_as_load_and_stay_put():
    r = Router()
    r.add("a", 2)
    r.add("b", 2)
    sessions = [r.open_session() for _ in range(2)]
    assert sorted(sessions) == ["a", "b"]
    r.acquire()
    r.acquire()
    snap = r.snapshot()
    assert snap["a"]["load"] == snap["b"]["load"] == 1.0
    r.close_session("a")
    assert r.acquire() == "a"


def test_nodes_being_replaced_are_skipped_and_none_ready_is_typed():
    r = Router()
    r.add("a", 1)
    r.add("b", 1, ready=False)
    assert {r.acquire() for _ in range(3)} == {"a"}
    r.set_ready("a", False)
    with pytest.raises(NoSandboxNodes, match="being replaced"):
        r.acquire()
    assert isinstance(NoSandboxNodes("x"), SandboxError)
    r.set_ready("b", True)
    assert r.acquire() == "b"
    assert r.capacity == 1
    r.remove("a")
    r.remove("b")
    with pytest.raises(NoSandboxNodes, match="no node matching"):
        r.open_session()


def test_reports_from_a_replaced_generation_are_ignored():
    r = Router()
    r.add("a", 1, ready=False)
    r.report("a", 9)
    assert r.snapshot()["a"]["reported"] == 0


def test_cluster_config_sizes_and_checks():
    assert ClusterConfig().workers_for(16) == 16
    assert ClusterConfig(workers_per_cpu=0.5).workers_for(3) == 2
    assert ClusterConfig(workers_per_cpu=0.1).workers_for(2) == 1
    assert ClusterConfig(workers_per_node=5).workers_for(64) == 5
    with pytest.raises(SandboxError, match="call_grace_s"):
        ClusterConfig(call_grace_s=0)
    with pytest.raises(SandboxError, match="capacity 0"):
        Router().add("x", 0)


async def test_without_ray_the_cluster_says_how_to_get_it():
    try:
        import ray  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("Ray is installed here; this checks the message where it is not")
    from sandbox.cluster import RayUnavailable, SandboxCluster

    with pytest.raises(RayUnavailable, match=r"retool-stack\[ray\]"):
        await SandboxCluster().start()


def test_many_nodes_stay_balanced_with_two_random_choices():
    """Beyond SCAN_LIMIT nodes the router samples two. The spread stays a few runs (log log n), small
    next to a real node's worker count: 64 nodes of 32 workers filled to capacity stay within 15%."""
    from sandbox.cluster.router import SCAN_LIMIT

    r = Router(seed=1)
    nodes, workers = 64, 32
    assert nodes > SCAN_LIMIT
    for i in range(nodes):
        r.add(f"n{i}", workers)
    for _ in range(nodes * workers):
        r.acquire()
    loads = [v["inflight"] for v in r.snapshot().values()]
    assert sum(loads) == nodes * workers
    assert max(loads) <= workers * 1.15 and min(loads) >= workers * 0.85, sorted(loads)
