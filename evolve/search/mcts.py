"""MedS3's data-synthesis MCTS for one question, written as a coroutine.

`run()` yields lists of `Generate` work (a Reason step, a Finish, or a node's rollouts) and is sent back
the parsed `Continuation`s, so the driver can advance many trees at once and batch their work into
shared backend calls. Nothing here knows about prompts or models.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import TYPE_CHECKING

from evolve.reasoner.work import Continuation, Generate, derive_seed
from evolve.search.maths import rollout_count, rollout_value, selection_score
from evolve.search.tree import Node, Tree

if TYPE_CHECKING:
    from evolve.config import SearchConfig

# What a tree yields, what it is sent back, and what it returns when done.
Step = Generator[list[Generate], list, Tree]


class MCTS:
    def __init__(self, question_id: str, config: SearchConfig):
        self.config = config
        self.tree = Tree(question_id)

    # -- the search ---------------------------------------------------------------------------
    def run(self) -> Step:
        while not self.should_stop():
            if not (yield from self.iterate()):
                break
        if self.config.force_finish and len(self.tree.correct_leaves()) < self.config.correct_leaves:
            yield from self.finish_open_leaves()
        return self.tree

    def iterate(self) -> Generator[list[Generate], list, bool]:
        leaf = self.select()
        if leaf is None:
            return False
        children = yield from self.expand(leaf)
        yield from self.simulate(children)
        self.backpropagate(children)
        return True

    def should_stop(self) -> bool:
        cfg, tree = self.config, self.tree
        return (
            len(tree.correct_leaves()) >= cfg.correct_leaves
            or tree.budget_nodes() >= cfg.max_nodes
            or tree.root.completed
        )

    # -- phases --------------------------------------------------------------------------------
    def select(self) -> Node | None:
        """Walk down by the tree policy to a leaf; None once every branch is finished."""
        node = self.tree.root
        while node.children:
            child = self._best_child(node)
            if child is None:
                if node is self.tree.root:
                    return None
                node.completed = True  # nothing left to try below: never come back
                node = self.tree.root
                continue
            node = child
        return None if node.completed else node

    def expand(self, leaf: Node) -> Generator[list[Generate], list, list[Node]]:
        cfg = self.config
        confident = leaf.value is not None and leaf.value >= cfg.finish_threshold
        finish = confident or leaf.depth >= cfg.max_depth
        n = 1 if finish else (cfg.root_children if leaf is self.tree.root else cfg.children)
        children = yield from self._propose(leaf, n, finish)
        if not children:  # every Reason sample came back empty: let the policy finish instead
            children = yield from self._propose(leaf, 1, True)
        return children

    def simulate(self, children: Sequence[Node]) -> Generator[list[Generate], list, None]:
        """Finish nodes are scored by the verifier; the others by the fraction of verified rollouts."""
        cfg = self.config
        pending = [c for c in children if not c.is_finish]
        work = [
            Generate(self._path(c), rollout_count(c.depth, cfg.rollout_base, cfg.rollout_min), "rollout",
                     self._seed(c, "rollout"), node=c.id)
            for c in pending
        ]
        outcomes = (yield work) if work else []
        for child, group in zip(pending, outcomes, strict=True):
            verdicts = [rollout.correct for rollout in group]
            child.rollouts = verdicts
            child.value = rollout_value(verdicts)
        for child in children:
            if child.is_finish:
                child.value = 1.0 if child.correct else 0.0

    def backpropagate(self, children: Sequence[Node]) -> None:
        for child in children:  # one update per child, in order, as MedS3 does
            self.tree.backpropagate(child, child.value)

    def finish_open_leaves(self) -> Step:
        """Too few correct leaves at the stop: let the policy finish every open leaf once."""
        leaves = self.tree.open_leaves()
        if not leaves:
            return self.tree
        work = [self._propose_work(leaf, 1, True) for leaf in leaves]
        answers = yield work
        finished = []
        for leaf, proposals in zip(leaves, answers, strict=True):
            finished += self._attach(leaf, proposals, True)
        yield from self.simulate(finished)
        self.backpropagate(finished)
        return self.tree

    # -- helpers -------------------------------------------------------------------------------
    def _best_child(self, node: Node) -> Node | None:
        cfg = self.config
        best, best_score = None, cfg.completed_score
        for child in self.tree.children(node):
            score = selection_score(
                q=child.q, visits=child.visits, parent_visits=node.visits, completed=child.completed,
                exploration=cfg.exploration, unvisited_score=cfg.unvisited_score, completed_score=cfg.completed_score,
            )
            if score > best_score:  # strict: ties go to the earlier child, and finished ones never win
                best, best_score = child, score
        return best

    def _propose(self, leaf: Node, n: int, finish: bool) -> Generator[list[Generate], list, list[Node]]:
        (proposals,) = yield [self._propose_work(leaf, n, finish)]
        return self._attach(leaf, proposals, finish)

    def _propose_work(self, leaf: Node, n: int, finish: bool) -> Generate:
        purpose = f"finish{len(leaf.children)}" if finish else f"expand{len(leaf.children)}"
        return Generate(self._path(leaf), n, "finish" if finish else "step", self._seed(leaf, purpose), node=leaf.id)

    def _path(self, node: Node) -> tuple[str, ...]:
        """Steps 1.. from the root to `node` (step 0 is the root's fixed text)."""
        return tuple(self.tree.steps(node)[1:])

    def _attach(self, leaf: Node, proposals: Sequence[Continuation], finish: bool) -> list[Node]:
        """Turn proposals into child nodes; returns the nodes that need a value."""
        new = []
        for proposal in proposals:
            steps = [s for s in proposal.steps if s.strip()]
            if finish or proposal.final:
                new.append(self._attach_finish(leaf, steps or [""], proposal))
            elif steps:
                new.append(self.tree.add_child(leaf, steps[0], "reason", tokens=proposal.tokens))
        return new

    def _attach_finish(self, leaf: Node, steps: list[str], proposal: Continuation) -> Node:
        """A Finish may span several steps: the leading ones become a chain that inherits the
        parent's value, the last one carries the verified answer."""
        parent = leaf
        for step in steps[:-1]:
            parent = self.tree.add_child(parent, step, "reason", q=parent.q, visits=1, chain=True)
        return self.tree.add_child(
            parent, steps[-1], "finish", answer=proposal.answer, correct=proposal.correct, tokens=proposal.tokens
        )

    def _seed(self, node: Node, purpose: str) -> int:
        return derive_seed(self.config.seed, self.tree.question_id, node.id, purpose)
