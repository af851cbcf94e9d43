"""bench/learning.py's answer-prior baselines: what answering without reading the question would score."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from learning import analyse_arm, best_constant_answer, markdown, prior_matched_chance  # noqa: E402


def test_prior_matched_chance_pairs_the_modes_answer_shares_with_the_gold_shares():
    # said A twice, B once, nothing once; gold A once, B twice, C once: (2*1 + 1*2) / (4*4)
    assert prior_matched_chance(["A", "A", "B", None], ["A", "B", "B", "C"]) == 0.25
    # a constant answer scores exactly its gold share, however it lines up with the questions
    assert prior_matched_chance(["B"] * 4, ["A", "B", "B", "C"]) == 0.5
    assert prior_matched_chance([None, None], ["A", "B"]) == 0.0


def test_best_constant_answer_is_the_most_common_gold():
    assert best_constant_answer(["A", "B", "B", "C"]) == ("B", 0.5)
    assert best_constant_answer(["7"]) == ("7", 1.0)


def test_the_arm_report_shows_the_baseline_and_each_modes_prior_chance(tmp_path):
    golds, said = ["A", "B", "B", "C"], ["B", "B", "B", "A"]  # a favourite letter: 2 of 4 right
    eval_dir = tmp_path / "base" / "round-0" / "eval"
    eval_dir.mkdir(parents=True)
    eval_dir.joinpath("questions.jsonl").write_text("".join(
        json.dumps({"id": f"q{i}", "gold": g, "modes": {"cot": {"answer": a, "correct": a == g, "tokens": 10}}}) + "\n"
        for i, (g, a) in enumerate(zip(golds, said))), encoding="utf-8")

    arm = analyse_arm(tmp_path / "base", rounds=0, n=8, levels={"train": "eval"})

    assert arm["baselines"] == {"train": {"answer": "B", "accuracy": 0.5}}
    [row] = arm["rows"]
    assert (row["accuracy"], row["top_answer"], row["top_share"]) == (0.5, "B", 0.75)
    assert row["prior_chance"] == (3 * 2 + 1 * 1) / 16  # B: 3 said x 2 gold, A: 1 said x 1 gold
    text = markdown({"levels": {"train": "ARC"}, "arms": {"base": arm}})
    assert 'Answer-prior baseline, ARC: answering "B" to every question scores 50.0%.' in text
    assert "| ARC | 0 | cot | 50.0 [15.0, 85.0] | +0.0 [+0.0, +0.0] | 1 | 10.0 | B (75.0%) | 43.8 |" in text
