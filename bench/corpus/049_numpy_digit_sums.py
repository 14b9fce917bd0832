import numpy as np

N = 10**6
n = np.arange(N)
digit_sum = np.zeros(N, dtype=np.int64)
m = n.copy()
while m.any():
    digit_sum += m % 10
    m //= 10
print("numbers below 10^6 with digit sum 27:", int(np.count_nonzero(digit_sum == 27)))
print("total digit sum:", int(digit_sum.sum()))
divisible = np.count_nonzero((n % digit_sum.clip(min=1) == 0) & (n > 0))
print("Harshad numbers below 10^6:", int(divisible))
