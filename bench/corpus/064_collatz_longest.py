LIMIT = 100_000
cache = {1: 1}

def collatz_len(n):
    path = []
    while n not in cache:
        path.append(n)
        n = n // 2 if n % 2 == 0 else 3 * n + 1
    length = cache[n]
    for m in reversed(path):
        length += 1
        cache[m] = length
    return length

def main():
    best = max(range(1, LIMIT), key=collatz_len)
    print("start below 100000 with longest chain:", best, "length:", collatz_len(best))
    print("chain length of 27:", collatz_len(27))


if __name__ == "__main__":
    main()
