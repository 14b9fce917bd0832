from sympy import divisor_count, factorint, divisors

N = 2024**2
print("factorization of 2024:", factorint(2024))
print("factorization of N:", factorint(N))
print("number of divisors of N:", divisor_count(N))

# How many divisors of 2024^2 are perfect squares?
sq = [d for d in divisors(N) if int(d**0.5 + 0.5)**2 == d]
print("square divisors:", len(sq))

# formula: product of (floor(e/2) + 1)
prod = 1
for p, e in factorint(N).items():
    prod *= e // 2 + 1
print("by formula:", prod)
