from math import comb
from itertools import product

# nonnegative integer solutions of a + b + c + d = 20 with a <= 8 and b >= 2
def brute():
    cnt = 0
    for a, b, c in product(range(21), repeat=3):
        d = 20 - a - b - c
        if d >= 0 and a <= 8 and b >= 2:
            cnt += 1
    return cnt

# b' = b - 2 -> a + b' + c + d = 18, subtract a >= 9 cases
formula = comb(18 + 3, 3) - comb(9 + 3, 3)
print("brute force:", brute())
print("stars and bars:", formula)

# positive solutions of x1 + ... + x6 = 30
print("positive solutions:", comb(29, 5))
