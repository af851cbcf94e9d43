"""Harvest on a hand-built tree: exact labels, top-k choice, Parquet round trip, the no-pos error."""

from __future__ import annotations

import pytest

from domains import Question, load_domain
from evolve.reasoner.steps import STEP_ZERO, serialise_steps
from evolve.search.records import build_record
from evolve.search.tree import Tree
from evolve.train.harvest import HarvestError, dual_labels, harvest, min_step_value, policy_rows, prm_rows, soft_labels

QUESTION = Question(id="q1", question="Which vitamin deficiency causes scurvy?", answer="A",
                    options={"A": "Vitamin C", "B": "Vitamin D", "C": "Vitamin K", "D": "Vitamin A"})


def hand_tree() -> Tree:
    tree = Tree("q1")
    tree.root.q = 0.5
    a = tree.add_child(tree.root, "Scurvy is about collagen.", "reason", q=0.6)
    b = tree.add_child(tree.root, "Bones suggest vitamin D.", "reason", q=0.2)
    tree.add_child(a, "The answer is A.", "finish", q=1.0, answer="A", correct=True)
    tree.add_child(a, "The answer is B.", "finish", q=0.0, answer="B", correct=False)
    tree.add_child(b, "Still, the answer is A.", "finish", q=1.0, answer="A", correct=True)
    return tree


def hand_record(tree: Tree | None = None) -> dict:
    return build_record(QUESTION, tree or hand_tree(), domain="medqa", model="m", config_digest="c",
                        seconds=1.0, generated_tokens=10)


def test_label_maths_exact():
    assert soft_labels([0.5, 0.6, 1.0]) == [0.6, 1.0]
    assert soft_labels([0.5, 1.2, -0.1]) == [1.0, 0.0]
    assert dual_labels([0.5, 0.6, 1.0]) == [1.0, 1.0]
    assert dual_labels([0.5, 0.6, 0.0]) == [1.0, 0.0]
    assert dual_labels([0.5, 0.2, 1.0]) == [0.0, 1.0]  # 2*0.2 - 0.5 < 0
    assert dual_labels([0.5, 0.25]) == [0.0]  # exactly half the parent's value is not > 0
    assert min_step_value([0.1, 0.6, 0.9]) == 0.6  # step 0 left out
    assert min_step_value([0.3]) == 0.3


def test_policy_rows_keep_top_k_by_minimum_step_value():
    domain = load_domain("medqa")
    record = hand_record()
    rows = policy_rows([record], domain, top_k=1)
    assert [row["min_value"] for row in rows] == [0.6]
    row = rows[0]
    assert row["prefix"] == serialise_steps([STEP_ZERO])
    assert row["prefix"] + row["completion"] == (
        f"Step 0: {STEP_ZERO}\n\nStep 1: Scurvy is about collagen.\n\nStep 2: The answer is A.")
    assert [m["role"] for m in row["messages"]] == ["system", "user"]
    assert "Vitamin C" in row["messages"][1]["content"] and "the word Step" in row["messages"][0]["content"]
    assert [r["min_value"] for r in policy_rows([record], domain, top_k=5)] == [0.6, 0.2]


@pytest.mark.parametrize("labeling, expected", [
    ("soft", [[0.6, 1.0], [0.2, 1.0], [0.6, 0.0]]),
    ("dual", [[1.0, 1.0], [0.0, 1.0], [1.0, 0.0]]),
])
def test_prm_rows_label_every_step_but_step_zero(labeling, expected):
    rows = prm_rows([hand_record()], load_domain("medqa"), labeling)
    assert [row["labels"] for row in rows] == expected  # pos first, then neg
    assert [row["correct"] for row in rows] == [True, True, False]
    assert rows[0]["completions"] == ["Scurvy is about collagen.", "The answer is A."]
    assert rows[0]["values"] == [0.5, 0.6, 1.0]
    assert rows[0]["prompt"] == load_domain("medqa").format_question(QUESTION)


def test_harvest_writes_parquet_that_reads_back(tmp_path):
    from datasets import Dataset

    policy, prm, summary = harvest([hand_record()], load_domain("medqa"), top_k=2, labeling="dual", out_dir=tmp_path)
    assert (summary.pos, summary.neg, summary.policy_rows, summary.prm_rows, summary.prm_steps) == (2, 1, 2, 3, 6)
    assert summary.prm_positive_share == round(4 / 6, 4)
    back = Dataset.from_parquet(str(tmp_path / "prm.parquet"))
    assert back.num_rows == 3 and back[2]["labels"] == [1.0, 0.0] and back[0]["completions"] == prm[0]["completions"]
    assert Dataset.from_parquet(str(tmp_path / "policy.parquet"))[1]["completion"] == policy[1]["completion"]


def test_no_correct_trajectory_is_a_clear_error(tmp_path):
    tree = hand_tree()
    for node in tree.nodes:
        if node.is_finish:
            node.correct = False
    with pytest.raises(HarvestError, match="no correct trajectories") as info:
        harvest([hand_record(tree)], load_domain("medqa"), top_k=2, labeling="soft", out_dir=tmp_path)
    assert "lower the difficulty or raise the budget" in info.value.one_line()
    assert not (tmp_path / "policy.parquet").exists()


def test_trees_from_another_domain_are_refused(tmp_path):
    with pytest.raises(HarvestError, match="belong to domain 'medqa', not 'science'") as info:
        harvest([hand_record()], load_domain("science"), top_k=2, labeling="soft", out_dir=tmp_path)
    assert "set data.domain to medqa" in info.value.one_line()
    assert not (tmp_path / "policy.parquet").exists()
