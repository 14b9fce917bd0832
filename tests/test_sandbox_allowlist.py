"""The import allowlist: checked for the program's own imports only, with a message the model can read."""

from __future__ import annotations

import pytest
import pytest_asyncio

from sandbox import DEFAULT_ALLOWED_MODULES, Sandbox, SandboxConfig, Status


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sb():
    async with Sandbox(SandboxConfig(workers=2)) as box:
        yield box


@pytest.mark.parametrize("code", [
    "import math, cmath, fractions, decimal, itertools, functools, collections, heapq, bisect, statistics",
    "import random, re, string, operator, dataclasses, typing, time, sys",
    "from math import comb, gcd\nprint(comb(10, 3), gcd(12, 18))",
    "import numpy as np\nimport sympy as sp\nfrom sympy import symbols, solve",
    "import scipy.optimize\nimport scipy.special\nprint(scipy.special.comb(5, 2))",
    "import mpmath\nmpmath.mp.dps = 30\nprint(mpmath.pi)",
    "import networkx as nx\nprint(nx.path_graph(4).number_of_edges())",
    "from collections.abc import Iterable\nfrom itertools import permutations",
    "def f():\n    import fractions\n    return fractions.Fraction(1, 3)\nprint(f())",
])
async def test_allowed_imports_work(sb, code):
    r = await sb.run(code)
    assert r.status is Status.OK, r.stderr


@pytest.mark.parametrize("module", ["os", "subprocess", "socket", "ctypes", "multiprocessing", "importlib",
                                    "shutil", "pathlib", "signal", "pickle", "builtins", "gc", "inspect"])
async def test_refused_imports_name_the_allowed_modules(sb, module):
    for code in (f"import {module}", f"from {module} import *" if module != "builtins" else f"import {module} as b",
                 f"def f():\n    import {module}\nf()"):
        r = await sb.run(code)
        assert r.status is Status.ERROR, code
        assert f"ImportError: import of '{module}' is not allowed in this sandbox; allowed modules:" in r.stderr
        assert "math" in r.stderr and "sympy" in r.stderr
        assert "zygote" not in r.stderr  # our own frames never show


async def test_libraries_internal_imports_are_not_checked(sb):
    # sympy, numpy and scipy import os, inspect, ctypes, ... internally: that must keep working.
    r = await sb.run("import sympy\nfrom sympy.utilities.lambdify import lambdify\nx = sympy.Symbol('x')\n"
                     "f = lambdify(x, x**2, 'numpy')\nprint(f(3))\nimport scipy.integrate\n"
                     "print(round(scipy.integrate.quad(lambda t: t, 0, 1)[0], 6))")
    assert (r.status, r.stdout) == (Status.OK, "9\n0.5\n"), r.stderr


async def test_allowlist_is_configurable():
    cfg = SandboxConfig(workers=1, allowed_modules=frozenset({"math"}), preload=())
    async with Sandbox(cfg) as box:
        assert (await box.run("import math\nprint(math.pi > 3)")).stdout == "True\n"
        r = await box.run("import fractions")
        assert "allowed modules: math" in r.stderr
    assert "os" not in DEFAULT_ALLOWED_MODULES and "numpy" in DEFAULT_ALLOWED_MODULES


async def test_runtime_getattr_guard(sb):
    r = await sb.run("def f(): pass\nname = '__glo' + 'bals__'\nprint(getattr(f, name))")
    assert r.status is Status.ERROR and "AttributeError: access to attribute '__globals__'" in r.stderr
    r = await sb.run("print(getattr([], 'append').__name__)")
    assert r.stdout == "append\n"
