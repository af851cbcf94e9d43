"""What the nodes need besides the state: the model, the domain, the knobs, the PRM and the inbox.

Nodes close over one `Runtime`; none of it is checkpointed, so a resumed run rebuilds it from run.json.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from domains import Domain, Question

from agents.config import AgentsConfig
from agents.llm import Model


@dataclass
class Runtime:
    model: Model
    domain: Domain
    config: AgentsConfig
    scorer: Any = None  # an evolve.prm StepScorer, or None before the PRM exists
    inbox: Path | None = None


def question_of(payload: dict) -> Question | None:
    """The verifiable question a goal carries, or None for an open goal."""
    data = payload.get("question")
    if not data:
        return None
    return Question(id=data["id"], question=data["question"], answer=data.get("answer", ""),
                    options=data.get("options"), context=data.get("context"))


def question_dict(q: Question) -> dict:
    return {"id": q.id, "question": q.question, "answer": q.answer, "options": q.options, "context": q.context}


def goal_text(rt: Runtime, payload: dict) -> str:
    """The goal as the agents show it: a verifiable question in the domain's format, else the goal text."""
    q = question_of(payload)
    return rt.domain.format_question(q) if q is not None else payload.get("goal", "")
