"""What the nodes need besides the state: the model, the reasoner, the domain, the knobs and the inbox.

Nodes close over one `Runtime`; none of it is checkpointed, so a resumed run rebuilds it from run.json.
`model` asks the chat questions (reviews, judgements, debates); `reasoner` writes the step-format
solutions of verifiable goals, with the PRM when there is one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents.llm import Model
from domains import Domain, Question
from evolve.api import Reasoner
from evolve.config import AgentsConfig, Config


def reasoner_config(agents: AgentsConfig, base: Config | None = None, *, with_prm: bool = False) -> Config:
    """The reasoner's config for hypotheses: `samples` of `hypothesis_tokens` at `temperature` for P-VS
    when there is a PRM to vote with, else one sample."""
    config = (base or Config()).model_copy(deep=True)
    config.eval.n = agents.samples if with_prm else 1
    config.eval.temperature = agents.temperature
    config.eval.max_tokens = agents.hypothesis_tokens
    config.eval.seed = agents.seed
    config.agents = agents
    return config


@dataclass
class Runtime:
    model: Model
    reasoner: Reasoner
    config: AgentsConfig
    inbox: Path | None = None

    @property
    def domain(self) -> Domain:
        return self.reasoner.domain

    @property
    def scorer(self) -> Any:
        """The PRM (an evolve StepScorer), or None."""
        return self.reasoner.scorer


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
