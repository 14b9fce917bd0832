from math import gcd, lcm

# number of ordered pairs (a, b) with lcm(a, b) = 2^3 * 3^2 * 5 = 360
N = 360
divs = [d for d in range(1, N + 1) if N % d == 0]
pairs = [(a, b) for a in divs for b in divs if lcm(a, b) == N]
print("ordered pairs with lcm 360:", len(pairs))
print("formula:", (2*3 + 1) * (2*2 + 1) * (2*1 + 1))

# pairs with gcd 6 and lcm 360
pairs2 = [(a, b) for a, b in pairs if gcd(a, b) == 6]
print("gcd 6, lcm 360:", len(pairs2), sorted(pairs2)[:4])

# sum_{1 <= a, b <= 100} gcd(a, b)
print("sum of gcd over 100x100:", sum(gcd(a, b) for a in range(1, 101) for b in range(1, 101)))
