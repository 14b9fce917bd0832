from math import comb

def rectangles_brute(m, n):
    cnt = 0
    for x1 in range(m + 1):
        for x2 in range(x1 + 1, m + 1):
            for y1 in range(n + 1):
                for y2 in range(y1 + 1, n + 1):
                    cnt += 1
    return cnt

m, n = 8, 8
print("rectangles on 8x8 board:", rectangles_brute(m, n), comb(m + 1, 2) * comb(n + 1, 2))
print("squares on 8x8 board:", sum((m - k + 1) * (n - k + 1) for k in range(1, 9)))

# grid size whose rectangle count is closest to 2 million
_best = min(((a, b) for a in range(1, 2001) for b in range(1, a + 1) if a * b <= 4000),
            key=lambda ab: abs(comb(ab[0] + 1, 2) * comb(ab[1] + 1, 2) - 2_000_000))
print("closest to 2,000,000:", _best, "area", _best[0] * _best[1])
