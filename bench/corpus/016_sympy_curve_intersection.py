import sympy as sp

x, y = sp.symbols('x y', real=True)
circle = x**2 + y**2 - 25
parabola = y - x**2 + 5
sols = sp.solve([circle, parabola], [x, y], dict=True)
print("number of intersection points:", len(sols))
for s in sols:
    print(s[x], s[y])
pts = sorted({(sp.nsimplify(s[x]), sp.nsimplify(s[y])) for s in sols}, key=lambda p: (float(p[0]), float(p[1])))
print("sum of y-coordinates:", sp.simplify(sum(p[1] for p in pts)))
