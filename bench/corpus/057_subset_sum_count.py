from itertools import combinations

S = list(range(1, 16))
target = 40
# count subsets of {1..15} with sum 40 (brute force over sizes)
count = 0
for k in range(len(S) + 1):
    for combo in combinations(S, k):
        if sum(combo) == target:
            count += 1
print("subsets summing to 40 (brute force):", count)

# DP cross-check
dp = [0] * (target + 1)
dp[0] = 1
for v in S:
    for t in range(target, v - 1, -1):
        dp[t] += dp[t - v]
print("DP:", dp[target])
