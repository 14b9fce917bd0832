def sieve(limit):
    flags = bytearray([1]) * (limit + 1)
    flags[0] = flags[1] = 0
    for i in range(2, int(limit**0.5) + 1):
        if flags[i]:
            flags[i*i::i] = bytearray(len(range(i*i, limit + 1, i)))
    return [i for i, f in enumerate(flags) if f]

primes = sieve(200000)
print("number of primes <= 200000:", len(primes))
pset = set(primes)

# Goldbach: number of ways to write 10000 as p + q with p <= q
n = 10000
ways = [(p, n - p) for p in primes if p <= n // 2 and (n - p) in pset]
print("Goldbach partitions of 10000:", len(ways), ways[:3])

# longest run of consecutive primes summing to a prime below 200000
best = (0, 0)
for i in range(len(primes)):
    s = 0
    for j in range(i, len(primes)):
        s += primes[j]
        if s >= 200000:
            break
        if s in pset and j - i + 1 > best[0]:
            best = (j - i + 1, s)
    if i > 10:
        break
print("longest consecutive prime sum:", best)
