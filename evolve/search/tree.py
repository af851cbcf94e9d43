"""A search tree of reasoning steps, with MedS3's back-propagation.

Nodes live in a flat list indexed by id, so a tree serialises to one JSON record and back.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

from domains import Question
from evolve.reasoner.steps import STEP_ZERO
from evolve.search.maths import comp_value

Action = Literal["root", "reason", "finish"]


@dataclass
class Node:
    id: int
    parent: int | None
    depth: int
    step: str
    action: Action
    visits: int = 0
    q: float = 0.0
    value: float | None = None  # rollout value, or the verifier's 0/1 for a Finish node
    rollouts: list[bool] = field(default_factory=list)
    children: list[int] = field(default_factory=list)
    completed: bool = False  # a Finish node, or a node whose children are all completed
    answer: str | None = None
    correct: bool | None = None  # set on Finish nodes only
    chain: bool = False  # an intermediate step split out of a Finish generation
    tokens: int = 0  # new tokens generated for this step

    @property
    def is_finish(self) -> bool:
        return self.action == "finish"


@dataclass
class Trajectory:
    leaf: int
    steps: list[str]  # step 0 first
    values: list[float]  # Q of each step's node, aligned with steps
    answer: str | None
    correct: bool


class Tree:
    def __init__(self, question_id: str):
        self.question_id = question_id
        self.nodes: list[Node] = [Node(id=0, parent=None, depth=0, step=STEP_ZERO, action="root")]

    @property
    def root(self) -> Node:
        return self.nodes[0]

    def add_child(self, parent: Node, step: str, action: Action, **fields) -> Node:
        node = Node(id=len(self.nodes), parent=parent.id, depth=parent.depth + 1, step=step, action=action, **fields)
        self.nodes.append(node)
        parent.children.append(node.id)
        return node

    def children(self, node: Node) -> list[Node]:
        return [self.nodes[i] for i in node.children]

    def path(self, node: Node) -> list[Node]:
        """Root first, `node` last."""
        out = [node]
        while out[-1].parent is not None:
            out.append(self.nodes[out[-1].parent])
        return out[::-1]

    def steps(self, node: Node) -> list[str]:
        return [n.step for n in self.path(node)]

    def leaves(self) -> list[Node]:
        return [n for n in self.nodes if not n.children]

    def open_leaves(self) -> list[Node]:
        return [n for n in self.leaves() if not n.is_finish]

    def finish_leaves(self) -> list[Node]:
        return [n for n in self.nodes if n.is_finish]

    def correct_leaves(self) -> list[Node]:
        return [n for n in self.finish_leaves() if n.correct]

    def budget_nodes(self) -> int:
        """Nodes that count toward max_nodes: finish chains are free, as in MedS3."""
        return sum(1 for n in self.nodes if not n.chain)

    def backpropagate(self, leaf: Node, value: float) -> None:
        """MedS3 "comp" back-propagation from a newly evaluated leaf.

        The leaf takes Q = value; every ancestor takes Q = (Q + visit-weighted mean of children's Q) / 2;
        visits go up by one along the path. Completion flows up: a node is completed once all its
        children are.
        """
        node: Node | None = leaf
        while node is not None:
            node.visits += 1
            if not node.children:
                node.q = value
                node.completed = node.is_finish
            else:
                kids = self.children(node)
                node.completed = all(k.completed for k in kids)
                node.q = comp_value(node.q, ((k.visits, k.q) for k in kids))
            node = self.nodes[node.parent] if node.parent is not None else None

    def trajectories(self) -> tuple[list[Trajectory], list[Trajectory]]:
        """(pos, neg): correct and incorrect Finish trajectories with per-step Q."""
        pos, neg = [], []
        for leaf in self.finish_leaves():
            path = self.path(leaf)
            traj = Trajectory(
                leaf=leaf.id,
                steps=[n.step for n in path],
                values=[n.q for n in path],
                answer=leaf.answer,
                correct=bool(leaf.correct),
            )
            (pos if traj.correct else neg).append(traj)
        return pos, neg

    def to_dicts(self) -> list[dict]:
        return [asdict(n) for n in self.nodes]

    @classmethod
    def from_dicts(cls, question_id: str, nodes: list[dict]) -> Tree:
        tree = cls(question_id)
        tree.nodes = [Node(**n) for n in nodes]
        return tree


@dataclass
class FinishedTree:
    """A searched question's tree, as it comes back from the driver here or from a worker elsewhere."""

    question: Question
    tree: Tree
    seconds: float
    generated_tokens: int
