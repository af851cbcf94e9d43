"""bench/sft_vs_grpo.py: a GRPO arm's round N takes MedS3 round N's budget without --force, and only that."""

from __future__ import annotations

import sys
from pathlib import Path

from evolve.config import load_config
from evolve.rounds.manifest import claim_run

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from sft_vs_grpo import planned_change  # noqa: E402


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
