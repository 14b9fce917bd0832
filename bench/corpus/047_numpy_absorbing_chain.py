import numpy as np

# Gambler's ruin on states 0..6 with p = 0.4 of winning one unit; start at 3.
n = 6
p = 0.4
transient = list(range(1, n))
Q = np.zeros((len(transient), len(transient)))
R = np.zeros((len(transient), 2))
for i, s in enumerate(transient):
    for t, prob in ((s + 1, p), (s - 1, 1 - p)):
        if t == 0:
            R[i, 0] += prob
        elif t == n:
            R[i, 1] += prob
        else:
            Q[i, transient.index(t)] += prob
N = np.linalg.inv(np.eye(len(transient)) - Q)
B = N @ R
steps = N @ np.ones(len(transient))
start = transient.index(3)
print("P(reach 6 from 3):", round(B[start, 1], 10))
print("expected number of bets:", round(steps[start], 10))
r = (1 - p) / p
print("formula:", round((1 - r**3) / (1 - r**6), 10))
