import sympy as sp

x = sp.symbols('x', positive=True)
# maximize f(x) = x (12 - 2x)^2 on (0, 6)  (box volume problem)
f = x * (12 - 2*x)**2
crit = sp.solve(sp.diff(f, x), x)
print("critical points:", crit)
cands = [c for c in crit if 0 < c < 6]
best = max(cands, key=lambda c: f.subs(x, c))
print("argmax:", best, "max volume:", f.subs(x, best))
print("second derivative there:", sp.diff(f, x, 2).subs(x, best))

# minimum of x + 1/x over positives
g = x + 1/x
print("min x + 1/x:", [g.subs(x, c) for c in sp.solve(sp.diff(g, x), x)])
