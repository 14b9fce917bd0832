import sympy as sp

x = sp.symbols('x', real=True)
I1 = sp.integrate(x**2 * sp.exp(-x), (x, 0, sp.oo))
print("I1 =", I1)

I2 = sp.integrate(sp.sin(x)**2, (x, 0, sp.pi))
print("I2 =", I2)

I3 = sp.integrate(1 / (1 + x**2), (x, 0, 1))
print("I3 =", I3, "=", sp.N(I3, 15))

area = sp.integrate(sp.sqrt(x) - x**2, (x, 0, 1))
print("area between sqrt(x) and x^2:", area)
