import sympy

primes = list(sympy.primerange(2, 10000))
print("number of primes below 10^4:", len(primes))
print("sum:", sum(primes))

twins = [(p, p + 2) for p in primes if sympy.isprime(p + 2)]
print("twin prime pairs below 10^4:", len(twins))
print("largest twin pair:", twins[-1])
print("1000th prime:", sympy.prime(1000))
