from sympy import symbols, summation, factor, oo, Rational, pi, simplify

k, n = symbols('k n', integer=True, positive=True)
print("sum k^2:", factor(summation(k**2, (k, 1, n))))
print("sum k^3:", factor(summation(k**3, (k, 1, n))))
print("sum 1/k^2:", summation(1 / k**2, (k, 1, oo)))
print("sum_{k<=20} k/2^k:", summation(k / 2**k, (k, 1, 20)))
S = summation(k * (k + 1), (k, 1, 50))
print("sum_{k<=50} k(k+1):", S)
print(simplify(summation(Rational(1, 3)**k, (k, 0, oo))))
