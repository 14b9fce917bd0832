import sympy as sp

x, y = sp.symbols('x y')
expr = sp.expand((2*x - 3*y)**8)
c = sp.Poly(expr, x, y).coeff_monomial(x**5 * y**3)
print("coefficient of x^5 y^3:", c)
print("formula:", sp.binomial(8, 3) * 2**5 * (-3)**3)

# constant term of (x + 1/x^2)^9
e2 = sp.expand((x + 1/x**2)**9)
print("constant term:", e2.as_coefficients_dict()[1])

# sum of coefficients of (1 + x - x^2)^10
print("sum of coefficients:", sp.expand((1 + x - x**2)**10).subs(x, 1))
