"""What a search asks for and what it gets back: one vocabulary for the MCTS and every inference mode.

A search (one question) is a coroutine. It yields a list of `Generate` items or one `Score`, is sent
back one list of `Continuation`s per `Generate` (or the PRM's step scores), and finally returns its
result. Searches never see prompts or models: `steps.Sampling` turns a `Generate` into a backend
request, `steps.StepPrompt` parses what comes back, and `driver.Driver` batches many searches together.
"""

from __future__ import annotations

import hashlib
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["step", "finish", "rollout"]


@dataclass(frozen=True)
class Generate:
    """`n` continuations after steps 1.. `steps` (step 0 is implied). A `step` stops at the next step;
    a `finish` runs to the end of the solution (it may write several steps); a `rollout` completes the
    solution only to have its answer verified. `greedy` decodes at temperature 0."""

    steps: tuple[str, ...]
    n: int
    kind: Kind
    seed: int
    greedy: bool = False
    node: int | None = None  # which node of the caller's tree asks (for its own bookkeeping and displays)


@dataclass(frozen=True)
class Score:
    """Step scores from the PRM for each trajectory (steps 1..) of this question."""

    trajectories: tuple[tuple[str, ...], ...]


@dataclass
class Continuation:
    """One parsed completion, and later a candidate solution: its steps, whether it ended the solution,
    its answer and whether the verifier accepts it (both meaningful only when `final`), the tokens it
    cost, why generation stopped, and (once a PRM has scored it) one score per step."""

    steps: list[str]
    final: bool
    answer: str | None = None
    correct: bool = False
    tokens: int = 0
    finish_reason: str = "eos"
    scores: list[float] | None = None


Work = list[Generate] | Score
Search = Generator[Work, Any, Any]  # yields work, is sent the answers, returns the search's result


def derive_seed(base: int, question_id: str, node_id: int, purpose: str) -> int:
    """A request seed that depends only on what is asked, never on batching or scheduling order."""
    digest = hashlib.blake2b(f"{base}|{question_id}|{node_id}|{purpose}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") & 0x7FFFFFFF
