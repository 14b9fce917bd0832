import sympy as sp

M = sp.Matrix([[2, 1, 0], [1, 3, 1], [0, 1, 4]])
print("det:", M.det())
print("trace:", M.trace())
cp = M.charpoly()
print("characteristic polynomial:", cp.as_expr())
eig = M.eigenvals()
print("eigenvalues:", eig)
print("sum of eigenvalues:", sp.simplify(sum(k * v for k, v in eig.items())))
print("M^5 =", M**5)
print("inverse:", M.inv())
