LIMIT = 20000

# sum of proper divisors via a divisor sieve
sigma = [0] * (LIMIT + 1)
for d in range(1, LIMIT // 2 + 1):
    for m in range(2 * d, LIMIT + 1, d):
        sigma[m] += d

def main():
    perfect = [n for n in range(2, LIMIT + 1) if sigma[n] == n]
    print("perfect numbers:", perfect)
    amicable = [(a, sigma[a]) for a in range(2, LIMIT + 1)
                if sigma[a] > a and sigma[a] <= LIMIT and sigma[sigma[a]] == a]
    print("amicable pairs:", amicable)
    abundant = sum(1 for n in range(1, LIMIT + 1) if sigma[n] > n)
    print("abundant numbers <= 20000:", abundant)


if __name__ == "__main__":
    main()
