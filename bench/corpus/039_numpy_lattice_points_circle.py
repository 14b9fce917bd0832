import numpy as np

R = 100
xs = np.arange(-R, R + 1)
X, Y = np.meshgrid(xs, xs)
inside = (X**2 + Y**2) <= R * R
print("lattice points with x^2 + y^2 <= 100^2:", int(inside.sum()))
print("pi estimate:", inside.sum() / R**2)

# points exactly on the circle x^2 + y^2 = 65^2
r = 65
on = (X**2 + Y**2) == r * r
print("points on circle of radius 65:", int(on.sum()))
