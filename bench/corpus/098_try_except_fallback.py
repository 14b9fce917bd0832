import sympy as sp

x = sp.symbols('x')
candidates = [x**5 - x + 1, x**4 - 10*x**2 + 1, x**3 - 3*x + 1]

for poly in candidates:
    try:
        sols = sp.solve(poly, x)
        if any(isinstance(s, sp.CRootOf) for s in sols) or not sols:
            raise ValueError("no radical form")
        print(poly, "->", [sp.nsimplify(s) for s in sols][:2], "...")
    except (ValueError, NotImplementedError) as exc:
        roots = sp.Poly(poly, x).nroots(n=15)
        real = [r for r in roots if abs(sp.im(r)) < 1e-12]
        print(poly, "-> numeric fallback", type(exc).__name__, [sp.re(r) for r in real])
    finally:
        pass

try:
    val = 1 / sp.Integer(0)
    print("1/0 in sympy:", val)
except ZeroDivisionError:
    print("ZeroDivisionError")
