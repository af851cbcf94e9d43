"""One line per graph update, for every front end that shows a run live (the CLI, the chat)."""

from __future__ import annotations


def update_lines(node: str, patch: dict) -> list[str]:
    """What the supervisor chose, or what a worker produced, as plain lines."""
    if node == "supervisor":
        act = (patch.get("actions") or [{}])[-1]
        return [f"step {act.get('step')} {act.get('action')} ({act.get('tasks', 0)} tasks): {act.get('reason', '')}"]
    if node in ("generate", "evolve"):
        lines = [f"+ {h['id']} ({h['origin']}) answer={h.get('answer')}" for h in (patch.get("hypotheses") or {}).values()]
        return lines + [f"! {f['task']}: {f['reason']}" for f in patch.get("failures") or []]
    if node == "match":
        return [f"{m['a']} vs {m['b']}: {m['outcome']}"
                + (f" ({m['reason']})" if m.get("reason") and m["outcome"] == "draw" else "")
                for m in patch.get("matches") or []]
    if node == "reflect":
        return [f"! {f['task']}: {f['reason']}" for f in patch.get("failures") or []]
    if node == "elo":
        best = sorted((patch.get("hypotheses") or {}).items(), key=lambda kv: -kv[1]["elo"])[:3]
        return ["Elo: " + ", ".join(f"{h} {r['elo']:.0f}" for h, r in best)] if best else []
    if node == "proximity":
        dup = [h for h, r in (patch.get("hypotheses") or {}).items() if r.get("status") == "duplicate"]
        return [f"duplicates dropped: {', '.join(dup)}"] if dup else []
    if node == "final_report":
        return ["final report written"]
    return []
