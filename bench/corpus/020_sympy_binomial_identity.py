import sympy as sp

n, k = sp.symbols('n k', integer=True, nonnegative=True)
rows = [sum(sp.binomial(m, j) for j in range(m + 1)) for m in range(12)]
print("row sums of Pascal's triangle:", rows, all(r == 2**m for m, r in enumerate(rows)))

vals = [sum(sp.binomial(20, j)**2 for j in range(21)), sp.binomial(40, 20)]
print("Vandermonde check:", vals, vals[0] == vals[1])

# sum_{k} k * C(10, k) * 2^k
S = sum(j * sp.binomial(10, j) * 2**j for j in range(11))
print("S =", S, "factor:", sp.factorint(S))
