"""Confidence intervals and paired tests for accuracies, as pure functions."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence


def wilson_interval(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion k/n (sound at k=0 and k=n, unlike k/n +- z*se)."""
    if n <= 0 or not 0 <= k <= n:
        raise ValueError(f"wilson_interval needs 0 <= k <= n and n > 0, got k={k}, n={n}")
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def mcnemar(b: int, c: int) -> float:
    """Exact two-sided McNemar p-value: b and c are the discordant pairs (only A right, only B right)."""
    if b < 0 or c < 0:
        raise ValueError("discordant counts must be non-negative")
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(b, c) + 1)) / 2**n
    return min(1.0, 2 * tail)


def paired_bootstrap_diff(a: Sequence[bool], b: Sequence[bool], iters: int = 10_000,
                          seed: int = 0) -> tuple[float, float, float]:
    """Accuracy of `a` minus accuracy of `b` on the same questions, with a 95% percentile interval
    from resampling questions (pairs stay together)."""
    if len(a) != len(b) or not a:
        raise ValueError("paired_bootstrap_diff needs two equally long, non-empty lists")
    if iters < 1:
        raise ValueError("iters must be >= 1")
    n = len(a)
    deltas = [int(x) - int(y) for x, y in zip(a, b)]
    rng = random.Random(seed)
    diffs = sorted(sum(deltas[rng.randrange(n)] for _ in range(n)) / n for _ in range(iters))
    low = diffs[int(0.025 * (iters - 1))]
    high = diffs[int(math.ceil(0.975 * (iters - 1)))]
    return sum(deltas) / n, low, high


def paired_auc_diff(clusters: Sequence[Sequence[tuple[float, float, int]]], iters: int = 2000,
                    seed: int = 0) -> tuple[float | None, float | None, float | None]:
    """ROC AUC of scorer a minus that of scorer b on the same labelled items, with a 95% percentile
    interval from resampling whole clusters (a question's steps are not independent of each other).
    Each item is (score a, score b, label). Resamples missing a class are skipped; None when the full
    data misses one."""
    from evolve.train.maths import roc_auc

    def diff(items: list[tuple[float, float, int]]) -> float | None:
        labels = [label for _, _, label in items]
        auc_a, auc_b = roc_auc([a for a, _, _ in items], labels), roc_auc([b for _, b, _ in items], labels)
        return None if auc_a is None or auc_b is None else auc_a - auc_b

    whole = diff([item for cluster in clusters for item in cluster])
    if whole is None:
        return None, None, None
    rng = random.Random(seed)
    diffs = []
    for _ in range(iters):
        drawn = [item for _ in clusters for item in clusters[rng.randrange(len(clusters))]]
        value = diff(drawn)
        if value is not None:
            diffs.append(value)
    diffs.sort()
    return whole, diffs[int(0.025 * (len(diffs) - 1))], diffs[int(math.ceil(0.975 * (len(diffs) - 1)))]


def roc_points(scores: Sequence[float], truth: Sequence[int]) -> tuple[list[float], list[float]]:
    """(false positive rates, true positive rates) of the ROC curve, from (0, 0) to (1, 1), one point
    per distinct score (ties move together); empty when either class is missing."""
    positives = sum(truth)
    negatives = len(truth) - positives
    if positives == 0 or negatives == 0:
        return [], []
    pairs = sorted(zip(scores, truth), key=lambda p: -p[0])
    fpr, tpr, tp, fp, index = [0.0], [0.0], 0, 0, 0
    while index < len(pairs):
        score = pairs[index][0]
        while index < len(pairs) and pairs[index][0] == score:
            tp += pairs[index][1]
            fp += 1 - pairs[index][1]
            index += 1
        fpr.append(fp / negatives)
        tpr.append(tp / positives)
    return fpr, tpr


def first_below(scores: Sequence[float], threshold: float) -> int | None:
    """The first step a PRM flags (score below `threshold`), None when it flags none."""
    return next((i for i, s in enumerate(scores) if s < threshold), None)


def first_error_f1(predicted: Sequence[int | None], truth: Sequence[int | None]) -> dict:
    """ProcessBench's score: accuracy on the trajectories with an error (the flagged step is the first
    wrong one), accuracy on those without (nothing flagged), and their harmonic mean."""
    erroneous = [p == t for p, t in zip(predicted, truth) if t is not None]
    clean = [p is None for p, t in zip(predicted, truth) if t is None]
    a = sum(erroneous) / len(erroneous) if erroneous else None
    b = sum(clean) / len(clean) if clean else None
    f1 = None if a is None or b is None else (0.0 if a + b == 0 else 2 * a * b / (a + b))
    return {"f1": f1, "error_accuracy": a, "clean_accuracy": b, "erroneous": len(erroneous), "clean": len(clean)}


def best_threshold(scores: Sequence[Sequence[float]], truth: Sequence[int | None]) -> tuple[float, dict]:
    """The flagging threshold with the best first-error F1 (the lowest such, on ties), and that F1."""
    candidates = sorted({0.0, 1.000001, *(s for trajectory in scores for s in trajectory)})
    best: tuple[float, dict] | None = None
    for threshold in candidates:
        result = first_error_f1([first_below(s, threshold) for s in scores], truth)
        if best is None or (result["f1"] or 0.0) > (best[1]["f1"] or 0.0):
            best = (threshold, result)
    assert best is not None
    return best
