# last three digits of 7^(7^7) and the last two digits of 3^2024
e = 7**7
print("7^(7^7) mod 1000 =", pow(7, e, 1000))
print("3^2024 mod 100 =", pow(3, 2024, 100))

# 2^(2^n) + 1 mod 641 -- Euler's factor of F5
print("F5 mod 641 =", (pow(2, 32, 641) + 1) % 641)

# modular inverse and Fermat's little theorem
p = 10**9 + 7
a = 123456789
inv = pow(a, -1, p)
print("inverse:", inv, (a * inv) % p, inv == pow(a, p - 2, p))

# smallest n > 1 with 2^n = 1 (mod 1001)
n = 1
while pow(2, n, 1001) != 1:
    n += 1
print("ord_1001(2) =", n)
