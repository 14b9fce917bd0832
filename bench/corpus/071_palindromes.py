def is_pal(s):
    return s == s[::-1]

# palindromes below 10^6 that are also palindromic in base 2
def decimal_palindromes(limit):
    # build palindromes from their first half instead of scanning every n
    for half in range(1, 1000):
        s = str(half)
        for mid in (s + s[-2::-1], s + s[::-1]):
            if int(mid) < limit:
                yield int(mid)

found = sorted(n for n in set(decimal_palindromes(10**6)) if is_pal(bin(n)[2:]))
total = sum(found)
print("double-base palindromes:", found)
print("sum:", total)

# count 5-digit palindromes divisible by 7
c = sum(1 for a in range(1, 10) for b in range(10) for m in range(10)
        if int(f"{a}{b}{m}{b}{a}") % 7 == 0)
print("5-digit palindromes divisible by 7:", c)
