"""Exact numbers for the pure maths of the agents: Elo, the both-orders verdict, stability, pairing."""

from __future__ import annotations

import pytest

from agents.elo import combine_orders, expected_score, k_factor, top_k, top_rising, topk_stable, update
from agents.pairing import choose_pairs, novelty, pair_score


def test_expected_score_exact():
    assert expected_score(1200, 1200) == 0.5
    assert expected_score(1400, 1200) == pytest.approx(0.7597469266479578, abs=1e-12)
    assert expected_score(1200, 1400) == pytest.approx(0.2402530733520421, abs=1e-12)


def test_k_factor_falls_after_five_matches():
    assert [k_factor(n) for n in (0, 4, 5, 9)] == [32.0, 32.0, 16.0, 16.0]


def test_update_win_between_equals_moves_sixteen_points():
    assert update(1200.0, 1200.0, "a", 0, 0) == (1216.0, 1184.0)
    assert update(1200.0, 1200.0, "b", 0, 0) == (1184.0, 1216.0)
    assert update(1200.0, 1200.0, "draw", 0, 0) == (1200.0, 1200.0)


def test_update_uses_each_sides_own_k():
    a, b = update(1400.0, 1200.0, "a", 5, 0)
    assert a == pytest.approx(1403.8440491736327, abs=1e-9)  # K 16
    assert b == pytest.approx(1192.3119016527347, abs=1e-9)  # K 32
    a, b = update(1400.0, 1200.0, "draw", 0, 0)
    assert a == pytest.approx(1391.6880983472654, abs=1e-9)
    assert b == pytest.approx(1208.3119016527346, abs=1e-9)


@pytest.mark.parametrize("first,second,outcome", [
    ("1", "2", "a"), ("2", "1", "b"),  # both orders agree
    ("1", "1", "draw"), ("2", "2", "draw"),  # position bias: the judge picks a slot, not a hypothesis
    (None, "2", "draw"), ("1", None, "draw"), (None, None, "draw"),
])
def test_both_orders_must_agree(first, second, outcome):
    assert combine_orders(first, second) == outcome


def test_top_k_breaks_ties_by_id():
    assert top_k({"b": 1210.0, "a": 1210.0, "c": 1250.0, "d": 1100.0}, 3) == ["c", "a", "b"]


def test_topk_stable_needs_window_plus_one_still_snapshots():
    still = [{"a": 1230.0, "b": 1210.0, "c": 1180.0}, {"a": 1235.0, "b": 1212.0, "c": 1170.0},
             {"a": 1232.0, "b": 1209.0, "c": 1175.0}]
    assert topk_stable(still, k=2, window=2, tolerance=8.0) is True
    assert topk_stable(still[:2], k=2, window=2, tolerance=8.0) is False  # too few snapshots
    assert topk_stable(still, k=2, window=2, tolerance=4.0) is False  # a moved by 5
    swapped = still[:2] + [{"a": 1232.0, "b": 1236.0, "c": 1175.0}]
    assert topk_stable(swapped, k=2, window=2, tolerance=100.0) is False  # the order changed


def test_top_rising():
    assert top_rising([{"a": 1200.0}], 1) is True
    assert top_rising([{"a": 1200.0, "b": 1200.0}, {"a": 1216.0, "b": 1184.0}], 1) is True
    assert top_rising([{"a": 1216.0, "b": 1184.0}, {"a": 1208.0, "b": 1192.0}], 1) is False


def test_pair_score_exact():
    assert novelty(0) == 1.0 and novelty(3) == 0.25
    # novelty 1 + 0.5, similarity 0.5 * 0.8, one earlier meeting, same answer penalty 0.5
    assert pair_score(0, 1, 0.8, 1, True) == pytest.approx(1.5 + 0.4 - 1.0 - 0.5)
    assert pair_score(0, 0, 0.0, 0, False) == 2.0


def test_choose_pairs_prefers_new_and_similar_and_caps_each_hypothesis():
    ids = ["h1", "h2", "h3", "h4"]
    played = {"h1": 4, "h2": 4, "h3": 0, "h4": 0}
    sims = {("h1", "h3"): 0.9, ("h2", "h4"): 0.1}
    answers = {"h1": "A", "h2": "B", "h3": "C", "h4": "C"}
    pairs = choose_pairs(ids, played, sims, {}, answers, count=3, per_hypothesis=1)
    # h3-h4 are both new but give the same answer (2 - 0.5 = 1.5); h1-h3 is new+similar (1.2 + 0.45 = 1.65)
    assert pairs == [("h1", "h3"), ("h2", "h4")]
    assert choose_pairs(ids, played, sims, {("h1", "h3"): 2}, answers, count=1) == [("h3", "h4")]
