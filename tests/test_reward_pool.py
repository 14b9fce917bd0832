"""The reward worker pool: hard per-task deadlines that kill only the stuck worker, crash recovery,
``run_in_executor`` use, and no processes left behind."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time

import pytest

from retool.reward.pool import RemoteError, TaskTimeout, WorkerCrashed, WorkerPool


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture
def pool():
    p = WorkerPool(max_workers=2, timeout_s=5, warm_up=False)
    assert p.wait_ready(60)
    yield p
    pids = p.worker_pids()
    p.shutdown(kill=True)
    assert p.worker_pids() == []
    for pid in pids:
        assert not _alive(pid)


def test_runs_tasks_and_reports_errors(pool):
    assert pool.submit(pow, 2, 10).result() == 1024
    with pytest.raises(RemoteError, match="ValueError"):
        pool.submit(int, "not a number").result()
    assert pool.submit(sorted, [3, 1, 2]).result() == [1, 2, 3]


async def test_run_in_executor(pool):
    loop = asyncio.get_running_loop()
    assert await loop.run_in_executor(pool, pow, 3, 4) == 81


def test_soft_deadline_keeps_the_worker(pool):
    before = set(pool.worker_pids())
    t = time.perf_counter()
    with pytest.raises(TaskTimeout):
        pool.submit_with_timeout(0.5, time.sleep, 30).result()
    assert time.perf_counter() - t < 1.0
    assert set(pool.worker_pids()) == before


def test_hard_deadline_kills_only_the_stuck_worker():
    # A worker that cannot take its own soft timer (as in C code that never returns to the
    # interpreter) is killed by the parent at the deadline; the other worker keeps serving.
    import signal

    p = WorkerPool(max_workers=1, timeout_s=5, warm_up=False)
    try:
        assert p.wait_ready(60)
        (before,) = p.worker_pids()
        p.submit(signal.pthread_sigmask, signal.SIG_BLOCK, [signal.SIGALRM]).result()
        t = time.perf_counter()
        with pytest.raises(TaskTimeout, match="stopped"):
            p.submit_with_timeout(0.5, time.sleep, 30).result(timeout=30)
        assert 0.5 <= time.perf_counter() - t < 1.5
        assert p.submit(pow, 2, 5).result(timeout=60) == 32
        assert p.restarts == 1
        (after,) = p.worker_pids()
        assert after != before and not _alive(before)
    finally:
        p.shutdown(kill=True)


def test_one_stuck_task_does_not_hold_up_the_others(pool):
    import signal

    for _ in range(4):  # make sure both workers have SIGALRM blocked
        pool.submit(signal.pthread_sigmask, signal.SIG_BLOCK, [signal.SIGALRM]).result()
    stuck = pool.submit_with_timeout(1.0, time.sleep, 30)
    others = [pool.submit(pow, 2, k) for k in range(20)]
    t = time.perf_counter()
    assert [f.result(timeout=30) for f in others] == [2**k for k in range(20)]
    assert time.perf_counter() - t < 0.9  # served by the other worker while one is stuck
    with pytest.raises(TaskTimeout):
        stuck.result(timeout=30)


def test_worker_crash_is_reported_and_replaced(pool):
    with pytest.raises(WorkerCrashed):
        pool.submit(os._exit, 3).result(timeout=30)
    assert pool.submit(pow, 2, 3).result(timeout=60) == 8


def test_memory_blowup_is_contained():
    p = WorkerPool(max_workers=1, timeout_s=10, warm_up=False, memory_limit_mb=512)
    try:
        with pytest.raises((RemoteError, WorkerCrashed), match="MemoryError|died"):
            p.submit(bytearray, 2 * 1024**3).result(timeout=30)
        assert p.submit(pow, 3, 3).result(timeout=60) == 27
    finally:
        p.shutdown(kill=True)


def test_submit_from_many_threads(pool):
    out = []
    lock = threading.Lock()

    def work(k):
        v = pool.submit(pow, k, 2).result()
        with lock:
            out.append(v)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(out) == sorted(k * k for k in range(40))


def test_shutdown_cancels_pending_and_refuses_new_work():
    p = WorkerPool(max_workers=1, timeout_s=5, warm_up=False)
    busy = p.submit_with_timeout(2, time.sleep, 1)
    pending = [p.submit(pow, 2, 2) for _ in range(5)]
    p.shutdown(cancel_futures=True)
    assert busy.done() and all(f.cancelled() for f in pending)
    with pytest.raises(RuntimeError):
        p.submit(pow, 2, 2)
    assert p.worker_pids() == []


def test_workers_die_with_the_parent(tmp_path):
    # a parent killed with SIGKILL runs no cleanup: its workers must still go away
    code = (
        "import retool.reward as rw, sys, time\n"
        "rw.configure(workers=1, warm_up=False)\n"
        "rw.wait_ready(60)\n"
        "print(rw.worker_pids()[0], flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    pid = int(proc.stdout.readline())
    assert _alive(pid)
    proc.kill()
    proc.wait()
    deadline = time.time() + 10
    while _alive(pid) and time.time() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)


def test_exit_shuts_the_default_pool_down():
    code = (
        "import retool.reward as rw\n"
        "r = rw.score('\\\\boxed{\\\\sqrt{4}}', '2')\n"
        "print(r.acc, *rw.worker_pids(), flush=True)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    acc, *pids = out.stdout.split()
    assert acc == "True" and pids
    time.sleep(0.2)
    assert not any(_alive(int(p)) for p in pids)
