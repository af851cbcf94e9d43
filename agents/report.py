"""What `status`, `show` and `export` print or write, from a run's last checkpoint."""

from __future__ import annotations

from pathlib import Path

from agents.nodes.metareview import leaderboard
from agents.plots import elo_caption, plot_elo, plot_proximity
from agents.state import active
from evolve.config import AgentsConfig


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
        score = f"score {r['score']}" if r.get("score") is not None else f"no score ({r.get('reason') or 'unreadable'})"
        lines.append(f"- {r['hypothesis']}: {score}{weak}: {(r.get('comments') or '')[:200]}")
    lines += ["", "## Matches", "", f"{elo_caption(state.get('matches') or [])}.", ""]
    for m in state.get("matches") or []:
        orders = "PRM" if m.get("judge") == "prm" else f"orders: {m['first']}/{m['second']}"
        lines.append(f"- {m['id']}: {m['a']} vs {m['b']} -> {m['outcome']} ({orders}"
                     f"{', debate' if m.get('debate') else ''}){': ' + m['reason'] if m.get('reason') else ''}")
    if state.get("critique"):
        lines += ["", "## Meta-review critique", "", state["critique"]]
    if state.get("overview"):
        lines += ["", "## Research overview", "", state["overview"]]
    return "\n".join(lines) + "\n"


def export(state: dict, meta: dict, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    files = [out / "report.md", out / "proximity.png", out / "elo.png"]
    files[0].write_text(markdown(state, meta))
    threshold = (meta.get("config") or {}).get("edge_threshold", AgentsConfig().edge_threshold)
    plot_proximity(state, files[1], threshold)
    plot_elo(state, files[2])
    return files
