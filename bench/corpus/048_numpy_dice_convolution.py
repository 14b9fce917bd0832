import numpy as np
from fractions import Fraction

die = np.ones(6, dtype=np.int64)       # faces 1..6
dist = np.array([1], dtype=np.int64)   # sum 0 with one way
for _ in range(4):
    dist = np.convolve(dist, die)
# dist[k] = ways for sum k + 4
total = 6**4
sums = np.arange(4, 4 + len(dist))
print("most likely sum:", sums[np.argmax(dist)], "ways:", dist.max())
p14 = Fraction(int(dist[sums == 14][0]), total)
print("P(sum = 14) =", p14)
print("P(sum >= 20) =", Fraction(int(dist[sums >= 20].sum()), total))
print("expected sum:", (sums * dist).sum() / total)
