import sympy as sp

z = sp.symbols('z')
n = 7
w = sp.exp(2 * sp.pi * sp.I / n)
# product of (2 - w^k) for k = 1..6 equals (2^7 - 1)/(2 - 1)
prod = 1
for k in range(1, n):
    prod *= (2 - w**k)
print("numeric product:", sp.N(prod, 12))
print("expected:", (2**n - 1) // (2 - 1))

# sum of w^(k^2) (Gauss sum) for n = 7
g = sum(w**(k*k) for k in range(n))
print("Gauss sum:", sp.nsimplify(sp.N(g, 30), [sp.sqrt(7)]))
print(sp.factor(z**n - 1))
