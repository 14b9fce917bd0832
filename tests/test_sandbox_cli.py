"""`python -m sandbox run|batch|check` as a user calls them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def cli(*args, input=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "sandbox", *args], input=input, capture_output=True,
                          text=True, timeout=timeout)


def test_run_json_from_stdin():
    p = cli("run", "-", "--json", input="print(6 * 7)\n")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["status"] == "ok" and d["stdout"] == "42\n" and set(d) >= {"stderr", "exit_code", "duration_s",
                                                                         "truncated", "error"}


def test_run_file_passes_output_and_exit_code(tmp_path):
    f = tmp_path / "prog.py"
    f.write_text("import sys\nprint('out')\nprint('err', file=sys.stderr)\nsys.exit(4)")
    p = cli("run", str(f), "--timeout", "5", "--memory-mb", "256")
    assert (p.stdout, p.returncode) == ("out\n", 4) and p.stderr.startswith("err\n")


def test_run_missing_file_is_a_clear_error():
    p = cli("run", "/nonexistent/prog.py")
    assert p.returncode == 2 and "cannot read /nonexistent/prog.py" in p.stderr


def test_run_timeout_is_reported():
    p = cli("run", "-", "--timeout", "0.5", input="while True: pass")
    assert p.returncode == 1 and "sandbox: timeout" in p.stderr


def test_batch_keeps_input_order_and_reports_bad_lines(tmp_path):
    lines = [json.dumps({"id": f"p{i}", "code": f"import time\ntime.sleep({(9 - i) * 0.02})\nprint({i})"})
             for i in range(10)]
    lines.insert(3, "{not json")
    lines.insert(5, json.dumps({"id": "nocode"}))
    lines.append(json.dumps({"id": "limits", "code": "print(1)", "timeout_s": 10**9}))
    lines.append(json.dumps({"id": "stdin", "code": "print(input())", "stdin": "hi", "timeout_s": 2}))
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(lines) + "\n\n")
    p = cli("batch", str(src), "--concurrency", "4")
    assert p.returncode == 0, p.stderr
    out = [json.loads(line) for line in p.stdout.splitlines()]
    assert len(out) == 14
    assert out[3]["status"] == "rejected" and "invalid JSON" in out[3]["error"]
    assert out[5]["id"] == "nocode" and out[5]["status"] == "rejected" and "'code'" in out[5]["error"]
    good = [o for o in out if str(o["id"]).startswith("p")]
    assert [o["stdout"] for o in good] == [f"{i}\n" for i in range(10)]
    assert out[-2]["status"] == "rejected" and "timeout_s" in out[-2]["error"]
    assert out[-1]["stdout"] == "hi\n"


def test_check_passes_and_names_the_isolation():
    p = cli("check")
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.startswith("isolation: ") and "all self-tests passed" in p.stdout


@pytest.mark.parametrize("args", [["batch", "x.jsonl", "--concurrency", "0"], ["nonsense"]])
def test_bad_arguments(args):
    p = cli(*args)
    assert p.returncode == 2
