from math import comb

def paths(a, b):
    # monotone lattice paths from a to b
    dx, dy = b[0] - a[0], b[1] - a[1]
    if dx < 0 or dy < 0:
        return 0
    return comb(dx + dy, dx)

start, end = (0, 0), (12, 9)
bad = sorted([(3, 2), (6, 5), (9, 4)])
# inclusion-exclusion over chains of forbidden points (sorted DP)
pts = bad + [end]
f = []
for i, p in enumerate(pts):
    val = paths(start, p)
    for j in range(i):
        val -= f[j] * paths(pts[j], p)
    f.append(val)
print("paths avoiding forbidden points:", f[-1])

# brute force DP on the grid to confirm
W, H = end
dp = [[0] * (H + 1) for _ in range(W + 1)]
for x in range(W + 1):
    for y in range(H + 1):
        if (x, y) in bad:
            continue
        if x == 0 and y == 0:
            dp[x][y] = 1
        else:
            dp[x][y] = (dp[x - 1][y] if x else 0) + (dp[x][y - 1] if y else 0)
print("DP:", dp[W][H])
