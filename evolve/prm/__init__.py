"""The step-wise process reward model: what scores a reasoning step (`evolve.backends.base.StepScorer`).

`load_prm` and `HFStepScorer` (scorer.py) load torch when first used, not at import.
"""

from typing import Any

from evolve.backends.base import StepScorer

__all__ = ["StepScorer", "HFStepScorer", "load_prm"]


def __getattr__(name: str) -> Any:
    if name in ("HFStepScorer", "load_prm"):
        from evolve.prm import scorer

        return getattr(scorer, name)
    raise AttributeError(f"module 'evolve.prm' has no attribute {name!r}")
