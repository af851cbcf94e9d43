"""Similarity between hypotheses: TF-IDF cosine (scikit-learn), a networkx graph and its communities.

The graph removes near duplicates and feeds the pairing of the tournament.
"""

from __future__ import annotations

from collections.abc import Sequence


def similarity_matrix(texts: Sequence[str]) -> list[list[float]]:
    """Cosine similarity of TF-IDF vectors (word unigrams and bigrams); 0 for empty texts."""
    if not texts:
        return []
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics.pairwise import cosine_similarity

    if not any(t.strip() for t in texts):
        return [[0.0] * len(texts) for _ in texts]
    try:
        matrix = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit_transform(list(texts))
    except ValueError:  # every token a stop word or too short: nothing to compare on
        return [[0.0] * len(texts) for _ in texts]
    return [[round(float(x), 6) for x in row] for row in cosine_similarity(matrix)]


def duplicates(ids: Sequence[str], sims: Sequence[Sequence[float]], created: Sequence[int],
               answers: Sequence[str | None], threshold: float, protected: frozenset[str] = frozenset()) -> dict[str, str]:
    """{newer id: the older id it repeats}: cosine >= threshold and, where answers exist, the same answer.
    The older (earlier step, then smaller id) one is kept; protected (pinned) ids are never dropped."""
    order = sorted(range(len(ids)), key=lambda i: (created[i], ids[i]))
    kept: list[int] = []
    dropped: dict[str, str] = {}
    for i in order:
        match = next((j for j in kept if sims[i][j] >= threshold and answers[i] == answers[j]), None)
        if match is not None and ids[i] not in protected:
            dropped[ids[i]] = ids[match]
        else:
            kept.append(i)
    return dropped


def build_graph(ids: Sequence[str], sims: Sequence[Sequence[float]], threshold: float):
    """An undirected networkx graph: a node per hypothesis, an edge (weight = cosine) above `threshold`."""
    import networkx as nx

    graph = nx.Graph()
    graph.add_nodes_from(ids)
    for i in range(len(ids)):
        for j in range(i + 1, len(ids)):
            if sims[i][j] >= threshold:
                graph.add_edge(ids[i], ids[j], weight=sims[i][j])
    return graph


def communities(graph) -> list[list[str]]:
    """Greedy-modularity communities, each sorted, largest first; isolated nodes are their own community."""
    from networkx.algorithms.community import greedy_modularity_communities

    if graph.number_of_edges() == 0:
        return [[n] for n in sorted(graph.nodes)]
    found = greedy_modularity_communities(graph, weight="weight")
    return sorted((sorted(c) for c in found), key=lambda c: (-len(c), c))


def summarise(ids: Sequence[str], sims: Sequence[Sequence[float]], threshold: float) -> dict:
    """What the state keeps: every pair's cosine (for pairing), the edges and the communities."""
    graph = build_graph(ids, sims, threshold)
    pairs = [[ids[i], ids[j], sims[i][j]] for i in range(len(ids)) for j in range(i + 1, len(ids))]
    edges = [[a, b, round(float(d["weight"]), 6)] for a, b, d in sorted(graph.edges(data=True))]
    return {"pairs": pairs, "edges": edges, "communities": communities(graph)}
