import sympy as sp

x = sp.symbols('x', positive=True)
# log_2(x) + log_4(x) + log_8(x) = 11
eq = sp.Eq(sp.log(x, 2) + sp.log(x, 4) + sp.log(x, 8), 11)
sol = sp.solve(eq, x)
print("solutions:", sol)
print("check:", [sp.simplify(eq.lhs.subs(x, s)) for s in sol])

# 2^(2x) - 6 * 2^x + 8 = 0
y = sp.symbols('y', real=True)
sols = sp.solve(sp.Eq(2**(2*y) - 6*2**y + 8, 0), y)
print("exponential equation:", sols, "sum =", sum(sols))
