import sympy as sp

# A polynomial P of degree 4 has P(k) = 1/k for k = 1..5? No: P(k) = k/(k+1), find P(6).
x = sp.symbols('x')
points = [(k, sp.Rational(k, k + 1)) for k in range(0, 5)]
P = sp.interpolate(points, x)
print("P(x) =", sp.factor(P))
print("P(5) =", P.subs(x, 5))

# classic: deg 3 polynomial with P(k) = 2^k for k = 0..3, find P(4)
Q = sp.interpolating_poly(4, x, X=[0, 1, 2, 3], Y=[1, 2, 4, 8])
print("Q(4) =", sp.expand(Q).subs(x, 4))
