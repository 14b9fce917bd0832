import numpy as np
from math import comb

n = 10
grid = np.zeros((n + 1, n + 1), dtype=np.int64)
grid[0, :] = 1
grid[:, 0] = 1
blocked = {(3, 3), (5, 6), (7, 2)}
for (i, j) in blocked:
    grid[i, j] = 0
for i in range(1, n + 1):
    for j in range(1, n + 1):
        if (i, j) in blocked:
            continue
        grid[i, j] = grid[i - 1, j] + grid[i, j - 1]
print("paths with blocked cells:", grid[n, n])
print("paths without blocks:", comb(2 * n, n))
