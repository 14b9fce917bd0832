from bisect import bisect_left, bisect_right

squares = [k * k for k in range(1, 1001)]
cubes = [k**3 for k in range(1, 101)]

def count_in(arr, lo, hi):
    return bisect_right(arr, hi) - bisect_left(arr, lo)

print("squares in [1000, 100000]:", count_in(squares, 1000, 100000))
print("cubes in [1000, 100000]:", count_in(cubes, 1000, 100000))

# numbers up to 10^6 that are squares or cubes (inclusion-exclusion with sixth powers)
N = 10**6
sq = bisect_right(squares, N)
cu = bisect_right(cubes, N)
sixth = int(round(N ** (1 / 6)))
while (sixth + 1)**6 <= N:
    sixth += 1
while sixth**6 > N:
    sixth -= 1
print("squares or cubes <= 10^6:", sq + cu - sixth)
