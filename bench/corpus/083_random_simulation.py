import random

random.seed(2024)

# Expected number of rolls of a fair die until two consecutive sixes (exact: 42)
def rolls_until_double_six():
    count, prev = 0, 0
    while True:
        r = random.randint(1, 6)
        count += 1
        if r == 6 and prev == 6:
            return count
        prev = r

trials = 8000
avg = sum(rolls_until_double_six() for _ in range(trials)) / trials
print("simulated:", round(avg, 1), "exact: 42")

# coupon collector with 10 coupons (exact 29.29)
def coupons(n=10):
    seen, t = set(), 0
    while len(seen) < n:
        seen.add(random.randrange(n))
        t += 1
    return t

print("coupon collector:", round(sum(coupons() for _ in range(3000)) / 3000, 1))
