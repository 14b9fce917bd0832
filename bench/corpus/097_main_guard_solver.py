"""Count lattice points strictly inside the triangle with vertices (0,0), (a,0), (0,b)."""
from math import gcd


class TriangleCounter:
    def __init__(self, a: int, b: int):
        self._a = a
        self._b = b

    def brute(self) -> int:
        a, b = self._a, self._b
        return sum(1 for x in range(1, a) for y in range(1, b) if b * x + a * y < a * b)

    def pick(self) -> int:
        a, b = self._a, self._b
        area2 = a * b
        boundary = a + b + gcd(a, b)
        # Pick: A = I + B/2 - 1  ->  I = (2A - B + 2) / 2
        return (area2 - boundary + 2) // 2

    def __repr__(self):
        return f"TriangleCounter(a={self._a}, b={self._b})"


def main():
    for a, b in [(10, 7), (12, 18), (100, 37)]:
        tc = TriangleCounter(a, b)
        print(tc, tc.brute(), tc.pick())
    big = TriangleCounter(2024, 1001)
    print("big case via Pick:", big.pick())


if __name__ == "__main__":
    main()
