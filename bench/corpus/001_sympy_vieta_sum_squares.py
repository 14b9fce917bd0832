# Find the sum of the squares of the roots of x^3 - 6x^2 + 11x - 6 = 0,
# then double-check with Vieta's formulas.
import sympy as sp

x = sp.symbols('x')
poly = x**3 - 6*x**2 + 11*x - 6
roots = sp.solve(poly, x)
print("roots:", roots)

sum_sq = sum(r**2 for r in roots)
print("sum of squares (direct):", sp.simplify(sum_sq))

# Vieta: e1 = 6, e2 = 11 -> p2 = e1^2 - 2 e2
e1, e2 = 6, 11
print("sum of squares (Vieta):", e1**2 - 2*e2)
