import numpy as np

A = np.array([[4, -2, 1], [3, 6, -4], [2, 1, 8]], dtype=float)
b = np.array([12, -25, 32], dtype=float)
x = np.linalg.solve(A, b)
print("solution:", np.round(x, 10))
print("residual:", np.linalg.norm(A @ x - b) < 1e-9)
print("det(A) =", round(np.linalg.det(A), 6))
print("cond(A) =", round(np.linalg.cond(A), 6))
# least squares fit of a line to points
pts = np.array([[0, 1], [1, 3], [2, 5.1], [3, 6.9], [4, 9.2]])
X = np.column_stack([pts[:, 0], np.ones(len(pts))])
coef, *_ = np.linalg.lstsq(X, pts[:, 1], rcond=None)
print("slope, intercept:", np.round(coef, 6))
