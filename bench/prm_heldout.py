"""How does a round's PRM rank held-out steps? Step AUC against both labelings, and last-step AUC
against trajectory correctness, on the same held-out questions the PRM's training kept aside.

    .venv/bin/python bench/prm_heldout.py runs/learning-arc --round 1 [--prm DIR]

The training metric (`prm.json`) measures a PRM against its own labeling only. A soft PRM is scored
against Q >= 0.5, which says whether a step's absolute value is high; the dual label
1[2*Q_i - Q_(i-1) > 0] says whether a step kept its parent's promise. A PRM can do well on one and
badly on the other, and seeing both says which one it learned.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="an `evolve run` folder")
    parser.add_argument("--round", type=int, default=1)
    parser.add_argument("--prm", type=Path, default=None, help="another PRM folder to score (default: the round's)")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()

    from evolve.api import build_scorer
    from evolve.config import load_config
    from evolve.train.harvest import dual_labels, read_parquet, soft_labels
    from evolve.train.maths import holdout_split, step_metrics

    config = load_config(args.run / "config.yaml", [])
    round_dir = args.run / f"round-{args.round}"
    rows = read_parquet(round_dir / "data" / "prm.parquet")
    _, held_idx = holdout_split([r["question_id"] for r in rows], config.prm.holdout, config.prm.seed)
    held = [rows[i] for i in held_idx]
    if args.threads:
        config.model.threads = args.threads
    scorer = build_scorer(args.prm or round_dir / "prm" / "prm", config)
    by_prompt: dict[str, list[int]] = {}
    for index, row in enumerate(held):
        by_prompt.setdefault(row["prompt"], []).append(index)
    scores: list[list[float]] = [[] for _ in held]
    for prompt, indices in by_prompt.items():  # one batched pass per question
        for index, per_step in zip(indices, scorer.score(prompt, [list(held[i]["completions"]) for i in indices])):
            scores[index] = per_step

    flat = [s for per_step in scores for s in per_step]
    soft = [float(v >= 0.5) for r in held for v in soft_labels(r["values"])]
    dual = [v for r in held for v in dual_labels(r["values"])]
    last = [per_step[-1] for per_step in scores]
    correct = [float(r["correct"]) for r in held]
    result = {
        "prm": str(args.prm or round_dir / "prm" / "prm"),
        "heldout_questions": len({r["question_id"] for r in held}), "heldout_trajectories": len(held),
        "steps": len(flat), "correct_trajectories": int(sum(correct)),
        "step_auc_vs_soft_at_0.5": step_metrics(flat, soft)["auc"], "soft_positive_share": sum(soft) / len(soft),
        "step_auc_vs_dual": step_metrics(flat, dual)["auc"], "dual_positive_share": sum(dual) / len(dual),
        "last_step_auc_vs_correct": step_metrics(last, correct)["auc"],
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
