from sympy import symbols, Eq, solve, Rational

a, b, c = symbols('a b c')
eqs = [
    Eq(a + b + c, 6),
    Eq(2*a - b + 3*c, 14),
    Eq(a + 2*b - c, -2),
]
sol = solve(eqs, (a, b, c), dict=True)
print(sol)
s = sol[0]
print("a*b*c =", s[a] * s[b] * s[c])
print("a + 2b + 3c =", s[a] + 2*s[b] + 3*s[c])
# sanity check against a rational combination
print(Rational(s[a], 1) + Rational(s[c], 2))
