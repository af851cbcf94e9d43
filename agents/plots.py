"""The export's two PNGs, Elo over time and the proximity graph, and the pure captions they carry.

A plot has to say what happened, not only draw it: a flat Elo line means nothing until the title says
every match was a draw, and a graph of loose dots reads as broken until it says no pair was similar
enough to link.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from agents.elo import INITIAL_ELO
from agents.state import active


def decisive_share(matches: Sequence[dict]) -> tuple[int, int]:
    """(matches won by one side, matches played)."""
    return sum(1 for m in matches if m.get("outcome") in ("a", "b")), len(matches)


def elo_caption(matches: Sequence[dict]) -> str:
    """"4 of 6 matches decisive", or why the lines are flat."""
    decisive, total = decisive_share(matches)
    if total == 0:
        return "no matches played yet"
    if decisive == 0:
        return f"all {total} match{'' if total == 1 else 'es'} drawn: no rating moved"
    return f"{decisive} of {total} match{'' if total == 1 else 'es'} decisive"


def draw_note(matches: Sequence[dict]) -> str | None:
    """When every match was a draw, the most common reason recorded, so the flat plot explains itself."""
    decisive, total = decisive_share(matches)
    if total == 0 or decisive:
        return None
    reasons: dict[str, int] = {}
    for m in matches:
        why = m.get("reason") or "no reason recorded"
        reasons[why] = reasons.get(why, 0) + 1
    why, count = max(reasons.items(), key=lambda kv: (kv[1], kv[0]))
    return f"every match was a draw; most often ({count} of {total}): {why}"


def strongest_pair(pairs: Sequence[Sequence]) -> tuple[str, str, float] | None:
    """The most similar pair (ties: the first listed), or None without pairs."""
    best = None
    for a, b, sim in pairs:
        if best is None or sim > best[2]:
            best = (a, b, float(sim))
    return best


def proximity_caption(edges: Sequence[Sequence], pairs: Sequence[Sequence], threshold: float) -> str:
    """What the edges mean, or that there are none above `threshold` (and how close the nearest pair came)."""
    if edges:
        return f"{len(edges)} pair{'' if len(edges) == 1 else 's'} linked: TF-IDF cosine >= {threshold:.2f}"
    best = strongest_pair(pairs)
    tail = f" (closest: {best[0]} and {best[1]} at {best[2]:.2f})" if best else ""
    return f"no pair above threshold {threshold:.2f}{tail}"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_elo(state: dict, path: Path) -> None:
    from matplotlib.ticker import MaxNLocator

    plt = _pyplot()
    history = state.get("elo_history") or []
    matches = state.get("matches") or []
    fig, ax = plt.subplots(figsize=(7, 4.2))
    ids = sorted({h for snap in history for h in snap["ratings"]})
    for hid in ids:
        points = [(snap["step"], snap["ratings"][hid]) for snap in history if hid in snap["ratings"]]
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=hid)
    ax.axhline(INITIAL_ELO, color="grey", linewidth=0.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # supervisor steps are whole numbers
    ax.set_xlabel("supervisor step")
    ax.set_ylabel("Elo")
    ax.set_title(f"Elo over time: {elo_caption(matches)}")
    note = draw_note(matches)
    if note:
        ax.text(0.5, 0.92, note, transform=ax.transAxes, ha="center", va="top", fontsize=8, wrap=True,
                bbox={"boxstyle": "round", "facecolor": "lightyellow", "edgecolor": "grey"})
    if not history:
        ax.text(0.5, 0.5, "no Elo snapshots yet", transform=ax.transAxes, ha="center", va="center")
    if ids and len(ids) <= 12:
        ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_proximity(state: dict, path: Path, threshold: float) -> None:
    import networkx as nx

    plt = _pyplot()
    prox = state.get("proximity") or {}
    live = {h["id"]: h for h in active(state)}
    ids = sorted(live)
    graph = nx.Graph()
    graph.add_nodes_from(ids)
    edges = [e for e in prox.get("edges", []) if e[0] in live and e[1] in live and e[2] >= threshold]
    for a, b, w in edges:
        graph.add_edge(a, b, weight=w)
    pairs = [p for p in prox.get("pairs", []) if p[0] in live and p[1] in live]
    colour = {hid: i for i, group in enumerate(prox.get("communities", [])) for hid in group}
    fig, ax = plt.subplots(figsize=(6.5, 5.2))
    if ids:
        pos = nx.spring_layout(graph, seed=0) if edges else nx.circular_layout(graph)
        nx.draw_networkx_nodes(graph, pos, ax=ax, node_color=[colour.get(n, -1) for n in graph.nodes],
                               cmap="tab10", vmin=-1, vmax=9, node_size=320)
        if edges:
            nx.draw_networkx_edges(graph, pos, ax=ax, edge_color="grey", alpha=0.7,
                                   width=[1 + 2 * graph[a][b]["weight"] for a, b in graph.edges])
            nx.draw_networkx_edge_labels(graph, pos, ax=ax, font_size=6,
                                         edge_labels={(a, b): f"{d['weight']:.2f}" for a, b, d in graph.edges(data=True)})
        # Labels hang just below their node, on a white box, so neither the node nor an edge hides them.
        ys = [y for _, y in pos.values()]
        drop = 0.07 * ((max(ys) - min(ys)) or 1.0)
        below = {h: (x, y - drop) for h, (x, y) in pos.items()}
        answers = {h: f"{h} ({live[h]['answer']})" if live[h].get("answer") else h for h in ids}
        texts = nx.draw_networkx_labels(graph, below, labels=answers, ax=ax, font_size=7, verticalalignment="top",
                                        bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1})
        for label in texts.values():
            label.set_clip_on(True)  # a long id near the edge is cut at the axes, not drawn over the title
        # Room around the nodes: labels hang below them, and spring layouts put nodes on the border.
        ax.margins(0.2)
    else:
        ax.text(0.5, 0.5, "no active hypotheses", transform=ax.transAxes, ha="center", va="center")
    ax.set_title(f"Proximity graph (colour = community)\n{proximity_caption(edges, pairs, threshold)}", fontsize=10)
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
