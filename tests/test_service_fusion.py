"""SandboxFusion compatibility: the official `sandbox-fusion` client's python runner and jupyter cases
(as in SandboxFusion's own sandbox/tests/runners/test_python.py and test_jupyter.py) against our
server, verl's SandboxFusion helper, and the shape of what we refuse."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

sandbox_fusion = pytest.importorskip("sandbox_fusion", reason="the official client: pip install sandbox-fusion")
from sandbox_fusion import (  # noqa: E402
    RunCodeRequest,
    RunJupyterRequest,
    RunStatus,
    run_code,
    run_jupyter,
)
from sandbox_fusion.models import CommandRunStatus  # noqa: E402

from service_server import ServerProcess  # noqa: E402


@pytest.fixture(scope="module")
def url():
    with ServerProcess("--workers", "2") as server:
        yield server.url


def _run(url, **kw):
    return run_code(RunCodeRequest(language="python", **kw), endpoint=url, max_attempts=1)


# ---------------------------------------------------------------------- python runner cases

def test_python_print(url):
    result = _run(url, code="print(123)", run_timeout=5)
    assert result.status == RunStatus.Success
    assert result.run_result.stdout.strip() == "123"


def test_python_timeout(url):
    result = _run(url, code="import time; time.sleep(0.2)", run_timeout=0.1)
    assert result.status == RunStatus.Failed
    assert result.run_result.status == CommandRunStatus.TimeLimitExceeded
    assert result.run_result.return_code is None


def test_python_assertion_error(url):
    result = _run(url, code="assert 1 == 2", run_timeout=5)
    assert result.status == RunStatus.Failed
    assert result.run_result.status == CommandRunStatus.Finished
    assert "AssertionError" in result.run_result.stderr


def test_python_syntax_error(url):
    result = _run(url, code="int a = 1", run_timeout=5)
    assert result.status == RunStatus.Failed
    assert result.run_result.status == CommandRunStatus.Finished
    assert "SyntaxError: invalid syntax" in result.run_result.stderr


def test_python_file_read_nested_dirs(url):
    result = _run(url, code='print(open("dir1/dir2/dir3/secret_flag").read())', run_timeout=5,
                  files={"dir1/dir2/dir3/secret_flag": "ImhlbGxvLCB0aGlzIGlzIGEgdGVzdCI="})
    assert result.status == RunStatus.Success
    assert result.run_result.status == CommandRunStatus.Finished
    assert "hello, this is a test" in result.run_result.stdout


def test_python_stdin(url):
    result = _run(url, code="print(int(input()))", run_timeout=5, stdin="65535")
    assert result.status == RunStatus.Success
    assert result.run_result.status == CommandRunStatus.Finished
    assert result.run_result.stdout == "65535\n"


def test_python_fetch_files(url):
    # SandboxFusion's case also writes "/mnt/b" (a host path); ours refuses absolute paths, below.
    result = _run(url, code='open("a.txt", "w").write("secret"); open("sub/b.txt", "w").write("sauce")',
                  files={"sub/.keep": ""}, run_timeout=5, fetch_files=["a.txt", "sub/b.txt", "missing.txt"])
    assert result.status == RunStatus.Success
    assert result.run_result.status == CommandRunStatus.Finished
    assert base64.b64decode(result.files["a.txt"]).decode() == "secret"
    assert base64.b64decode(result.files["sub/b.txt"]).decode() == "sauce"
    assert "missing.txt" not in result.files


def test_python_exception(url):
    result = _run(url, code="def f():\n    raise ValueError('bad value')\nf()", run_timeout=5)
    assert result.status == RunStatus.Failed
    assert result.run_result.return_code == 1
    assert "ValueError: bad value" in result.run_result.stderr


def test_python_stdin_with_fetch_files(url):
    result = _run(url, code='open("out.txt", "w").write(input()[::-1])', stdin="abc", fetch_files=["out.txt"])
    assert result.status == RunStatus.Success
    assert base64.b64decode(result.files["out.txt"]) == b"cba"


# ---------------------------------------------------------------------- jupyter cases

def _jupyter(url, cells, **kw):
    return run_jupyter(RunJupyterRequest(cells=cells, **kw), endpoint=url, max_attempts=1)


def test_jupyter_print(url):
    result = _jupyter(url, ["print(123)"])
    assert result.status == RunStatus.Success
    assert result.cells[0].stdout == "123\n"


def test_jupyter_multi_cell(url):
    result = _jupyter(url, ['a = "hello"', "a", "print(a)"])
    assert result.cells[0].stdout == ""
    assert result.cells[1].display[0]["text/plain"] == "'hello'"
    assert result.cells[1].stdout == ""
    assert result.cells[2].stdout == "hello\n"


def test_jupyter_multi_cell_raise(url):
    result = _jupyter(url, ['a = "hello"', 'import sys\nsys.stderr.write("This is an error message\\n")',
                            "assert False", "print(a)"])
    assert result.status == RunStatus.Success
    assert result.cells[0].stdout == ""
    assert result.cells[1].stderr == "This is an error message\n"
    assert result.cells[2].error[0]["ename"] == "AssertionError"
    assert result.cells[3].stdout == "hello\n"


def test_jupyter_print_and_display_in_one_cell(url):
    result = _jupyter(url, ["x = 6\nprint('side')\nx * 7"])
    assert result.cells[0].stdout == "side\n"
    assert result.cells[0].display == [{"text/plain": "42"}]


def test_jupyter_error_value_and_files(url):
    result = _jupyter(url, ["print(open('in/data.txt').read())", "open('o.txt','w').write('x'); 1/0"],
                      files={"in/data.txt": base64.b64encode(b"payload").decode()}, fetch_files=["o.txt"])
    assert result.cells[0].stdout == "payload\n"
    err = result.cells[1].error[0]
    assert err["ename"] == "ZeroDivisionError" and err["evalue"] == "division by zero"
    assert base64.b64decode(result.files["o.txt"]) == b"x"


# ---------------------------------------------------------------------- refusals, in SandboxFusion's shape

def _post(url, path, body):
    import urllib.request

    req = urllib.request.Request(url + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status, json.loads(r.read())


def test_other_language_is_a_clear_error(url):
    status, body = _post(url, "/run_code", {"code": "int main(){}", "language": "cpp"})
    assert status == 200 and body["status"] == "SandboxError"
    assert "python only" in body["message"] and body["run_result"] is None


@pytest.mark.parametrize("path", ["/etc/passwd", "../../etc/passwd", "a/../../x"])
def test_escaping_fetch_path_is_refused(url, path):
    status, body = _post(url, "/run_code", {"code": "print(1)", "language": "python", "fetch_files": [path]})
    assert body["status"] == "SandboxError" and body["files"] == {}
    assert repr(path) in body["message"]


def test_escaping_input_file_is_refused(url):
    status, body = _post(url, "/run_code", {"code": "print(1)", "language": "python",
                                            "files": {"/tmp/x": base64.b64encode(b"x").decode()}})
    assert body["status"] == "SandboxError" and "relative" in body["message"]


def test_ping(url):
    import urllib.request

    with urllib.request.urlopen(url + "/v1/ping", timeout=5) as r:
        assert json.loads(r.read()) == "pong"


# ---------------------------------------------------------------------- verl's helper

def _verl_python() -> str | None:
    """verl lives in its own venv (scripts/setup_verl.sh makes .venv-verl); VERL_PYTHON overrides."""
    candidates = [os.environ.get("VERL_PYTHON"), str(Path(__file__).resolve().parent.parent / ".venv-verl/bin/python")]
    try:
        import verl  # noqa: F401

        return sys.executable
    except ImportError:
        pass
    return next((c for c in candidates if c and Path(c).exists()), None)


def test_verl_sandbox_fusion_helper(url):
    python = _verl_python()
    if python is None:
        pytest.skip("verl is not importable here and no .venv-verl (scripts/setup_verl.sh) or VERL_PYTHON exists")
    script = textwrap.dedent(f"""
        import json
        from verl.utils.reward_score.sandbox_fusion.utils import call_sandbox_api, check_correctness
        url = "{url}/run_code"
        resp, err = call_sandbox_api(url, "print(int(input()) * 2)", "21", 10, 10, 1024)
        ok, meta = check_correctness(url, {{"inputs": ["1 2\\n", "5 5\\n"], "outputs": ["3\\n", "11\\n"]}},
                                     "a, b = map(int, input().split())\\nprint(a + b)", timeout=10)
        tle, _ = check_correctness(url, {{"inputs": ["1\\n"], "outputs": ["1\\n"]}},
                                   "while True: pass", timeout=1)
        print(json.dumps({{"resp": resp, "err": err, "ok": ok, "tle": tle}}))
    """)
    out = subprocess.run([python, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    data = json.loads(out.stdout.strip().splitlines()[-1])
    assert data["err"] is None and data["resp"]["status"] == "Success"
    assert data["resp"]["run_result"]["stdout"] == "42\n"
    assert data["ok"] == [True, False]
    assert data["tle"] == [-3]
