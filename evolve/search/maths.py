"""The numbers of MedS3's search, as pure functions."""

from __future__ import annotations

import math
from collections.abc import Iterable


def uct(q: float, visits: int, parent_visits: int, exploration: float) -> float:
    """Q + c * sqrt(ln N_parent / N_child) for a visited child."""
    if visits <= 0:
        raise ValueError("uct is defined for visited children only")
    return q + exploration * math.sqrt(math.log(parent_visits) / visits)


def selection_score(
    *, q: float, visits: int, parent_visits: int, completed: bool,
    exploration: float, unvisited_score: float, completed_score: float,
) -> float:
    """MedS3's tree policy: finished subtrees are avoided, unvisited children tried first."""
    if completed:
        return completed_score
    if visits == 0:
        return unvisited_score
    return uct(q, visits, parent_visits, exploration)


def rollout_count(depth: int, base: int, minimum: int) -> int:
    """Deeper nodes know more of the answer, so they need fewer rollouts: max(base // (depth+1), min)."""
    return max(base // (depth + 1), minimum)


def rollout_value(outcomes: Iterable[bool]) -> float:
    """The fraction of rollouts whose final answer verified."""
    outcomes = list(outcomes)
    if not outcomes:
        raise ValueError("a rollout value needs at least one rollout")
    return sum(outcomes) / len(outcomes)


def comp_value(own_q: float, children: Iterable[tuple[int, float]]) -> float:
    """MedS3's "comp" update: (own Q + visit-weighted mean of the children's Q) / 2.

    Averaging with the node's own value keeps a partial chain A->B->C from inheriting a perfect 1.0
    just because its last step did. Children with no visits carry no weight.
    """
    children = list(children)
    total = sum(visits for visits, _ in children)
    if total == 0:
        return own_q
    mean = sum(visits * q for visits, q in children) / total
    return (own_q + mean) / 2
