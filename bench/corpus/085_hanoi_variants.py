def hanoi(n, src, dst, via, moves):
    if n == 0:
        return
    hanoi(n - 1, src, via, dst, moves)
    moves.append((n, src, dst))
    hanoi(n - 1, via, dst, src, moves)

moves = []
hanoi(10, 'A', 'C', 'B', moves)
print("moves for 10 disks:", len(moves), "= 2^10 - 1 =", 2**10 - 1)
print("move #500:", moves[499])

# Frame-Stewart numbers for 4 pegs
from functools import lru_cache

@lru_cache(maxsize=None)
def fs(n):
    if n <= 1:
        return n
    return min(2 * fs(k) + 2**(n - k) - 1 for k in range(1, n))

print("Frame-Stewart 4 pegs:", [fs(n) for n in range(1, 16)])
