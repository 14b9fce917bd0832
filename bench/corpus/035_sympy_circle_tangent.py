import sympy as sp

# tangent lines from P(5, 0) to the circle x^2 + y^2 = 9
m = sp.symbols('m', real=True)
x0, y0, r = 5, 0, 3
# line y = m (x - 5); distance from origin to line = 3
dist = sp.Abs(-m * x0 + y0) / sp.sqrt(m**2 + 1)
slopes = sp.solve(sp.Eq(dist**2, r**2), m)
print("slopes:", slopes)

x, y = sp.symbols('x y', real=True)
pts = []
for s in slopes:
    sol = sp.solve([x**2 + y**2 - 9, y - s*(x - 5)], [x, y], dict=True)
    pts.extend((p[x], p[y]) for p in sol)
print("tangency points:", pts)
print("tangent length:", sp.sqrt(x0**2 + y0**2 - r**2))
A, B = pts[0], pts[1]
print("chord length:", sp.sqrt((A[0] - B[0])**2 + (A[1] - B[1])**2))
