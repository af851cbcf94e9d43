"""The one interface the inference modes, the evaluation and the agents need from a PRM."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable


@runtime_checkable
class StepScorer(Protocol):
    """Scores every step of many trajectories of one question.

    `question` is the question as the domain formats it (`Domain.format_question`); each trajectory
    is its steps 1.. (step 0 is fixed and never scored). The result holds, per trajectory, one
    probability in [0, 1] per step that the step is on a path to a correct answer.
    """

    def score(self, question: str, trajectories: Sequence[Sequence[str]]) -> list[list[float]]:
        ...
