import numpy as np

A = np.array([1.0, 2.0, 3.0])
B = np.array([4.0, 0.0, 5.0])
C = np.array([2.0, 5.0, -1.0])
AB, AC = B - A, C - A
area = 0.5 * np.linalg.norm(np.cross(AB, AC))
print("area:", round(area, 10), "area^2:", round(area**2, 10))

normal = np.cross(AB, AC)
d = -normal @ A
print("plane: %dx + %dy + %dz + %d = 0" % (*normal.astype(int), int(d)))

P = np.array([0.0, 0.0, 0.0])
dist = abs(normal @ P + d) / np.linalg.norm(normal)
print("distance from origin:", round(dist, 10))

D = np.array([3.0, 3.0, 3.0])
vol = abs(np.linalg.det(np.array([B - A, C - A, D - A]))) / 6
print("tetrahedron volume:", round(vol, 10))
