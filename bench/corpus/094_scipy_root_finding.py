from scipy.optimize import brentq, minimize_scalar
import math

# unique positive root of cos(x) = x
root = brentq(lambda x: math.cos(x) - x, 0, 1, xtol=1e-14)
print("Dottie number:", round(root, 12))

# minimize f(x) = x^x on (0, 2): min at 1/e
res = minimize_scalar(lambda x: x**x, bounds=(1e-9, 2), method='bounded', options={'xatol': 1e-12})
print("argmin:", round(res.x, 8), "1/e =", round(1 / math.e, 8))

# intersection of ln x and 1/x
r2 = brentq(lambda x: math.log(x) - 1 / x, 1, 3)
print("ln x = 1/x at x =", round(r2, 10), "(Omega constant reciprocal:", round(1 / 0.5671432904097838, 10), ")")
