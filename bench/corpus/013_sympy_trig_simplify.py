import sympy as sp

t = sp.symbols('t')
expr = sp.sin(t)**4 + sp.cos(t)**4
print(sp.trigsimp(sp.fu(expr)))
print(sp.trigsimp(expr))

# product cos(pi/7) cos(2pi/7) cos(4pi/7)
prod = sp.cos(sp.pi/7) * sp.cos(2*sp.pi/7) * sp.cos(4*sp.pi/7)
print("numeric:", sp.N(prod, 20))
print("nsimplify:", sp.nsimplify(sp.N(prod, 30)))

val = sp.tan(sp.pi/12)
print("tan(pi/12) =", sp.radsimp(sp.simplify(val)))
