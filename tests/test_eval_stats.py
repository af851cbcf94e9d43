"""Wilson intervals, exact McNemar and the paired bootstrap, with exact numbers."""

import math

import pytest

from evolve.eval.stats import mcnemar, paired_auc_diff, paired_bootstrap_diff, wilson_interval


@pytest.mark.parametrize("k,n,z,low,high", [
    (7, 10, 1.96, 0.39677321997956516, 0.892210712513788),
    (50, 100, 1.96, 0.40382982859014716, 0.5961701714098528),
    (0, 10, 1.96, 0.0, 0.2775401687666166),
    (10, 10, 1.96, 0.7224598312333834, 1.0),
    (1, 1, 1.96, 0.20654329147389294, 1.0),
    (3, 12, 2.576, 0.06572657011600197, 0.6123120583800692),
])
def test_wilson_interval_exact(k, n, z, low, high):
    assert wilson_interval(k, n, z) == pytest.approx((low, high), abs=1e-12)


def test_wilson_matches_the_closed_form_by_hand():
    # 50/100: centre 0.5, half-width 1.96 * sqrt(0.0025 + 1.96^2 / 40000) / (1 + 1.96^2 / 100)
    half = 1.96 * math.sqrt(0.0025 + 1.96**2 / 40000) / (1 + 1.96**2 / 100)
    assert wilson_interval(50, 100) == pytest.approx((0.5 - half, 0.5 + half), abs=1e-15)


@pytest.mark.parametrize("k,n", [(0, 0), (3, 2), (-1, 4)])
def test_wilson_rejects_impossible_counts(k, n):
    with pytest.raises(ValueError):
        wilson_interval(k, n)


def test_mcnemar_exact_binomial():
    assert mcnemar(3, 10) == 2 * (1 + 13 + 78 + 286) / 2**13  # 0.09228515625
    assert mcnemar(2, 9) == 0.0654296875
    assert mcnemar(0, 5) == 0.0625 and mcnemar(5, 5) == 1.0 and mcnemar(0, 0) == 1.0 and mcnemar(1, 0) == 1.0
    assert mcnemar(9, 2) == mcnemar(2, 9)
    with pytest.raises(ValueError):
        mcnemar(-1, 2)


def test_paired_bootstrap_diff():
    a = [True, True, False, True, False, True, True, False]
    b = [False, True, False, False, False, True, False, False]
    assert paired_bootstrap_diff(a, b, 1000, 3) == (0.375, 0.125, 0.75)
    assert paired_bootstrap_diff(a, b, 1000, 3) == paired_bootstrap_diff(a, b, 1000, 3)  # seeded
    assert paired_bootstrap_diff(a, a, 200, 0) == (0.0, 0.0, 0.0)
    assert paired_bootstrap_diff([True] * 4, [False] * 4, 50, 1) == (1.0, 1.0, 1.0)
    with pytest.raises(ValueError):
        paired_bootstrap_diff([True], [True, False], 10, 0)


def test_paired_auc_diff_resamples_whole_questions():
    # a ranks every right step above every wrong one (AUC 1); b only half the pairs (AUC 0.5)
    questions = [[(0.9, 0.1, 1), (0.2, 0.5, 0)], [(0.6, 0.3, 0), (0.7, 0.8, 1)]]
    # resampled: both q1 (diff 1), both q2 (a and b both rank it right: diff 0), or one of each (0.5)
    assert paired_auc_diff(questions, iters=200, seed=1) == (0.5, 0.0, 1.0)
    # a perfect scorer against its inverse: every resample that holds both classes says 1 - 0
    flipped = [[(s, 1 - s, y) for s, _, y in q] for q in questions]
    assert paired_auc_diff(flipped, iters=200) == (1.0, 1.0, 1.0)
    assert paired_auc_diff([[(0.4, 0.4, 1), (0.3, 0.3, 0)]] * 3) == (0.0, 0.0, 0.0)  # the same scores
    assert paired_auc_diff([[(0.4, 0.1, 1)]]) == (None, None, None)  # one class only
