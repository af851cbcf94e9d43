"""Whole-solution modes: greedy `cot`, and the N-sample modes `sc`, `pvs`, `bon-last`, `bon-min`.

The N-sample modes differ only in how they pick from the same candidates, so one set of samples
(and one PRM pass over it) can serve all of them: `sample_search` draws, `decide` picks.
"""

from __future__ import annotations

from collections.abc import Sequence

from evolve.infer.base import Solution
from evolve.infer.voting import best_of_n, first_with, majority_vote, weighted_vote
from evolve.reasoner.work import Continuation, Generate, Score, Search, derive_seed

SAMPLE_MODES = ("sc", "pvs", "bon-last", "bon-min")


def sample_search(question_id: str, n: int, seed: int, *, greedy: bool = False, score: bool = False) -> Search:
    """Draw `n` full solutions (one request), optionally have the PRM score every step; returns the candidates."""
    purpose = "cot" if greedy else "sample"
    (group,) = yield [Generate((), n, "finish", derive_seed(seed, question_id, 0, purpose), greedy=greedy)]
    candidates = list(group)
    if score:
        scores = yield Score(tuple(tuple(c.steps) for c in candidates))
        for candidate, step_scores in zip(candidates, scores):
            candidate.scores = step_scores
    return candidates


def decide(mode: str, candidates: Sequence[Continuation]) -> Solution:
    """Pick the answer and the trajectory to show, the way `mode` does."""
    if not candidates:
        raise ValueError("decide needs at least one candidate")
    answers = [c.answer for c in candidates]
    tokens = sum(c.tokens for c in candidates)
    if mode == "cot":
        chosen, votes = 0, ({answers[0]: 1.0} if answers[0] is not None else {})
    elif mode == "sc":
        winner, votes = majority_vote(answers)
        chosen = first_with(answers, winner)
    else:
        scores = [_scores(c, mode) for c in candidates]
        if mode == "pvs":
            last = [s[-1] for s in scores]
            winner, votes = weighted_vote(answers, last)
            chosen = first_with(answers, winner, last)
        elif mode in ("bon-last", "bon-min"):
            chosen = best_of_n(answers, scores, "last" if mode == "bon-last" else "min")
            votes = {}
        else:
            raise ValueError(f"decide does not handle mode {mode!r}")
    best = candidates[chosen]
    return Solution(mode=mode, answer=best.answer, steps=list(best.steps), scores=best.scores, tokens=tokens,
                    candidates=list(candidates), votes=votes)


def _scores(candidate: Continuation, mode: str) -> list[float]:
    if not candidate.scores:
        raise ValueError(f"mode {mode!r} needs PRM scores on every candidate")
    return candidate.scores
