from functools import lru_cache

# number of ways to tile a 3 x n board with 2 x 1 dominoes
@lru_cache(maxsize=None)
def f(n):
    if n == 0:
        return 1
    if n == 1:
        return 0
    return 4 * f(n - 2) - f(n - 4) if n >= 4 else 3

for n in range(0, 21, 2):
    print(n, f(n))

# tilings of 1 x n with tiles of length 1, 2, 3 (tribonacci)
@lru_cache(maxsize=None)
def t(n):
    if n < 0:
        return 0
    if n == 0:
        return 1
    return t(n - 1) + t(n - 2) + t(n - 3)

print("1 x 30 with 1,2,3 tiles:", t(30))
