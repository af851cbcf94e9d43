"""The step-wise process reward model: what scores a reasoning step (see `base.StepScorer`)."""

from evolve.prm.base import StepScorer

__all__ = ["StepScorer"]
