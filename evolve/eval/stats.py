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
