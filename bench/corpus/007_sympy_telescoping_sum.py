from sympy import Rational, symbols, apart, factor, together

k, N = symbols('k N', integer=True, positive=True)
term = 1 / (k * (k + 1) * (k + 2))
print("partial fractions:", apart(term, k))

# 1/(k(k+1)(k+2)) = 1/2 * (1/(k(k+1)) - 1/((k+1)(k+2))), so the sum telescopes
g = 1 / (2 * k * (k + 1))
print("telescoping check:", factor(together(g - g.subs(k, k + 1) - term)) == 0)
closed = factor(together(g.subs(k, 1) - g.subs(k, N + 1)))
print("closed form:", closed)
value = closed.subs(N, 2023)
print("S(2023) =", value)

# exact check with Rational
total = sum(Rational(1, j * (j + 1) * (j + 2)) for j in range(1, 2024))
print("direct:", total, total == value)
p, q = total.p, total.q
print("p + q =", p + q)
