"""bench/learning.py's answer-prior baselines: what answering without reading the question would score."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from learning import (  # noqa: E402
    analyse_arm,
    best_constant_answer,
    beyond_prior_p,
    markdown,
    prior_matched_chance,
    prm_trees,
)


def test_prior_matched_chance_pairs_the_modes_answer_shares_with_the_gold_shares():
    # said A twice, B once, nothing once; gold A once, B twice, C once: (2*1 + 1*2) / (4*4)
    assert prior_matched_chance(["A", "A", "B", None], ["A", "B", "B", "C"]) == 0.25
    # a constant answer scores exactly its gold share, however it lines up with the questions
    assert prior_matched_chance(["B"] * 4, ["A", "B", "B", "C"]) == 0.5
    assert prior_matched_chance([None, None], ["A", "B"]) == 0.0


def test_beyond_prior_p_shuffles_the_modes_own_answers_over_the_questions():
    # every shuffle of a constant answer scores the same as the answer did: nothing beyond the prior
    assert beyond_prior_p(["B"] * 6, ["A", "B", "B", "C", "B", "D"]) == 1.0
    assert beyond_prior_p([None] * 4, ["A", "B", "C", "D"]) == 1.0
    # all 40 right with 4 letters 10 times each: no shuffle of 10,000 matches all 40 (1 in 40!/10!^4)
    golds = list("ABCD") * 10
    assert beyond_prior_p(golds, golds) == 1 / 10_001
    # one A and three B over golds A B B C: the A sits at one of 4 places, scoring 3, 1, 1 or 2;
    # 2 or more right is 2 places of 4, so the estimate is 0.5 within the Monte Carlo error
    assert abs(beyond_prior_p(["B", "B", "B", "A"], ["A", "B", "B", "C"]) - 0.5) < 0.02


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
    assert abs(row["beyond_prior_p"] - 0.5) < 0.02
    text = markdown({"levels": {"train": "ARC"}, "arms": {"base": arm}})
    assert 'Answer-prior baseline, ARC: answering "B" to every question scores 50.0%.' in text
    assert ("| ARC | 0 | cot | 50.0 [15.0, 85.0] | +0.0 [+0.0, +0.0] | 1 | 10.0 | B (75.0%) | 43.8 | "
            f"{row['beyond_prior_p']:.3g} |") in text


def _write_eval(folder: Path, golds: list[str], said: list[str]) -> None:
    folder.mkdir(parents=True)
    folder.joinpath("questions.jsonl").write_text("".join(
        json.dumps({"id": f"q{i}", "gold": g, "modes": {"cot": {"answer": a, "correct": a == g, "tokens": 5}}}) + "\n"
        for i, (g, a) in enumerate(zip(golds, said))), encoding="utf-8")


def test_the_cold_arm_reports_its_cold_start_policy_against_the_base_model(tmp_path):
    from learning import COLD_START, cold_start_policy, plot, round_models

    arm_dir = tmp_path / "cold"
    golds = ["3", "5", "8", "13"]
    _write_eval(arm_dir / "round-0" / "eval", golds, ["3", "4", "4", "4"])  # the base model: 1 of 4
    _write_eval(arm_dir / "round-0" / "cold-start-eval", golds, ["3", "5", "8", "4"])  # the cold start: 3 of 4
    arm_dir.joinpath("round-0", "manifest.json").write_text(json.dumps(
        {"round": 0, "models": {"policy": None, "cold_start": "round-0/cold-start/adapter"}}), encoding="utf-8")

    # round 0 is the base model in both arms; the cold-start adapter is evaluated on its own
    assert round_models(arm_dir, 0) == (None, None)
    assert cold_start_policy(arm_dir) == str(arm_dir / "round-0/cold-start/adapter")

    arm = analyse_arm(arm_dir, rounds=0, n=8, levels={"train": "eval"})
    base, cold = arm["rows"]
    assert (base["round"], base["accuracy"]) == (0, 0.25)
    assert (cold["round"], cold["accuracy"], cold["diff_vs_round0_cot"]) == (COLD_START, 0.75, 0.5)
    assert "| ARC | 0 + cold start | cot | 75.0 " in markdown({"levels": {"train": "ARC"}, "arms": {"cold": arm}})
    plot({"levels": {"train": "sums"}, "arms": {"cold": arm}}, tmp_path / "learning.png")
    assert (tmp_path / "learning.png").stat().st_size > 10_000


def test_the_report_covers_every_arm_in_the_folder_not_only_the_one_just_run(tmp_path):
    from learning import analyse_out

    golds = ["3", "5", "8", "13"]
    _write_eval(tmp_path / "base" / "round-0" / "eval", golds, ["3", "4", "4", "4"])
    _write_eval(tmp_path / "base" / "round-1" / "eval", golds, ["3", "5", "8", "4"])
    _write_eval(tmp_path / "cold" / "round-0" / "eval", golds, ["3", "4", "4", "4"])
    arms = analyse_out(tmp_path, n=8)
    assert list(arms) == ["base", "cold"]
    assert [(r["round"], r["accuracy"]) for r in arms["base"]["rows"]] == [(0, 0.25), (1, 0.75)]
    assert [(r["round"], r["accuracy"]) for r in arms["cold"]["rows"]] == [(0, 0.25)]


def test_the_prm_check_reads_the_trees_the_prm_trained_on(tmp_path):
    from evolve.config import Config

    round_dir = tmp_path / "round-1"
    (round_dir / "prm-search").mkdir(parents=True)
    (round_dir / "trees.jsonl").write_text("")
    on_policy = Config.model_validate({"prm": {"on_policy": True}})
    assert prm_trees(Config(), round_dir) == round_dir / "trees.jsonl"
    assert prm_trees(on_policy, round_dir) == round_dir / "trees.jsonl"  # no second search written
    (round_dir / "prm-search" / "trees.jsonl").write_text("")
    assert prm_trees(on_policy, round_dir) == round_dir / "prm-search" / "trees.jsonl"
    assert prm_trees(Config(), round_dir) == round_dir / "trees.jsonl"
