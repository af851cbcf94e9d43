"""Verifiable hypotheses through the evolve `Reasoner`: step-format solutions, P-VS when a PRM exists."""

from __future__ import annotations

import dataclasses

from agents.runtime import Runtime
from domains import Question
from evolve.infer.base import Solution
from evolve.reasoner.steps import render_steps


def lessons(critique: str | None) -> str:
    return f"\n\nLessons from earlier reviews (take them into account):\n{critique}" if critique else ""


def solve(rt: Runtime, q: Question, key: str, critique: str | None, hint: str | None = None) -> Solution | None:
    """One hypothesis for `q`: the policy's sampled solution or, with a PRM, the P-VS choice among
    `samples`; a greedy solution when none came back in the step format. The reasoner's seeds derive
    from the question id, so each hypothesis (`key`) asks under its own id."""
    asked = dataclasses.replace(q, id=key)
    notes = {"system_note": lessons(critique), "user_note": hint}
    mode = "pvs" if rt.reasoner.scorer is not None else "sc"
    solution = rt.reasoner.solve([asked], mode, **notes)[0]
    if not _has_steps(solution):  # one repair: greedy, which a small model is likelier to finish in format
        spent = solution.tokens
        solution = rt.reasoner.solve([asked], "cot", **notes)[0]
        solution.tokens += spent
    return solution if _has_steps(solution) else None


def hypothesis_text(solution: Solution) -> str:
    """A solution as a hypothesis's text. No readable answer is said in words: "Answer: None" would
    read to a judge or reviewer like an answer."""
    return f"{render_steps(solution.steps)}\nAnswer: {solution.answer or '(no readable answer)'}"


def _has_steps(solution: Solution) -> bool:
    return any(step.strip() for step in solution.steps)
