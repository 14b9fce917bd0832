from itertools import permutations
from collections import Counter
import re

# count distinct 4-letter strings from the letters of "PROBABILITY"
letters = Counter("PROBABILITY")
words = set()
for p in permutations("PROBABILITY", 4):
    words.add(''.join(p))
print("distinct 4-letter arrangements:", len(words))

# how many of them contain no vowel
vowel = re.compile(r"[AEIOUY]")
print("without vowels:", sum(1 for w in words if not vowel.search(w)))
print("letter multiplicities:", dict(sorted(letters.items())))
