"""The public contract: types, statuses, limits and their caps, and the result fields."""

from __future__ import annotations

import json

import pytest
import pytest_asyncio

from sandbox import ExecResult, Sandbox, SandboxConfig, SandboxError, Status



@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sb():
    async with Sandbox(SandboxConfig(workers=2, timeout_s=5, memory_mb=512)) as box:
        yield box


def test_status_is_a_str_enum():
    assert Status.OK == "ok" and json.dumps({"s": Status.TIMEOUT}) == '{"s": "timeout"}'
    assert {s.value for s in Status} == {"ok", "error", "timeout", "memory", "rejected", "output_limit",
                                         "sandbox_error"}


def test_exec_result_round_trips_through_json():
    r = ExecResult(Status.ERROR, stdout="a", stderr="b", exit_code=1, duration_s=0.5, truncated=False, error="x")
    d = json.loads(json.dumps(r.to_dict()))
    assert set(d) == {"status", "stdout", "stderr", "exit_code", "duration_s", "truncated", "error"}
    assert ExecResult.from_dict(d) == r


@pytest.mark.parametrize("kwargs", [dict(timeout_s=0), dict(memory_mb=1), dict(workers=0), dict(isolation="docker"),
                                    dict(timeout_s=1000, max_timeout_s=10)])
def test_invalid_config_is_a_clear_error(kwargs):
    with pytest.raises(SandboxError):
        SandboxConfig(**kwargs)


async def test_per_call_overrides_are_capped(sb):
    with pytest.raises(SandboxError, match="timeout_s"):
        await sb.run("print(1)", timeout_s=sb.config.max_timeout_s + 1)
    with pytest.raises(SandboxError, match="memory_mb"):
        await sb.run("print(1)", memory_mb=sb.config.max_memory_mb + 1)


async def test_ok(sb):
    r = await sb.run("print('hello')")
    assert (r.status, r.stdout, r.stderr, r.exit_code, r.truncated, r.error) == (Status.OK, "hello\n", "", 0, False, None)
    assert 0 < r.duration_s < 5


async def test_error_keeps_output_printed_before_the_exception(sb):
    r = await sb.run("print('partial')\nraise ValueError('boom')")
    assert r.status is Status.ERROR and r.exit_code == 1
    assert r.stdout == "partial\n"
    assert r.stderr.endswith("ValueError: boom\n")
    assert 'File "main.py", line 2, in <module>' in r.stderr


async def test_timeout(sb):
    r = await sb.run("import time\nprint('before', flush=True)\ntime.sleep(30)", timeout_s=0.5)
    assert r.status is Status.TIMEOUT and "0.5" in r.error
    assert r.stdout == "before\n"
    assert r.duration_s < 3


async def test_cpu_time_limit(sb):
    r = await sb.run("while True: pass", timeout_s=1)
    assert r.status is Status.TIMEOUT


async def test_memory(sb):
    r = await sb.run("x = bytearray(600 * 1024 * 1024)\nprint('no')", memory_mb=256)
    assert r.status is Status.MEMORY and "256" in r.error and r.stdout == ""


async def test_memory_limit_allows_what_fits(sb):
    r = await sb.run("x = bytearray(100 * 1024 * 1024)\nprint(len(x))", memory_mb=256)
    assert r.status is Status.OK and r.stdout == f"{100 * 1024 * 1024}\n"


async def test_rejected_names_rule_and_line(sb):
    r = await sb.run("x = 1\ny = ().__class__.__bases__[0].__subclasses__()")
    assert r.status is Status.REJECTED and r.exit_code is None
    assert "line 2" in r.error and "rule" in r.error


async def test_output_limit(sb):
    r = await sb.run("print('x' * 100_000)", output_bytes=1000)
    assert r.status is Status.OUTPUT_LIMIT and r.truncated
    assert r.stdout.startswith("x" * 1000) and "output truncated" in r.stdout
    assert len(r.stdout) < 1200


async def test_files_and_stdin(sb):
    r = await sb.run("import json\nprint(open('data/in.json').read(), input())",
                     files={"data/in.json": '{"a": 1}'}, stdin="line one\n")
    assert r.status is Status.OK and r.stdout == '{"a": 1} line one\n'


async def test_file_names_cannot_escape_scratch(sb):
    r = await sb.run("print(1)", files={"../escape": b"x"})
    assert r.status is Status.REJECTED and "relative path" in r.error


async def test_exit_codes_follow_python(sb):
    cases = {"import sys; sys.exit()": 0, "import sys; sys.exit(3)": 3, "raise SystemExit(0)": 0,
             "import sys; sys.exit('bye')": 1, "raise KeyboardInterrupt": 130}
    for code, expected in cases.items():
        r = await sb.run(code)
        assert r.exit_code == expected, code
        assert r.status is (Status.OK if expected == 0 else Status.ERROR)
    r = await sb.run("import sys; sys.exit('bye')")
    assert r.stderr == "bye\n"


async def test_describe_names_the_isolation(sb):
    info = sb.describe()
    assert info["isolation"] in ("nsjail", "process") and info["reason"]
    assert "numpy" in info["preloaded"] and "sympy" in info["preloaded"]
