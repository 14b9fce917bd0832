from math import factorial
from fractions import Fraction
from itertools import permutations

def derangements(n):
    # inclusion-exclusion
    return sum((-1)**k * factorial(n) // factorial(k) for k in range(n + 1))

print([derangements(n) for n in range(11)])

# brute force check for n = 7
n = 7
bf = sum(1 for p in permutations(range(n)) if all(p[i] != i for i in range(n)))
print("brute force D_7:", bf)

# probability that exactly 2 of 8 letters go to the right envelope
from math import comb
p = Fraction(comb(8, 2) * derangements(6), factorial(8))
print("P(exactly 2 fixed points of 8) =", p)
print("D_n / n! for n = 20:", float(Fraction(derangements(20), factorial(20))))
