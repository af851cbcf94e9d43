"""What every inference mode returns."""

from __future__ import annotations

from dataclasses import dataclass, field

from evolve.reasoner.work import Continuation


@dataclass
class Solution:
    """A mode's answer to one question, the trajectory it chose and what it cost."""

    mode: str
    answer: str | None
    steps: list[str]
    scores: list[float] | None
    tokens: int  # generated tokens spent on this question, all samples included
    candidates: list[Continuation] = field(default_factory=list)
    votes: dict[str, float] = field(default_factory=dict)  # answer -> count or PRM weight
