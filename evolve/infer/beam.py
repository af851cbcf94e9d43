"""`beam`: step-level beam search with the PRM.

Every open beam proposes `beam_expansions` next steps; all children of the depth are scored and
the `beam_width` best by their last step's score survive. A survivor that ended the solution
leaves the beam (the search-and-learn convention), so the beam narrows as solutions finish; at
`max_steps` the remaining beams are forced to finish. The answer is the finished trajectory with
the best last-step score (first finished wins a tie).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from evolve.infer.base import Solution
from evolve.reasoner.work import Continuation, Generate, Score, Search, derive_seed

if TYPE_CHECKING:
    from evolve.config import EvalConfig

_NODE_STRIDE = 10_000  # seed node ids: depth * stride + beam index


@dataclass
class _Beam:
    steps: tuple[str, ...]
    tokens: int = 0  # tokens generated along this path
    scores: list[float] | None = None
    final: bool = False
    answer: str | None = None
    finish_reason: str = "stop"


def beam_search(question_id: str, config: EvalConfig) -> Search:
    open_beams = [_Beam(())]
    finished: list[_Beam] = []
    spent = 0
    while open_beams:
        depth = len(open_beams[0].steps)
        force = depth + 1 >= config.max_steps
        groups = yield [
            Generate(beam.steps, config.beam_expansions, "finish" if force else "step",
                     derive_seed(config.seed, question_id, depth * _NODE_STRIDE + i, "beam"))
            for i, beam in enumerate(open_beams)
        ]
        children = []
        for beam, group in zip(open_beams, groups):
            for c in group:
                spent += c.tokens
                children.append(_Beam(beam.steps + tuple(c.steps), beam.tokens + c.tokens, None, c.final, c.answer,
                                      c.finish_reason))
        scores = yield Score(tuple(child.steps for child in children))
        for child, step_scores in zip(children, scores):
            child.scores = step_scores
        # sorted() is stable: among equal scores the earlier beam and sample stay first
        kept = sorted(children, key=lambda b: -b.scores[-1])[: config.beam_width]
        finished += [b for b in kept if b.final]
        open_beams = [b for b in kept if not b.final]
    best = max(finished, key=lambda b: b.scores[-1])
    votes: dict[str, float] = {}
    for b in finished:
        if b.answer is not None:
            votes[b.answer] = max(votes.get(b.answer, 0.0), b.scores[-1])
    candidates = [Continuation(list(b.steps), True, b.answer, tokens=b.tokens, finish_reason=b.finish_reason,
                               scores=b.scores) for b in finished]
    return Solution("beam", best.answer, list(best.steps), best.scores, spent, candidates, votes)
