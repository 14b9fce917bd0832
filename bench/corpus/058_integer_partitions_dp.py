from functools import lru_cache

@lru_cache(maxsize=None)
def p(n, k):
    """number of partitions of n into parts of size at most k"""
    if n == 0:
        return 1
    if n < 0 or k == 0:
        return 0
    return p(n - k, k) + p(n, k - 1)

for n in [5, 10, 50, 100]:
    print(f"p({n}) = {p(n, n)}")

# partitions into distinct parts equals partitions into odd parts (Euler)
def count_parts(n, parts, distinct):
    dp = [1] + [0] * n
    for part in parts:
        rng = range(n, part - 1, -1) if distinct else range(part, n + 1)
        for t in rng:
            dp[t] += dp[t - part]
    return dp[n]

n = 40
print("distinct:", count_parts(n, range(1, n + 1), True))
print("odd:", count_parts(n, range(1, n + 1, 2), False))
