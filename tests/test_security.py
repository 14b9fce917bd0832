"""Real attacks against the nsjail sandbox, each asserted contained.

Most attacks run in a *permissive* sandbox (no AST policy, dangerous modules importable) so that
what is tested is the OS boundary (namespaces, read-only mounts, seccomp, rlimits, cgroups and the
zygote's clean-up), not the import filter. A few tests run the same attacks against the default
configuration to show the filters refuse them first.

After every attack the sandbox must still answer ``print(1)`` correctly, and no process the attack
started may survive: every worker's nsjail process has exactly one descendant, its zygote.

The gap tests (zombies after a run, shared memory and forked children against memory_mb, SIGINT
to the zygote, clone with namespace flags, cgroups left behind) were found by this suite as
failures and fixed; they stay as regression tests.

Sections 14-16 are issue 10's red-team list: every attack a run could make on the warm worker it
runs on (the zygote's limits and scheduling, the scratch root's mode, an unwipeable tree, the
zygote's buffers, another instance's uid, a session's end marker, x32, /proc, the CLI's terminal),
each followed by a probe that must print exactly what it prints on a fresh worker; then 1,000 runs
at concurrency 64 with a tenth of them attacks. Every attack test failed on the code before, except
the one for what is not closed (a run can still get its own worker's zygote OOM-killed; the worker is
replaced and nothing else is affected).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import socket
import sys
import textwrap
import time

import psutil
import pytest
import pytest_asyncio

from sandbox import DEFAULT_ALLOWED_MODULES, Sandbox, SandboxConfig, SandboxError, Status
from sandbox.engine import TRUNCATION_MARKER
from sandbox.worker import MEMORY_SLACK

pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the nsjail sandbox is Linux-only"),
]

SECRET_NAME = "RETOOL_TEST_SECRET"
SECRET_VALUE = "s3cr3t-value"

DANGEROUS_MODULES = frozenset({
    "os", "socket", "ctypes", "subprocess", "signal", "pathlib", "shutil", "glob", "mmap",
    "multiprocessing", "threading", "resource", "select", "errno",
})
# Host uids of the workers (uid_base + worker index); distinct from the default 200000 so that
# this module's processes can be told apart from any other sandbox running on the host.
PERMISSIVE_UID_BASE = 231_000
FILTERED_UID_BASE = 232_000
LEAK_UID_BASE = 233_000
OUR_UID_BASES = (PERMISSIVE_UID_BASE, FILTERED_UID_BASE, LEAK_UID_BASE)

PERMISSIVE = SandboxConfig(
    isolation="nsjail",
    policy=False,
    allowed_modules=DEFAULT_ALLOWED_MODULES | DANGEROUS_MODULES,
    workers=2,
    timeout_s=5,
    memory_mb=256,
    # The worker cgroup ceiling is max_memory_mb + 512 MB; keeping max_memory_mb at the run's own
    # limit keeps memory attacks that get past the per-run limit cheap and harmless to the host.
    max_memory_mb=256,
    uid_base=PERMISSIVE_UID_BASE,
)
FILTERED = SandboxConfig(isolation="nsjail", workers=1, timeout_s=5, memory_mb=256, max_memory_mb=256,
                         uid_base=FILTERED_UID_BASE)

X86_64 = platform.machine() in ("x86_64", "AMD64")
needs_x86_64 = pytest.mark.skipif(not X86_64, reason="raw syscall numbers below are x86_64's")


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def host_secret():
    """A secret in the host environment before any worker starts; it must never reach a program."""
    old = os.environ.get(SECRET_NAME)
    os.environ[SECRET_NAME] = SECRET_VALUE
    yield SECRET_VALUE
    if old is None:
        os.environ.pop(SECRET_NAME, None)
    else:
        os.environ[SECRET_NAME] = old


async def _start(config: SandboxConfig) -> Sandbox:
    if os.geteuid() != 0:
        pytest.skip("nsjail isolation needs root here (uid maps and cgroups)")
    box = Sandbox(config)
    try:
        await box.start()
    except SandboxError as exc:
        await box.close()
        pytest.skip(f"nsjail isolation unavailable: {exc}")
    if box.isolation != "nsjail":
        await box.close()
        pytest.skip(f"nsjail isolation unavailable: got {box.isolation!r}")
    return box


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sb(host_secret):
    box = await _start(PERMISSIVE)
    try:
        yield box
    finally:
        await box.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def filtered(host_secret):
    box = await _start(FILTERED)
    try:
        yield box
    finally:
        await box.close()


# ---------------------------------------------------------------------------- helpers


def code(text: str) -> str:
    return textwrap.dedent(text).strip("\n") + "\n"


def jail_workers() -> list[psutil.Process]:
    """This test process's nsjail children: one per live worker of every sandbox in this module."""
    me = os.getpid()
    found = []
    for p in psutil.process_iter(["pid", "ppid", "cmdline"]):
        try:
            if p.info["ppid"] == me and any("nsjail" in part for part in (p.info["cmdline"] or [])):
                found.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return found


def zygotes() -> list[psutil.Process]:
    out = []
    for w in jail_workers():
        with contextlib.suppress(psutil.NoSuchProcess):
            out.extend(w.children())
    return out


def zygote_pids() -> set[int]:
    return {z.pid for z in zygotes()}


def _status(p: psutil.Process) -> str:
    try:
        return p.status()
    except psutil.NoSuchProcess:
        return psutil.STATUS_DEAD


def assert_no_leftovers(*, allow_zombies: bool = False) -> None:
    """Every worker's nsjail has exactly one descendant (the zygote); nothing else runs as our uids.

    allow_zombies tolerates processes that were killed but not yet reaped (they run no code); see
    test_next_run_does_not_inherit_the_previous_runs_processes for why they are still a gap.
    """
    workers = jail_workers()
    assert workers, "no nsjail worker processes found below the test process"
    zygote_set = set()
    for w in workers:
        try:
            desc = w.children(recursive=True)
        except psutil.NoSuchProcess:
            continue
        if allow_zombies:
            desc = [d for d in desc if _status(d) not in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD)]
        described = []
        for d in desc:
            with contextlib.suppress(psutil.NoSuchProcess):
                described.append((d.pid, _status(d), d.cmdline()))
        assert len(desc) == 1, f"nsjail {w.pid} has leftover descendants: {described}"
        assert any("zygote.py" in part for part in described[0][2]), described
        zygote_set.add(desc[0].pid)
    # Host-wide: every process running as one of our workers' host uids is a zygote.
    for p in psutil.process_iter(["pid", "uids"]):
        try:
            uid = p.info["uids"].real if p.info["uids"] else None
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if uid is not None and any(base <= uid < base + 128 for base in OUR_UID_BASES):
            if allow_zombies and _status(p) in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD):
                continue
            assert p.pid in zygote_set, f"process {p.pid} runs as worker uid {uid} but is no zygote"


async def settle(box: Sandbox, timeout: float = 60.0) -> None:
    """Wait until every worker is started and idle (after an attack, a replacement may be starting)."""
    n = box.config.worker_count
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pool = getattr(box, "_pool", None)
        idle = getattr(getattr(pool, "_idle", None), "qsize", lambda: 0)()
        if pool is not None and pool.size >= n and idle >= n and len(jail_workers()) >= n:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the sandbox did not get back to {n} idle workers within {timeout}s")


async def assert_serves(box: Sandbox) -> None:
    """The sandbox still answers ordinary runs, on every worker, and nothing was left behind."""
    await settle(box)
    n = box.config.worker_count
    results = await asyncio.gather(*(box.run("print(1)") for _ in range(2 * n)))
    for r in results:
        assert (r.status, r.stdout, r.stderr, r.exit_code) == (Status.OK, "1\n", "", 0), r
    await settle(box)
    assert_no_leftovers()


# Inside the jail: the host uid this worker is mapped to, which tells the workers apart, and a
# directory listing without the program's own source file (the zygote writes main.py to the scratch
# directory so tracebacks can quote it).
WORKER_ID = code("""
    def _worker_id():
        for line in open("/proc/self/uid_map"):
            inside, outside, _count = line.split()
            if inside == "1000":
                return int(outside)
    def _listing(path="."):
        import os as _os
        return sorted(n for n in _os.listdir(path) if n != "main.py")
""")


def lines_with(prefix: str, text: str) -> list[str]:
    return [line[len(prefix):].strip() for line in text.splitlines() if line.startswith(prefix)]


# ---------------------------------------------------------------------------- 0. the setup itself


async def test_sandbox_is_nsjail_with_cgroups(sb):
    info = sb.describe()
    assert info["isolation"] == "nsjail"
    assert {"memory", "pids"} <= set(info["cgroups"]), info
    zs = zygotes()
    assert len(zs) >= sb.config.worker_count
    for z in zs:
        # On the host, every zygote runs as its own unprivileged uid, never as root.
        assert z.uids().real != 0 and z.uids().effective != 0
    await assert_serves(sb)


# ---------------------------------------------------------------------------- 1. host files


HOST_FILES = ["/etc/shadow", "/etc/passwd", "/root/.bashrc", "/work/main/pyproject.toml", "/etc/hostname",
              "/proc/1/environ", "/root/.ssh/id_rsa", "/proc/kcore", "/proc/kmsg", "/proc/sysrq-trigger"]


async def test_host_files_are_invisible(sb):
    repo_file = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "pyproject.toml")
    paths = HOST_FILES + [repo_file, f"/proc/{os.getpid()}/environ", f"/proc/{os.getpid()}/cmdline"]
    r = await sb.run(code(f"""
        import os
        for path in {paths!r}:
            try:
                with open(path, "rb") as f:
                    data = f.read(4096)
                print("READ", path, len(data), data[:200])
            except OSError as exc:
                print("DENIED", path, type(exc).__name__)
        for d in ["/", "/etc", "/root", "/work", os.path.dirname({repo_file!r})]:
            try:
                print("LIST", d, sorted(os.listdir(d)))
            except OSError as exc:
                print("LIST", d, type(exc).__name__)
    """))
    assert r.status is Status.OK, r
    assert not lines_with("READ ", r.stdout), r.stdout
    denied = lines_with("DENIED ", r.stdout)
    assert len(denied) == len(paths)
    assert all(d.endswith(("FileNotFoundError", "PermissionError")) for d in denied), denied
    listings = dict(line.split(" ", 1) for line in lines_with("LIST ", r.stdout))
    # Only mount points are visible: the dynamic loader cache in /etc, the interpreter in /root,
    # the virtualenv in the repo; no host configuration, no home directory, no source tree.
    assert listings["/etc"] == "['ld.so.cache']" or listings["/etc"] == "[]", listings
    assert ".bashrc" not in listings["/root"]
    assert not any("pyproject.toml" in listing for listing in listings.values()), listings
    assert "shadow" not in listings["/etc"]
    for secret in ("root:x:0:0", "root:$", "[project]", SECRET_VALUE):
        assert secret not in r.stdout
    await assert_serves(sb)


async def test_host_and_zygote_proc_are_not_readable(sb):
    r = await sb.run(code("""
        import os
        pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
        print("PIDS", pids)
        for path in ["/proc/1/environ", "/proc/1/mem", "/proc/1/maps", "/proc/1/fd/0", "/proc/1/root/etc",
                     "/proc/1/cwd"]:
            try:
                if os.path.isdir(path):
                    os.listdir(path)
                else:
                    open(path, "rb").read(64)
                print("OPENED", path)
            except OSError as exc:
                print("DENIED", path, type(exc).__name__)
        try:
            os.listdir("/proc/1/fd")
            print("OPENED /proc/1/fd")
        except OSError as exc:
            print("DENIED /proc/1/fd", type(exc).__name__)
    """))
    assert r.status is Status.OK, r
    assert not lines_with("OPENED ", r.stdout), r.stdout
    # /proc is mounted with hidepid: the zygote (another uid) is not even visible to a run.
    assert all(d.endswith(("PermissionError", "FileNotFoundError")) for d in lines_with("DENIED ", r.stdout)), r.stdout
    pids = eval(lines_with("PIDS ", r.stdout)[0])  # noqa: S307 - our own printed list of ints
    assert len(pids) == 1 and pids[0] != 1, pids  # only this run: not the zygote, nothing of the host
    await assert_serves(sb)


# ---------------------------------------------------------------------------- 2. environment


async def test_host_environment_secrets_do_not_leak(sb, host_secret):
    assert os.environ[SECRET_NAME] == host_secret  # present on the host while the workers run
    r = await sb.run(code("""
        import os
        print(dict(os.environ))
        for path in ["/proc/self/environ", "/proc/1/environ"]:
            try:
                print(path, open(path, "rb").read())
            except OSError as exc:
                print(path, type(exc).__name__)
    """))
    assert r.status is Status.OK, r
    assert host_secret not in r.stdout and SECRET_NAME not in r.stdout
    assert "/proc/1/environ PermissionError" in r.stdout or "/proc/1/environ FileNotFoundError" in r.stdout
    env = eval(r.stdout.splitlines()[0])  # noqa: S307 - the dict the program printed
    # Only the fixed guest environment, nothing inherited from the host.
    assert env.get("HOME") == "/sandbox" and "PYTHONPATH" not in env and "VIRTUAL_ENV" not in env
    for host_only in ("SSH_AUTH_SOCK", "PYTEST_CURRENT_TEST", "USER"):
        assert host_only not in env
    await assert_serves(sb)


# ---------------------------------------------------------------------------- 3. network


async def test_network_is_unreachable(sb):
    connections = []

    async def on_connect(reader, writer):
        connections.append(writer.get_extra_info("peername"))
        writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.setblocking(False)
    udp_port = udp.getsockname()[1]
    abstract = f"\0retool-security-test-{os.getpid()}"
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    unix.bind(abstract)
    unix.listen(1)
    unix.setblocking(False)
    try:
        r = await sb.run(code(f"""
            import socket
            def attempt(name, fn):
                try:
                    fn()
                    print("CONNECTED", name)
                except OSError as exc:
                    print("FAILED", name, type(exc).__name__, exc.errno)
            attempt("tcp4", lambda: socket.create_connection(("127.0.0.1", {port}), timeout=2))
            attempt("tcp6", lambda: socket.create_connection(("::1", {port}), timeout=2))
            def udp():
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.sendto(b"leak", ("127.0.0.1", {udp_port}))
            attempt("udp4", udp)
            def udp6():
                s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
                s.sendto(b"leak", ("::1", {udp_port}))
            attempt("udp6", udp6)
            attempt("dns", lambda: socket.getaddrinfo("example.com", 80))
            attempt("raw", lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP))
            attempt("packet", lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW))
            attempt("netlink", lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0))
            def host_unix():
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.settimeout(2)
                s.connect({abstract!r})
            attempt("abstract-unix", host_unix)
        """))
        await asyncio.sleep(0.2)  # let a connection, had one been made, reach the server
        with pytest.raises(BlockingIOError):
            udp.recvfrom(100)
        with pytest.raises(BlockingIOError):
            unix.accept()
    finally:
        server.close()
        await server.wait_closed()
        udp.close()
        unix.close()
    assert r.status is Status.OK, r
    assert connections == []
    assert not lines_with("CONNECTED ", r.stdout), r.stdout
    failed = {line.split()[0]: line for line in lines_with("FAILED ", r.stdout)}
    assert set(failed) == {"tcp4", "tcp6", "udp4", "udp6", "dns", "raw", "packet", "netlink", "abstract-unix"}
    # IP sockets are refused by seccomp outright (EAFNOSUPPORT), not merely unroutable.
    for name in ("tcp4", "tcp6", "udp4", "udp6", "raw", "packet", "netlink"):
        assert failed[name].endswith(" 97"), failed[name]
    assert "gaierror" in failed["dns"] or failed["dns"].endswith(" 97"), failed["dns"]
    await assert_serves(sb)


# ---------------------------------------------------------------------------- 4. processes left behind


async def test_daemonized_grandchild_does_not_survive(sb):
    r = await sb.run(code("""
        import os, signal, time
        pid = os.fork()
        if pid == 0:
            os.setsid()
            if os.fork() > 0:
                os._exit(0)
            if os.fork() > 0:
                os._exit(0)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            signal.signal(signal.SIGHUP, signal.SIG_IGN)
            null = os.open("/dev/null", os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            os.closerange(3, 1024)
            with open("/sandbox/daemon.pid", "w") as f:
                f.write(str(os.getpid()))
            time.sleep(60)
            os._exit(0)
        os.waitpid(pid, 0)
        for _ in range(200):
            if os.path.exists("/sandbox/daemon.pid") and open("/sandbox/daemon.pid").read():
                break
            time.sleep(0.01)
        daemon = int(open("/sandbox/daemon.pid").read())
        os.kill(daemon, 0)
        print("DAEMON", daemon, open(f"/proc/{daemon}/stat").read().split()[2])
    """))
    assert r.status is Status.OK, r
    assert lines_with("DAEMON ", r.stdout), r.stdout  # it really was running when the run ended
    assert r.duration_s < 4
    assert_no_leftovers()
    await assert_serves(sb)


async def test_subprocesses_do_not_survive(sb):
    r = await sb.run(code("""
        import subprocess, sys, time
        try:
            subprocess.Popen(["sleep", "100"])
            print("SLEEP started")
        except OSError as exc:
            print("SLEEP", type(exc).__name__)
        try:
            subprocess.Popen(["/bin/sh", "-c", "sleep 100"])
            print("SH started")
        except OSError as exc:
            print("SH", type(exc).__name__)
        # The interpreter itself is in the jail: a detached copy of it is the strongest leftover.
        p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(100)"],
                             start_new_session=True, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.3)
        print("PY", p.pid, p.poll())
    """))
    assert r.status is Status.OK, r
    assert "SLEEP FileNotFoundError" in r.stdout and "SH FileNotFoundError" in r.stdout
    assert lines_with("PY ", r.stdout)[0].endswith("None"), r.stdout  # it was alive at the end
    assert_no_leftovers()
    await assert_serves(sb)


async def test_background_threads_do_not_survive(sb):
    daemon_thread = code("""
        import threading, time
        def spin():
            end = time.monotonic() + 60
            n = 0
            while time.monotonic() < end:
                n += 1
                with open("/sandbox/thread-alive", "w") as f:
                    f.write(str(n))
                time.sleep(0.005)
        threading.Thread(target=spin, daemon=True).start()
        time.sleep(0.1)
        print("started")
    """)
    r = await sb.run(daemon_thread)
    assert (r.status, r.stdout) == (Status.OK, "started\n"), r
    # A non-daemon thread keeps the program from exiting, exactly as python3 would: the run times out.
    forever = code("""
        import threading, time
        def spin():
            end = time.monotonic() + 60
            while time.monotonic() < end:
                time.sleep(0.01)
        threading.Thread(target=spin).start()
        print("started", flush=True)
    """)
    r = await sb.run(forever, timeout_s=1)
    assert r.status is Status.TIMEOUT and r.stdout == "started\n", r
    assert_no_leftovers()
    checks = await asyncio.gather(*(sb.run(WORKER_ID + "print(_listing('/sandbox'))") for _ in range(4)))
    assert all(c.stdout == "[]\n" for c in checks), checks
    await assert_serves(sb)


# ---------------------------------------------------------------------------- 5. fork bomb


def _pids_cgroups() -> list[str]:
    return [f"/sys/fs/cgroup/pids/NSJAIL/NSJAIL.{z.pid}" for z in zygotes()]


def _read_int(path: str) -> int | None:
    try:
        with open(path) as f:
            text = f.read().strip()
        return None if text == "max" else int(text)
    except (OSError, ValueError):
        return None


async def test_fork_bomb_is_capped_and_cleaned_up(sb):
    cgroups = [d for d in _pids_cgroups() if os.path.isdir(d)]
    assert cgroups, "no pids cgroups found for the workers"
    caps = {d: _read_int(os.path.join(d, "pids.max")) for d in cgroups}
    assert all(c is not None and c <= sb.config.max_processes + 8 for c in caps.values()), caps
    peak = {d: 0 for d in cgroups}
    host_peak = 0
    stop = asyncio.Event()

    async def watch():
        nonlocal host_peak
        while not stop.is_set():
            for d in cgroups:
                cur = _read_int(os.path.join(d, "pids.current")) or 0
                peak[d] = max(peak[d], cur)
            n = 0
            for p in psutil.process_iter(["uids"]):
                with contextlib.suppress(Exception):
                    if PERMISSIVE_UID_BASE <= p.info["uids"].real < PERMISSIVE_UID_BASE + 128:
                        n += 1
            host_peak = max(host_peak, n)
            await asyncio.sleep(0.02)

    watcher = asyncio.create_task(watch())
    started = time.monotonic()
    try:
        r = await sb.run(code("""
            import os
            print("bombing", flush=True)
            while True:
                try:
                    os.fork()
                except OSError:
                    pass
        """), timeout_s=2)
    finally:
        stop.set()
        await watcher
    elapsed = time.monotonic() - started
    assert r.status in (Status.TIMEOUT, Status.ERROR), r
    assert r.stdout.startswith("bombing\n")
    assert elapsed < 2 + 8, elapsed
    for d in cgroups:
        assert peak[d] <= caps[d], (d, peak[d], caps[d])
    assert max(peak.values()) > 8, peak  # the bomb really forked (it was not stopped by accident)
    # Both workers together never held more processes than their two caps (host-wide view).
    assert host_peak <= sum(caps.values()), (host_peak, caps)
    # Nothing of the bomb still runs; killed-but-unreaped entries are the zombie gap below, and the
    # next runs (in assert_serves) reap them before the strict check.
    assert_no_leftovers(allow_zombies=True)
    await assert_serves(sb)


ZOMBIE_GAP = (
    "GAP: kill_everything_but (sandbox/guest/zygote.py) makes at most 100 kill/reap passes without waiting "
    "for killed processes to finish exiting, so the run's reply is sent while dozens of them are still "
    "unreaped. They stay in the worker until the next run ends: the next run (someone else's program) sees "
    "them in /proc (pids, names, CPU times) and they count against its RLIMIT_NPROC / pids cgroup (after a "
    "fork bomb the next run can fork only ~10 processes instead of ~60).")


async def test_next_run_does_not_inherit_the_previous_runs_processes(sb):
    await settle(sb)
    bomb = await sb.run(WORKER_ID + code("""
        import os
        print(_worker_id(), flush=True)
        while True:
            try:
                os.fork()
            except OSError:
                pass
    """), timeout_s=1.5)
    assert bomb.status is Status.TIMEOUT, bomb
    attacked = int(bomb.stdout.split()[0])
    leftovers = {w.pid: len(w.children(recursive=True)) for w in jail_workers()}
    seen = {}
    for _ in range(sb.config.worker_count):
        r = await sb.run(WORKER_ID + code("""
            import os, time
            me = os.getpid()
            foreign = [p for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, me)]
            kids = 0
            try:
                for _ in range(56):
                    if os.fork() == 0:
                        time.sleep(1)
                        os._exit(0)
                    kids += 1
            except OSError:
                pass
            print(_worker_id(), len(foreign), kids)
        """))
        assert r.status is Status.OK, r
        wid, foreign, kids = map(int, r.stdout.split())
        seen[wid] = (foreign, kids)
    try:
        assert attacked in seen, (attacked, seen)
        assert seen[attacked] == (0, 56), f"next run on the attacked worker: (foreign pids, forks) = {seen[attacked]}"
        assert all(n == 1 for n in leftovers.values()), f"descendants per nsjail after the bomb: {leftovers}"
    finally:
        await assert_serves(sb)


# ---------------------------------------------------------------------------- 6. memory bombs


@pytest.mark.parametrize("attack", [
    "x = bytearray(100 * 2**30)",
    "chunks = []\nfor _ in range(10**6):\n    chunks.append(bytearray(2**20))",
    "import numpy as np\na = np.ones(10**11)",
    "s = 'x' * (2**40)",
], ids=["bytearray-100G", "gradual-append", "numpy-ones", "str-1T"])
async def test_memory_bomb(sb, attack):
    r = await sb.run(attack + "\nprint('survived')")
    assert r.status is Status.MEMORY, r
    assert "survived" not in r.stdout and "256" in r.error
    assert r.duration_s < sb.config.timeout_s
    await assert_serves(sb)


async def test_shared_mmap_bomb_is_stopped_by_the_worker_cgroup(sb):
    """MAP_SHARED memory escapes RLIMIT_DATA; the worker's cgroup must still stop it short of the host."""
    cap_mb = sb.config.max_memory_mb + 512
    r = await sb.run(code("""
        import mmap
        m = mmap.mmap(-1, 2**33)
        chunk = b"x" * (16 << 20)
        done = 0
        while done < 2**33:
            m.write(chunk)
            done += len(chunk)
            if done % (64 << 20) == 0:
                print(done >> 20, flush=True)
        print("survived")
    """))
    assert r.status in (Status.MEMORY, Status.TIMEOUT, Status.ERROR), r
    assert "survived" not in r.stdout
    touched = [int(x) for x in r.stdout.split()] or [0]
    assert max(touched) <= cap_mb, (touched[-1], cap_mb)
    await assert_serves(sb)


async def test_shared_mmap_counts_against_memory_mb(sb):
    r = await sb.run(code("""
        import mmap
        m = mmap.mmap(-1, 192 << 20)
        chunk = b"x" * (16 << 20)
        for _ in range(12):
            m.write(chunk)
        print("touched", m.tell() >> 20)
    """), memory_mb=32)
    try:
        assert r.status is Status.MEMORY, r
    finally:
        await assert_serves(sb)


async def test_forked_children_share_one_memory_budget(sb):
    r = await sb.run(code("""
        import os, time
        kids = []
        for _ in range(10):
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(r)
                try:
                    b = bytearray(28 << 20)
                    for i in range(0, len(b), 4096):
                        b[i] = 1
                    os.write(w, b"1")
                except MemoryError:
                    os.write(w, b"0")
                time.sleep(3)
                os._exit(0)
            os.close(w)
            kids.append((pid, r))
        wrote = [os.read(r, 1) == b"1" for _, r in kids]
        # A child the OOM killer took no longer holds anything: count only the living.
        alive = [os.waitpid(pid, os.WNOHANG) == (0, 0) for pid, _ in kids]
        held = sum(w and a for w, a in zip(wrote, alive))
        print("held", held * 28, "MB")
        for pid, _ in kids:
            os.kill(pid, 9)
    """), memory_mb=32)
    try:
        # The run's processes share one cgroup budget: memory_mb plus the copy-on-write slack.
        # Past it, the OOM killer takes one of the run's processes and the status says memory.
        assert r.status in (Status.OK, Status.MEMORY), r
        held = int(r.stdout.split()[1])
        # One child's 28 MB of granularity on top: the OOM killer acts on the allocation that crosses.
        assert held <= 32 + (MEMORY_SLACK >> 20) + 28, f"a run limited to 32 MB held {held} MB across its processes"
    finally:
        await assert_serves(sb)


# ---------------------------------------------------------------------------- 7. disk


async def test_disk_fill_is_contained_and_wiped(sb):
    r = await sb.run(WORKER_ID + code("""
        import errno, os
        print("WORKER", _worker_id())
        chunk = b"\\0" * (1 << 20)
        last = None
        for n in range(10):
            try:
                with open(f"fill{n}.bin", "wb") as f:
                    for _ in range(200):
                        f.write(chunk)
                        f.flush()
            except OSError as exc:
                print("STOPPED", n, errno.errorcode.get(exc.errno), os.path.getsize(f"fill{n}.bin") >> 20)
                last = exc
                if exc.errno == errno.ENOSPC:
                    raise
        print("never full")
    """))
    assert r.status is Status.ERROR, r
    stops = lines_with("STOPPED ", r.stdout)
    assert stops and stops[0].split()[1] == "EFBIG", stops  # RLIMIT_FSIZE: one file is capped
    assert int(stops[0].split()[2]) <= sb.config.max_file_bytes >> 20
    assert stops[-1].split()[1] == "ENOSPC", stops  # the tmpfs scratch is capped
    assert "OSError: [Errno 28]" in r.stderr and "never full" not in r.stdout
    attacked = int(lines_with("WORKER ", r.stdout)[0])
    # The next runs, on every worker, start with an empty scratch directory.
    seen = {}
    for _ in range(3 * sb.config.worker_count):
        c = await sb.run(WORKER_ID + code("""
            import os, shutil
            print(_worker_id(), _listing("."), _listing("/sandbox"), shutil.disk_usage("/sandbox").used)
        """))
        assert c.status is Status.OK, c
        wid, rest = c.stdout.split(" ", 1)
        seen[int(wid)] = rest
    assert attacked in seen, (attacked, seen)
    for listing in seen.values():
        assert listing.startswith("[] [] "), seen
        assert int(listing.split()[-1]) < (1 << 20), seen
    await assert_serves(sb)


async def test_writes_outside_scratch_fail(sb):
    targets = ["/x", "/usr/x", "/usr/lib/x", "/lib/x", "/etc/x", "/etc/ld.so.cache", "/work/x", "/work/main/x",
               sys.prefix + "/x", sys.prefix + "/pyvenv.cfg", sys.base_prefix + "/x",
               "/opt/retool-sandbox/zygote.py", "/opt/retool-sandbox/x", "/proc/1/oom_score_adj",
               "/proc/sys/kernel/hostname", "/dev/evil", "/root/x"]
    r = await sb.run(code(f"""
        import os
        for path in {targets!r}:
            try:
                with open(path, "ab") as f:
                    f.write(b"pwned")
                print("WROTE", path)
            except OSError as exc:
                print("FAILED", path, type(exc).__name__, exc.errno)
        for d in ["/newdir", "/usr/newdir", "/work/newdir"]:
            try:
                os.mkdir(d)
                print("WROTE", d)
            except OSError as exc:
                print("FAILED", d, type(exc).__name__, exc.errno)
    """))
    assert r.status is Status.OK, r
    assert not lines_with("WROTE ", r.stdout), r.stdout
    assert len(lines_with("FAILED ", r.stdout)) == len(targets) + 3
    assert not os.path.exists(os.path.join(sys.prefix, "x"))
    with open(os.path.join(sys.prefix, "pyvenv.cfg"), "rb") as f:
        assert b"pwned" not in f.read()
    await assert_serves(sb)


async def test_files_argument_cannot_escape_scratch(sb):
    for name in ["../escape.txt", "/etc/evil", "a/../../escape.txt"]:
        r = await sb.run("print(1)", files={name: "x"})
        assert r.status is Status.REJECTED, (name, r)
    await assert_serves(sb)


# ---------------------------------------------------------------------------- 8. output


async def test_output_flood_is_cut(sb):
    cap = sb.config.output_bytes
    marker = TRUNCATION_MARKER.format(limit=cap)
    started = time.monotonic()
    r = await sb.run(code("""
        for _ in range(10**7):
            print("x" * 1000)
    """))
    assert r.status is Status.OUTPUT_LIMIT and r.truncated, r
    assert len(r.stdout) + len(r.stderr) <= cap + len(marker)
    assert r.stdout.endswith(marker)
    assert time.monotonic() - started < sb.config.timeout_s
    await assert_serves(sb)


async def test_stderr_and_binary_floods_are_cut(sb):
    cap = sb.config.output_bytes
    marker = TRUNCATION_MARKER.format(limit=cap)
    r = await sb.run("import sys\nfor _ in range(10**7):\n    sys.stderr.write('e' * 4096)")
    assert r.status is Status.OUTPUT_LIMIT and r.truncated and len(r.stderr) <= cap, r.status
    r = await sb.run("import os, sys\nfor _ in range(10**5):\n    sys.stdout.buffer.write(os.urandom(65536))")
    assert r.status is Status.OUTPUT_LIMIT and r.truncated, r.status
    assert isinstance(r.stdout, str) and r.stdout.endswith(marker)
    # Bytes are counted, not characters: replacement characters may not inflate the result past the cap.
    assert len(r.stdout.encode("utf-8", "surrogatepass")) <= 3 * cap + len(marker)
    r = await sb.run("import sys\nsys.stdout.buffer.write(bytes(range(256)) * 4 + b'\\xff\\xfe\\x00')\n"
                     "sys.stderr.buffer.write(b'\\xc3\\x28')")
    assert r.status is Status.OK, r
    assert "\ufffd" in r.stdout and "\x00" in r.stdout and "\ufffd" in r.stderr
    await assert_serves(sb)


# ---------------------------------------------------------------------------- 9. killing the parent


KILLS = {
    "kill-1-SIGKILL": "os.kill(1, signal.SIGKILL)",
    "kill-ppid-9": "os.kill(os.getppid(), 9)",
    "kill-minus1-9": "os.kill(-1, 9)",
    "kill-1-SIGTERM": "os.kill(1, signal.SIGTERM)",
    "kill-1-SIGSTOP": "os.kill(1, signal.SIGSTOP)",
    "kill-1-SIGHUP": "os.kill(1, signal.SIGHUP)",
    "kill-1-SIGSEGV": "os.kill(1, signal.SIGSEGV)",
    "kill-1-SIGUSR1": "os.kill(1, signal.SIGUSR1)",
    "killpg-1": "os.killpg(1, 9)",
}


@pytest.mark.parametrize("attack", sorted(KILLS))
async def test_killing_the_zygote_is_harmless(sb, attack):
    await settle(sb)
    before = zygote_pids()
    r = await sb.run(code(f"""
        import os, signal, time
        try:
            {KILLS[attack]}
            print("sent")
        except OSError as exc:
            print("refused", type(exc).__name__)
        time.sleep(0.2)
        try:
            os.kill(1, 0)
        except PermissionError:
            pass  # the zygote is another uid: it exists, and no signal of the run reaches it
        print("zygote alive")
    """))
    assert r.status is Status.OK, r
    assert r.stdout.endswith("zygote alive\n")
    await settle(sb)
    assert zygote_pids() == before  # no worker was lost or replaced
    await assert_serves(sb)


async def test_kill_everything_cannot_reach_a_concurrent_run(sb):
    await settle(sb)
    victim = sb.run("import time\ntime.sleep(1.0)\nprint('victim finished')")
    killer = sb.run("import os, time\ntime.sleep(0.3)\ntry:\n    os.kill(-1, 9)\nexcept ProcessLookupError:\n"
                    "    pass  # nothing else in its jail to kill\nprint('killer finished')")
    rv, rk = await asyncio.gather(victim, killer)
    assert (rv.status, rv.stdout) == (Status.OK, "victim finished\n"), rv
    assert (rk.status, rk.stdout) == (Status.OK, "killer finished\n"), rk
    await assert_serves(sb)


SIGINT_GAP = (
    "GAP: the zygote is pid 1 of the jail and keeps Python's default SIGINT handler (SigCgt bit 2), so "
    "os.kill(1, signal.SIGINT) from a run raises KeyboardInterrupt in the zygote's main loop "
    "(sandbox/guest/zygote.py main(): `except Exception` does not catch it); the worker dies, the run is "
    "reported as sandbox_error ('our fault') and the worker is restarted. Reachable with the default "
    "filters via sys.modules['os'].")


@pytest.mark.parametrize("which", ["permissive", "filtered"])
async def test_sigint_to_the_zygote_is_harmless(sb, filtered, which):
    box = sb if which == "permissive" else filtered
    await settle(box)
    before = zygote_pids()
    attack = ("import os, signal, time\ntry:\n    os.kill(1, signal.SIGINT)\nexcept PermissionError:\n    pass\n"
              if which == "permissive" else
              "import sys, time\ntry:\n    sys.modules['os'].kill(1, 2)\nexcept PermissionError:\n    pass\n")
    r = await box.run(attack + "time.sleep(0.3)\nprint('done')")
    try:
        assert r.status is Status.OK, r
        assert zygote_pids() == before
    finally:
        await assert_serves(box)


# ---------------------------------------------------------------------------- 10. ptrace & friends


async def test_ptrace_and_zygote_memory(sb):
    r = await sb.run(code("""
        import ctypes, errno, os
        libc = ctypes.CDLL(None, use_errno=True)
        libc.ptrace.restype = ctypes.c_long
        libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
        for name, req, pid in [("attach-1", 16, 1), ("seize-1", 0x4206, 1), ("traceme", 0, 0)]:
            ctypes.set_errno(0)
            rc = libc.ptrace(req, pid, None, None)
            print("PTRACE", name, rc, errno.errorcode.get(ctypes.get_errno()))
        class iovec(ctypes.Structure):
            _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
        buf = ctypes.create_string_buffer(64)
        local = iovec(ctypes.cast(buf, ctypes.c_void_p), 64)
        remote = iovec(ctypes.cast(buf, ctypes.c_void_p), 64)
        libc.process_vm_readv.restype = ctypes.c_ssize_t
        for pid in (1, os.getpid()):
            ctypes.set_errno(0)
            rc = libc.process_vm_readv(pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
            print("VMREAD", pid, rc, errno.errorcode.get(ctypes.get_errno()))
        for path in ("/proc/1/mem", "/proc/1/environ"):
            try:
                open(path, "rb").read(16)
                print("READ", path)
            except OSError as exc:
                print("DENIED", path, type(exc).__name__)
        try:
            for line in open("/proc/1/status"):
                if line.startswith("TracerPid"):
                    print("ZYGOTE", line.strip())
        except FileNotFoundError:
            print("ZYGOTE hidden")
    """))
    assert r.status is Status.OK, r
    for line in lines_with("PTRACE ", r.stdout):
        assert line.split()[1:] == ["-1", "EPERM"], line
    assert len(lines_with("PTRACE ", r.stdout)) == 3
    for line in lines_with("VMREAD ", r.stdout):
        assert line.split()[1:] == ["-1", "EPERM"], line
    assert not lines_with("READ ", r.stdout)
    denied = sorted(lines_with("DENIED ", r.stdout))
    assert [d.split()[0] for d in denied] == ["/proc/1/environ", "/proc/1/mem"], denied
    assert all(d.endswith(("PermissionError", "FileNotFoundError")) for d in denied), denied
    assert "ZYGOTE TracerPid:\t0" in r.stdout or "ZYGOTE hidden" in r.stdout
    await assert_serves(sb)


# (name, x86_64 number, args): each call would *succeed* for an unprivileged process without the
# seccomp filter, so EPERM proves the filter (not merely missing capabilities) refused it.
FILTERED_SYSCALLS = [
    ("unshare(0)", 272, (0,)),
    ("unshare(NEWUSER)", 272, (0x10000000,)),
    ("setns(0,0)", 308, (0, 0)),
    ("mount(tmpfs)", 165, (b"none", b"/tmp", b"tmpfs", 0, 0)),
    ("kcmp(self,self,VM)", 312, ("self", "self", 2, 0, 0)),
    ("keyctl(GET_KEYRING_ID)", 250, (0, -3, 0)),
    ("add_key", 248, (b"user", b"k", b"v", 1, -3)),
    ("shmget", 29, (0, 4096, 0o1600)),
    ("semget", 64, (0, 1, 0o1600)),
    ("msgget", 68, (0, 0o1600)),
    ("io_uring_setup", 425, (1, "params")),
    ("bpf", 321, (0, 0, 0)),
    ("userfaultfd", 323, (0,)),
    ("perf_event_open", 298, (0, 0, -1, -1, 0)),
    ("chroot", 161, (b"/tmp",)),
    ("pivot_root", 155, (b"/tmp", b"/tmp")),
]


@needs_x86_64
async def test_dangerous_syscalls_are_refused(sb):
    calls = [(name, nr, list(args)) for name, nr, args in FILTERED_SYSCALLS]
    r = await sb.run(code(f"""
        import ctypes, errno, os
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        params = ctypes.create_string_buffer(256)
        for name, nr, args in {calls!r}:
            conv = []
            for a in args:
                if a == "self":
                    conv.append(ctypes.c_long(os.getpid()))
                elif a == "params":
                    conv.append(params)
                elif isinstance(a, bytes):
                    conv.append(ctypes.c_char_p(a))
                else:
                    conv.append(ctypes.c_long(a))
            ctypes.set_errno(0)
            rc = libc.syscall(ctypes.c_long(nr), *conv)
            print("CALL", name, rc, errno.errorcode.get(ctypes.get_errno()))
    """))
    assert r.status is Status.OK, r
    results = {line.rsplit(" ", 2)[0]: line.rsplit(" ", 2)[1:] for line in lines_with("CALL ", r.stdout)}
    assert set(results) == {name for name, _, _ in FILTERED_SYSCALLS}
    for name, (rc, err) in results.items():
        assert (rc, err) == ("-1", "EPERM"), (name, rc, err)
    await assert_serves(sb)


@needs_x86_64
async def test_32bit_syscall_entry_cannot_bypass_seccomp(sb):
    """int 0x80 uses the i386 syscall table, where the filter's x86_64 numbers mean other calls."""
    r = await sb.run(code("""
        import ctypes, mmap, struct
        def sys32(nr, a=0, b=0, c=0):
            # push rbx; mov eax, nr; mov ebx, a; mov ecx, b; mov edx, c; int 0x80; pop rbx; ret
            text = (b"\\x53\\xb8" + struct.pack("<I", nr) + b"\\xbb" + struct.pack("<I", a) + b"\\xb9"
                    + struct.pack("<I", b) + b"\\xba" + struct.pack("<I", c) + b"\\xcd\\x80\\x5b\\xc3")
            page = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
            page.write(text)
            return ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(page)))()
        print("start", flush=True)
        print("socket32", sys32(359, 2, 1, 0), flush=True)   # i386 socket(AF_INET, SOCK_STREAM, 0)
        print("unshare32", sys32(310, 0x10000000), flush=True)  # i386 unshare(CLONE_NEWUSER)
    """))
    assert r.stdout.startswith("start\n"), r
    if r.status is Status.ERROR and r.exit_code == -31:
        # Killed by SIGSYS at the first 32-bit syscall: the filter checks the architecture.
        assert r.stdout == "start\n" and "SIGSYS" in (r.error or ""), r
    else:
        assert r.status is Status.OK, r
        values = dict(line.split() for line in r.stdout.splitlines()[1:])
        assert int(values["socket32"]) < 0 and int(values["unshare32"]) < 0, values
    await assert_serves(sb)


@needs_x86_64
async def test_clone_cannot_create_namespaces(sb):
    r = await sb.run(code("""
        import ctypes, os, signal
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        flags = 0x10000000 | 0x20000000 | 0x00020000 | 0x40000000 | signal.SIGCHLD  # USER|PID|NS|NET
        pid = libc.syscall(ctypes.c_long(56), ctypes.c_long(flags), ctypes.c_long(0), ctypes.c_long(0),
                           ctypes.c_long(0), ctypes.c_long(0))
        if pid == 0:
            caps = [l for l in open("/proc/self/status") if l.startswith("CapEff")][0].split()[1]
            os.write(1, ("CHILD caps %s\\n" % caps).encode())
            os._exit(0)
        if pid > 0:
            os.waitpid(pid, 0)
        print("CLONE", pid, ctypes.get_errno())
    """))
    try:
        assert r.status is Status.OK, r
        assert "CHILD" not in r.stdout, r.stdout
        assert lines_with("CLONE ", r.stdout)[0].split()[0] == "-1", r.stdout
    finally:
        await assert_serves(sb)


# ---------------------------------------------------------------------------- 11. isolation between runs


async def test_concurrent_runs_cannot_see_each_other(sb):
    await settle(sb)
    program = WORKER_ID + code("""
        import os, time
        me = os.getpid()
        with open("/sandbox/marker-{tag}", "w") as f:
            f.write("{tag}")
        time.sleep(0.8)
        pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
        reached = []
        for pid in range(1, 400):
            if pid in (1, me):
                continue
            try:
                os.kill(pid, 0)
                reached.append(pid)
            except ProcessLookupError:
                pass
            except PermissionError:
                reached.append(pid)
        print("WORKER", _worker_id())
        print("PIDS", pids, me)
        print("REACHED", reached)
        print("FILES", _listing("/sandbox"))
    """)
    a, b = await asyncio.gather(sb.run(program.replace("{tag}", "a")), sb.run(program.replace("{tag}", "b")))
    for r, tag in ((a, "a"), (b, "b")):
        assert r.status is Status.OK, r
        pids_line = lines_with("PIDS ", r.stdout)[0]
        pids, me = pids_line.rsplit(" ", 1)
        assert pids == f"[{me}]", pids_line  # itself only: not even the zygote (hidepid)
        assert lines_with("REACHED ", r.stdout) == ["[]"], r.stdout
        assert lines_with("FILES ", r.stdout) == [f"['marker-{tag}']"], r.stdout
    assert lines_with("WORKER ", a.stdout) != lines_with("WORKER ", b.stdout)  # really concurrent
    assert a.duration_s > 0.7 and b.duration_s > 0.7
    await assert_serves(sb)


async def test_sequential_runs_start_clean(sb):
    await settle(sb)
    first = await sb.run(WORKER_ID + code("""
        import os
        os.makedirs("/sandbox/sub/dir", exist_ok=True)
        open("/sandbox/sub/dir/secret.txt", "w").write("from run 1")
        open("persist.txt", "w").write("from run 1")
        os.chmod("/sandbox/sub/dir", 0)
        os.chmod("/sandbox/sub", 0)
        os.symlink("/proc/1/mem", "/sandbox/link")
        print(_worker_id())
    """))
    assert first.status is Status.OK, first
    owner = int(first.stdout)
    seen = {}
    for _ in range(3 * sb.config.worker_count):
        r = await sb.run(WORKER_ID + code("""
            import os
            print(_worker_id(), _listing("."), os.path.exists("/sandbox/sub/dir/secret.txt"))
        """))
        assert r.status is Status.OK, r
        wid, rest = r.stdout.split(" ", 1)
        seen[int(wid)] = rest.strip()
    assert owner in seen
    assert set(seen.values()) == {"[] False"}, seen
    await assert_serves(sb)


# ---------------------------------------------------------------------------- 12. unprivileged uid


async def test_uid_is_unprivileged(sb):
    r = await sb.run(code("""
        import os
        print("UID", os.getuid(), os.geteuid(), os.getgid(), os.getegid())
        for name, fn in [("setuid0", lambda: os.setuid(0)), ("setgid0", lambda: os.setgid(0)),
                         ("setgroups", lambda: os.setgroups([0])), ("seteuid0", lambda: os.seteuid(0)),
                         ("chown", lambda: os.chown("/sandbox", 0, 0))]:
            try:
                fn()
                print("ALLOWED", name)
            except OSError as exc:
                print("DENIED", name, type(exc).__name__)
        for line in open("/proc/self/status"):
            if line.startswith(("Cap", "NoNewPrivs", "Seccomp:")):
                print("STATUS", line.split()[0], line.split()[1])
    """))
    assert r.status is Status.OK, r
    assert lines_with("UID ", r.stdout) == ["1000 1000 1000 1000"]
    assert not lines_with("ALLOWED ", r.stdout), r.stdout
    assert len(lines_with("DENIED ", r.stdout)) == 5
    status = dict(line.split() for line in lines_with("STATUS ", r.stdout))
    for cap in ("CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:"):
        assert int(status[cap], 16) == 0, (cap, status[cap])
    assert status["NoNewPrivs:"] == "1"  # setuid binaries visible under /usr/lib cannot raise privileges
    assert status["Seccomp:"] == "2"
    await assert_serves(sb)


# ---------------------------------------------------------------------------- 13. default config: filters


async def test_filters_reject_class_graph_walk(filtered):
    r = await filtered.run("print(().__class__.__bases__[0].__subclasses__())")
    assert r.status is Status.REJECTED and "__bases__" in r.error, r
    r = await filtered.run("__import__('os').system('id')")
    assert r.status is Status.REJECTED and "__import__" in r.error, r
    r = await filtered.run("import importlib\nimportlib.import_module('os')")
    assert r.status is Status.REJECTED, r
    r = await filtered.run("eval(\"__import__('os')\")")
    assert r.status is Status.REJECTED, r
    r = await filtered.run("print('{0.__init__.__globals__}'.format(object()))")
    assert r.status is Status.REJECTED, r
    await assert_serves(filtered)


@pytest.mark.parametrize("module", ["os", "socket", "ctypes", "subprocess", "signal", "mmap", "posix", "_posixsubprocess"])
async def test_filters_refuse_dangerous_imports(filtered, module):
    r = await filtered.run(f"import {module}\nprint('imported')")
    assert r.status is Status.ERROR and "imported" not in r.stdout, r
    assert "ImportError" in r.stderr and "not allowed" in r.stderr and "allowed modules: " in r.stderr
    assert "math" in r.stderr  # the message names the allowed modules
    await assert_serves(filtered)


async def test_runtime_getattr_guard(filtered):
    r = await filtered.run("def f():\n    pass\ng = getattr(f, '__glo' + 'bals__')\nprint(g)")
    assert r.status is Status.ERROR, r
    assert "AttributeError" in r.stderr and "not allowed in this sandbox" in r.stderr
    assert "__builtins__" not in r.stdout
    await assert_serves(filtered)


async def test_default_config_still_jailed_when_filters_are_sidestepped(filtered, host_secret):
    """The import filter is bypassable (sys.modules hands out modules the interpreter already loaded);
    the OS boundary holds anyway."""
    r = await filtered.run(code("""
        import sys
        os = sys.modules["os"]
        print("GOT", os.__name__)
        for path in ["/etc/shadow", "/etc/passwd", "/work/main/pyproject.toml", "/proc/1/environ"]:
            try:
                open(path).read()
                print("READ", path)
            except OSError as exc:
                print("DENIED", path, type(exc).__name__)
        print("ENV", dict(os.environ))
        print("UID", os.getuid())
    """))
    assert r.status is Status.OK, r
    assert "GOT os" in r.stdout  # documents the bypass: the allowlist is a filter, not the boundary
    assert not lines_with("READ ", r.stdout) and len(lines_with("DENIED ", r.stdout)) == 4
    assert host_secret not in r.stdout and lines_with("UID ", r.stdout) == ["1000"]
    await assert_serves(filtered)


# ---------------------------------------------------------------------------- host hygiene


async def test_closed_workers_leave_no_cgroups():
    box = await _start(FILTERED.with_(uid_base=LEAK_UID_BASE, workers=1))
    try:
        zygote_uids = {w.zygote_uid for w in box._pool._workers}
        mine = [z.pid for z in zygotes() if z.uids().real in zygote_uids]
        assert len(mine) == 1
        dirs = [f"/sys/fs/cgroup/{ctl}/NSJAIL/NSJAIL.{mine[0]}" for ctl in ("memory", "pids")]
        dirs = [d for d in dirs if os.path.isdir(d)]
        assert dirs, "the worker's cgroups were not found"
    finally:
        await box.close()
    for _ in range(40):  # nsjail removes its cgroups as soon as its child is gone
        if not any(os.path.isdir(d) for d in dirs):
            break
        await asyncio.sleep(0.05)
    assert [d for d in dirs if os.path.isdir(d)] == []


async def test_runs_not_the_zygote_are_the_oom_victims(sb):
    # Without CAP_SYS_RESOURCE the host cannot lower the zygote's score, so every run raises its own.
    r = await sb.run("print(open('/proc/self/oom_score_adj').read().strip())")
    assert (r.status, r.stdout) == (Status.OK, "1000\n"), r
    await assert_serves(sb)


# ---------------------------------------------------------------------------- 14. one run never poisons the next
#
# Each attack from issue 10 ("What a run can do today"), with the filters off, on a one-worker sandbox:
# afterwards the next run must behave exactly as on a fresh worker (PROBE prints everything of the worker
# a run could have changed and that a later program would notice), or the worker must have been replaced,
# and throughput must recover.

SOLO_UID_BASE = 234_000
SOLO = PERMISSIVE.with_(workers=1, uid_base=SOLO_UID_BASE,
                        allowed_modules=PERMISSIVE.allowed_modules | {"fcntl", "stat", "platform"})

PROBE = code("""
    import ctypes, os, platform, resource, sys
    libc = ctypes.CDLL(None, use_errno=True)
    names = sorted(n for n in dir(resource) if n.startswith("RLIMIT_") and n != "RLIMIT_DATA")
    print("RLIMITS", [(n, resource.getrlimit(getattr(resource, n))) for n in names])
    # RLIMIT_DATA is the run's memory_mb (256) above what the warm heap had mapped when it forked.
    vm_data = [int(l.split()[1]) << 10 for l in open("/proc/self/status") if l.startswith("VmData:")][0]
    data = resource.getrlimit(resource.RLIMIT_DATA)
    print("DATA", data[0] == data[1], abs(data[0] - vm_data - (256 << 20)) < (32 << 20))
    print("AFFINITY", sorted(os.sched_getaffinity(0)), os.cpu_count())
    print("NICE", os.getpriority(os.PRIO_PROCESS, 0), os.sched_getscheduler(0))
    if platform.machine() == "x86_64":
        print("IOPRIO", libc.syscall(252, 1, 0))
    print("OOM", open("/proc/self/oom_score_adj").read().strip())
    print("CWD", oct(os.stat(".").st_mode), sorted(n for n in os.listdir(".") if n != "main.py"))
    print("INPUT", open("input.txt").read(), os.stat("input.txt").st_uid == os.getuid())
    print("STDIN", len(sys.stdin.read()))
    fds = [os.open("/dev/null", os.O_RDONLY) for _ in range(200)]
    print("FDS", len(fds))
    b = bytearray(150 << 20)
    for i in range(0, len(b), 4096):
        b[i] = 1
    print("MEM", len(b) >> 20)
    del b
    kids = []
    for _ in range(20):
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        kids.append(pid)
    for p in kids:
        os.waitpid(p, 0)
    print("FORKS", len(kids))
    with open("out.bin", "wb") as f:
        f.write(b"y" * (32 << 20))
    print("DISK", os.path.getsize("out.bin") >> 20)
    print("FOREIGN PIDS", [p for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, os.getpid())])
""")
PROBE_FILES = {"input.txt": "hello"}
PROBE_STDIN = "z" * 100_000  # larger than a pipe: the zygote hands it over as a file


async def probe(box: Sandbox) -> str:
    r = await box.run(PROBE, files=PROBE_FILES, stdin=PROBE_STDIN)
    assert r.status is Status.OK, r
    return r.stdout


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def solo(host_secret):
    box = await _start(SOLO)
    try:
        yield box
    finally:
        await box.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def fresh_probe(solo):
    return await probe(solo)


def solo_worker(box: Sandbox):
    workers = list(box._pool._workers)
    assert len(workers) == 1
    return workers[0]


async def assert_as_fresh(box: Sandbox, fresh: str) -> None:
    """The next runs behave exactly as on a fresh worker, and throughput is back."""
    await settle(box)
    for _ in range(2):
        assert await probe(box) == fresh
    started = time.monotonic()
    results = await asyncio.gather(*(box.run(f"print({i} * {i})") for i in range(40)))
    elapsed = time.monotonic() - started
    assert [(r.status, r.stdout) for r in results] == [(Status.OK, f"{i * i}\n") for i in range(40)]
    assert elapsed < 10, f"40 runs of print took {elapsed:.1f}s on the worker after the attack"
    await settle(box)
    assert_no_leftovers()


async def test_probe_is_deterministic_on_a_fresh_worker(solo, fresh_probe):
    assert "INPUT hello True" in fresh_probe and "STDIN 100000" in fresh_probe and "FOREIGN PIDS []" in fresh_probe
    await assert_as_fresh(solo, fresh_probe)


async def test_run_cannot_change_the_zygotes_limits(solo, fresh_probe):
    """Item 1: prlimit on the zygote (pid 1 in the jail, the run's parent)."""
    r = await solo.run(code("""
        import os, resource
        for pid in sorted({1, os.getppid()}):
            for name in ("RLIMIT_NOFILE", "RLIMIT_DATA", "RLIMIT_AS", "RLIMIT_NPROC", "RLIMIT_FSIZE",
                         "RLIMIT_STACK", "RLIMIT_CPU", "RLIMIT_MEMLOCK"):
                try:
                    resource.prlimit(pid, getattr(resource, name), (16, 16))
                    print("CHANGED", pid, name)
                except OSError as exc:
                    print("REFUSED", pid, name, exc.errno)
    """))
    assert r.status is Status.OK, r
    assert not lines_with("CHANGED ", r.stdout), r.stdout  # the zygote is another uid: EPERM
    await assert_as_fresh(solo, fresh_probe)


async def test_run_cannot_change_the_zygotes_scheduling(solo, fresh_probe):
    """Item 2: CPU affinity, niceness, scheduling policy and I/O priority of the zygote."""
    r = await solo.run(code("""
        import ctypes, os, platform
        libc = ctypes.CDLL(None, use_errno=True)
        def attempt(name, fn):
            try:
                fn()
                print("CHANGED", name)
            except OSError as exc:
                print("REFUSED", name, exc.errno)
        attempt("affinity", lambda: os.sched_setaffinity(1, {0}))
        attempt("nice", lambda: os.setpriority(os.PRIO_PROCESS, 1, 19))
        attempt("nice-pgrp", lambda: os.setpriority(os.PRIO_PGRP, os.getpgid(1), 19))
        for uid in (0, 1001, 65534):
            attempt(f"nice-user-{uid}", lambda: os.setpriority(os.PRIO_USER, uid, 19))
        attempt("sched-idle", lambda: os.sched_setscheduler(1, os.SCHED_IDLE, os.sched_param(0)))
        if platform.machine() == "x86_64":
            for who, target in ((1, 1), (3, 1001)):  # IOPRIO_WHO_PROCESS pid 1, IOPRIO_WHO_USER
                ctypes.set_errno(0)
                rc = libc.syscall(251, who, target, 3 << 13)  # ioprio_set(..., IOPRIO_CLASS_IDLE)
                print("CHANGED" if rc == 0 else "REFUSED", "ioprio", who, ctypes.get_errno())
    """))
    assert r.status is Status.OK, r
    assert not [c for c in lines_with("CHANGED ", r.stdout) if not c.startswith("nice-user")], r.stdout
    await assert_as_fresh(solo, fresh_probe)


@pytest.mark.parametrize("mode", [0o300, 0o500, 0o000])
async def test_run_cannot_lock_the_scratch_root(solo, fresh_probe, mode):
    """Item 3: chmod of the scratch root, with files planted for the next run."""
    r = await solo.run(code(f"""
        import os
        os.makedirs("planted/deeper", exist_ok=True)
        open("planted/deeper/note.txt", "w").write("from the attacker")
        open("input.txt", "w").write("planted input")
        os.chmod("planted", 0)
        try:
            os.chmod("/sandbox", {mode:#o})
            print("CHMOD done")
        except OSError as exc:
            print("CHMOD refused", exc.errno)
    """))
    assert r.status is Status.OK, r
    await assert_as_fresh(solo, fresh_probe)


async def test_run_cannot_make_the_scratch_unwipeable(solo, fresh_probe):
    """Item 4: a tree deeper than any recursion limit, paths past PATH_MAX, 100 MB at the bottom."""
    worker = solo_worker(solo)
    r = await solo.run(code("""
        import os
        flags = os.O_RDONLY | os.O_DIRECTORY
        fd = os.open(".", flags)
        for _ in range(1100):  # deeper than the interpreter's recursion limit
            os.mkdir("d", dir_fd=fd)
            nfd = os.open("d", flags, dir_fd=fd)
            os.close(fd)
            fd = nfd
        os.close(fd)
        fd = os.open(".", flags)
        name = "x" * 250
        for _ in range(40):  # 10,000 characters: far past PATH_MAX
            os.mkdir(name, dir_fd=fd)
            nfd = os.open(name, flags, dir_fd=fd)
            os.close(fd)
            fd = nfd
        chunk = b"\\1" * (1 << 20)
        for name in ("big1.bin", "big2.bin"):  # 2 x 50 MB: one file may not exceed RLIMIT_FSIZE
            out = os.open(name, os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=fd)
            for _ in range(50):
                os.write(out, chunk)
            os.close(out)
        os.fchmod(fd, 0)
        print("planted")
    """), timeout_s=20)
    assert (r.status, r.stdout) == (Status.OK, "planted\n"), r
    await assert_as_fresh(solo, fresh_probe)
    # Either the wipe emptied it (same worker) or the worker was retired; never a half-wiped one.
    assert solo_worker(solo) is worker or solo._pool.retired > 0


async def test_run_cannot_get_the_zygote_oom_killed_through_its_buffers(solo, fresh_probe):
    """Item 5: the run lowers its own OOM score back to the zygote's and floods the status pipe."""
    worker = solo_worker(solo)
    zygote = psutil.Process(worker.zygote_pid)
    rss_before = zygote.memory_info().rss
    r = await solo.run(code("""
        import ctypes, os, stat
        ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE: own /proc files become writable
        try:
            with open("/proc/self/oom_score_adj", "w") as f:
                f.write("0")
            print("OOM lowered")
        except OSError as exc:
            print("OOM refused", exc.errno)
        pipes = []
        for fd in range(3, 64):
            try:
                if stat.S_ISFIFO(os.fstat(fd).st_mode):
                    pipes.append(fd)
            except OSError:
                pass
        chunk = b"M" * (1 << 20)
        sent = 0
        for fd in pipes:
            try:
                for _ in range(600):
                    sent += os.write(fd, chunk)
            except OSError:
                pass
        print("FLOODED", sent >> 20, "MB through", pipes)
    """), timeout_s=20)
    assert r.status is Status.OK, r
    assert int(lines_with("FLOODED ", r.stdout)[0].split()[0]) >= 600, r.stdout
    assert solo_worker(solo) is worker and zygote.is_running(), "the zygote died"
    assert zygote.memory_info().rss < rss_before + (64 << 20)
    await assert_as_fresh(solo, fresh_probe)


OOM_THE_ZYGOTE = code("""
        import os, sys
        if len(sys.argv) < 2:  # become a small process: the warm heap is no longer ours to count
            os.execv(sys.executable, [sys.executable, "-c", open("main.py").read(), "small"])
        import subprocess
        open("/proc/self/oom_score_adj", "w").write("0")
        kid = ("open('/proc/self/oom_score_adj', 'w').write('0')\\n"
               "b = bytearray(40 << 20)\\nb[::4096] = b'x' * len(b[::4096])\\nimport time\\ntime.sleep(3)")
        procs = [subprocess.Popen([sys.executable, "-c", kid]) for _ in range(12)]
        for p in procs:
            p.wait()
""")


async def test_a_run_that_gets_the_zygote_oom_killed_costs_only_its_worker(solo, fresh_probe):
    """Item 5, the part not closed: a run can lower its OOM score back to the zygote's (no privilege is
    needed to lower it to where it started), re-execute itself small and spread its memory over small
    children, until the zygote is the largest process when the worker's cgroup runs out. The worker
    then dies; it must be replaced, and the next runs must behave as on a fresh worker."""
    await settle(solo)
    r = await solo.run(OOM_THE_ZYGOTE, timeout_s=10)
    assert r.status in (Status.MEMORY, Status.SANDBOX_ERROR, Status.OK, Status.ERROR), r
    await assert_as_fresh(solo, fresh_probe)


PIPE_QUOTA_ATTACK = code("""
    import fcntl, os, time
    pipes = []
    resized = 0
    try:
        while True:
            r, w = os.pipe()
            pipes.append((r, w))
            try:
                fcntl.fcntl(w, 1031, 1 << 20)  # F_SETPIPE_SZ: 1 MB of this uid's pipe-buffer quota
                resized += 1
            except OSError:
                pass
    except OSError:
        pass
    print("PIPES", len(pipes), resized, flush=True)
    time.sleep(4)
""")


async def test_sandboxes_on_one_host_get_distinct_uid_ranges(host_secret):
    """Item 6: two instances with the default configuration share no host uid, so a run in one cannot
    use up the per-uid pipe-buffer quota that the other's zygote needs to hand a run its stdin."""
    config = SOLO.with_(uid_base=None)
    a = await _start(config)
    b = await _start(config)
    try:
        ra, rb = a.describe()["uid_range"], b.describe()["uid_range"]
        assert ra[1] < rb[0] or rb[1] < ra[0], (ra, rb)
        uids_a = {u for w in a._pool._workers for u in (w.run_uid, w.zygote_uid)}
        uids_b = {u for w in b._pool._workers for u in (w.run_uid, w.zygote_uid)}
        assert not uids_a & uids_b and all(ra[0] <= u <= ra[1] for u in uids_a)
        # A range is held for the instance's life: asking for it explicitly fails while it runs.
        from sandbox.isolation.uids import lease_uids

        with pytest.raises(SandboxError, match="overlap"):
            lease_uids(8, ra[0])
        attack = asyncio.create_task(a.run(PIPE_QUOTA_ATTACK, timeout_s=10))
        await asyncio.sleep(1.0)
        started = time.monotonic()
        victim = await asyncio.wait_for(b.run("import sys\nprint(len(sys.stdin.read()))", stdin="v" * 60_000), 8)
        assert (victim.status, victim.stdout) == (Status.OK, "60000\n"), victim
        assert time.monotonic() - started < 3
        r = await attack
        assert r.status is Status.OK and r.stdout.startswith("PIPES"), r
    finally:
        await a.close()
        await b.close()
    lease = lease_uids(8, ra[0])  # released on close
    lease.release()


async def test_forged_end_of_cell_is_ignored_and_nothing_runs_between_cells(solo):
    """Item 7: a program writes the end-of-cell marker itself, and leaves a thread running."""
    await settle(solo)
    async with solo.session() as s:
        r = await s.run(code("""
            import os, stat, time
            for fd in range(3, 64):
                try:
                    if stat.S_ISFIFO(os.fstat(fd).st_mode):
                        os.write(fd, b"D\\x00")
                except OSError:
                    pass
            time.sleep(0.3)
            print("after the forged marker")
        """))
        assert (r.status, r.stdout) == (Status.OK, "after the forged marker\n"), r
        r = await s.run("print(2)")
        assert (r.status, r.stdout) == (Status.OK, "2\n"), r
        r = await s.run(code("""
            import threading, time
            ticks = [0]
            def spin():
                while True:
                    ticks[0] += 1
                    time.sleep(0.005)
            threading.Thread(target=spin, daemon=True).start()
            time.sleep(0.1)
            print(ticks[0] > 0)
        """))
        assert r.stdout == "True\n", r
        r = await s.run("before = ticks[0]")
        await asyncio.sleep(0.6)  # between cells the session's interpreter is stopped
        r = await s.run("print(ticks[0] - before)")
        assert r.status is Status.OK and int(r.stdout) < 20, r  # ~120 had it kept running
    # The next session on the same worker (kept as a spare) starts clean.
    async with solo.session() as s:
        r = await s.run("import os\nprint([n for n in os.listdir('.') if not n.startswith('cell_')], 'ticks' in globals())")
        assert r.stdout == "[] False\n", r


@needs_x86_64
async def test_x32_syscalls_are_refused(sb):
    """Item 8: syscall numbers with the x32 bit are refused by our filter (EPERM), not left to the kernel."""
    r = await sb.run(code("""
        import ctypes, errno
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        for name, nr in (("getpid", 39), ("socket", 41), ("unshare", 272)):
            ctypes.set_errno(0)
            rc = libc.syscall(ctypes.c_long(0x40000000 | nr), ctypes.c_long(2), ctypes.c_long(1), ctypes.c_long(0))
            print("X32", name, rc, errno.errorcode.get(ctypes.get_errno()))
    """))
    assert r.status is Status.OK, r
    assert lines_with("X32 ", r.stdout) == [f"{n} -1 EPERM" for n in ("getpid", "socket", "unshare")], r.stdout
    await assert_serves(sb)


async def test_proc_hides_the_zygote_and_the_host(sb):
    """Item 8: no host pid of the zygote, no kernel command line, no CPU times of earlier runs."""
    r = await sb.run(code("""
        import os
        for path in ("/proc/1/sched", "/proc/1/stat", "/proc/1/status", "/proc/cmdline", "/proc/stat",
                     "/proc/uptime", "/proc/loadavg", "/proc/meminfo", "/proc/sys/kernel/hostname"):
            try:
                open(path).read()
                print("VISIBLE", path)
            except OSError as exc:
                print("HIDDEN", path, type(exc).__name__)
        print("PIDS", [p for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()])
    """))
    assert r.status is Status.OK, r
    assert not lines_with("VISIBLE ", r.stdout), r.stdout
    assert lines_with("PIDS ", r.stdout) == ["[]"], r.stdout
    await assert_serves(sb)


async def test_a_run_holds_no_descriptor_of_the_zygote(sb):
    r = await sb.run(code("""
        import os
        found = []
        for fd in range(1024):
            try:
                os.fstat(fd)
            except OSError:
                continue
            found.append((fd, os.readlink(f"/proc/self/fd/{fd}").split(":")[0]))
        print(found)
    """))
    assert r.status is Status.OK, r
    fds = eval(r.stdout)  # noqa: S307 - the list the program printed
    # stdin, stdout, stderr and the status pipe: nothing else of the zygote's.
    assert len(fds) == 4 and [fd for fd, _ in fds][:3] == [0, 1, 2], fds
    assert [kind for _, kind in fds] == ["/dev/null", "pipe", "pipe", "pipe"], fds
    await assert_serves(sb)


async def test_cli_escapes_control_characters_on_the_terminal(tmp_path):
    """Item 8: `python -m sandbox run` shows escape sequences escaped; --json keeps the exact output."""
    import json
    import subprocess

    if os.geteuid() != 0:
        pytest.skip("the CLI's default isolation needs root here")
    prog = tmp_path / "p.py"
    prog.write_text("print('\\x1b]0;pwned\\x07\\x1b[2J\\u202eok')\nimport sys\nsys.stderr.write('\\x1b[31mred\\n')\n")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    cmd = [sys.executable, "-m", "sandbox", "run", "--workers", "1", str(prog)]
    plain = await asyncio.to_thread(subprocess.run, cmd, capture_output=True, cwd=root, timeout=120)
    assert plain.returncode == 0, plain.stderr
    assert b"\x1b" not in plain.stdout + plain.stderr and b"\x07" not in plain.stdout
    assert plain.stdout == b"\\x1b]0;pwned\\x07\\x1b[2J\\u202eok\n", plain.stdout
    assert b"\\x1b[31mred" in plain.stderr
    exact = await asyncio.to_thread(subprocess.run, cmd + ["--json"], capture_output=True, cwd=root, timeout=120)
    assert json.loads(exact.stdout)["stdout"] == "\x1b]0;pwned\x07\x1b[2J\u202eok\n"


async def test_close_removes_the_nsjail_config_folder(host_secret):
    box = await _start(FILTERED.with_(uid_base=None, workers=1))
    folder = box.choice.backend._config_dir
    assert os.path.isdir(folder) and os.listdir(folder)
    await box.close()
    assert not os.path.exists(folder)
    assert box.choice.backend._config_dir is None


async def test_a_worker_that_answers_with_an_error_of_ours_is_replaced(solo, fresh_probe):
    """A zygote reply carrying an error of ours means nothing vouches for the worker: it is closed
    and replaced, never queued again."""
    await settle(solo)
    async with solo._pool.worker() as worker:
        reply, _ = await worker.request({"op": "no-such-op"}, b"", 10)
        assert reply.error and "unknown op" in reply.error
    assert worker.retired and not worker.alive and worker not in solo._pool._workers
    await assert_as_fresh(solo, fresh_probe)
    assert solo_worker(solo) is not worker


# ---------------------------------------------------------------------------- 15. same-uid backend: checked, retired

PROCESS = SOLO.with_(isolation="process", uid_base=None)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def proc_box(host_secret):
    box = Sandbox(PROCESS)
    await box.start()
    try:
        yield box
    finally:
        await box.close()


async def test_process_backend_retires_a_worker_whose_zygote_a_run_changed(proc_box):
    """Where runs share the zygote's uid, the zygote's own check after the run finds the change and the
    worker is replaced instead of going back to the queue."""
    fresh = await proc_box.run("import resource\nprint(resource.getrlimit(resource.RLIMIT_NOFILE))")
    before = proc_box._pool.retired
    r = await proc_box.run(code("""
        import os, resource
        resource.prlimit(os.getppid(), resource.RLIMIT_NOFILE, (20, 20))
        print("lowered")
    """))
    assert r.stdout == "lowered\n", r
    assert proc_box._pool.retired == before + 1
    for _ in range(3):
        again = await proc_box.run("import resource\nprint(resource.getrlimit(resource.RLIMIT_NOFILE))")
        assert (again.status, again.stdout) == (Status.OK, fresh.stdout), again
        files = await proc_box.run("import os\nfds = [os.open('/dev/null', os.O_RDONLY) for _ in range(100)]\nprint(len(fds))")
        assert files.stdout == "100\n", files


async def test_process_backend_never_keeps_a_damaged_session_worker(proc_box):
    before = proc_box._pool.retired
    async with proc_box.session() as s:
        r = await s.run("import os, resource\nresource.prlimit(os.getppid(), resource.RLIMIT_NOFILE, (20, 20))\nprint(1)")
        assert r.stdout == "1\n", r
    assert proc_box._pool.retired == before + 1
    async with proc_box.session() as s:
        r = await s.run("import os\nfds = [os.open('/dev/null', os.O_RDONLY) for _ in range(100)]\nprint(len(fds))")
        assert (r.status, r.stdout) == (Status.OK, "100\n"), r


# ---------------------------------------------------------------------------- 16. stress: attacks among ordinary runs

STRESS_ATTACKS = {
    "prlimit": "import resource\nfor r in (resource.RLIMIT_NOFILE, resource.RLIMIT_DATA, resource.RLIMIT_NPROC):\n"
               "    try:\n        resource.prlimit(1, r, (16, 16))\n    except OSError:\n        pass\n",
    "sched": "import os\nfor f in (lambda: os.sched_setaffinity(1, {0}), lambda: os.setpriority(os.PRIO_PROCESS, 1, 19)):\n"
             "    try:\n        f()\n    except OSError:\n        pass\n",
    "chmod-root": "import os\nopen('planted.txt', 'w').write('x')\nfor m in (0o300, 0o500):\n"
                  "    try:\n        os.chmod('/sandbox', m)\n    except OSError:\n        pass\n",
    "deep-tree": code("""
        import os
        fd = os.open(".", os.O_RDONLY)
        for name in ["d"] * 1100 + ["x" * 250] * 20:
            os.mkdir(name, dir_fd=fd)
            nfd = os.open(name, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = nfd
        out = os.open("f", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=fd)
        os.write(out, b"x" * (8 << 20))
        os.fchmod(fd, 0)
    """),
    "status-flood": code("""
        import ctypes, os, stat
        ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)
        try:
            open("/proc/self/oom_score_adj", "w").write("0")
        except OSError:
            pass
        chunk = b"MDL" * (1 << 18)
        for fd in range(3, 32):
            try:
                if stat.S_ISFIFO(os.fstat(fd).st_mode):
                    for _ in range(100):
                        os.write(fd, chunk)
            except OSError:
                pass
    """),
    "pipe-quota": PIPE_QUOTA_ATTACK.replace("time.sleep(4)", "time.sleep(0.2)"),
    "x32-and-proc": code("""
        import ctypes, os
        ctypes.CDLL(None, use_errno=True).syscall(0x40000000 | 39)
        for p in ("/proc/1/sched", "/proc/cmdline", "/proc/1/stat"):
            try:
                open(p).read()
            except OSError:
                pass
        print("\\x1b]0;title\\x07\\x1b[2J")
    """),
    "oom-the-zygote": OOM_THE_ZYGOTE,
    "kill-all": "import os\nfor target in (-1, 1):\n    try:\n        os.kill(target, 9)\n    except OSError:\n        pass\n",
}


def _ordinary(i: int) -> tuple[dict, str]:
    """(run kwargs, the exact stdout python3 would print)."""
    kind = i % 5
    if kind == 0:
        return {"code": f"print({i} * {i})"}, f"{i * i}\n"
    if kind == 1:
        import sympy

        return ({"code": f"import sympy\nprint(sympy.factorint({i + 2}))"}, f"{sympy.factorint(i + 2)}\n")
    if kind == 2:
        return {"code": f"import numpy as np\nprint(int(np.arange({i}).sum()))"}, f"{sum(range(i))}\n"
    if kind == 3:
        return ({"code": "print(int(open('in.txt').read()) * 3, sorted(__import__('os').listdir('.')))",
                 "files": {"in.txt": str(i)}}, f"{i * 3} ['in.txt', 'main.py']\n")
    return {"code": "import sys\nprint(sys.stdin.read()[::-1])", "stdin": f"run {i}"}, f"run {i}"[::-1] + "\n"


async def test_stress_attacks_among_ordinary_runs(sb):
    """1,000 runs at concurrency 64 on the permissive sandbox, a tenth of them attacks from issue 10:
    every ordinary run's output is exact, and no attack is reported as our fault."""
    import random

    await settle(sb)
    rng = random.Random(10)
    attack_at = set(rng.sample(range(1000), 100))
    names = sorted(STRESS_ATTACKS)
    jobs = []
    for i in range(1000):
        if i in attack_at:
            name = rng.choice(names)
            jobs.append((name, {"code": STRESS_ATTACKS[name]}, None))
        else:
            kwargs, expected = _ordinary(i)
            jobs.append((f"ordinary-{i}", kwargs, expected))
    gate = asyncio.Semaphore(64)

    async def one(kwargs):
        async with gate:
            return await sb.run(**kwargs)

    started = time.monotonic()
    results = await asyncio.gather(*(one(kwargs) for _, kwargs, _ in jobs))
    elapsed = time.monotonic() - started
    wrong = [(name, r) for (name, _, expected), r in zip(jobs, results)
             if expected is not None and (r.status, r.stdout, r.stderr) != (Status.OK, expected, "")]
    assert not wrong, f"{len(wrong)} ordinary runs were wrong, first: {wrong[:3]}"
    # Only the attack that gets its own worker's zygote OOM-killed may see that worker lost.
    ours = [(name, r) for (name, _, expected), r in zip(jobs, results)
            if expected is None and r.status is Status.SANDBOX_ERROR and name != "oom-the-zygote"]
    assert not ours, ours[:3]
    print(f"1000 runs (100 attacks) in {elapsed:.1f}s; workers retired: {sb._pool.retired}")
    await assert_serves(sb)
