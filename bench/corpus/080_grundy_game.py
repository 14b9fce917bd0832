from functools import lru_cache

MOVES = (1, 3, 4)

@lru_cache(maxsize=None)
def grundy(n):
    reachable = {grundy(n - m) for m in MOVES if m <= n}
    g = 0
    while g in reachable:
        g += 1
    return g

print([grundy(n) for n in range(30)])
losing = [n for n in range(1, 101) if grundy(n) == 0]
print("losing positions <= 100:", len(losing), losing[:10])

# two-pile sum game: first player wins iff XOR of Grundy values is nonzero
wins = sum(1 for a in range(1, 51) for b in range(1, 51) if grundy(a) ^ grundy(b))
print("winning (a, b) with a, b <= 50:", wins)
