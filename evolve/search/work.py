"""The abstract work a tree asks for, and the answers it gets back.

A tree never sees prompts or models: it yields `Propose` and `Rollout` items, and the driver
(see `task.py`) answers them with `Proposal`s and rollout verdicts.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Propose:
    """Generate `n` continuations after the path `steps` (step 0 first).

    `finish=False` asks for one Reason step each (stop at the next step); `finish=True` asks the
    policy to run to the end, possibly over several steps.
    """

    node_id: int
    steps: tuple[str, ...]
    n: int
    finish: bool
    seed: int


@dataclass(frozen=True)
class Rollout:
    """Complete the solution after `steps` `k` times and verify each final answer."""

    node_id: int
    steps: tuple[str, ...]
    k: int
    seed: int


Work = Propose | Rollout


@dataclass(frozen=True)
class Proposal:
    """One parsed continuation.

    `steps` holds one step for a Reason generation; a Finish generation may hold several. `final`
    says the generation ended the solution (it stated an answer, or the text ended); only then do
    `answer` and `correct` mean anything.
    """

    steps: tuple[str, ...]
    final: bool
    answer: str | None = None
    correct: bool = False
    tokens: int = 0


def derive_seed(base: int, question_id: str, node_id: int, purpose: str) -> int:
    """A request seed that depends only on what is asked, never on batching or scheduling order."""
    digest = hashlib.blake2b(f"{base}|{question_id}|{node_id}|{purpose}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") & 0x7FFFFFFF
