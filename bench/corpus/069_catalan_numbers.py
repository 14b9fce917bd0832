from math import comb

def catalan(n):
    return comb(2 * n, n) // (n + 1)

print([catalan(n) for n in range(15)])

# count balanced parenthesis strings of length 2n by brute force for n = 6
from itertools import product

def balanced(s):
    depth = 0
    for ch in s:
        depth += 1 if ch == '(' else -1
        if depth < 0:
            return False
    return depth == 0

n = 6
bf = sum(1 for s in product('()', repeat=2 * n) if balanced(s))
print("brute force C_6:", bf, "formula:", catalan(6))

# recurrence C_{n+1} = sum C_i C_{n-i}
C = [1]
for m in range(20):
    C.append(sum(C[i] * C[m - i] for i in range(m + 1)))
print("C_20 =", C[20], C[20] == catalan(20))
