from fractions import Fraction
from itertools import combinations
from collections import Counter

ranks = list(range(13))
suits = list(range(4))
deck = [(r, s) for r in ranks for s in suits]

# Probability that a 5-card hand has exactly one pair, by counting rank patterns
from math import comb
one_pair = comb(13, 1) * comb(4, 2) * comb(12, 3) * 4**3
total = comb(52, 5)
print("P(one pair) =", Fraction(one_pair, total))

# Brute force on a reduced deck (ranks 0..6, all suits): probability of a flush in 4 cards
small = [(r, s) for r in range(7) for s in suits]
hands = list(combinations(small, 4))
flush = sum(1 for h in hands if len({s for _, s in h}) == 1)
print("P(4-card flush, 28-card deck) =", Fraction(flush, len(hands)))

# distribution of number of distinct ranks
dist = Counter(len({r for r, _ in h}) for h in hands)
print(sorted(dist.items()))
