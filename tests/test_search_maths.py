import math

import pytest

from evolve.search.maths import comp_value, rollout_count, rollout_value, selection_score, uct


def test_uct_exact():
    assert uct(0.5, 2, 6, 2.0) == pytest.approx(0.5 + 2.0 * math.sqrt(math.log(6) / 2), abs=1e-12)
    assert uct(0.25, 1, 1, 2.0) == 0.25  # ln 1 = 0: no exploration bonus


def test_uct_rejects_unvisited():
    with pytest.raises(ValueError):
        uct(0.0, 0, 3, 2.0)


@pytest.mark.parametrize(
    "visits,completed,expected",
    [(0, False, 5.0), (0, True, -1.0), (3, True, -1.0), (4, False, 0.4 + 2.0 * math.sqrt(math.log(9) / 4))],
)
def test_selection_score(visits, completed, expected):
    score = selection_score(q=0.4, visits=visits, parent_visits=9, completed=completed,
                            exploration=2.0, unvisited_score=5.0, completed_score=-1.0)
    assert score == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("depth,k", [(0, 20), (1, 10), (2, 6), (3, 5), (4, 5), (12, 5)])
def test_rollout_count_meds3(depth, k):
    assert rollout_count(depth, 20, 5) == k


def test_rollout_value():
    assert rollout_value([True, False, True, True]) == 0.75
    with pytest.raises(ValueError):
        rollout_value([])


def test_comp_value():
    assert comp_value(0.5, [(1, 1.0), (3, 0.0)]) == pytest.approx(0.375)
    assert comp_value(0.6, [(2, 0.8), (1, 0.2)]) == pytest.approx((0.6 + 0.6) / 2)
    assert comp_value(0.7, [(0, 1.0)]) == 0.7  # unvisited children carry no weight
