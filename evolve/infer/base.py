"""What every inference mode returns."""

from __future__ import annotations

from dataclasses import dataclass, field

MODES = ("cot", "sc", "pvs", "bon-last", "bon-min", "beam", "mcts")
PRM_MODES = frozenset({"pvs", "bon-last", "bon-min", "beam", "mcts"})


@dataclass
class Candidate:
    """One sampled trajectory: steps 1.. (step 0 excluded), its answer and, with a PRM, one score per step."""

    steps: list[str]
    answer: str | None
    tokens: int
    scores: list[float] | None = None
    finish_reason: str = "eos"


@dataclass
class Solution:
    """A mode's answer to one question, the trajectory it chose and what it cost."""

    mode: str
    answer: str | None
    steps: list[str]
    scores: list[float] | None
    tokens: int  # generated tokens spent on this question, all samples included
    candidates: list[Candidate] = field(default_factory=list)
    votes: dict[str, float] = field(default_factory=dict)  # answer -> count or PRM weight
