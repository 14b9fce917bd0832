from collections import deque

def josephus_sim(n, k):
    q = deque(range(1, n + 1))
    order = []
    while q:
        q.rotate(-(k - 1))
        order.append(q.popleft())
    return order[-1], order

def josephus_rec(n, k):
    pos = 0
    for m in range(2, n + 1):
        pos = (pos + k) % m
    return pos + 1

def main():
    last, order = josephus_sim(41, 3)
    print("survivor (41, 3):", last, "first eliminated:", order[:6])
    print("formula:", josephus_rec(41, 3))
    assert all(josephus_sim(n, k)[0] == josephus_rec(n, k) for n in range(1, 40) for k in range(1, 6))
    print("J(10^5, 2) =", josephus_rec(10**5, 2))


if __name__ == "__main__":
    main()
