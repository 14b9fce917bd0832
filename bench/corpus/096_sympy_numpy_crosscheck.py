import numpy as np
import sympy as sp

# eigenvalues of the 6x6 tridiagonal matrix with 2 on the diagonal and -1 off it
n = 6
A = 2 * np.eye(n) - np.eye(n, k=1) - np.eye(n, k=-1)
num = np.sort(np.linalg.eigvalsh(A))
exact = [2 - 2 * sp.cos(k * sp.pi / (n + 1)) for k in range(1, n + 1)]
exact_f = np.sort(np.array([float(e) for e in exact]))
print("numeric:", np.round(num, 10))
print("match formula:", np.allclose(num, exact_f))

M = sp.Matrix(A.astype(int))
print("det (sympy):", M.det(), "det (numpy):", round(np.linalg.det(A), 8))
print("product of eigenvalues:", sp.nsimplify(np.prod(num)))
