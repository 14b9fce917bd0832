import numpy as np

# count ordered triples (a, b, c) of integers in [1, 50] with a^2 + b^2 + c^2 < 2500 and a + b > c
r = np.arange(1, 51)
A, B, C = np.meshgrid(r, r, r, indexing='ij')
mask = (A**2 + B**2 + C**2 < 2500) & (A + B > C)
print("count:", int(mask.sum()))

# how many have a <= b <= c
ordered = mask & (A <= B) & (B <= C)
print("with a <= b <= c:", int(ordered.sum()))
# triangles (strict triangle inequality all ways)
tri = (A + B > C) & (B + C > A) & (A + C > B) & (A <= B) & (B <= C)
print("non-degenerate triangles with sides <= 50:", int(tri.sum()))
