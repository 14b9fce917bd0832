"""SandboxCluster on a real local multi-node Ray cluster (ray.cluster_utils.Cluster: one raylet per
node on this machine): one actor per node sized to its CPUs, load-aware routing, session affinity,
and the real faults: an actor process SIGKILLed mid-run, an actor frozen (SIGSTOP), a node leaving.

Ray is optional and not in the shared .venv: `make test-ray` runs this module in .venv-ray.
One cluster for the whole module (Ray start costs seconds); every Ray process is stopped at the end.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest
import pytest_asyncio

ray = pytest.importorskip("ray", reason="Ray is not installed in this venv: `make test-ray` runs these in .venv-ray")
psutil = pytest.importorskip("psutil")

from ray.cluster_utils import Cluster  # noqa: E402

from sandbox import SandboxConfig, SandboxError, SessionClosed, Status  # noqa: E402
from sandbox.cluster import ClusterConfig, NoSandboxNodes, SandboxCluster  # noqa: E402

NODE = {"object_store_memory": 80 << 20}
CONFIG = ClusterConfig(sandbox=SandboxConfig(timeout_s=10, max_sessions=8), health_interval_s=0.5,
                       ping_timeout_s=3.0, replace_backoff_s=0.2, call_grace_s=30.0, share_as="test-sandbox")
SLEEP = "import time; time.sleep({s}); print('woke')"


@pytest.fixture(scope="module")
def ray_cluster():
    """Head with 1 CPU and a second node with 2 CPUs, on loopback."""
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False, **NODE})
    cluster.add_node(num_cpus=2, **NODE)
    ray.init(address=cluster.address, log_to_driver=False)
    try:
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()


@pytest_asyncio.fixture(scope="module")
async def sb(ray_cluster):
    async with SandboxCluster(CONFIG) as cluster:
        yield cluster


def node_cpus() -> dict[str, int]:
    return {n["NodeID"]: int(n["Resources"]["CPU"]) for n in ray.nodes() if n["Alive"]}


async def wait_until(predicate, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.1)


def settled(sb: SandboxCluster) -> bool:
    nodes = sb.describe()["nodes"]
    return bool(nodes) and all(n["ready"] and not n["replacing"] for n in nodes.values())


def quiet(sb: SandboxCluster) -> bool:
    """Settled, and no load known anywhere (the nodes' own reports included), so routing is predictable."""
    return settled(sb) and all(n["inflight"] == n["reported"] == n["sessions"] == 0
                               for n in sb.router.snapshot().values())


def processes_under(pid: int) -> list[int]:
    return [p.pid for p in psutil.Process(pid).children(recursive=True)]


# ---------------------------------------------------------------------- shape and routing
async def test_one_actor_per_node_sized_to_its_cpus(sb):
    nodes = sb.describe()["nodes"]
    assert {k: v["workers"] for k, v in nodes.items()} == node_cpus()
    assert sb.workers == 3
    assert sb.isolation in ("nsjail", "process")
    r = await sb.run("print(6 * 7)")
    assert r.status is Status.OK and r.stdout == "42\n"


async def test_no_matching_node_is_a_clear_error(ray_cluster):
    cluster = SandboxCluster(ClusterConfig(node_resource="sandbox-nodes-none-of-these-have"))
    with pytest.raises(NoSandboxNodes, match="sandbox-nodes-none-of-these-have"):
        await cluster.start()
    assert ray.is_initialized()  # the test's connection, not the cluster's to shut down
    await cluster.close()


async def test_same_interface_as_sandbox(sb):
    r = await sb.run("import sys; data = open('in/x.txt').read(); print(data + sys.stdin.read())",
                     stdin="!", files={"in/x.txt": "file"})
    assert r.stdout == "file!\n", r
    r = await sb.run("while True: pass", timeout_s=1)
    assert r.status is Status.TIMEOUT
    r = await sb.run("x = bytearray(1 << 30)", memory_mb=128)
    assert r.status is Status.MEMORY
    with pytest.raises(SandboxError, match="timeout_s"):
        await sb.run("print(1)", timeout_s=10_000)


async def test_concurrent_runs_spread_by_load(sb):
    await wait_until(lambda: quiet(sb))
    runs = [asyncio.ensure_future(sb.run(SLEEP.format(s=1.5))) for _ in range(3)]
    await asyncio.sleep(0.5)
    inflight = {k: v["inflight"] for k, v in sb.router.snapshot().items()}
    sizes = node_cpus()
    assert all(inflight[k] == sizes[k] for k in sizes), (inflight, sizes)
    results = await asyncio.gather(*runs)
    assert [r.stdout for r in results] == ["woke\n"] * 3


async def test_sessions_keep_state_on_their_node(sb):
    async with sb.session() as a, sb.session() as b:
        assert a.node_id in node_cpus() and b.node_id in node_cpus()
        await a.run("x = 'a'")
        await b.run("x = 'b'")
        for _ in range(3):
            assert (await a.run("x += '.'; print(x)")).status is Status.OK
        assert (await a.run("print(x)")).stdout == "a...\n"
        assert (await b.run("print(x)")).stdout == "b\n"
        assert not (a.interpreter_lost or a.state_reset or a.lost)
        sessions = {k: v["sessions"] for k, v in sb.router.snapshot().items()}
        assert sum(sessions.values()) == 2
    assert sum(v["sessions"] for v in sb.router.snapshot().values()) == 0
    with pytest.raises(SessionClosed):
        await a.run("print(x)")


async def test_cancelled_run_frees_its_worker(sb):
    task = asyncio.ensure_future(sb.run(SLEEP.format(s=20)))
    await asyncio.sleep(0.7)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert all(v["inflight"] == 0 for v in sb.router.snapshot().values())
    # the actors themselves report nothing in flight once the cancellation reached them
    slots = list(sb._slots.values())
    deadline = time.monotonic() + 10
    counts = await asyncio.gather(*(s.actor.ping.remote() for s in slots))
    while any(counts) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        counts = await asyncio.gather(*(s.actor.ping.remote() for s in slots))
    assert not any(counts), counts


async def test_routers_share_the_node_actors_and_see_each_others_load(sb):
    """A second router (as one per trainer process would be) finds the same actors by name; the load
    it puts on a node reaches the first router through the node's own count."""
    async with SandboxCluster(CONFIG) as other:
        assert {k: n["pid"] for k, n in other.describe()["nodes"].items()} == \
            {k: n["pid"] for k, n in sb.describe()["nodes"].items()}
        busy = [asyncio.ensure_future(other.run(SLEEP.format(s=2))) for _ in range(3)]
        await asyncio.sleep(1.2)  # two health pings of the first router
        assert sum(n["reported"] for n in sb.router.snapshot().values()) == 3
        assert all(n["inflight"] == 0 for n in sb.router.snapshot().values())
        assert all(r.status is Status.OK for r in await asyncio.gather(*busy))
    # closing the second router leaves the shared actors serving the first
    assert (await sb.run("print('still here')")).stdout == "still here\n"


async def test_usable_from_inside_a_ray_trainer_worker(sb):
    class TrainerWorker:
        """Stands for a Ray-based trainer's rollout worker (verl's agent-loop workers are Ray actors):
        it builds its own router inside the actor and reaches the shared node actors. Defined here so
        Ray ships it by value (the test module is not importable on Ray's workers)."""

        async def solve(self, code: str, config: ClusterConfig) -> tuple[str, list[int]]:
            async with SandboxCluster(config) as cluster:
                r = await cluster.run(code)
                return r.stdout, sorted(n["pid"] for n in cluster.describe()["nodes"].values())

    worker = ray.remote(TrainerWorker).options(num_cpus=0).remote()
    stdout, pids = await worker.solve.remote("import sympy as sp; print(sp.factorint(360))", CONFIG)
    assert stdout == "{2: 3, 3: 2, 5: 1}\n"
    assert pids == sorted(n["pid"] for n in sb.describe()["nodes"].values())
    ray.kill(worker)


# ---------------------------------------------------------------------- faults
async def test_killed_actor_fails_its_runs_as_ours_and_is_replaced(sb):
    await wait_until(lambda: quiet(sb))
    key = next(k for k, n in sb.describe()["nodes"].items() if n["workers"] == 2)
    slot = sb._slots[key]
    victim, generation = slot.info["pid"], slot.generation
    jailed = processes_under(victim)
    assert jailed, "the actor should own its sandbox's worker processes"

    sessions = [sb.session() for _ in range(2)]
    for s in sessions:
        await s.start()
    doomed = next(s for s in sessions if s.node_id == key)
    await doomed.run("y = 1")
    runs = [asyncio.ensure_future(sb.run(SLEEP.format(s=15), timeout_s=4)) for _ in range(3)]
    await asyncio.sleep(1.0)
    assert sb.router.snapshot()[key]["inflight"] >= 1

    killed_at = time.monotonic()
    os.kill(victim, signal.SIGKILL)
    results = await asyncio.wait_for(asyncio.gather(*runs), timeout=14)
    lost = [r for r in results if r.status is Status.SANDBOX_ERROR]
    assert lost, results
    for r in lost:
        assert key[:12] in r.error and "retry" in r.error
    assert time.monotonic() - killed_at < 10

    # the session on the dead actor says so, then refuses; it never replays elsewhere
    r = await doomed.run("print(y)")
    assert r.status is Status.SANDBOX_ERROR and doomed.lost and "session lost" in r.error
    assert doomed.interpreter_lost
    with pytest.raises(SessionClosed):
        await doomed.run("print(y)")
    for s in sessions:
        await s.close()

    await wait_until(lambda: settled(sb) and sb._slots[key].generation == generation + 1)
    assert sb._slots[key].info["pid"] != victim
    assert sb.replacements >= 1
    # The dead actor's jailed workers do not outlive the runs' own limit (4 s here): a zygote finds
    # its host gone when it answers. (It does not watch the host during a run; see the README.)
    await wait_until(lambda: not [p for p in jailed if psutil.pid_exists(p)
                                  and psutil.Process(p).status() != psutil.STATUS_ZOMBIE],
                     timeout_s=4 + 8)
    results = await asyncio.gather(*(sb.run(f"print({i})") for i in range(6)))
    assert [r.stdout for r in results] == [f"{i}\n" for i in range(6)]


async def test_frozen_actor_is_detected_and_replaced_without_a_hang(sb):
    await wait_until(lambda: quiet(sb))
    run = asyncio.ensure_future(sb.run(SLEEP.format(s=25), timeout_s=30))
    await asyncio.sleep(0.7)
    key = next(k for k, n in sb.router.snapshot().items() if n["inflight"])
    slot = sb._slots[key]
    victim, generation = slot.info["pid"], slot.generation
    os.kill(victim, signal.SIGSTOP)
    try:
        r = await asyncio.wait_for(run, timeout=20)
        await wait_until(lambda: settled(sb) and sb._slots[key].generation == generation + 1)
    finally:
        if psutil.pid_exists(victim):
            os.kill(victim, signal.SIGKILL)  # our own actor, frozen; ray.kill has already been asked
    if r.status is not Status.SANDBOX_ERROR:
        pytest.fail(f"the run on the frozen actor should be ours to retry: {r}")
    assert "ping" in r.error or "lost" in r.error


async def test_nodes_joining_and_leaving(sb, ray_cluster):
    await wait_until(lambda: settled(sb))
    before = set(sb.describe()["nodes"])
    node = ray_cluster.add_node(num_cpus=1, **NODE)
    await wait_until(lambda: len(sb.describe()["nodes"]) == len(before) + 1 and settled(sb), timeout_s=60)
    joined = (set(sb.describe()["nodes"]) - before).pop()
    ray_cluster.remove_node(node)
    await wait_until(lambda: joined not in sb.describe()["nodes"], timeout_s=60)
    results = await asyncio.gather(*(sb.run(f"print({i})") for i in range(4)))
    assert all(r.status is Status.OK for r in results), results


# ---------------------------------------------------------------------- behind the HTTP service
def test_serve_ray_puts_the_cluster_behind_the_http_api(ray_cluster):
    """`python -m sandbox serve --ray ADDRESS`: the service's API over every node's sandbox, with the
    cluster's worker count in /metrics."""
    pytest.importorskip("fastapi", reason="the [service] extra is not installed in this venv")
    import urllib.request

    from sandbox.client import SyncSandboxClient
    from service_server import ServerProcess

    with ServerProcess("--ray", ray_cluster.address, "--max-inflight", "8") as server:
        with SyncSandboxClient(server.url) as client:
            results = [client.run(f"print({i} * 2)") for i in range(6)]
        assert [r.stdout for r in results] == [f"{i * 2}\n" for i in range(6)]
        with urllib.request.urlopen(server.url + "/metrics", timeout=10) as r:
            metrics = r.read().decode()
        assert "sandbox_workers_live 3.0" in metrics, metrics[-1500:]
        assert "a Ray cluster" in server.log()
