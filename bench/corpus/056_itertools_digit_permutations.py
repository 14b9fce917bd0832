from itertools import permutations

# How many 7-digit numbers using each of 1..7 exactly once are divisible by 11?
count = 0
examples = []
for perm in permutations(range(1, 8)):
    n = int(''.join(map(str, perm)))
    if n % 11 == 0:
        count += 1
        if len(examples) < 5:
            examples.append(n)
print("count:", count)
print("examples:", examples)

# sum of all numbers formed from the digits 1..5 (each used once)
total = sum(int(''.join(map(str, p))) for p in permutations(range(1, 6)))
print("sum of all 120 numbers:", total, "formula:", 24 * 15 * 11111)
