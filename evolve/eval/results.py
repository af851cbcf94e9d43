"""What an evaluation reports: one `ModeResult` per mode, in one `EvalReport`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class ModeResult:
    mode: str
    correct: int
    n: int
    accuracy: float
    low: float  # 95% Wilson interval
    high: float
    mean_tokens: float  # generated tokens per question
    seconds: float  # wall time
    shared: bool = False  # its samples were shared with the other N-sample modes
    top_answer: str | None = None  # the most frequent answer, and its share: a constant answer shows here
    top_share: float = 0.0


@dataclass
class EvalReport:
    domain: str
    model: str
    label: str
    questions: int
    modes: list[ModeResult]
    split: str = ""  # which split (or file) the questions came from
    comparisons: list[dict[str, Any]] = field(default_factory=list)  # each mode against the first
    records: list[dict[str, Any]] = field(default_factory=list)  # per question, for error analysis
    config: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    out_dir: str | None = None
    groups: list[dict[str, Any]] = field(default_factory=list)  # per value of `config.by`, every mode's accuracy
    pass_at: dict[str, Any] | None = None  # any of the shared draw's N samples right: {n, correct, accuracy, low, high}

    def summary(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("records")
        return data

    def mode(self, name: str) -> ModeResult:
        return next(m for m in self.modes if m.mode == name)
