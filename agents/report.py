"""What `status`, `show` and `export` print or write, from a run's last checkpoint."""

from __future__ import annotations

from pathlib import Path

from agents.elo import INITIAL_ELO
from agents.nodes.metareview import leaderboard
from agents.state import active


def status_line(state: dict, budget: int) -> str:
    hyps = state.get("hypotheses") or {}
    last = (state.get("actions") or [{}])[-1].get("action", "not started")
    done = "finished" if state.get("overview") else "in progress"
    # the decision to write the final report comes after the budget's last step and is not one of them
    steps = min(state.get("step", 0), budget)
    return (f"{done}: step {steps}/{budget}, last action {last}, {len(active(state))} active of "
            f"{len(hyps)} hypotheses, {len(state.get('matches') or [])} matches, {len(state.get('reviews') or [])} "
            f"reviews, {state.get('tokens', 0)} generated tokens"
            + (f", stopped: {state['stop_reason']}" if state.get("stop_reason") else ""))


def lineage(state: dict, hid: str) -> list[str]:
    """`hid` and its ancestors, breadth first."""
    hyps = state.get("hypotheses") or {}
    out, queue = [], [hid]
    while queue:
        current = queue.pop(0)
        if current in out or current not in hyps:
            continue
        out.append(current)
        queue.extend(hyps[current].get("parents") or [])
    return out


def markdown(state: dict, meta: dict, k: int = 10) -> str:
    lines = [f"# Agents run: {meta.get('goal', '')[:120]}", "", f"- domain: {meta.get('domain')}",
             f"- model: {meta.get('model')}", f"- {status_line(state, meta['config']['budget'])}", ""]
    lines += ["## Leaderboard", "", "| rank | id | Elo | W-L-D | origin | answer | parents |", "|---|---|---|---|---|---|---|"]
    for rank, h in enumerate(leaderboard(state, k), start=1):
        pin = " (pinned)" if h.get("pinned") else ""
        lines.append(f"| {rank} | {h['id']}{pin} | {h['elo']:.1f} | {h['wins']}-{h['losses']}-{h['draws']} | "
                     f"{h['origin']} | {h.get('answer') or ''} | {', '.join(h.get('parents') or [])} |")
    lines += ["", "## Top hypotheses", ""]
    for h in leaderboard(state, 3):
        lines += [f"### {h['id']} (lineage: {' <- '.join(lineage(state, h['id']))})", "", h["text"], ""]
    lines += ["## Reviews", ""]
    for r in state.get("reviews") or []:
        weak = f", weakest steps {r['weakest_steps']}" if r.get("weakest_steps") else ""
        lines.append(f"- {r['hypothesis']}: score {r.get('score')}{weak}: {(r.get('comments') or '')[:200]}")
    lines += ["", "## Matches", ""]
    for m in state.get("matches") or []:
        lines.append(f"- {m['id']}: {m['a']} vs {m['b']} -> {m['outcome']} (orders: {m['first']}/{m['second']}"
                     f"{', debate' if m.get('debate') else ''})")
    if state.get("critique"):
        lines += ["", "## Meta-review critique", "", state["critique"]]
    if state.get("overview"):
        lines += ["", "## Research overview", "", state["overview"]]
    return "\n".join(lines) + "\n"


def plot_elo(state: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    history = state.get("elo_history") or []
    fig, ax = plt.subplots(figsize=(7, 4))
    ids = sorted({h for snap in history for h in snap["ratings"]})
    for hid in ids:
        points = [(snap["step"], snap["ratings"][hid]) for snap in history if hid in snap["ratings"]]
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=hid)
    ax.axhline(INITIAL_ELO, color="grey", linewidth=0.5)
    ax.set_xlabel("supervisor step")
    ax.set_ylabel("Elo")
    ax.set_title("Elo over time")
    if ids and len(ids) <= 12:
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_proximity(state: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from agents.proximity import build_graph

    prox = state.get("proximity") or {}
    ids = sorted({h["id"] for h in active(state)})
    graph = build_graph(ids, [[0.0] * len(ids) for _ in ids], 1.1)
    for a, b, w in prox.get("edges", []):
        if a in graph and b in graph:
            graph.add_edge(a, b, weight=w)
    colour = {hid: i for i, group in enumerate(prox.get("communities", [])) for hid in group}
    import networkx as nx

    fig, ax = plt.subplots(figsize=(6, 5))
    if ids:
        pos = nx.spring_layout(graph, seed=0)
        nx.draw_networkx(graph, pos, ax=ax, node_color=[colour.get(n, -1) for n in graph.nodes], cmap="tab10",
                         font_size=7, node_size=300, width=[1 + 3 * graph[a][b]["weight"] for a, b in graph.edges])
    ax.set_title("Proximity graph (TF-IDF cosine; colour = community)")
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def export(state: dict, meta: dict, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    files = [out / "report.md", out / "proximity.png", out / "elo.png"]
    files[0].write_text(markdown(state, meta))
    plot_proximity(state, files[1])
    plot_elo(state, files[2])
    return files
