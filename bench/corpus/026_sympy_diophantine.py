from sympy import symbols
from sympy.solvers.diophantine import diophantine

x, y = symbols('x y', integer=True)
print(sorted(diophantine(3*x + 5*y - 47), key=str))

# positive solutions of 3x + 5y = 47
pos = [(a, b) for a in range(1, 16) for b in range(1, 10) if 3*a + 5*b == 47]
print("positive solutions:", pos, len(pos))

# Pell equation x^2 - 2y^2 = 1
sols = diophantine(x**2 - 2*y**2 - 1)
print(len(sols), "parametric families")
# first few fundamental-power solutions by iteration
a, b = 3, 2
out = []
for _ in range(5):
    out.append((a, b))
    a, b = 3*a + 4*b, 2*a + 3*b
print(out)
