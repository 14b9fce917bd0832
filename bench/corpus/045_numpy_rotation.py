import numpy as np

def rot(theta):
    c, s = np.cos(theta), np.sin(theta)
    return np.array([[c, -s], [s, c]])

# rotate the square with vertices (1,0),(0,1),(-1,0),(0,-1) by 30 degrees
sq = np.array([[1, 0], [0, 1], [-1, 0], [0, -1]], dtype=float)
r = sq @ rot(np.pi / 6).T
print(np.round(r, 6))

# composing 12 rotations by 30 degrees gives identity
M = np.linalg.matrix_power(rot(np.pi / 6), 12)
print("identity:", np.allclose(M, np.eye(2)))

# reflection across y = x tan(t) and composition
def refl(theta):
    c, s = np.cos(2 * theta), np.sin(2 * theta)
    return np.array([[c, s], [s, -c]])

comp = refl(np.pi / 5) @ refl(np.pi / 12)
angle = np.degrees(np.arctan2(comp[1, 0], comp[0, 0]))
print("composition is rotation by", round(angle, 6), "degrees")
