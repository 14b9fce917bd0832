import sympy as sp

x, n = sp.symbols('x n', positive=True)
L1 = sp.limit((1 + 1/n)**n, n, sp.oo)
L2 = sp.limit(sp.sin(3*x) / x, x, 0)
L3 = sp.limit((sp.sqrt(x**2 + x) - x), x, sp.oo)
L4 = sp.limit((sp.cos(x) - 1) / x**2, x, 0)
for name, val in [("L1", L1), ("L2", L2), ("L3", L3), ("L4", L4)]:
    print(name, "=", val)
print("L2 + L3 + L4 =", sp.nsimplify(L2 + L3 + L4))
