from dataclasses import dataclass, field
from itertools import combinations
from typing import List


@dataclass(frozen=True)
class Point:
    x: int
    y: int

    def __sub__(self, other: "Point") -> "Point":
        return Point(self.x - other.x, self.y - other.y)


def cross(o: Point, a: Point, b: Point) -> int:
    u, v = a - o, b - o
    return u.x * v.y - u.y * v.x


@dataclass
class Board:
    size: int
    points: List[Point] = field(default_factory=list)

    def __post_init__(self):
        self.points = [Point(i, j) for i in range(self.size) for j in range(self.size)]

    def count_triangles(self) -> int:
        return sum(1 for a, b, c in combinations(self.points, 3) if cross(a, b, c) != 0)


board = Board(5)
print("points:", len(board.points))
print("non-degenerate triangles in 5x5 grid:", board.count_triangles())
print(Point(1, 2) - Point(3, 5), Point(1, 1) == Point(1, 1))
