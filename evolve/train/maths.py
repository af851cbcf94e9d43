"""The pure arithmetic of training: step plans, the learning-rate shape, batch order, the held-out
split and the PRM's step metrics. No torch, so every rule here has an exact test."""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Sequence

__all__ = ["StepPlan", "plan_steps", "lr_factor", "epoch_order", "micro_batch", "holdout_split", "sample_indices", "step_metrics",
           "roc_auc", "class_weights"]


class StepPlan:
    """How `examples` split into micro-batches and optimiser steps for a (fractional) epoch count."""

    def __init__(self, examples: int, batch_size: int, grad_accum: int, epochs: float, warmup_ratio: float):
        if examples < 1:
            raise ValueError("no examples to plan for")
        self.examples = examples
        self.batch_size = batch_size
        self.grad_accum = grad_accum
        self.micro_per_epoch = math.ceil(examples / batch_size)
        # At least one full optimiser step, however small the fraction of an epoch.
        micro = max(grad_accum, math.ceil(epochs * self.micro_per_epoch))
        self.total_steps = math.ceil(micro / grad_accum)
        self.warmup_steps = math.ceil(self.total_steps * warmup_ratio)


def plan_steps(examples: int, batch_size: int, grad_accum: int, epochs: float, warmup_ratio: float) -> StepPlan:
    return StepPlan(examples, batch_size, grad_accum, epochs, warmup_ratio)


def lr_factor(step: int, total_steps: int, warmup_steps: int) -> float:
    """Multiplier of the peak learning rate for optimiser step `step` (0-based): a linear ramp to 1
    over the warm-up, then a linear decay that reaches 1/(total - warmup) on the last step rather
    than 0, so no step is wasted at zero learning rate."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    return (total_steps - step) / max(1, total_steps - warmup_steps)


def epoch_order(examples: int, seed: int, epoch: int) -> list[int]:
    """The example order of one epoch: a seeded shuffle that depends only on (seed, epoch), so a
    resumed run sees exactly the batches the uninterrupted run would have seen."""
    order = list(range(examples))
    random.Random(f"{seed}:{epoch}").shuffle(order)
    return order


def micro_batch(index: int, plan: StepPlan, seed: int) -> list[int]:
    """Example indices of global micro-batch `index` (epochs wrap; the last batch of an epoch may be short)."""
    epoch, within = divmod(index, plan.micro_per_epoch)
    order = epoch_order(plan.examples, seed, epoch)
    return order[within * plan.batch_size:(within + 1) * plan.batch_size]


def _rank(seed: int, key: str) -> str:
    return hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()


def holdout_split(question_ids: Sequence[str], share: float, seed: int) -> tuple[list[int], list[int]]:
    """(train, held-out) row indices. Whole questions are held out, since trajectories of one
    question share their first steps and would leak them; questions are taken in seeded hash order
    until `share` of the rows is held out. Always leaves at least one question for training."""
    if share <= 0 or not question_ids:
        return list(range(len(question_ids))), []
    groups: dict[str, list[int]] = {}
    for index, qid in enumerate(question_ids):
        groups.setdefault(str(qid), []).append(index)
    wanted = share * len(question_ids)
    held: list[int] = []
    for qid in sorted(groups, key=lambda q: _rank(seed, q))[:-1]:
        if len(held) >= wanted:
            break
        held.extend(groups[qid])
    held_set = set(held)
    return [i for i in range(len(question_ids)) if i not in held_set], sorted(held)


def sample_indices(count: int, limit: int | None, seed: int) -> list[int]:
    """A seeded sample of at most `limit` of `count` row indices, in their original order."""
    if limit is None or count <= limit:
        return list(range(count))
    return sorted(random.Random(seed).sample(range(count), limit))


def class_weights(labels: Sequence[float]) -> tuple[float, float]:
    """(w_wrong, w_right) that make the wrong and the right steps weigh the same in all: each class's
    label mass times its weight is half the steps. A soft label Q counts Q right and 1 - Q wrong. The
    mean weight per step stays 1, so the learning rate means what it did. (1, 1) when a class is absent."""
    right = float(sum(labels))
    wrong = len(labels) - right
    if right <= 0 or wrong <= 0:
        return 1.0, 1.0
    return len(labels) / (2 * wrong), len(labels) / (2 * right)


def step_metrics(scores: Sequence[float], labels: Sequence[float]) -> dict:
    """Step-level ROC AUC (None unless both classes occur) and accuracy, a label counting as
    positive at >= 0.5 and a score predicting positive at >= 0.5."""
    if len(scores) != len(labels):
        raise ValueError(f"{len(scores)} scores for {len(labels)} labels")
    if not labels:
        return {"auc": None, "accuracy": None, "balanced_accuracy": None, "positive_share": None, "steps": 0}
    truth = [1 if label >= 0.5 else 0 for label in labels]
    hits = [(score >= 0.5) == bool(t) for score, t in zip(scores, truth)]
    positives = sum(truth)
    # Accuracy alone flatters a PRM on skewed labels (8% positive: "always wrong" scores 0.92); the
    # balanced accuracy (mean of the two classes' recalls) is 0.5 for any constant predictor.
    balanced = (None if positives in (0, len(truth)) else
                (sum(h for h, t in zip(hits, truth) if t) / positives
                 + sum(h for h, t in zip(hits, truth) if not t) / (len(truth) - positives)) / 2)
    return {"auc": roc_auc(scores, truth), "accuracy": sum(hits) / len(truth), "balanced_accuracy": balanced,
            "positive_share": positives / len(truth), "steps": len(truth)}


def roc_auc(scores: Sequence[float], truth: Sequence[int]) -> float | None:
    """ROC AUC as the Mann-Whitney statistic: the chance a random positive outscores a random
    negative, ties counting half (what sklearn's roc_auc_score computes, without its 3 s import).
    None unless both classes occur."""
    positives = sum(truth)
    negatives = len(truth) - positives
    if positives == 0 or negatives == 0:
        return None
    # Average ranks over tied scores, then the positives' rank sum gives U.
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and scores[order[end + 1]] == scores[order[start]]:
            end += 1
        for k in range(start, end + 1):
            ranks[order[k]] = (start + end) / 2 + 1
        start = end + 1
    rank_sum = sum(r for r, t in zip(ranks, truth) if t)
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)

