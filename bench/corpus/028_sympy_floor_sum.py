from sympy import floor, sqrt, Rational, Integer

# sum_{k=1}^{100} floor(k * sqrt(2))  (Beatty sequence)
s = sum(floor(k * sqrt(2)) for k in range(1, 101))
print("sum floor(k sqrt 2):", s)

# sum_{k=1}^{1000} floor(k^2 / 1000)
t = sum(Integer(k * k) // 1000 for k in range(1, 1001))
print("sum floor(k^2/1000):", t)

# number of distinct values of floor(k^2/1000) for k = 1..1000
vals = {(k * k) // 1000 for k in range(1, 1001)}
print("distinct:", len(vals))
print(Rational(7, 3) // 1, floor(Rational(-7, 3)))
