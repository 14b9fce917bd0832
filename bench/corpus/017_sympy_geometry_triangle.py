from sympy import Point, Triangle, Rational, sqrt, simplify

A, B, C = Point(0, 0), Point(14, 0), Point(5, 12)
T = Triangle(A, B, C)
print("side lengths:", [s.length for s in T.sides])
print("area:", abs(T.area))
print("circumradius:", simplify(T.circumradius))
print("inradius:", simplify(T.inradius))
print("centroid:", T.centroid)
print("orthocenter:", T.orthocenter)
R, r = T.circumradius, T.inradius
# Euler: OI^2 = R(R - 2r)
OI2 = simplify(R * (R - 2*r))
print("OI^2 =", OI2, " direct:", simplify(T.circumcenter.distance(T.incenter)**2))
