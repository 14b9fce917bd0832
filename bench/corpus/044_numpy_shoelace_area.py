import numpy as np

def shoelace(pts):
    pts = np.asarray(pts, dtype=float)
    x, y = pts[:, 0], pts[:, 1]
    return 0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))

poly = [(0, 0), (6, 0), (8, 4), (4, 7), (-1, 5)]
A = shoelace(poly)
print("area:", A)

# Pick's theorem: A = I + B/2 - 1
from math import gcd
B = sum(gcd(abs(poly[i][0] - poly[i - 1][0]), abs(poly[i][1] - poly[i - 1][1])) for i in range(len(poly)))
I = A - B / 2 + 1
print("boundary points:", B, "interior points:", int(I))

# regular hexagon of side 1
t = np.linspace(0, 2 * np.pi, 7)[:-1]
hexagon = np.column_stack([np.cos(t), np.sin(t)])
print("hexagon area:", round(shoelace(hexagon), 10), "expected:", round(3 * np.sqrt(3) / 2, 10))
