from math import gcd, isqrt

# primitive triples with perimeter <= 1000 via Euclid's formula
LIMIT = 1000
prims = []
for m in range(2, isqrt(LIMIT // 2) + 1):
    for n in range(1, m):
        if (m - n) % 2 == 1 and gcd(m, n) == 1:
            a, b, c = m*m - n*n, 2*m*n, m*m + n*n
            if a + b + c <= LIMIT:
                prims.append(tuple(sorted((a, b, c))))
print("primitive triples with perimeter <= 1000:", len(prims))

# perimeter <= 1000 with the most (not necessarily primitive) solutions
counts = {}
for a, b, c in prims:
    p = a + b + c
    for k in range(1, LIMIT // p + 1):
        counts[k * p] = counts.get(k * p, 0) + 1
best = max(counts, key=counts.get)
print("perimeter with most right triangles:", best, counts[best])

# brute force check for p = 120
sols = [(a, b) for a in range(1, 120) for b in range(a, 120) if a*a + b*b == (120 - a - b)**2]
print("p=120 solutions:", sols)
