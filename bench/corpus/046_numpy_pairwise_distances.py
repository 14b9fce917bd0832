import numpy as np
from itertools import product

# lattice points in a 6x6 grid; count pairs at distance exactly 5
pts = np.array(list(product(range(6), repeat=2)))
diff = pts[:, None, :] - pts[None, :, :]
d2 = (diff**2).sum(axis=-1)
pairs = np.count_nonzero(d2 == 25) // 2
print("pairs at distance 5:", pairs)

# number of distinct squared distances
print("distinct distances:", len(np.unique(d2[d2 > 0])))

# number of right isosceles... count right triangles with legs along grid lines
iu = np.triu_indices(len(pts), k=1)
print("total pairs:", len(iu[0]))
