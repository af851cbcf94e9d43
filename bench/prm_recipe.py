"""Which PRM recipe ranks steps best? Variants of one round's PRM, trained on the same rows and scored on
the same sampled steps against the truth.

    EVOLVE_HOME=runs/learning-home .venv/bin/python bench/prm_recipe.py --run runs/learning/base --round 1 \\
        --variant e3-lr5e-4 prm.epochs=3 prm.learning_rate=5e-4 \\
        --variant policy-init prm.init=policy [--variant NAME KEY=VALUE ...]

It takes a finished round of `bench/learning.py` and the rows its PRM trained on (`round-r/prm-search/data`
when the run used `prm.on_policy`, else `round-r/data`). Each variant is the run's config.yaml as it is
now with its `KEY=VALUE` overrides of the `prm` section (for example `prm.init=policy`, which starts the
PRM from the round's policy). A run continued with `--force` under other PRM settings keeps only the
latest in config.yaml, so name every `prm` key a variant depends on; compare.json records each
variant's whole `prm` section. Every variant trains on those rows, and then it scores the same solutions as the round's
own PRM: the round's policy sampled once, 4 per question, on the first 100 test questions and the dev
set. The dev set chooses the first-error threshold. So the comparison is paired, step for step.

Everything goes to RUN/round-r/prm-recipe/: samples.pkl (the sampled solutions), NAME/prm (each variant),
compare.json, compare.md and compare.png (ROC curves against the truth) for the variants named in this
command. Trained variants and the samples are kept, so the command resumes, and naming a variant again
later costs only its scoring. `--confidence` adds a reference row that trains nothing: the round's policy
scoring each step by its probability of the step's least likely digit (bench/step_confidence.py).
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from learning import PRM_CHECK_QUESTIONS  # noqa: E402
from prm_on_policy import check, plot, rescored, strip_roc  # noqa: E402

ROUND_PRM = "the round's own PRM"
CONFIDENCE = "the policy's confidence (no PRM)"


def step_clusters(a: list, b: list) -> list[list[tuple[float, float, int]]]:
    """Per test question, its non-neutral steps as (score by a, score by b, truly correct): a question's
    steps are resampled together in the interval of the AUC difference."""
    clusters: dict[str, list] = {}
    for x, y in zip(a, b, strict=True):
        clusters.setdefault(x.question.id, []).extend(
            (sa, sb, int(label == "correct")) for sa, sb, label in zip(x.scores, y.scores, x.labels) if label != "neutral")
    return list(clusters.values())


def parse_variants(items: list[list[str]]) -> dict[str, list[str]]:
    variants = {}
    for name, *overrides in items:
        bad = [o for o in overrides if "=" not in o or not o.startswith("prm.")]
        if bad or name in variants or name == ROUND_PRM or "=" in name or "/" in name:
            sys.exit(f"--variant {name}: give a new name (a folder name), then prm.KEY=VALUE overrides "
                     f"(not {' '.join(bad) or name})")
        variants[name] = overrides
    return variants


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, required=True, help="an arm folder of bench/learning.py (runs/learning/base)")
    parser.add_argument("--round", type=int, default=1)
    parser.add_argument("--variant", nargs="+", action="append", default=[], metavar="NAME [prm.KEY=VALUE ...]",
                        help="a PRM recipe to train and compare (repeatable)")
    parser.add_argument("--prm-samples", type=int, default=4)
    parser.add_argument("--confidence", action="store_true",
                        help="also score the steps by the policy's probability of their least likely digit "
                             "(bench/step_confidence.py): what the policy itself knows, as a reference")
    args = parser.parse_args()
    variants = parse_variants(args.variant)

    from domains import load_domain
    from evolve.api import Reasoner, base_folder, build_scorer
    from evolve.cli.render import progress_sink
    from evolve.config import load_config
    from evolve.eval.prm_eval import sample
    from evolve.eval.stats import paired_auc_diff
    from evolve.rounds.runner import KeepLast, default_factory
    from evolve.rounds.stages import PRM_SEARCH
    from evolve.train.harvest import read_parquet
    from evolve.train.prm import train_prm

    run, index = args.run, args.round
    round_dir = run / f"round-{index}"
    manifest = json.loads((round_dir / "manifest.json").read_text(encoding="utf-8"))
    config = load_config(run / "config.yaml")
    domain = load_domain(config.data.domain)
    policy, round_prm = run / manifest["models"]["policy"], run / manifest["models"]["prm"]
    data_dir = round_dir / PRM_SEARCH / "data" if config.prm.on_policy else round_dir / "data"
    rows = read_parquet(data_dir / "prm.parquet")
    out = round_dir / "prm-recipe"
    out.mkdir(parents=True, exist_ok=True)

    with progress_sink(False) as events:
        trained, seconds, configs = {}, {}, {ROUND_PRM: config}
        for name, overrides in variants.items():
            variant = configs[name] = load_config(run / "config.yaml", overrides)
            started = time.perf_counter()
            trained[name] = train_prm(rows, base_dir=base_folder(variant.prm.base or variant.model.spec),
                                      out_dir=out / name, config=variant.prm,
                                      init_adapter=str(policy) if variant.prm.init == "policy" else None,
                                      threads=variant.model.threads, events=events)
            seconds[name] = trained[name].seconds or time.perf_counter() - started

        cache, drawn_by = out / "samples.pkl", {"policy": str(policy.resolve()), "per_question": args.prm_samples}
        if cache.exists():
            cached = pickle.loads(cache.read_bytes())
            if cached["drawn_by"] != drawn_by:
                sys.exit(f"{cache} holds samples drawn by {cached['drawn_by']}, not {drawn_by}: delete it to sample anew")
            test_samples, dev_samples = cached["test"], cached["dev"]
        else:
            reasoner = Reasoner(config, domain, KeepLast(default_factory(config))(str(policy)),
                                build_scorer(str(round_prm), config))
            test = domain.load_split("test", limit=config.eval.limit)[:PRM_CHECK_QUESTIONS]
            test_samples = sample(reasoner, test, args.prm_samples, events=events, task="sample test")
            dev_samples = sample(reasoner, domain.load_split("dev"), args.prm_samples, events=events, task="sample dev")
            cache.write_bytes(pickle.dumps({"drawn_by": drawn_by, "test": test_samples, "dev": dev_samples}))

        result, curves, scored = {"variants": {}}, {}, {}  # this invocation's variants, all on the same samples
        scorers = [(ROUND_PRM, str(round_prm)), *((n, t.prm_dir) for n, t in trained.items())]
        if args.confidence:
            scorers.append((CONFIDENCE, str(policy)))
        for name, prm_dir in scorers:
            if name == CONFIDENCE:
                from step_confidence import PolicyConfidence

                scorer = PolicyConfidence(config, domain, prm_dir, [s.question for s in test_samples + dev_samples])
            else:
                scorer = build_scorer(prm_dir, configs[name])
            scored[name] = rescored(test_samples, scorer, domain)
            checked = check(scored[name], rescored(dev_samples, scorer, domain))
            curves[name] = checked["truth"]["step_vs_truth"]
            if name == ROUND_PRM:
                train_metrics = manifest["metrics"]["prm"]
            elif name == CONFIDENCE:
                train_metrics = None
            else:
                losses = trained[name].losses
                train_metrics = {**trained[name].metrics, "last_loss": round(losses[-1], 4) if losses else None}
            result["variants"][name] = {"overrides": variants.get(name, []), "prm": prm_dir,
                                        "prm_config": configs[name].prm.model_dump(mode="json") if name in variants else None,
                                        "train": train_metrics, "train_seconds": seconds.get(name),
                                        **strip_roc(checked)}
        for name in [*trained, *([CONFIDENCE] if args.confidence else [])]:
            diff, low, high = paired_auc_diff(step_clusters(scored[name], scored[ROUND_PRM]), iters=2000, seed=0)
            result["variants"][name]["vs_round_prm"] = {"diff": diff, "low": low, "high": high}
        result.update(round=index, policy=str(policy), trajectories=len(test_samples),
                      dev_trajectories=len(dev_samples), rows=len(rows), rows_from=str(data_dir))
        (out / "compare.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    plot(curves, out / "compare.png", f"round-{index} policy's steps: PRM recipes against the truth")
    (out / "compare.md").write_text(markdown(result) + "\n", encoding="utf-8")
    print(markdown(result))
    print(out / "compare.png")


def markdown(result: dict) -> str:
    def fmt(value) -> str:
        return "-" if value is None else f"{value:.3f}"

    lines = [f"# Round {result['round']}: PRM recipes on the same {result['trajectories']} sampled solutions", "",
             f"Every PRM trained on the same {result['rows']} trajectories ({result['rows_from']}); "
             f"{result['dev_trajectories']} dev solutions choose the first-error threshold.", "",
             "Diff: its step AUC minus the round's own PRM's, with a 95% interval from resampling test questions.", "",
             "| PRM | overrides | step AUC vs truth | diff [95%] | last step vs final answer | first-error F1 "
             "| held-out AUC vs MC labels | final training loss | training s |", "|---|---|---|---|---|---|---|---|---|"]
    for name, v in result["variants"].items():
        truth, train = v["truth"], v["train"] or {}
        loss, vs = train.get("last_loss"), v.get("vs_round_prm")
        diff = f"{vs['diff']:+.3f} [{vs['low']:+.3f}, {vs['high']:+.3f}]" if vs and vs["diff"] is not None else "-"
        lines.append(f"| {name} | {' '.join(v['overrides']) or ('(as the round trained it)' if name == ROUND_PRM else '-')} | {fmt(truth['step_vs_truth']['auc'])} "
                     f"({truth['step_vs_truth']['steps']} steps) | {diff} | {fmt(v['last_step']['auc'])} "
                     f"| {fmt(truth['first_error'].get('f1'))} | {fmt(train.get('auc'))} | {fmt(loss)} "
                     f"| {'-' if v['train_seconds'] is None else round(v['train_seconds'])} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
