"""Who plays whom in the next tournament round, as pure functions.

A pair scores higher when its hypotheses have played little (new ones get ranked quickly), when they
are similar (the proximity graph: comparing near neighbours is informative), when they have met less
often, and, for verifiable goals, when they give different answers (two equal answers teach nothing
about which answer is right).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations


@dataclass(frozen=True)
class PairWeights:
    novelty: float = 1.0
    similarity: float = 0.5
    repeat: float = 1.0
    same_answer: float = 0.5


def novelty(matches_played: int) -> float:
    """1 for a hypothesis that never played, falling as 1 / (1 + matches)."""
    return 1.0 / (1.0 + matches_played)


def pair_score(played_a: int, played_b: int, similarity: float, times_met: int, same_answer: bool,
               weights: PairWeights = PairWeights()) -> float:
    return (weights.novelty * (novelty(played_a) + novelty(played_b)) + weights.similarity * similarity
            - weights.repeat * times_met - (weights.same_answer if same_answer else 0.0))


def choose_pairs(ids: Sequence[str], played: Mapping[str, int], similarity: Mapping[tuple[str, str], float],
                 met: Mapping[tuple[str, str], int], answers: Mapping[str, str | None], count: int,
                 per_hypothesis: int = 2, weights: PairWeights = PairWeights()) -> list[tuple[str, str]]:
    """Up to `count` pairs, best score first, each id in at most `per_hypothesis` pairs of the round.
    Keys of `similarity` and `met` are sorted id pairs; ties go to the lexically first pair."""
    scored = []
    for a, b in combinations(sorted(ids), 2):
        same = answers.get(a) is not None and answers.get(a) == answers.get(b)
        score = pair_score(played.get(a, 0), played.get(b, 0), similarity.get((a, b), 0.0), met.get((a, b), 0),
                           same, weights)
        scored.append((-score, a, b))
    chosen: list[tuple[str, str]] = []
    used: dict[str, int] = {}
    for _neg, a, b in sorted(scored):
        if len(chosen) >= count:
            break
        if used.get(a, 0) >= per_hypothesis or used.get(b, 0) >= per_hypothesis:
            continue
        chosen.append((a, b))
        used[a] = used.get(a, 0) + 1
        used[b] = used.get(b, 0) + 1
    return chosen
