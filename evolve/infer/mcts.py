"""`mcts`: tree search over steps with the PRM as the value function and no rollouts.

Each iteration selects a leaf by UCT (Q = mean value of the subtree), expands it with
`mcts_children` sampled next steps, values each child by the PRM score of its new (last) step and
back-propagates that value. Finished children are never selected again; a subtree whose leaves
are all finished is skipped. The answer is the finished trajectory with the highest MINIMUM step
score (a path is only as sound as its weakest step; earliest node wins a tie). If no trajectory
finished, the open leaf with the highest minimum score is forced to finish.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from evolve.infer.base import Solution
from evolve.reasoner.work import Continuation, Generate, Score, Search, derive_seed
from evolve.search.maths import uct

if TYPE_CHECKING:
    from evolve.config import EvalConfig

EXPLORATION = 1.0  # PRM values lie in [0, 1]; MedS3's c=2 is tuned for rollout values with a 5.0 unvisited bonus


@dataclass
class _Node:
    id: int
    parent: _Node | None
    steps: tuple[str, ...]  # steps 1.. of the whole path
    scores: list[float] = field(default_factory=list)  # the PRM's score of every step of the path
    tokens: int = 0  # generated along the path
    final: bool = False
    answer: str | None = None
    finish_reason: str = "stop"
    visits: int = 0
    total: float = 0.0
    children: list[_Node] = field(default_factory=list)

    @property
    def q(self) -> float:
        return self.total / self.visits if self.visits else 0.0

    def exhausted(self) -> bool:
        return self.final or (bool(self.children) and all(c.exhausted() for c in self.children))


def _select(root: _Node, exploration: float) -> _Node | None:
    """The open leaf to expand, or None when every path has finished."""
    if root.exhausted():
        return None
    node = root
    while node.children:
        options = [c for c in node.children if not c.exhausted()]
        node = max(options, key=lambda c: uct(c.q, c.visits, node.visits, exploration))
    return node


def _backpropagate(node: _Node, value: float) -> None:
    walk: _Node | None = node
    while walk is not None:
        walk.visits += 1
        walk.total += value
        walk = walk.parent


def mcts_search(question_id: str, config: EvalConfig, exploration: float = EXPLORATION) -> Search:
    root = _Node(0, None, ())
    nodes = [root]
    spent = 0

    def expand(leaf: _Node, n: int, force: bool, purpose: str) -> Search:
        nonlocal spent
        (group,) = yield [Generate(leaf.steps, n, "finish" if force else "step",
                                   derive_seed(config.seed, question_id, leaf.id, purpose))]
        new = []
        for c in group:
            spent += c.tokens
            child = _Node(len(nodes), leaf, leaf.steps + tuple(c.steps), tokens=leaf.tokens + c.tokens, final=c.final,
                          answer=c.answer, finish_reason=c.finish_reason)
            nodes.append(child)
            leaf.children.append(child)
            new.append(child)
        scores = yield Score(tuple(child.steps for child in new))
        for child, step_scores in zip(new, scores):
            child.scores = step_scores
            _backpropagate(child, step_scores[-1])
        return new

    for _ in range(config.mcts_iterations):
        leaf = _select(root, exploration)
        if leaf is None:
            break
        yield from expand(leaf, config.mcts_children, len(leaf.steps) + 1 >= config.max_steps, "mcts")

    finals = [n for n in nodes if n.final]
    if not finals:
        open_leaves = [n for n in nodes if n is not root and not n.children]
        best_open = max(open_leaves, key=lambda n: min(n.scores))
        finals = yield from expand(best_open, 1, True, "mcts-final")
    best = max(finals, key=lambda n: min(n.scores))
    votes: dict[str, float] = {}
    for n in finals:
        if n.answer is not None:
            votes[n.answer] = max(votes.get(n.answer, 0.0), min(n.scores))
    candidates = [Continuation(list(n.steps), True, n.answer, tokens=n.tokens, finish_reason=n.finish_reason,
                               scores=n.scores) for n in finals]
    return Solution("mcts", best.answer, list(best.steps), best.scores, spent, candidates, votes)
