import sympy as sp

x = sp.symbols('x')
q, r = sp.div(x**100, x**2 - 3*x + 2, x)
print("remainder:", sp.expand(r))

# verify: r(1) = 1, r(2) = 2^100
print(r.subs(x, 1), r.subs(x, 2) == 2**100)

# remainder of x^2023 + x + 1 divided by x^2 + x + 1, by square-and-multiply mod D
D = sp.Poly(x**2 + x + 1, x)
def powmod(base, e, mod):
    result = sp.Poly(1, x)
    while e:
        if e & 1:
            result = sp.rem(result * base, mod)
        base = sp.rem(base * base, mod)
        e >>= 1
    return result
r2 = sp.rem(powmod(sp.Poly(x, x), 2023, D) + sp.Poly(x + 1, x), D)
print("second remainder:", r2.as_expr())
