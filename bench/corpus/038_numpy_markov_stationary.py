import numpy as np

# weather chain: sunny, cloudy, rainy
P = np.array([
    [0.6, 0.3, 0.1],
    [0.3, 0.4, 0.3],
    [0.2, 0.3, 0.5],
])
assert np.allclose(P.sum(axis=1), 1)
vals, vecs = np.linalg.eig(P.T)
idx = np.argmin(np.abs(vals - 1))
pi = np.real(vecs[:, idx])
pi = pi / pi.sum()
print("stationary distribution:", np.round(pi, 8))
print("check:", np.allclose(pi @ P, pi))
print("P^50 row 0:", np.round(np.linalg.matrix_power(P, 50)[0], 8))
