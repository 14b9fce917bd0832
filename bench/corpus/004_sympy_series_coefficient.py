import sympy as sp

x = sp.symbols('x')
f = 1 / ((1 - x) * (1 - x**2) * (1 - x**5))
s = sp.series(f, x, 0, 13).removeO()
poly = sp.Poly(s, x)
coeffs = poly.all_coeffs()[::-1]
print("coefficients:", coeffs)
print("coefficient of x^12:", s.coeff(x, 12))

# Cross-check by brute force counting a + 2b + 5c = 12
count = sum(1 for b in range(7) for c in range(3) if 2*b + 5*c <= 12)
print("brute force:", count)
