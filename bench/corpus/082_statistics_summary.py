import statistics
from itertools import product

# all outcomes of the sum of three dice: mean, median, mode, variance
sums = [a + b + c for a, b, c in product(range(1, 7), repeat=3)]
print("mean:", statistics.mean(sums))
print("median:", statistics.median(sums))
print("modes:", statistics.multimode(sums))
print("population variance:", statistics.pvariance(sums))

data = [12, 15, 11, 19, 15, 22, 15, 18, 11, 20]
print("sample stdev:", round(statistics.stdev(data), 6))
print("quantiles:", statistics.quantiles(data, n=4))
print("harmonic mean of 40 and 60:", statistics.harmonic_mean([40, 60]))
