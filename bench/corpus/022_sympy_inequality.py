from sympy import symbols, solveset, S, reduce_inequalities, Interval

x = symbols('x', real=True)
sol = solveset(x**2 - 5*x + 6 < 0, x, domain=S.Reals)
print("x^2 - 5x + 6 < 0:", sol)

sol2 = reduce_inequalities([(x - 1) * (x + 3) >= 0, x < 10], x)
print("system:", sol2)

sol3 = solveset((x - 2) / (x + 1) <= 1, x, domain=S.Reals)
print("(x-2)/(x+1) <= 1:", sol3)

# count integers in the intersection with [-20, 20]
I = sol3.intersect(Interval(-20, 20))
print("integers:", len([k for k in range(-20, 21) if k in I]))
