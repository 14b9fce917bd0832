import heapq

def dijkstra(graph, source):
    dist = {source: 0}
    heap = [(0, source)]
    while heap:
        d, u = heapq.heappop(heap)
        if d > dist.get(u, float('inf')):
            continue
        for v, w in graph.get(u, []):
            nd = d + w
            if nd < dist.get(v, float('inf')):
                dist[v] = nd
                heapq.heappush(heap, (nd, v))
    return dist

# grid graph where moving onto cell (i, j) costs (i * 7 + j * 13) % 10 + 1
n = 30
cost = lambda i, j: (i * 7 + j * 13) % 10 + 1
graph = {}
for i in range(n):
    for j in range(n):
        for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            a, b = i + di, j + dj
            if 0 <= a < n and 0 <= b < n:
                graph.setdefault((i, j), []).append(((a, b), cost(a, b)))
dist = dijkstra(graph, (0, 0))
print("min cost to (29, 29):", dist[(n - 1, n - 1)])
print("farthest cell cost:", max(dist.values()))
