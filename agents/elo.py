"""Elo ratings, the both-orders verdict and the stability check, as pure functions.

New hypotheses start at 1200. K is 32 until a hypothesis has played `K_SETTLE_AFTER` matches and 16
after, so early matches move a rating fast and later ones refine it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

INITIAL_ELO = 1200.0
K_NEW = 32.0
K_SETTLED = 16.0
K_SETTLE_AFTER = 5

Outcome = Literal["a", "b", "draw"]


def expected_score(rating: float, opponent: float) -> float:
    """Probability-like score `rating` expects against `opponent`: 1 / (1 + 10^((opp - r) / 400))."""
    return 1.0 / (1.0 + 10.0 ** ((opponent - rating) / 400.0))


def k_factor(matches_played: int) -> float:
    """32 for the first five matches of a hypothesis, 16 from the sixth on."""
    return K_NEW if matches_played < K_SETTLE_AFTER else K_SETTLED


def score_of(outcome: Outcome) -> float:
    """A's actual score: 1 for a win, 0.5 for a draw, 0 for a loss."""
    return {"a": 1.0, "b": 0.0, "draw": 0.5}[outcome]


def update(rating_a: float, rating_b: float, outcome: Outcome, played_a: int, played_b: int) -> tuple[float, float]:
    """Both new ratings after one match; each side uses its own K (from matches played before this one)."""
    s_a = score_of(outcome)
    new_a = rating_a + k_factor(played_a) * (s_a - expected_score(rating_a, rating_b))
    new_b = rating_b + k_factor(played_b) * ((1.0 - s_a) - expected_score(rating_b, rating_a))
    return new_a, new_b


def combine_orders(first: str | None, second: str | None) -> Outcome:
    """The verdict on (A, B) from two judgements: `first` shown A as 1 and B as 2, `second` shown B as 1
    and A as 2. A win counts only when both orders agree, so a judge that always picks one position
    produces draws instead of a biased ranking; an unparseable judgement is a draw too."""
    a_first = {"1": "a", "2": "b"}.get(first or "")
    a_second = {"2": "a", "1": "b"}.get(second or "")
    if a_first is not None and a_first == a_second:
        return a_first  # type: ignore[return-value]
    return "draw"


def verdict_reason(first: str | None, second: str | None) -> str:
    """Why `combine_orders(first, second)` came out as it did, in words for the match record: a draw
    is never silent about its cause."""
    if first is None and second is None:
        return "the judge's reply was unreadable in both orders"
    if first is None or second is None:
        return f"the judge's reply was unreadable in the {'first' if first is None else 'second'} order"
    if first == second:
        return f"the judge picked whichever was shown as {first} in both orders (position bias)"
    return "both orders agree"


def top_k(ratings: Mapping[str, float], k: int) -> list[str]:
    """Ids of the k best ratings, ties broken by id so the order is reproducible."""
    return [h for h, _ in sorted(ratings.items(), key=lambda kv: (-kv[1], kv[0]))[:k]]


def topk_stable(history: Sequence[Mapping[str, float]], k: int, window: int, tolerance: float) -> bool:
    """True when the last `window` + 1 snapshots agree on the top-k ids and none of those ratings moved
    by more than `tolerance` across them: more matches would no longer change the answer."""
    if window < 1 or len(history) < window + 1:
        return False
    recent = list(history)[-(window + 1):]
    leaders = [top_k(snapshot, k) for snapshot in recent]
    if not leaders[-1] or any(ids != leaders[-1] for ids in leaders):
        return False
    for hid in leaders[-1]:
        values = [snapshot[hid] for snapshot in recent]
        if max(values) - min(values) > tolerance:
            return False
    return True


def top_rising(history: Sequence[Mapping[str, float]], k: int) -> bool:
    """Whether the mean Elo of the current top k rose since the previous snapshot."""
    if len(history) < 2:
        return True
    last, before = history[-1], history[-2]
    ids = top_k(last, k)
    if not ids:
        return False
    now = sum(last[h] for h in ids) / len(ids)
    then = sum(before.get(h, INITIAL_ELO) for h in ids) / len(ids)
    return now > then
