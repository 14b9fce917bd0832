import networkx as nx
import numpy as np

# number of spanning trees of the 3x4 grid graph via Kirchhoff's matrix-tree theorem
G = nx.grid_2d_graph(3, 4)
L = nx.laplacian_matrix(G).toarray().astype(float)
minor = L[1:, 1:]
trees = round(np.linalg.det(minor))
print("spanning trees of 3x4 grid:", trees)

# complete graph K_6: Cayley's formula 6^4
K = nx.complete_graph(6)
Lk = nx.laplacian_matrix(K).toarray().astype(float)
print("K_6:", round(np.linalg.det(Lk[1:, 1:])), "Cayley:", 6**4)

# chromatic number by brute force of a small graph (Petersen)
P = nx.petersen_graph()
coloring = nx.greedy_color(P, strategy="largest_first")
print("greedy colors for Petersen:", max(coloring.values()) + 1)
print("is bipartite:", nx.is_bipartite(P), "girth-ish cycle basis size:", len(nx.cycle_basis(P)))
