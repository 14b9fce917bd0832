import sympy as sp

x = sp.symbols('x')
f = (3*x**2 + 2*x + 5) / ((x - 1) * (x + 2) * (x**2 + 1))
pf = sp.apart(f, x)
print("partial fractions:", pf)
print("together again equals f:", sp.cancel(sp.together(pf) - f) == 0)

# sum_{n>=2} 1/(n^2 - 1) via apart
n = sp.symbols('n', integer=True, positive=True)
term = sp.apart(1 / (n**2 - 1), n)
print(term)
print("sum:", sp.summation(1 / (n**2 - 1), (n, 2, sp.oo)))
