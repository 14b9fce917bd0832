from sympy import Function, rsolve, symbols, simplify

n = symbols('n', integer=True)
a = Function('a')

# a(n) = 5 a(n-1) - 6 a(n-2), a(0) = 2, a(1) = 5
sol = rsolve(a(n) - 5*a(n - 1) + 6*a(n - 2), a(n), {a(0): 2, a(1): 5})
print("closed form:", sol)
print("a(10) =", sol.subs(n, 10))

# iterate to confirm
seq = [2, 5]
for _ in range(9):
    seq.append(5*seq[-1] - 6*seq[-2])
print("iterated a(10) =", seq[10])
print("match:", simplify(sol.subs(n, 10) - seq[10]) == 0)
