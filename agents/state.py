"""The graph's state schema and its reducers.

Parallel `Send` workers return partial updates that the reducers merge. Every list record carries an
`id` that derives from the run's step, not from time or chance, so a task that LangGraph re-runs after
a crash writes the same ids and the reducers drop the repeats: resuming never duplicates anything.
"""

from __future__ import annotations

import operator
from typing import Annotated, TypedDict

from agents.elo import INITIAL_ELO


def merge_records(left: dict[str, dict] | None, right: dict[str, dict] | None) -> dict[str, dict]:
    """Per-id shallow merge: a worker may patch a few fields of a hypothesis without copying the rest."""
    merged = dict(left or {})
    for key, patch in (right or {}).items():
        merged[key] = {**merged.get(key, {}), **patch}
    return merged


def append_unique(left: list[dict] | None, right: list[dict] | None) -> list[dict]:
    """Append records whose `id` is not there yet (order kept)."""
    out = list(left or [])
    seen = {r["id"] for r in out}
    for record in right or []:
        if record["id"] not in seen:
            out.append(record)
            seen.add(record["id"])
    return out


class AgentState(TypedDict, total=False):
    goal: str
    question: dict | None  # a verifiable goal as a canonical Question (id, question, options, answer)
    plan: dict  # preferences, attributes, constraints, criteria, domain
    hypotheses: Annotated[dict[str, dict], merge_records]
    reviews: Annotated[list[dict], append_unique]
    matches: Annotated[list[dict], append_unique]
    elo_cursor: int  # matches[:elo_cursor] are already in the ratings
    elo_history: Annotated[list[dict], append_unique]  # {"id", "step", "ratings"}
    step: int  # supervisor decisions taken; the budget counts these
    actions: Annotated[list[dict], append_unique]
    tasks: list[dict]  # the current action's work items, fanned out by the router
    next_action: str
    critique: str
    critique_step: int
    inbox_cursor: int
    feedback: Annotated[list[dict], append_unique]
    failures: Annotated[list[dict], append_unique]
    tokens: Annotated[int, operator.add]
    proximity: dict  # {"edges": [[a, b, sim]], "communities": [[ids]]}
    overview: str
    stop_reason: str
    seed_ideas: list[str]  # ideas from the user that the first generations start from
    history_from: int  # a continued run judges stability on Elo snapshots from this step on only


def new_hypothesis(hid: str, text: str, *, steps: list[str] | None = None, answer: str | None = None,
                   origin: str = "generation", parents: list[str] | None = None, step: int = 0,
                   strategy: str | None = None, tokens: int = 0) -> dict:
    """A fresh hypothesis record; evolution makes new ones like this and never edits its parents."""
    return {
        "id": hid, "text": text, "steps": steps or [], "answer": answer, "origin": origin, "strategy": strategy,
        "parents": parents or [], "step_created": step, "status": "active", "pinned": False,
        "elo": INITIAL_ELO, "matches": 0, "wins": 0, "losses": 0, "draws": 0, "reviewed": False,
        "review_score": None, "prm_scores": None, "weakest_steps": [], "tokens": tokens,
    }


def active(state: dict) -> list[dict]:
    """Hypotheses still in play (not rejected, not duplicates), by id."""
    return [h for _, h in sorted((state.get("hypotheses") or {}).items()) if h.get("status") == "active"]


def ratings(state: dict) -> dict[str, float]:
    return {h["id"]: float(h["elo"]) for h in active(state)}
