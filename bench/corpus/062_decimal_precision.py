from decimal import Decimal, getcontext

getcontext().prec = 60
two = Decimal(2)
root2 = two.sqrt()
print("sqrt(2) =", root2)

# Newton iteration for the golden ratio to 60 digits
x = Decimal(1)
for _ in range(10):
    x = x - (x * x - x - 1) / (2 * x - 1)
print("phi =", x)

# digit sum of first 50 decimals of sqrt(2)
digits = str(root2).split('.')[1][:50]
print("digit sum of first 50 decimals:", sum(int(d) for d in digits))
print("1/7 =", Decimal(1) / Decimal(7))

# e from its series, compared with Decimal's exp
term, e_sum = Decimal(1), Decimal(0)
for k in range(1, 60):
    e_sum += term
    term /= k
print("e (series) =", e_sum)
print("e (exp)    =", Decimal(1).exp())
