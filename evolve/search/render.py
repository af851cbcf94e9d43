"""Trees as networkx graphs, GraphML files and readable PNG drawings."""

from __future__ import annotations

import textwrap
import warnings
from pathlib import Path

import networkx as nx

# XML 1.0 (GraphML) forbids most control characters, and a sampled step can contain any token.
_XML_UNSAFE = {c: "\ufffd" for c in range(32) if chr(c) not in "\t\n\r"}


def _clean(text: str) -> str:
    return text.translate(_XML_UNSAFE)


def record_to_graph(record: dict) -> nx.DiGraph:
    graph = nx.DiGraph(id=record["id"], domain=record["domain"], gold=_clean(str(record.get("gold"))))
    for node in record["nodes"]:
        graph.add_node(
            node["id"], depth=node["depth"], action=node["action"], step=_clean(node["step"]), visits=node["visits"],
            q=float(node["q"]), value=float(node["value"]) if node["value"] is not None else -1.0,
            rollouts=",".join("1" if r else "0" for r in node["rollouts"]),
            answer=_clean(node["answer"] or ""), correct=bool(node["correct"]), completed=bool(node["completed"]),
        )
        if node["parent"] is not None:
            graph.add_edge(node["parent"], node["id"])
    return graph


def tidy_layout(graph: nx.DiGraph, root: int = 0) -> dict[int, tuple[float, float]]:
    """Leaves spread evenly left to right in depth-first order; each parent centred over its children."""
    pos: dict[int, tuple[float, float]] = {}
    next_x = 0.0

    def place(node: int) -> float:
        nonlocal next_x
        kids = sorted(graph.successors(node))
        if not kids:
            x = next_x
            next_x += 1.0
        else:
            xs = [place(k) for k in kids]
            x = (xs[0] + xs[-1]) / 2
        pos[node] = (x, -float(graph.nodes[node]["depth"]))
        return x

    place(root)
    return pos


def write_graphml(record: dict, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    nx.write_graphml(record_to_graph(record), path)
    return path


def render_png(record: dict, path: str | Path, *, max_label: int = 60) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    graph = record_to_graph(record)
    pos = tidy_layout(graph)
    leaves = sum(1 for n in graph if graph.out_degree(n) == 0)
    depth = max(d for _, d in graph.nodes(data="depth"))
    fig, ax = plt.subplots(figsize=(max(8.0, 1.6 * leaves), max(4.0, 1.5 * (depth + 1))))
    cmap = plt.get_cmap("RdYlGn")
    nx.draw_networkx_edges(graph, pos, ax=ax, arrows=False, edge_color="#999999")
    for node, data in graph.nodes(data=True):
        x, y = pos[node]
        edge = "#1a7f37" if data["correct"] else "#cf222e" if data["action"] == "finish" else "#555555"
        style = "round,pad=0.3" if data["action"] != "finish" else "square,pad=0.3"
        label = f"#{node} Q={data['q']:.2f} N={data['visits']}"
        if data["value"] >= 0 and data["action"] == "reason":
            label += f"\nv={data['value']:.2f} ({len(data['rollouts'].split(',')) if data['rollouts'] else 0} rollouts)"
        if data["action"] == "finish":
            label += f"\nanswer={data['answer'] or '-'} {'✓' if data['correct'] else '✗'}"
        snippet = textwrap.shorten(data["step"], max_label, placeholder="…")
        label += "\n" + "\n".join(textwrap.wrap(snippet, 22))
        ax.text(x, y, label, ha="center", va="center", fontsize=6.5,
                # the colormap's mid-range only, so black text stays readable on every fill
                bbox=dict(boxstyle=style, fc=cmap(0.2 + 0.6 * data["q"]), ec=edge,
                          lw=1.6 if data["action"] == "finish" else 0.8))
    # the colour scale for the fill: Q through the same mid-range of the colormap the boxes use
    scale = plt.cm.ScalarMappable(cmap=matplotlib.colors.LinearSegmentedColormap.from_list(
        "q", [cmap(0.2), cmap(0.5), cmap(0.8)]), norm=plt.Normalize(0, 1))
    bar = fig.colorbar(scale, ax=ax, fraction=0.025, pad=0.01)
    bar.set_label("Q (mean rollout value)", fontsize=8)
    stats = record.get("stats", {})
    ax.set_title(
        f"{record['domain']} / {record['id']}  gold={record.get('gold')}  nodes={len(graph)}  "
        f"correct leaves={stats.get('correct_leaves', '?')}/{stats.get('finish_leaves', '?')}\n"
        "fill = Q (scale at right); green/red border = correct/incorrect Finish",
        fontsize=9,
    )
    xs = [p[0] for p in pos.values()]
    ax.set_xlim(min(xs) - 0.7, max(xs) + 0.7)
    ax.set_ylim(-depth - 0.7, 0.7)
    ax.axis("off")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing")  # sampled text may hold odd tokens
        fig.tight_layout()
        fig.savefig(path, dpi=130)
    plt.close(fig)
    return path
