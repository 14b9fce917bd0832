from sympy.ntheory import n_order, primitive_root, discrete_log

p = 101
print("order of 2 mod 101:", n_order(2, p))
print("order of 10 mod 101:", n_order(10, p))
g = primitive_root(p)
print("smallest primitive root:", g)
print("log_g(5) mod 101:", discrete_log(p, 5, g))

# period of 1/n in decimal for primes below 60
for q in [7, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59]:
    print(q, n_order(10, q))
