import string

DIGITS = string.digits + string.ascii_uppercase

def to_base(n, b):
    if n == 0:
        return "0"
    out = []
    while n:
        n, r = divmod(n, b)
        out.append(DIGITS[r])
    return ''.join(reversed(out))

print("2024 in bases 2..16:")
for b in range(2, 17):
    print(b, to_base(2024, b))

# numbers below 1000 whose base-3 representation has no digit 2
cnt = sum(1 for n in range(1, 1000) if '2' not in to_base(n, 3))
print("no digit 2 in base 3:", cnt)
print("check int parsing:", int(to_base(2024, 7), 7))
