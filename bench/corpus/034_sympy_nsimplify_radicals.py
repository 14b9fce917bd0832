import sympy as sp

a = sp.sqrt(3 + 2*sp.sqrt(2))
print("denest:", sp.sqrtdenest(a))
b = sp.sqrt(5 + 2*sp.sqrt(6)) - sp.sqrt(5 - 2*sp.sqrt(6))
print("b =", sp.sqrtdenest(b))

val = (sp.sqrt(5) + 1) / 2
print("phi^10 =", sp.expand(val**10))
print("numeric:", sp.N(val**10, 20))

guess = sp.nsimplify(1.7320508075688772 + 1.4142135623730951, [sp.sqrt(2), sp.sqrt(3)])
print("recognized:", guess)
print(sp.minimal_polynomial(sp.sqrt(2) + sp.sqrt(3), sp.Symbol('t')))
