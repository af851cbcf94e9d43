"""How the sampling modes turn N candidates into one answer, as pure functions.

Ties go to the answer (or candidate) seen first, so a result depends only on the samples' order,
which the seeds fix. An answer of None (nothing extractable) never wins unless every answer is None.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

Reduce = Literal["last", "min"]


def weighted_vote(answers: Sequence[str | None], weights: Sequence[float]) -> tuple[str | None, dict[str, float]]:
    """The answer with the largest total weight, and every answer's total (None answers excluded)."""
    if len(answers) != len(weights):
        raise ValueError(f"{len(answers)} answers but {len(weights)} weights")
    totals: dict[str, float] = {}  # insertion order = first-seen order, used for ties
    for answer, weight in zip(answers, weights):
        if answer is not None:
            totals[answer] = totals.get(answer, 0.0) + float(weight)
    if not totals:
        return None, {}
    best = max(totals.values())
    winner = next(answer for answer, total in totals.items() if total == best)
    return winner, totals


def majority_vote(answers: Sequence[str | None]) -> tuple[str | None, dict[str, float]]:
    """Self-consistency: the most frequent answer; votes are counts."""
    return weighted_vote(answers, [1.0] * len(answers))


def reduce_scores(scores: Sequence[float], how: Reduce) -> float:
    """One number per trajectory: its last step's score or its weakest step's."""
    if not scores:
        raise ValueError("a trajectory needs at least one step score")
    if how == "last":
        return float(scores[-1])
    if how == "min":
        return float(min(scores))
    raise ValueError(f"unknown reduction {how!r}")


def best_of_n(answers: Sequence[str | None], scores: Sequence[Sequence[float]], how: Reduce) -> int:
    """Index of the best-scored candidate; candidates with an answer beat those without."""
    if not answers or len(answers) != len(scores):
        raise ValueError("best_of_n needs one score list per answer, and at least one")
    pool = [i for i, answer in enumerate(answers) if answer is not None] or list(range(len(answers)))
    # max() keeps the first of equal keys: the earliest sample wins a tie
    return max(pool, key=lambda i: reduce_scores(scores[i], how))


def first_with(answers: Sequence[str | None], answer: str | None, scores: Sequence[float] | None = None) -> int:
    """The trajectory to show for a voted answer: the best-scored (else first) sample that gave it."""
    pool = [i for i, a in enumerate(answers) if a == answer]
    if not pool:
        raise ValueError(f"no sample gave the answer {answer!r}")
    if scores is None:
        return pool[0]
    return max(pool, key=lambda i: scores[i])
