from scipy.special import comb, perm, factorial, bdtrc, gammaln
from math import comb as icomb, exp

print("C(50, 25) exact:", comb(50, 25, exact=True), icomb(50, 25))
print("P(10, 4):", perm(10, 4, exact=True))
print("20!:", factorial(20, exact=True))

# binomial tail: at least 60 heads in 100 fair tosses
p = bdtrc(59, 100, 0.5)
exact = sum(icomb(100, k) for k in range(60, 101)) / 2**100
print("P(X >= 60):", round(float(p), 12), round(exact, 12))

# hypergeometric P(exactly 2 aces in a 5-card hand)
print("P(2 aces):", round(icomb(4, 2) * icomb(48, 3) / icomb(52, 5), 10))
# log C(1000, 500) via gammaln
lc = gammaln(1001) - 2 * gammaln(501)
print("log C(1000,500) ~", round(float(lc), 6), "digits:", len(str(icomb(1000, 500))))
