import sympy as sp

# Number of ways to make 100 cents from 1, 5, 10, 25 cent coins
x = sp.symbols('x')
coins = [1, 5, 10, 25]
gf = sp.Poly(1, x)
for c in coins:
    factor = sp.Poly(sum(x**(c*k) for k in range(100 // c + 1)), x)
    gf = sp.rem(gf * factor, sp.Poly(x**101, x))  # truncate above x^100
print("ways to make 100:", gf.coeff_monomial(x**100))

# DP cross-check
ways = [1] + [0] * 100
for c in coins:
    for v in range(c, 101):
        ways[v] += ways[v - c]
print("DP:", ways[100])
