"""Does the PRM rank steps better when it trains on trees of the policy it will score? (`prm.on_policy`)

    EVOLVE_HOME=runs/learning-home .venv/bin/python bench/prm_on_policy.py --run runs/learning/base --round 1 [--pvs]

In MedS3's loop, round r's PRM trains on the trees that round r's search wrote with the previous
policy, then scores round r's policy, which writes other steps (in the learning benchmark, round 1's
policy writes "a + b = c" in every answer; the base model mostly copied an operand). This takes a
finished round of `bench/learning.py` and trains the same PRM, with the same config, on a search by
the round's own policy: what `prm.on_policy: true` does inside `evolve run`. Then both PRMs score the
same sampled solutions of round r's policy (100 test questions x 4, and the dev set for the
first-error threshold), so the comparison is paired step for step. With `--pvs`, the new PRM also
answers the 200 test questions by P-VS@8 and best-of-8, against the round's own evaluation.

The search goes to RUN/round-r/prm-search/ (trees, harvest), where `evolve run` would put it, so a
later round 2 with `--set prm.on_policy=true` starts from it. The rest goes to RUN/round-r/prm-on-policy/:
prm/ (the PRM), compare.json, compare.md, compare.png (ROC curves of both PRMs against the truth) and, with --pvs, eval/.
Every piece is skipped once written, so the command resumes.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from learning import PRM_CHECK_QUESTIONS, per_question  # noqa: E402


def rescored(samples: list, scorer, domain) -> list:
    """The same sampled steps with another PRM's scores: one scorer call per question."""
    groups: dict[str, list[int]] = {}
    for index, sampled in enumerate(samples):
        groups.setdefault(sampled.question.id, []).append(index)
    out = list(samples)
    for indices in groups.values():
        question = samples[indices[0]].question
        scores = scorer.score(domain.format_question(question), [samples[i].steps for i in indices])
        for index, score in zip(indices, scores):
            out[index] = replace(samples[index], scores=score)
    return out


def check(sampled: list, dev: list) -> dict:
    from evolve.eval.prm_eval import last_step_metrics, truth_metrics

    return {"truth": truth_metrics(sampled, dev), "last_step": last_step_metrics(sampled)}


def strip_roc(value):
    if isinstance(value, dict):
        return {k: strip_roc(v) for k, v in value.items() if k != "roc"}
    return value


def paired(records: dict, reference: dict, mode: str, ref_mode: str) -> dict:
    from evolve.eval.stats import paired_bootstrap_diff, wilson_interval

    ids = sorted(records)
    new = [bool(records[i]["modes"][mode]["correct"]) for i in ids]
    old = [bool(reference[i]["modes"][ref_mode]["correct"]) for i in ids]
    diff, low, high = paired_bootstrap_diff(new, old, 10_000, seed=0)
    return {"accuracy": sum(new) / len(ids), "wilson": wilson_interval(sum(new), len(ids)), "n": len(ids),
            "vs": ref_mode, "diff": diff, "diff_low": low, "diff_high": high}


def plot(curves: dict[str, dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.0, 5.2), dpi=120)
    ax.plot([0, 1], [0, 1], color="#999999", linestyle="--", linewidth=1, label="chance (AUC 0.5)")
    for (name, metrics), colour in zip(curves.items(), ["#d62728", "#2ca02c", "#1f77b4", "#9467bd"]):
        fpr, tpr = metrics["roc"]
        ax.plot(fpr, tpr, linewidth=2, color=colour, label=f"{name}: AUC {metrics['auc']:.3f} ({metrics['steps']} steps)")
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="false positive rate", ylabel="true positive rate", title=title)
    ax.legend(loc="lower right", fontsize=7, frameon=True)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, required=True, help="an arm folder of bench/learning.py (runs/learning/base)")
    parser.add_argument("--round", type=int, default=1)
    parser.add_argument("--prm-samples", type=int, default=4)
    parser.add_argument("--pvs", action="store_true", help="also answer the test questions by P-VS@N with the new PRM")
    args = parser.parse_args()

    from domains import load_domain
    from evolve.api import Reasoner, base_folder, build_scorer
    from evolve.cli.render import progress_sink
    from evolve.config import load_config
    from evolve.eval.evaluate import evaluate
    from evolve.eval.prm_eval import sample, tree_metrics
    from evolve.rounds.runner import KeepLast, default_factory
    from evolve.rounds.stages import RoundContext, on_policy_prm_data
    from evolve.search.records import read_records
    from evolve.train.harvest import read_parquet
    from evolve.train.prm import train_prm

    run, index = args.run, args.round
    round_dir = run / f"round-{index}"
    manifest = json.loads((round_dir / "manifest.json").read_text(encoding="utf-8"))
    config = load_config(run / "config.yaml", ["prm.on_policy=true"])
    domain = load_domain(config.data.domain)
    out = round_dir / "prm-on-policy"
    policy, old_prm = run / manifest["models"]["policy"], run / manifest["models"]["prm"]

    with progress_sink(False) as events:
        ctx = RoundContext(config=config, run_dir=run, domain=domain, factory=KeepLast(default_factory(config)),
                           events=events)
        # the search by round r's own policy, into RUN/round-r/prm-search as `evolve run` would put it
        data_dir, found = on_policy_prm_data(ctx, index, manifest["models"]["policy"])
        rows = read_parquet(data_dir / "prm.parquet")
        trained = train_prm(rows, base_dir=base_folder(config.prm.base or config.model.spec), out_dir=out / "prm",
                            config=config.prm, threads=config.model.threads, events=events)

        compare_path = out / "compare.json"
        if compare_path.exists():
            result = json.loads(compare_path.read_text(encoding="utf-8"))
        else:
            old, new = build_scorer(str(old_prm), config), build_scorer(str(trained.prm_dir), config)
            reasoner = Reasoner(config, domain, ctx.factory(str(policy)), old)
            test = domain.load_split("test", limit=config.eval.limit)[:PRM_CHECK_QUESTIONS]
            dev = domain.load_split("dev")
            sampled, dev_sampled = sample(reasoner, test, args.prm_samples), sample(reasoner, dev, args.prm_samples)
            before = check(sampled, dev_sampled)
            after = check(rescored(sampled, new, domain), rescored(dev_sampled, new, domain))
            trees = list(read_records(data_dir.parent / "trees.jsonl"))
            by_id = {q.id: q for q in domain.load_split("search")}
            result = {"round": index, "policy": str(policy), "before": {"prm": str(old_prm), **before},
                      "after": {"prm": str(trained.prm_dir), **after,
                                "own_trees": tree_metrics(trees, by_id, new, domain)},
                      "prm_search": found["prm_search"], "train_metrics": {"before": manifest["metrics"]["prm"],
                                                                          "after": trained.metrics},
                      "trajectories": len(sampled), "dev_trajectories": len(dev_sampled)}
            plot({"before: PRM on the previous policy's trees": before["truth"]["step_vs_truth"],
                  "after: PRM on this policy's trees (on_policy)": after["truth"]["step_vs_truth"],
                  "before, last step vs final answer": before["last_step"],
                  "after, last step vs final answer": after["last_step"]},
                 out / "compare.png", f"round-{index} policy's steps, scored by two PRMs")
            result = strip_roc(result)
            compare_path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")

        if args.pvs and "pvs" not in result:
            reasoner = Reasoner(config, domain, ctx.factory(str(policy)), build_scorer(str(trained.prm_dir), config))
            questions = domain.load_split(config.eval.split, limit=config.eval.limit)
            evaluate(questions, reasoner, modes=["sc", "pvs", "bon-last"], out_dir=out / "eval",
                     label=f"round {index}, on-policy PRM", events=events, split=config.eval.split)
            records, reference = per_question(out / "eval" / "questions.jsonl"), per_question(round_dir / "eval" / "questions.jsonl")
            result["pvs"] = {f"{m} vs round's {r}": paired(records, reference, m, r) for m, r in
                             (("sc", "sc"), ("pvs", "pvs"), ("pvs", "sc"), ("bon-last", "bon-last"))}
            compare_path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    (out / "compare.md").write_text(markdown(result) + "\n", encoding="utf-8")
    print(markdown(result))
    print(out / "compare.png")


def markdown(result: dict) -> str:
    def auc(part: dict, *keys: str) -> str:
        value = part
        for key in keys:
            value = (value or {}).get(key)
        return "-" if value is None else f"{value:.3f}"

    before, after = result["before"], result["after"]
    lines = [f"# Round {result['round']}: the PRM trained off-policy (before) and on-policy (after)", "",
             f"Both PRMs score the same {result['trajectories']} sampled solutions of the round's policy "
             f"({result['dev_trajectories']} dev ones choose the first-error threshold).", "",
             "| check | before | after |", "|---|---|---|",
             f"| step AUC vs the true label ({before['truth']['step_vs_truth']['steps']} steps, "
             f"{before['truth']['step_vs_truth']['positive']} correct) | {auc(before, 'truth', 'step_vs_truth', 'auc')} "
             f"| {auc(after, 'truth', 'step_vs_truth', 'auc')} |",
             f"| last step vs final correctness | {auc(before, 'last_step', 'auc')} | {auc(after, 'last_step', 'auc')} |",
             f"| first-error F1 (threshold from dev) | {auc(before, 'truth', 'first_error', 'f1')} "
             f"| {auc(after, 'truth', 'first_error', 'f1')} |",
             f"| held-out AUC at training (MC labels) | {auc(result['train_metrics'], 'before', 'auc')} "
             f"| {auc(result['train_metrics'], 'after', 'auc')} |",
             f"| on its own trees: PRM vs dual MC / tree Q vs truth | - | {auc(after, 'own_trees', 'prm_vs_dual_mc', 'auc')} "
             f"/ {auc(after, 'own_trees', 'q_vs_truth', 'auc')} |", ""]
    search = result["prm_search"]
    lines.append(f"The on-policy search: {search['search_questions']} questions, {search['solved']} solved, "
                 f"{search['search_tokens']} generated tokens, {search['pos']} pos / {search['neg']} neg trajectories.")
    if "pvs" in result:
        lines += ["", "| mode (new PRM) | accuracy % | vs the round's own (pts, 95% paired bootstrap) |", "|---|---|---|"]
        for name, row in result["pvs"].items():
            lines.append(f"| {name} | {100 * row['accuracy']:.1f} | {100 * row['diff']:+.1f} "
                         f"[{100 * row['diff_low']:+.1f}, {100 * row['diff_high']:+.1f}] |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
