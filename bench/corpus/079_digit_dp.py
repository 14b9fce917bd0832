from functools import lru_cache

def count_digit_sum(N, target):
    """count integers in [0, N] whose digit sum equals target"""
    digits = list(map(int, str(N)))

    @lru_cache(maxsize=None)
    def go(pos, s, tight):
        if s > target:
            return 0
        if pos == len(digits):
            return int(s == target)
        limit = digits[pos] if tight else 9
        return sum(go(pos + 1, s + d, tight and d == limit) for d in range(limit + 1))

    return go(0, 0, True)

print("digit sum 10 in [0, 10^6]:", count_digit_sum(10**6, 10))
print("digit sum 25 in [0, 2024^2]:", count_digit_sum(2024**2, 25))
brute = sum(1 for n in range(0, 20001) if sum(map(int, str(n))) == 13)
print("check:", brute, count_digit_sum(20000, 13))
