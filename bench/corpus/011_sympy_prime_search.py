from sympy import isprime, primerange

# primes p < 10^4 such that p^2 + 2 is also prime
found = [p for p in primerange(2, 10**4) if isprime(p**2 + 2)]
print("p with p^2 + 2 prime:", found)
# explanation: for p != 3, p^2 = 1 (mod 3) so p^2 + 2 is divisible by 3
print(all((p * p + 2) % 3 == 0 for p in primerange(5, 10**4)))

# primes q < 1000 for which 2q + 1 is prime (Sophie Germain)
sg = [q for q in range(2, 1000) if isprime(q) and isprime(2*q + 1)]
print("Sophie Germain primes < 1000:", len(sg), sg[:10])
