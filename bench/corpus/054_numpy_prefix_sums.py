import numpy as np

rng = np.random.default_rng(7)
arr = rng.integers(-5, 6, size=2000)
prefix = np.concatenate([[0], np.cumsum(arr)])

# number of subarrays with sum exactly 0: pairs of equal prefix sums
_, counts = np.unique(prefix, return_counts=True)
zero_sub = int((counts * (counts - 1) // 2).sum())
print("zero-sum subarrays:", zero_sub)

# maximum subarray sum (Kadane)
best = cur = arr[0]
for v in arr[1:]:
    cur = max(v, cur + v)
    best = max(best, cur)
print("max subarray sum:", int(best))
print("check via prefix:", int(np.max(prefix[1:] - np.minimum.accumulate(prefix[:-1]))))
