import numpy as np

MOD = 10**9 + 7

def mat_mult(A, B, mod=MOD):
    # object dtype keeps Python ints exact; reduce after each product
    return (A.dot(B)) % mod

def mat_pow(M, e):
    result = np.array([[1, 0], [0, 1]], dtype=object)
    base = M.copy()
    while e > 0:
        if e & 1:
            result = mat_mult(result, base)
        base = mat_mult(base, base)
        e >>= 1
    return result

F = np.array([[1, 1], [1, 0]], dtype=object)
print("F(10) =", mat_pow(F, 10)[0, 1])
print("F(10^18) mod 1e9+7 =", mat_pow(F, 10**18)[0, 1])

# check small values against iteration
a, b = 0, 1
for _ in range(90):
    a, b = b, a + b
print("F(90) exact:", a, mat_pow(np.array([[1, 1], [1, 0]], dtype=object), 90)[0, 1] == a % MOD)
