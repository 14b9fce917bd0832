import numpy as np

coeffs = [1, -10, 35, -50, 24]      # (x-1)(x-2)(x-3)(x-4)
roots = np.roots(coeffs)
print("roots:", np.sort(np.real_if_close(roots)))

p = np.poly1d([1, 0, -2, 5])
print("p(3) =", p(3))
print("p'(x) =", np.polyder(p))
print("integral coefficients:", np.polyint(p).coeffs)

r = np.roots([1, 0, 0, -2])
real = r[np.abs(r.imag) < 1e-12].real
print("real cube root of 2:", real, "check:", np.isclose(real[0]**3, 2))
print("product of roots:", np.round(np.prod(r).real, 10))
