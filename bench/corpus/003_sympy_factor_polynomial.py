import sympy

n = sympy.symbols('n', integer=True)
expr = n**4 + 4
print("factor:", sympy.factor(expr))

# For which positive n is n^4 + 4 prime?
primes = [k for k in range(1, 200) if sympy.isprime(k**4 + 4)]
print("n with n^4+4 prime:", primes)

# Sophie Germain style: factor n^4 + 4*m^4 symbolically
m = sympy.symbols('m')
print(sympy.factor(n**4 + 4*m**4))
