"""bench/sft_vs_grpo.py: a GRPO arm's round N takes MedS3 round N's budget without --force, and only that; the
comparison pairs each round with MedS3's round and with the arm's previous round, question by question."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from evolve.config import load_config
from evolve.rounds.manifest import claim_run

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from sft_vs_grpo import arm_settings, compare, markdown, planned_change  # noqa: E402


def _plan(*budgets: int) -> list:
    return [load_config(None, [f"policy.token_budget={b}", f"run.rounds={i}"]) for i, b in enumerate(budgets, 1)]


def test_only_the_planned_per_round_budget_passes_without_force(tmp_path):
    plan = _plan(27370, 27143)
    assert not planned_change(tmp_path, plan[0], plan)  # a new run: nothing to accept
    claim_run(tmp_path, plan[0], force=False)
    assert not planned_change(tmp_path, plan[0], plan)  # no change at all
    assert planned_change(tmp_path, plan[1], plan)  # round 2 takes MedS3 round 2's budget
    claim_run(tmp_path, plan[1], force=True)
    assert planned_change(tmp_path, plan[0], plan)  # a resume passes round 1's config again
    assert not planned_change(tmp_path, _plan(20000)[0], _plan(20000))  # another --token-budget on a rerun
    changed = load_config(None, ["policy.token_budget=27370", "policy.learning_rate=1e-3"])
    assert not planned_change(tmp_path, changed, plan)  # any other key still needs --force


def _round(arm_dir: Path, index: int, answers: dict[str, dict[str, bool]], data: dict, steps: list[float] = ()) -> None:
    """A finished round on disk: its manifest, eval answers (mode -> correct per question), GRPO step times."""
    round_dir = arm_dir / f"round-{index}"
    (round_dir / "eval").mkdir(parents=True)
    (round_dir / "manifest.json").write_text(json.dumps({"data": data, "timings": {"search": 100.0, "policy": 50.0,
                                                                                    "eval": 999.0}, "models": {}}))
    lines = []
    for qid, modes in answers.items():
        samples = modes.pop("samples", [modes["sc"]])  # the SC candidates (pass@N), by default only its answer
        record = {mode: {"correct": ok, "answer": "1", "tokens": 10 + int(ok)} for mode, ok in modes.items()}
        record["sc"]["candidates"] = [{"correct": ok} for ok in samples]
        lines.append(json.dumps({"id": qid, "modes": record}))
    (round_dir / "eval" / "questions.jsonl").write_text("\n".join(lines) + "\n")
    if steps:
        (round_dir / "policy").mkdir()
        (round_dir / "policy" / "grpo_log.jsonl").write_text("".join(json.dumps({"step_time": t}) + "\n" for t in steps))


def test_compare_pairs_each_grpo_round_with_meds3_and_with_its_previous_round(tmp_path):
    meds3, grpo = tmp_path / "meds3", tmp_path / "grpo"
    q = [f"q{i}" for i in range(4)]
    # The base model (round 0, in MedS3's run) gets nothing right. MedS3: round 1 gets q0 by CoT; round 2
    # q0, q1. GRPO: round 1 q0-q2, round 2 all four.
    for index, right in ((0, 0), (1, 1), (2, 2)):
        _round(meds3, index, {k: {"cot": i < right, "sc": i < right} for i, k in enumerate(q)}, {"search_tokens": 1000})
    _round(grpo, 1, {k: {"cot": i < 3, "sc": i < 1, "samples": [False, i == 3]} for i, k in enumerate(q)},
           {"generated_tokens": 1005}, steps=[20.0, 30.5])
    _round(grpo, 2, {k: {"cot": True, "sc": i < 2} for i, k in enumerate(q)}, {"generated_tokens": 990}, steps=[40.0])

    rows = {(r["arm"], r["round"], r["mode"]): r for r in compare(meds3, {"grpo": grpo}, rounds=2, n=8)}

    assert sorted(rows) == sorted((arm, i, m) for arm in ("meds3", "grpo") for i in (1, 2) for m in ("cot", "sc", "pass@8"))
    cot1, cot2 = rows["grpo", 1, "cot"], rows["grpo", 2, "cot"]
    assert (cot1["correct"], cot1["n"], cot1["generated_tokens"], cot1["training_seconds"]) == (3, 4, 1005, 50.5)
    assert (cot2["generated_tokens"], cot2["training_seconds"], rows["meds3", 2, "cot"]["training_seconds"]) == (1995, 40.0, 150.0)
    assert cot1["mean_tokens"] == 10.75 and "mean_tokens" not in rows["grpo", 1, "pass@8"]
    # GRPO round 1 right on q1, q2 where MedS3 round 1 is wrong, never the other way round: +2 of 4, McNemar p = 0.5.
    assert (cot1["vs_meds3"], cot1["vs_meds3_p"]) == (0.5, 0.5) and cot1["vs_previous"] == 0.75  # vs the base
    assert (cot2["vs_meds3"], cot2["vs_previous"], cot2["vs_previous_p"]) == (0.5, 0.25, 1.0)
    # pass@8 is any SC sample right: GRPO round 1's samples get only q3; MedS3's pass@8 uses its own SC samples.
    assert rows["grpo", 1, "pass@8"]["correct"] == 1 and rows["grpo", 1, "pass@8"]["vs_meds3"] == 0.0
    assert rows["grpo", 2, "pass@8"]["vs_previous"] == 0.25
    assert "vs_meds3" not in rows["meds3", 2, "cot"] and rows["meds3", 2, "cot"]["vs_previous"] == 0.25
    text = markdown(list(rows.values()), {"train": 0.25})
    assert "| train | 2 | grpo | cot | 100.0 [51.0, 100.0] | +50.0 [" in text and "| train | 0 | base model | cot | 25.0 |" in text


def test_grpo_with_the_prm_reward_is_also_paired_with_plain_grpo(tmp_path):
    meds3, grpo, grpo_prm = tmp_path / "meds3", tmp_path / "grpo", tmp_path / "grpo-prm"
    q = [f"q{i}" for i in range(4)]
    for index in (0, 1):
        _round(meds3, index, {k: {"cot": i < index, "sc": False} for i, k in enumerate(q)}, {"search_tokens": 1000})
    _round(grpo, 1, {k: {"cot": i < 1, "sc": i < 2} for i, k in enumerate(q)}, {"generated_tokens": 1000})
    # GRPO+PRM: CoT right on q1-q3 (plain GRPO only q0): +2 of 4 net, 3 against 1 discordant, McNemar p = 0.625
    _round(grpo_prm, 1, {k: {"cot": i > 0, "sc": i < 2} for i, k in enumerate(q)}, {"generated_tokens": 1000})

    rows = {(r["arm"], r["round"], r["mode"]): r
            for r in compare(meds3, {"grpo": grpo, "grpo-prm": grpo_prm}, rounds=1, n=8)}

    cot = rows["grpo-prm", 1, "cot"]
    assert (cot["vs_grpo"], cot["vs_grpo_p"], cot["vs_meds3"]) == (0.5, 0.625, 0.5)
    assert rows["grpo-prm", 1, "sc"]["vs_grpo"] == 0.0 and rows["grpo-prm", 1, "sc"]["vs_grpo_p"] == 1.0
    assert all("vs_grpo" not in rows[arm, 1, "cot"] for arm in ("meds3", "grpo"))
    text = markdown(list(rows.values()), {"train": 0.0})
    assert "| train | 1 | grpo-prm | cot | 75.0 [30.1, 95.4] | +50.0 [" in text
    assert "p=0.625 | +75.0 [" in text  # vs GRPO, then vs the base model


def test_compare_refuses_rounds_answered_on_other_questions(tmp_path):
    meds3, grpo = tmp_path / "meds3", tmp_path / "grpo"
    _round(meds3, 1, {"q0": {"cot": True, "sc": True}}, {"search_tokens": 10})
    _round(grpo, 1, {"q9": {"cot": True, "sc": True}}, {"generated_tokens": 10})
    with pytest.raises(SystemExit, match="grpo/round-1/eval: not the questions MedS3 round 1 answered"):
        compare(meds3, {"grpo": grpo}, rounds=1, n=8)
    _round(meds3, 0, {"q5": {"cot": True, "sc": True}}, {})  # a base-model round on other questions
    with pytest.raises(SystemExit, match="meds3/round-1/eval: not the questions meds3 round 0 answered"):
        compare(meds3, {}, rounds=1, n=8)


def test_grpo_arms_start_where_the_meds3_run_started(tmp_path):
    """A MedS3 run with a cold start (its config.yaml, as the rounds write it) gives the GRPO arms the same
    cold-start stage; a run from the base model gives them none."""
    for start, expected in ((None, None), ({"source": "generated", "size": 150}, ("generated", 150))):
        meds3 = tmp_path / f"meds3-{expected is not None}"
        meds3.mkdir()
        overrides = [f"policy.cold_start.{k}={v}" for k, v in (start or {}).items()]
        claim_run(meds3, load_config(None, overrides), force=False)
        (meds3 / "round-1").mkdir()
        (meds3 / "round-1" / "manifest.json").write_text(json.dumps({"data": {"search_tokens": 1234},
                                                                     "models": {"prm": "round-1/prm/prm"}}))
        for arm in ("grpo", "grpo-prm"):
            settings = arm_settings(arm, meds3, 1)
            assert "policy.token_budget=1234" in settings
            cold = load_config(None, settings).policy.cold_start
            assert (cold and (cold.source, cold.size)) == expected


def test_the_arms_start_from_the_cold_start_policys_cot_when_meds3_had_a_cold_start(tmp_path):
    from sft_vs_grpo import start_cot

    def write(folder: Path, right: list[bool]) -> None:
        folder.mkdir(parents=True)
        folder.joinpath("questions.jsonl").write_text("".join(
            json.dumps({"id": f"q{i}", "gold": "1", "modes": {"cot": {"correct": c}}}) + "\n" for i, c in enumerate(right)))

    for start in (None, {"source": "generated", "size": 150}):
        meds3 = tmp_path / f"meds3-{start is not None}"
        meds3.mkdir()
        claim_run(meds3, load_config(None, [f"policy.cold_start.{k}={v}" for k, v in (start or {}).items()]), force=False)
        write(meds3 / "round-0" / "eval", [True, False, False, False])  # the base model
        write(meds3 / "round-0" / "eval-hard", [False, False])
        write(meds3 / "round-0" / "cold-start-eval", [True, True, True, False])  # the cold-start policy
        write(meds3 / "round-0" / "cold-start-eval-hard", [True, False])
        expected = ("cold start", {"train": 0.75, "hard": 0.5}) if start else ("base model", {"train": 0.25, "hard": 0.0})
        assert start_cot(meds3) == expected
