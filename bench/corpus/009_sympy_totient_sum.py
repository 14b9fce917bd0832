from sympy import totient
from math import gcd

LIMIT = 1000
s = sum(totient(n) for n in range(1, LIMIT + 1))
print("sum of phi(n), n<=1000:", s)

# fractions a/b in (0,1) with b <= 50 in lowest terms
count = sum(1 for b in range(2, 51) for a in range(1, b) if gcd(a, b) == 1)
print("reduced proper fractions with denominator <= 50:", count)
print("check via totient:", sum(totient(b) for b in range(2, 51)))
