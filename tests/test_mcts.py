"""The MedS3 search driven by hand: every request it makes and every number it keeps is checked."""

from dataclasses import dataclass

import pytest

from evolve.config import SearchConfig
from evolve.reasoner.steps import STEP_ZERO
from evolve.reasoner.work import Continuation
from evolve.search.mcts import MCTS


# The hand traces below speak of MedS3's own work items: an expansion (Propose, a Finish when `finish`)
# and a node's rollouts (Rollout, `k` of them). These views translate the search's `Generate` items.
@dataclass
class Propose:
    node_id: int
    steps: tuple
    n: int
    finish: bool


@dataclass
class Rollout:
    node_id: int
    steps: tuple
    k: int


def view(item):
    steps = (STEP_ZERO, *item.steps)
    if item.kind == "rollout":
        return Rollout(item.node, steps, item.n)
    return Propose(item.node, steps, item.n, item.kind == "finish")


def Proposal(steps, final, answer=None, correct=False):  # noqa: N802 (reads like the record it builds)
    return Continuation(list(steps), final, answer, correct)


def drive(mcts, answer):
    """Run the coroutine to the end; `answer(work)` answers one work item. Returns (tree, ticks)."""
    steps = mcts.run()
    ticks = []
    try:
        work = [view(item) for item in next(steps)]
        while True:
            ticks.append(work)
            answers = [answer(w) for w in work]
            # a rollout's answers are verdicts: each becomes a final continuation that is right or wrong
            answers = [[Proposal(("x",), True, correct=v) for v in a] if isinstance(w, Rollout) else a
                       for w, a in zip(work, answers)]
            work = [view(item) for item in steps.send(answers)]
    except StopIteration as done:
        return done.value, ticks


def reason(step, n):
    return [Proposal(steps=(f"{step}-{i}",), final=False) for i in range(n)]


def all_wrong(work):
    if isinstance(work, Rollout):
        return [False] * work.k
    if work.finish:
        return [Proposal(steps=("The answer is Z.",), final=True, answer="Z", correct=False)] * work.n
    return reason(f"s{work.node_id}", work.n)


def test_first_iteration_requests_match_meds3():
    tree, ticks = drive(MCTS("q", SearchConfig(max_nodes=4)), all_wrong)
    (expand,), rollouts = ticks[0], ticks[1]
    assert isinstance(expand, Propose) and (expand.node_id, expand.n, expand.finish) == (0, 3, False)
    assert expand.steps == ("Let's break down this problem step by step.",)
    assert [(r.node_id, r.k) for r in rollouts] == [(1, 10), (2, 10), (3, 10)]  # k = max(20 // 2, 5)
    assert rollouts[0].steps == (expand.steps[0], "s0-0")


def test_grows_to_max_nodes_then_forces_finish_on_open_leaves():
    tree, ticks = drive(MCTS("q", SearchConfig(max_nodes=10)), all_wrong)
    expansions = [w.node_id for tick in ticks for w in tick if isinstance(w, Propose) and not w.finish]
    # root, then the first child (UCT tie -> earliest), then the unvisited-longest sibling
    assert expansions == [0, 1, 2]
    assert [r.k for r in ticks[3]] == [6, 6, 6]  # depth 2: max(20 // 3, 5)
    forced = ticks[-1]  # Finish nodes are scored by the verifier: no rollouts follow
    assert all(isinstance(w, Propose) and w.finish and w.n == 1 for w in forced)
    assert [w.node_id for w in forced] == [3, 4, 5, 6, 7, 8, 9]
    assert len(tree.finish_leaves()) == 7 and tree.correct_leaves() == []
    pos, neg = tree.trajectories()
    assert pos == [] and len(neg) == 7


def test_stops_at_correct_leaves_and_skips_forced_finish():
    def solve(work):
        if isinstance(work, Rollout):
            return [True] * work.k  # value 1.0 >= 0.9: the next expansion is a single Finish
        if work.finish:
            return [Proposal(steps=("so", "The answer is B."), final=True, answer="B", correct=True)]
        return reason(f"s{work.node_id}", work.n)

    tree, ticks = drive(MCTS("q", SearchConfig(correct_leaves=2)), solve)
    assert len(tree.correct_leaves()) == 2
    finishes = [w for tick in ticks for w in tick if isinstance(w, Propose) and w.finish]
    assert [(w.node_id, w.n) for w in finishes] == [(1, 1), (2, 1)]
    # each Finish wrote two steps: a chain node inheriting the parent's Q, then the answer
    chain = [n for n in tree.nodes if n.chain]
    assert len(chain) == 2 and all(tree.nodes[c.parent].id in (1, 2) for c in chain)
    node1, link = tree.nodes[1], chain[0]
    assert link.step == "so" and link.visits == 2
    assert link.q == pytest.approx((1.0 + 1.0) / 2)  # inherited 1.0, then comp with the Finish's 1.0
    assert tree.budget_nodes() == len(tree.nodes) - 2
    assert node1.value == 1.0 and node1.rollouts == [True] * 10


def test_answer_in_a_reason_step_makes_a_finish_node_without_rollouts():
    def early(work):
        if isinstance(work, Rollout):
            return [False] * work.k
        out = reason("r", work.n)
        out[1] = Proposal(steps=("The answer is B.",), final=True, answer="B", correct=True)
        return out

    tree, ticks = drive(MCTS("q", SearchConfig(max_nodes=4, force_finish=False)), early)
    assert tree.nodes[2].is_finish and tree.nodes[2].correct and tree.nodes[2].completed
    assert [r.node_id for r in ticks[1]] == [1, 3]  # no rollouts for the Finish child
    assert tree.nodes[2].q == 1.0


def test_completed_children_are_never_selected_and_all_finished_stops():
    def finish_everything(work):
        if isinstance(work, Rollout):
            return [False] * work.k
        return [Proposal(steps=("The answer is A.",), final=True, answer="A", correct=False)] * work.n

    tree, ticks = drive(MCTS("q", SearchConfig()), finish_everything)
    assert len(ticks) == 1  # root expanded into three Finish children, all completed: the tree is done
    assert tree.root.completed and len(tree.nodes) == 4


def test_empty_reason_samples_fall_back_to_a_finish():
    def empty(work):
        if isinstance(work, Rollout):
            return [False] * work.k
        if work.finish:
            return [Proposal(steps=("The answer is C.",), final=True, answer="C", correct=True)]
        return [Proposal(steps=("  ",), final=False)] * work.n

    tree, ticks = drive(MCTS("q", SearchConfig(correct_leaves=1)), empty)
    assert [(w.finish, w.n) for w in (ticks[0][0], ticks[1][0])] == [(False, 3), (True, 1)]
    assert tree.correct_leaves()[0].answer == "C"


def test_max_depth_forces_a_finish():
    def deep(work):
        if isinstance(work, Rollout):
            return [False] * work.k
        if work.finish:
            return [Proposal(steps=("The answer is A.",), final=True, answer="A", correct=True)]
        return reason("d", work.n)

    tree, _ = drive(MCTS("q", SearchConfig(max_depth=1, correct_leaves=1, root_children=1, children=1)), deep)
    assert [n.action for n in tree.nodes] == ["root", "reason", "finish"]
