import networkx as nx

# cube graph Q_4: number of shortest paths between antipodal vertices
Q = nx.hypercube_graph(4)
src, dst = (0, 0, 0, 0), (1, 1, 1, 1)
paths = list(nx.all_shortest_paths(Q, src, dst))
print("shortest paths in Q4 between antipodes:", len(paths), "(4! = 24)")
print("diameter:", nx.diameter(Q))

# weighted graph: divisibility graph on 1..30, edge a-b if b = a*p for prime p, weight p
G = nx.Graph()
primes = [2, 3, 5, 7, 11, 13]
for a in range(1, 31):
    for p in primes:
        if a * p <= 30:
            G.add_edge(a, a * p, weight=p)
print("dist(1, 30):", nx.dijkstra_path_length(G, 1, 30))
print("path:", nx.dijkstra_path(G, 1, 30))
print("connected components:", nx.number_connected_components(G))
