import numpy as np

def sieve(n):
    is_p = np.ones(n + 1, dtype=bool)
    is_p[:2] = False
    for i in range(2, int(n**0.5) + 1):
        if is_p[i]:
            is_p[i*i::i] = False
    return np.nonzero(is_p)[0]

primes = sieve(1_000_000)
print("pi(10^6) =", len(primes))
print("sum of primes below 10^6:", int(primes.sum()))
gaps = np.diff(primes)
print("max gap:", int(gaps.max()), "after", int(primes[np.argmax(gaps)]))
print("primes ending in 7:", int(np.count_nonzero(primes % 10 == 7)))
