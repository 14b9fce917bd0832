"""The jail runs ``SandboxConfig.python``: an interpreter started by a relative path must still work."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sandbox.config import SandboxConfig

REPO = Path(__file__).resolve().parents[1]


def test_check_passes_with_a_relative_interpreter_path(tmp_path):
    # `../venv/bin/python -m sandbox check`: sys.executable keeps the "..", through folders the jail
    # does not mount, and the jail's execve failed with "No such file or directory".
    relative = os.path.relpath(sys.executable, tmp_path)
    assert relative.startswith("..")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([relative, "-m", "sandbox", "check"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "all self-tests passed" in proc.stdout + proc.stderr


def test_default_python_is_absolute_and_stays_in_the_venv(tmp_path):
    from sandbox.config import default_python

    relative = os.path.relpath(sys.executable, tmp_path)
    code = "from sandbox.config import SandboxConfig; print(SandboxConfig().python)"
    out = subprocess.run([relative, "-c", code], cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)},
                         capture_output=True, text=True, timeout=60, check=True).stdout.strip()
    assert out == os.path.abspath(sys.executable) and ".." not in Path(out).parts
    assert default_python() == os.path.abspath(sys.executable)
    # a venv interpreter is a symlink to the base one; resolving it would lose the venv's packages
    assert SandboxConfig().python != os.path.realpath(sys.executable) or not os.path.islink(sys.executable)
