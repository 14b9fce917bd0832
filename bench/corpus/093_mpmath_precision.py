import mpmath

mpmath.mp.dps = 50
print("pi   =", mpmath.pi)
print("e^pi - pi =", mpmath.e**mpmath.pi - mpmath.pi)
print("zeta(3) =", mpmath.zeta(3))

# Ramanujan's near-integer e^(pi sqrt(163))
x = mpmath.exp(mpmath.pi * mpmath.sqrt(163))
print("e^(pi sqrt 163) =", x)
print("distance to integer:", mpmath.nint(x) - x)

# find root of x^x = 10
r = mpmath.findroot(lambda t: t**t - 10, 2.5)
print("x^x = 10 ->", r)
print("identify:", mpmath.identify(mpmath.mpf('0.3183098861837906715377675267450287240689192914809'), ['pi']))
