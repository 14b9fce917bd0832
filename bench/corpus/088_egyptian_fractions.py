from fractions import Fraction
from math import ceil

def greedy_egyptian(frac):
    out = []
    while frac > 0:
        d = ceil(1 / frac)
        out.append(d)
        frac -= Fraction(1, d)
    return out

for f in [Fraction(4, 13), Fraction(5, 121), Fraction(7, 15)]:
    print(f, "=", " + ".join(f"1/{d}" for d in greedy_egyptian(f)))

# number of solutions of 1/x + 1/y = 1/12 with x <= y
n = 12
sols = [(x, n * x // (x - n)) for x in range(n + 1, 2 * n + 1) if (n * x) % (x - n) == 0]
print("solutions of 1/x + 1/y = 1/12:", len(sols), sols)
H = sum(Fraction(1, k) for k in range(1, 11))
print("H_10 =", H)
