import numpy as np
from itertools import product

# how many 2x2 matrices with entries in {0,1,2} are invertible mod 3?
count = 0
for a, b, c, d in product(range(3), repeat=4):
    if (a * d - b * c) % 3 != 0:
        count += 1
print("|GL(2, F_3)| =", count, "formula:", (9 - 1) * (9 - 3))

# vectorised: all 3x3 0/1 matrices, distribution of determinants
mats = np.array(list(product((0, 1), repeat=9))).reshape(-1, 3, 3)
dets = np.rint(np.linalg.det(mats)).astype(int)
vals, counts = np.unique(dets, return_counts=True)
print(dict(zip(vals.tolist(), counts.tolist())))
print("invertible 0/1 3x3 matrices:", int(np.count_nonzero(dets)))
