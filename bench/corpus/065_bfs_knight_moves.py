from collections import deque

def knight_distance(n, start, goal):
    moves = [(1, 2), (2, 1), (-1, 2), (-2, 1), (1, -2), (2, -1), (-1, -2), (-2, -1)]
    dist = {start: 0}
    q = deque([start])
    while q:
        x, y = q.popleft()
        if (x, y) == goal:
            return dist[(x, y)]
        for dx, dy in moves:
            nx, ny = x + dx, y + dy
            if 0 <= nx < n and 0 <= ny < n and (nx, ny) not in dist:
                dist[(nx, ny)] = dist[(x, y)] + 1
                q.append((nx, ny))
    return -1

print("corner to corner on 8x8:", knight_distance(8, (0, 0), (7, 7)))
print("(0,0) -> (1,1) on 8x8:", knight_distance(8, (0, 0), (1, 1)))
# distribution of distances from a corner
n = 8
counts = {}
for x in range(n):
    for y in range(n):
        d = knight_distance(n, (0, 0), (x, y))
        counts[d] = counts.get(d, 0) + 1
print(sorted(counts.items()))
