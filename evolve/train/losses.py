"""The PRM's two step losses over 2-class logits (`[N, 2]`) and per-step targets in [0, 1] (`[N]`).

Both are computed here rather than by a library trainer: TRL's PRMTrainer casts labels with int(),
which turns every soft target Q < 1 into 0. `weights` = (w_wrong, w_right) weighs each class's part of
a step's loss (`maths.class_weights`, for `prm.balance`); None weighs both 1.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["soft_cross_entropy", "dual_bce", "PRM_LOSSES"]


def soft_cross_entropy(logits: Any, targets: Any, weights: tuple[float, float] | None = None) -> Any:
    """MedS3 v1: cross-entropy against the distribution [1 - Q, Q], averaged over steps."""
    import torch

    w_wrong, w_right = weights or (1.0, 1.0)
    logp = torch.log_softmax(logits.float(), dim=-1)
    return -(w_wrong * (1 - targets) * logp[:, 0] + w_right * targets * logp[:, 1]).mean()


def dual_bce(logits: Any, targets: Any, weights: tuple[float, float] | None = None) -> Any:
    """MedS3 AAAI: BCE of the logit margin z1 - z0 (so sigmoid(margin) = softmax's P(class 1))
    against the hard label 1[2*Q_i - Q_(i-1) > 0]."""
    import torch

    w_wrong, w_right = weights or (1.0, 1.0)
    margin = logits[:, 1].float() - logits[:, 0].float()
    targets = targets.float()
    return torch.nn.functional.binary_cross_entropy_with_logits(
        margin, targets, weight=w_wrong * (1 - targets) + w_right * targets)


PRM_LOSSES: dict[str, Callable[..., Any]] = {"soft": soft_cross_entropy, "dual": dual_bce}
