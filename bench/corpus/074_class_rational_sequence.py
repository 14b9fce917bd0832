from math import gcd


class Q:
    """A tiny rational number class (the model re-implemented Fraction)."""

    def __init__(self, num, den=1):
        if den == 0:
            raise ZeroDivisionError("zero denominator")
        g = gcd(num, den)
        if den < 0:
            g = -g
        self.num = num // g
        self.den = den // g

    def __add__(self, other):
        if isinstance(other, int):
            other = Q(other)
        return Q(self.num * other.den + other.num * self.den, self.den * other.den)

    __radd__ = __add__

    def __mul__(self, other):
        if isinstance(other, int):
            other = Q(other)
        return Q(self.num * other.num, self.den * other.den)

    def __eq__(self, other):
        if not isinstance(other, Q):
            return NotImplemented
        return self.num == other.num and self.den == other.den

    def __hash__(self):
        return hash((self.num, self.den))

    def __repr__(self):
        return f"{self.num}/{self.den}" if self.den != 1 else f"{self.num}"


# harmonic numbers H_n as exact rationals
H = Q(0)
for k in range(1, 21):
    H = H + Q(1, k)
print("H_20 =", H)
print(type(H).__name__, isinstance(H, Q))
print("Q(2,4) == Q(1,2):", Q(2, 4) == Q(1, 2))
print("distinct values:", len({Q(1, 2), Q(2, 4), Q(3, 6), Q(1, 3)}))
