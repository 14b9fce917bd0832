import numpy as np

# a(n) = a(n-1) + 2 a(n-2) + 3 a(n-3), a(0)=a(1)=a(2)=1; find a(10^12) mod 1000
MOD = 1000
T = np.array([[1, 2, 3], [1, 0, 0], [0, 1, 0]], dtype=np.int64)

def mpow(M, e):
    R = np.eye(3, dtype=np.int64)
    while e:
        if e & 1:
            R = (R @ M) % MOD
        M = (M @ M) % MOD
        e >>= 1
    return R

def term(n):
    if n < 3:
        return 1
    v = mpow(T, n - 2) @ np.array([1, 1, 1], dtype=np.int64)
    return int(v[0] % MOD)

# check against direct iteration
a = [1, 1, 1]
for i in range(3, 30):
    a.append(a[-1] + 2 * a[-2] + 3 * a[-3])
assert all(term(i) == a[i] % MOD for i in range(30))
print("a(10^12) mod 1000 =", term(10**12))
