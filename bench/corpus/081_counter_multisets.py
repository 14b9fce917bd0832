from collections import Counter
from math import factorial
from itertools import permutations

word = "MISSISSIPPI"
c = Counter(word)
print(c.most_common())
arr = factorial(len(word))
for v in c.values():
    arr //= factorial(v)
print("arrangements of MISSISSIPPI:", arr)

# arrangements of BANANA with no two A's adjacent (brute force on distinct perms)
perms = set(permutations("BANANA"))
good = [p for p in perms if all(not (p[i] == p[i + 1] == 'A') for i in range(5))]
print("BANANA with no adjacent A:", len(good), "of", len(perms))

# letter frequency of numbers one..twenty written out
names = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty".split()
freq = Counter(''.join(names))
print(freq.most_common(3))
