from typing import Iterator, Tuple
from itertools import islice, count, takewhile


def primes() -> Iterator[int]:
    found = []
    for n in count(2):
        if all(n % p for p in takewhile(lambda p: p * p <= n, found)):
            found.append(n)
            yield n


def triangular() -> Iterator[int]:
    t = 0
    for k in count(1):
        t += k
        yield t


def first_with(pred, it: Iterator[int]) -> Tuple[int, int]:
    for idx, v in enumerate(it):
        if pred(v):
            return idx, v
    raise RuntimeError("unreachable")


print("first 15 primes:", list(islice(primes(), 15)))
print("10000th prime:", next(islice(primes(), 9999, None)))

def ndiv(n: int) -> int:
    c, d = 0, 1
    while d * d <= n:
        if n % d == 0:
            c += 1 if d * d == n else 2
        d += 1
    return c

print("first triangular number with > 100 divisors:", first_with(lambda t: ndiv(t) > 100, triangular()))
squares = (k * k for k in count(1))
print("sum of squares below 10^4:", sum(takewhile(lambda s: s < 10**4, squares)))
