from fractions import Fraction
from itertools import product

# Roll three dice. Probability that the maximum is exactly 5 and the sum is even.
outcomes = list(product(range(1, 7), repeat=3))
good = [o for o in outcomes if max(o) == 5 and sum(o) % 2 == 0]
p = Fraction(len(good), len(outcomes))
print("P =", p, "m + n =", p.numerator + p.denominator)

# expected value of the product of two dice given their sum is 7
cond = [(a, b) for a, b in product(range(1, 7), repeat=2) if a + b == 7]
E = Fraction(sum(a * b for a, b in cond), len(cond))
print("E[ab | a+b=7] =", E)

# probability at least one six in four rolls vs two sixes in 24 double rolls (de Mere)
p1 = 1 - Fraction(5, 6)**4
p2 = 1 - Fraction(35, 36)**24
print(float(p1), float(p2), p1 > p2)
