import sympy as sp

# roots r, s, t of x^3 - 2x^2 + 3x - 4; compute r^4 + s^4 + t^4 and 1/r + 1/s + 1/t
x = sp.symbols('x')
p = x**3 - 2*x**2 + 3*x - 4
e1, e2, e3 = 2, 3, 4

# Newton's identities
p1 = e1
p2 = e1*p1 - 2*e2
p3 = e1*p2 - e2*p1 + 3*e3
p4 = e1*p3 - e2*p2 + e3*p1
print("power sums:", p1, p2, p3, p4)
print("1/r + 1/s + 1/t =", sp.Rational(e2, e3))

roots = sp.Poly(p, x).nroots(n=30)
num = sum(r**4 for r in roots)
print("numeric p4:", sp.re(sp.N(num, 15)))
