from sympy.ntheory.modular import crt

moduli = [3, 5, 7, 11]
residues = [2, 3, 2, 6]
x, M = crt(moduli, residues)
print("x =", x, "mod", M)
for m, r in zip(moduli, residues):
    assert x % m == r
# smallest x > 1000 satisfying the same system
k = (1000 - x) // M + 1
print("smallest above 1000:", x + k * M)
