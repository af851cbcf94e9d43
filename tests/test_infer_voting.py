"""The voting maths of the N-sample modes, exactly."""

import pytest

from evolve.infer.voting import best_of_n, first_with, majority_vote, reduce_scores, weighted_vote


def test_majority_vote_counts_and_breaks_ties_by_first_seen():
    assert majority_vote(["B", "A", "B", "A", "C"]) == ("B", {"B": 2.0, "A": 2.0, "C": 1.0})
    assert majority_vote(["A", "B", "B"]) == ("B", {"A": 1.0, "B": 2.0})


def test_none_never_wins_unless_all_are_none():
    assert majority_vote([None, None, None, "C"]) == ("C", {"C": 1.0})
    assert majority_vote([None, None]) == (None, {})
    assert weighted_vote([None, "A"], [5.0, 0.1]) == ("A", {"A": 0.1})


def test_weighted_vote_sums_weights():
    winner, votes = weighted_vote(["B", "A", "B", "C", "A"], [0.8, 0.6, 0.3, 0.65, 0.55])
    assert winner == "A" and votes == pytest.approx({"B": 1.1, "A": 1.15, "C": 0.65})
    assert weighted_vote(["A", "B"], [0.5, 0.5]) == ("A", {"A": 0.5, "B": 0.5})
    with pytest.raises(ValueError):
        weighted_vote(["A"], [])


def test_best_of_n_by_last_and_min():
    answers = ["B", "A", None, "C"]
    scores = [[0.1, 0.8], [0.6], [0.99], [0.7, 0.65]]
    assert best_of_n(answers, scores, "last") == 0
    assert best_of_n(answers, scores, "min") == 3
    assert best_of_n([None, None], [[0.2], [0.9]], "last") == 1  # all None: best of all
    assert best_of_n(["A", "B"], [[0.5], [0.5]], "min") == 0  # tie: earliest
    assert reduce_scores([0.3, 0.2, 0.9], "min") == 0.2 and reduce_scores([0.3, 0.9], "last") == 0.9
    with pytest.raises(ValueError):
        reduce_scores([], "last")


def test_first_with_picks_the_trajectory_to_show():
    assert first_with(["A", "B", "B"], "B") == 1
    assert first_with(["A", "B", "B"], "B", [0.9, 0.2, 0.4]) == 2
    with pytest.raises(ValueError):
        first_with(["A"], "C")
