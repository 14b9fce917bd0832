from sympy import sqrt, continued_fraction_periodic, continued_fraction_convergents, continued_fraction_iterator, Rational
from itertools import islice

for d in [2, 3, 7, 13, 19]:
    cf = continued_fraction_periodic(0, 1, d)
    print(d, cf)

# convergents of sqrt(7): first one solving Pell x^2 - 7 y^2 = 1
it = continued_fraction_iterator(sqrt(7))
for c in islice(continued_fraction_convergents(it), 10):
    p, q = Rational(c).p, Rational(c).q
    if p * p - 7 * q * q == 1:
        print("fundamental solution:", p, q)
        break
