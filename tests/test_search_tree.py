import pytest

from evolve.reasoner.steps import STEP_ZERO
from evolve.search.tree import Tree


def build():
    tree = Tree("q1")
    a = tree.add_child(tree.root, "a", "reason")
    b = tree.add_child(tree.root, "b", "reason")
    return tree, a, b


def test_comp_backpropagation_exact_numbers():
    tree, a, b = build()
    tree.backpropagate(a, 0.6)
    assert (a.q, a.visits, tree.root.visits) == (0.6, 1, 1)
    assert tree.root.q == pytest.approx(0.3)  # (0 + 0.6) / 2
    tree.backpropagate(b, 0.2)
    assert tree.root.visits == 2
    assert tree.root.q == pytest.approx((0.3 + (0.6 + 0.2) / 2) / 2)  # 0.35
    c = tree.add_child(a, "The answer is B.", "finish", answer="B", correct=True)
    tree.backpropagate(c, 1.0)
    assert (c.q, c.visits, c.completed) == (1.0, 1, True)
    assert a.visits == 2 and a.completed
    assert a.q == pytest.approx((0.6 + 1.0) / 2)  # 0.8
    assert tree.root.visits == 3 and not tree.root.completed
    assert tree.root.q == pytest.approx((0.35 + (2 * 0.8 + 1 * 0.2) / 3) / 2)  # 0.475


def test_completion_flows_up_only_when_all_children_finish():
    tree, a, b = build()
    fa = tree.add_child(a, "x", "finish", answer="A", correct=False)
    tree.backpropagate(fa, 0.0)
    assert a.completed and not tree.root.completed
    fb = tree.add_child(b, "y", "finish", answer="B", correct=True)
    tree.backpropagate(fb, 1.0)
    assert b.completed and tree.root.completed


def test_trajectories_pos_neg_with_step_values():
    tree, a, b = build()
    tree.backpropagate(a, 0.5)
    tree.backpropagate(b, 0.0)
    good = tree.add_child(a, "so B", "finish", answer="B", correct=True)
    tree.backpropagate(good, 1.0)
    bad = tree.add_child(b, "so C", "finish", answer="C", correct=False)
    tree.backpropagate(bad, 0.0)
    pos, neg = tree.trajectories()
    assert [t.leaf for t in pos] == [good.id] and [t.leaf for t in neg] == [bad.id]
    assert pos[0].steps == [STEP_ZERO, "a", "so B"]
    assert pos[0].values == [tree.root.q, a.q, 1.0]
    assert pos[0].values[1] == pytest.approx(0.75)
    assert neg[0].steps == [STEP_ZERO, "b", "so C"] and neg[0].answer == "C" and not neg[0].correct


def test_budget_excludes_finish_chains_and_round_trips():
    tree, a, _ = build()
    link = tree.add_child(a, "chain step", "reason", chain=True, visits=1, q=0.0)
    tree.add_child(link, "The answer is A.", "finish", answer="A", correct=True)
    assert len(tree.nodes) == 5 and tree.budget_nodes() == 4
    again = Tree.from_dicts("q1", tree.to_dicts())
    assert again.to_dicts() == tree.to_dicts()
