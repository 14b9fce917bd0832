import numpy as np

rng = np.random.default_rng(12345)
N = 200_000

# probability that three uniform points on [0,1] form a triangle with sides... broken stick
cuts = np.sort(rng.random((N, 2)), axis=1)
a = cuts[:, 0]
b = cuts[:, 1] - cuts[:, 0]
c = 1 - cuts[:, 1]
ok = (a < 0.5) & (b < 0.5) & (c < 0.5)
print("broken stick triangle probability ~", round(ok.mean(), 3), "(exact 1/4)")

# expected distance between two random points in the unit square
p = rng.random((N, 2))
q = rng.random((N, 2))
d = np.linalg.norm(p - q, axis=1)
print("mean distance ~", round(d.mean(), 3), "(exact ~0.5214)")
