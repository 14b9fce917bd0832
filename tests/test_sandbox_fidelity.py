"""Output fidelity: stdout, stderr and exit code exactly as `python3 main.py` gives them."""

from __future__ import annotations

import subprocess
import sys

import pytest
import pytest_asyncio

from sandbox import Sandbox, SandboxConfig, Status

PROGRAMS = {
    "plain": "print('hello')\nprint(1, 2, sep='-')",
    "traceback_in_function": "def f(n):\n    return 10 // n\n\nprint('start')\nprint(f(0))\n",
    "chained": "try:\n    {}['k']\nexcept KeyError as e:\n    raise ValueError('wrapped') from e\n",
    "implicit_chain": "try:\n    1/0\nexcept ZeroDivisionError:\n    undefined_name\n",
    "stderr_and_stdout": "import sys\nprint('out')\nprint('err', file=sys.stderr)\nsys.stdout.write('no newline')",
    "unicode": "print('π ≈ 3.14159, ∑ 1/n² = π²/6 ✓')",
    "exit_message": "import sys\nprint('x')\nsys.exit('fatal: stop')",
    "exit_code": "raise SystemExit(7)",
    "name_main": "if __name__ == '__main__':\n    print('main', __name__)",
    "recursion": "def f(n):\n    return f(n + 1)\nf(0)",
    "syntax_error_at_runtime": "exec_ = 1\nprint(int('12a'))",
    "last_expression_not_printed": "x = 41\nx + 1",
    "exception_group": "raise ExceptionGroup('many', [ValueError(1), TypeError(2)])",
    "assertion": "assert 1 + 1 == 3, 'math is broken'",
    "class_and_dataclass": (
        "from dataclasses import dataclass\n@dataclass\nclass P:\n    x: int\n    def __post_init__(self):\n"
        "        if self.x < 0:\n            raise ValueError(f'negative {self.x}')\nprint(P(1))\nP(-1)\n"),
    "sympy_output": "import sympy as sp\nx = sp.symbols('x')\nprint(sp.factor(x**4 - 1), sp.Rational(3, 9))",
    "numpy_output": "import numpy as np\nprint(np.arange(6).reshape(2, 3) * 2)\nprint(np.float64(1) / 3)",
    "atexit": "import atexit\natexit.register(lambda: print('bye'))\nprint('hi')",
}
SYNTAX_ERRORS = {
    "unclosed": "print(1\n",
    "bad_indent": "if True:\nprint(1)\n",
    "invalid": "x = = 2\n",
}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sb():
    async with Sandbox(SandboxConfig(workers=2, timeout_s=10)) as box:
        yield box


def reference(code: str, tmp_path) -> tuple[str, str, int]:
    (tmp_path / "main.py").write_text(code)
    p = subprocess.run([sys.executable, "main.py"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    return p.stdout, p.stderr.replace(f'"{tmp_path}/main.py"', '"main.py"'), p.returncode


@pytest.mark.parametrize("name", sorted(PROGRAMS))
async def test_matches_python3(sb, name, tmp_path):
    code = PROGRAMS[name]
    out, err, rc = reference(code, tmp_path)
    r = await sb.run(code)
    assert (r.stdout, r.stderr, r.exit_code) == (out, err, rc)
    assert r.status is (Status.OK if rc == 0 else Status.ERROR)


@pytest.mark.parametrize("name", sorted(SYNTAX_ERRORS))
async def test_syntax_errors_match_python3(sb, name, tmp_path):
    code = SYNTAX_ERRORS[name]
    out, err, rc = reference(code, tmp_path)
    r = await sb.run(code)
    assert (r.stdout, r.stderr, r.exit_code, r.status) == (out, err, rc, Status.ERROR)


async def test_random_state_differs_between_runs(sb):
    code = "import random, numpy as np\nprint(random.random(), np.random.rand())"
    outs = {(await sb.run(code)).stdout for _ in range(4)}
    assert len(outs) == 4


async def test_session_display_prints_last_expression(sb):
    async with sb.session(display=True) as s:
        r = await s.run("x = 41\nx + 1")
        assert r.stdout == "42\n"
        r = await s.run("None")
        assert r.stdout == ""
