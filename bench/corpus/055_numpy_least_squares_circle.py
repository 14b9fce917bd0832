import numpy as np

# fit a circle x^2 + y^2 + Dx + Ey + F = 0 through points (algebraic least squares)
pts = np.array([[1, 7], [8, 6], [7, -1], [0, 0], [4.5, 7.5]])
x, y = pts[:, 0], pts[:, 1]
A = np.column_stack([x, y, np.ones_like(x)])
b = -(x**2 + y**2)
(D, E, F), res, rank, sv = np.linalg.lstsq(A, b, rcond=None)
cx, cy = -D / 2, -E / 2
r = np.sqrt(cx**2 + cy**2 - F)
print("center: (%.6f, %.6f)" % (cx, cy))
print("radius: %.6f" % r)
print("max deviation: %.2e" % np.max(np.abs(np.hypot(x - cx, y - cy) - r)))
