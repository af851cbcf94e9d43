"""Learning benchmark: does self-evolution make the embedded model reason better, round after round?

    .venv/bin/python bench/learning.py --out runs/learning [--arm base|cold|both] [--rounds 3] [--set k=v ...]
    .venv/bin/python bench/learning.py --task arc-easy --out runs/learning-arc   # the ARC-Easy rerun

`--task arith` (the default) creates two generated domains: `learn-arith` (two-number additions up to
30: 300+ search, 200 test, 50 dev and 200 cold-start questions, all from disjoint seeds) and
`learn-arith-hard` (three terms: 100 test questions, the harder level). It then runs `evolve run`
rounds with configs/learning-cpu.yaml, once per arm:
- `base` starts every round from the base model (R1-Zero-like);
- `cold` first fine-tunes on 200 gold solutions of the `cold` split (R1's stage 1).
After the rounds, every round's policy (and PRM) answers the harder level too (OUT/ARM/round-i/eval-hard),
the `cold` arm's cold-start policy answers both levels before any search (OUT/cold/round-0/cold-start-eval and
cold-start-eval-hard; round 0 itself is the base model in both arms, the reference of every diff), and every
round's PRM is checked against the step truth and against its own MC labels
(OUT/ARM/round-i/prm-eval). Interrupt it at any time: the same command resumes at the first unfinished
piece. Results: OUT/learning.json, OUT/learning.md and OUT/learning.png.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
ARC = ROOT.parent / "shared" / "data" / "arc_easy"
ARC_MAP = ["question=question.stem", "options=question.choices", "answer=answerKey"]
TRAIN_DOMAIN, HARD_DOMAIN = "learn-arith", "learn-arith-hard"
PRM_CHECK_QUESTIONS = 100  # test questions whose sampled solutions the PRM check scores
LEVELS = {"train": "2 terms up to 30", "hard": "3 terms up to 20"}
LEVEL_EVALS = {"train": "eval", "hard": "eval-hard"}  # level -> the eval folder in every round
COLD_START_EVALS = {"eval": "cold-start-eval", "eval-hard": "cold-start-eval-hard"}  # round-0 level folder -> its twin
COLD_START = "0 + cold start"  # the round label of the cold-start policy's rows


def ensure_arith_domains(search: int) -> None:
    from domains.builder import add_generated_domain
    from domains.registry import user_domains_root

    if not (user_domains_root() / TRAIN_DOMAIN / "domain.yaml").exists():
        add_generated_domain(TRAIN_DOMAIN, "arith", params={"terms": "2", "high": "30"},
                             sizes={"search": search, "dev": 50, "test": 200, "cold": 200},
                             description="learning benchmark: two-number additions up to 30")
    if not (user_domains_root() / HARD_DOMAIN / "domain.yaml").exists():
        add_generated_domain(HARD_DOMAIN, "arith", params={"terms": "3", "high": "20"}, seed=1,
                             sizes={"search": 1, "dev": 0, "test": 100, "cold": 0},
                             description="learning benchmark, harder level: three-number additions up to 20")


def ensure_arc_domain(name: str, source: Path) -> Path:
    from domains.builder import add_domain, parse_mappings
    from domains.registry import user_domains_root

    target = user_domains_root() / name
    if not (target / "domain.yaml").exists():
        add_domain(name, str(source), "mcq", parse_mappings(ARC_MAP), description="ARC-Easy grade-school science",
                   dev_fraction=0.0)
    return target


# ---------------------------------------------------------------------------------------------- runs


def manifest(arm_dir: Path, index: int) -> dict:
    return json.loads((arm_dir / f"round-{index}" / "manifest.json").read_text(encoding="utf-8"))


def round_models(arm_dir: Path, index: int) -> tuple[str | None, str | None]:
    """The round's policy and PRM folders (round 0: the base model, in both arms)."""
    models = manifest(arm_dir, index)["models"]
    policy = models.get("policy")
    return (str(arm_dir / policy) if policy else None), (str(arm_dir / models["prm"]) if models.get("prm") else None)


def cold_start_policy(arm_dir: Path) -> str | None:
    """The cold-start adapter recorded in round 0, where the arm has one."""
    adapter = manifest(arm_dir, 0)["models"].get("cold_start")
    return str(arm_dir / adapter) if adapter else None


def prm_trees(config, round_dir: Path) -> Path:
    """The trees whose MC labels the round's PRM trained on: with prm.on_policy, the second search by
    the round's own policy (round-r/prm-search), else the round's search."""
    from evolve.rounds.stages import PRM_SEARCH

    on_policy = round_dir / PRM_SEARCH / "trees.jsonl"
    return on_policy if config.prm.on_policy and on_policy.exists() else round_dir / "trees.jsonl"


def extra_evals(config, arm_dir: Path, rounds: int, prm_samples: int, events, first: int = 0) -> None:
    """The harder level and the PRM truth check for every round from `first` on (the cold-start policy's
    only when `first` is 0), each skipped once written."""
    from domains import load_domain
    from evolve.api import Reasoner, build_generator, build_scorer
    from evolve.eval.evaluate import evaluate
    from evolve.eval.prm_eval import evaluate_prm, write_prm_report
    from evolve.search.records import read_records

    domain = load_domain(config.data.domain)
    hard = load_domain(HARD_DOMAIN).load_split("test")
    test = domain.load_split("test", limit=config.eval.limit)
    dev = domain.load_split("dev")
    for index in range(first, rounds + 1):
        policy, prm = round_models(arm_dir, index)
        round_dir = arm_dir / f"round-{index}"
        scorer = build_scorer(prm, config) if prm else None
        reasoner = Reasoner(config, domain, lambda p=policy: build_generator(config.model, p), scorer)
        if not (round_dir / "eval-hard" / "eval.json").exists():
            modes = config.eval.modes if scorer else list(config.run.baseline_modes)
            evaluate(hard, reasoner, modes=modes, out_dir=round_dir / "eval-hard", label=f"round {index}, harder level",
                     events=events, split=f"{HARD_DOMAIN}:test")
        if scorer and not (round_dir / "prm-eval" / "prm_eval.json").exists():
            trees = list(read_records(prm_trees(config, round_dir)))
            report = evaluate_prm(reasoner, test[:PRM_CHECK_QUESTIONS], dev, samples=prm_samples, prm_name=prm,
                                  trees=trees, events=events)
            write_prm_report(report, round_dir / "prm-eval")
    cold = cold_start_policy(arm_dir) if first == 0 else None
    if cold:  # what the cold start alone did, before any search: both levels, the modes without a PRM
        reasoner = Reasoner(config, domain, lambda: build_generator(config.model, cold), None)
        for split, questions, folder in ((f"{config.data.domain}:test", test, COLD_START_EVALS["eval"]),
                                         (f"{HARD_DOMAIN}:test", hard, COLD_START_EVALS["eval-hard"])):
            if not (arm_dir / "round-0" / folder / "eval.json").exists():
                evaluate(questions, reasoner, modes=list(config.run.baseline_modes), out_dir=arm_dir / "round-0" / folder,
                         label=f"cold-start policy, {folder}", events=events, split=split)


# ---------------------------------------------------------------------------------------------- analysis


def per_question(path: Path) -> dict[str, dict]:
    """question id -> its record in questions.jsonl (mode -> correct, answer; candidates)."""
    return {r["id"]: r for r in map(json.loads, path.read_text(encoding="utf-8").splitlines())}


def mode_rows(records: dict[str, dict], reference: dict[str, dict], level: str, index: int, n: int) -> list[dict]:
    from evolve.eval.stats import mcnemar, paired_bootstrap_diff, wilson_interval

    ids = sorted(records)
    ref = [bool(reference[i]["modes"]["cot"]["correct"]) for i in ids]
    columns = {mode: [bool(records[i]["modes"][mode]["correct"]) for i in ids] for mode in records[ids[0]]["modes"]}
    shared = next((m for m in ("sc", "pvs", "bon-last") if m in records[ids[0]]["modes"]), None)
    if shared:  # pass@N: any of the N shared samples right
        columns[f"pass@{n}"] = [any(c["correct"] for c in records[i]["modes"][shared]["candidates"]) for i in ids]
    golds = [str(records[i]["gold"]) for i in ids]
    rows = []
    for mode, correct in columns.items():
        k = sum(correct)
        low, high = wilson_interval(k, len(ids))
        diff, dlow, dhigh = paired_bootstrap_diff(correct, ref, 10_000, seed=0)
        top, share, tokens, chance, beyond = "", None, [], None, None
        if mode in records[ids[0]]["modes"]:  # a real mode, not pass@N
            answers = [records[i]["modes"][mode]["answer"] for i in ids]
            top, count = Counter(map(str, answers)).most_common(1)[0]
            share = count / len(ids)
            tokens = [t for i in ids if (t := records[i]["modes"][mode].get("tokens")) is not None]
            chance, beyond = prior_matched_chance(answers, golds), beyond_prior_p(answers, golds)
        rows.append({"level": level, "round": index, "mode": mode, "correct": k, "n": len(ids), "accuracy": k / len(ids),
                     "low": low, "high": high, "diff_vs_round0_cot": diff, "diff_low": dlow, "diff_high": dhigh,
                     "mcnemar_p": mcnemar(sum(r and not c for c, r in zip(correct, ref)),
                                          sum(c and not r for c, r in zip(correct, ref))),
                     "mean_tokens": sum(tokens) / len(tokens) if tokens else None,
                     "top_answer": top, "top_share": share, "prior_chance": chance,
                     "beyond_prior_p": beyond})
    return rows


def prior_matched_chance(answers: list, golds: list[str]) -> float:
    """The accuracy of a guesser that ignores the question and draws each answer from this mode's own answer
    distribution: sum over answers a of P(mode says a) * P(gold is a). A mode that is no better than this has
    learned an answer prior (a favourite letter), not the questions. Missing answers (None) count as wrong."""
    said, gold = Counter(a for a in answers if a is not None), Counter(golds)
    return sum(count * gold[str(a)] for a, count in said.items()) / (len(answers) * len(golds))


def beyond_prior_p(answers: list, golds: list[str], trials: int = 10_000, seed: int = 0) -> float:
    """One-sided permutation p-value that a mode knows more than its answer prior: the share of shuffles of
    its own answers over the questions (the same answers, each question ignored) that score at least as
    well as the mode did. A mode that only learned a favourite letter gets a large p."""
    import numpy as np

    said = np.array(["\0" if a is None else str(a) for a in answers])  # "\0" matches no gold: a missing answer
    gold = np.array([str(g) for g in golds])
    observed = int((said == gold).sum())
    shuffled = np.random.default_rng(seed).permuted(np.tile(said, (trials, 1)), axis=1)
    as_good = int(((shuffled == gold).sum(axis=1) >= observed).sum())
    return (1 + as_good) / (1 + trials)


def best_constant_answer(golds: list[str]) -> tuple[str, float]:
    """The answer-prior baseline: the single answer that scores best when given to every question."""
    answer, count = Counter(golds).most_common(1)[0]
    return answer, count / len(golds)


def analyse_arm(arm_dir: Path, rounds: int, n: int, levels: dict[str, str]) -> dict:
    rows, per_round, baselines = [], [], {}
    for level, folder in levels.items():
        base = arm_dir / "round-0" / folder / "questions.jsonl"
        if not base.exists():
            continue
        reference = per_question(base)
        answer, accuracy = best_constant_answer([str(r["gold"]) for r in reference.values()])
        baselines[level] = {"answer": answer, "accuracy": accuracy}
        for index in range(rounds + 1):
            path = arm_dir / f"round-{index}" / folder / "questions.jsonl"
            if path.exists():
                rows += mode_rows(per_question(path), reference, level, index, n)
            cold = arm_dir / "round-0" / COLD_START_EVALS.get(folder, "-") / "questions.jsonl"
            if index == 0 and cold.exists():  # the cold-start policy: after the base model, before round 1
                rows += mode_rows(per_question(cold), reference, level, COLD_START, n)
    for index in range(rounds + 1):
        path = arm_dir / f"round-{index}" / "manifest.json"
        if not path.exists():
            continue
        data = manifest(arm_dir, index)
        prm_eval = arm_dir / f"round-{index}" / "prm-eval" / "prm_eval.json"
        check = json.loads(prm_eval.read_text(encoding="utf-8")) if prm_eval.exists() else {}
        per_round.append({"round": index, "timings": data.get("timings", {}), "data": data.get("data", {}),
                          "prm": (data.get("metrics") or {}).get("prm"), "policy": (data.get("metrics") or {}).get("policy"),
                          "prm_check": check})
    return {"rows": rows, "rounds": per_round, "baselines": baselines}


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def _p(x: float | None) -> str:
    return "-" if x is None else f"{x:.3g}"


def _auc(check: dict, *keys: str) -> str:
    value = check
    for key in keys:
        value = (value or {}).get(key)
    if isinstance(value, dict):
        value = value.get("auc")
    return "-" if value is None else f"{value:.3f}"


def markdown(result: dict) -> str:
    levels = result.get("levels", LEVELS)
    lines = []
    for arm, data in result["arms"].items():
        lines += [f"## Arm `{arm}`", "",
                  "Diff = accuracy minus round-0 greedy CoT on the same questions, 95% paired bootstrap; "
                  "top = the most common answer and its share (a constant answer would show here); prior chance = "
                  "what this mode's own answer distribution scores when drawn without reading the question; p beyond prior = "
                  "the share of 10,000 shuffles of the mode's answers over the questions that score as well (small: "
                  "the mode reads the questions).", ""]
        for level, base in data.get("baselines", {}).items():
            lines.append(f"Answer-prior baseline, {levels.get(level, level)}: answering \"{base['answer']}\" to every "
                         f"question scores {_pct(base['accuracy'])}%.")
        lines += ["", "| level | round | mode | accuracy % [95% Wilson] | diff vs round-0 CoT (pts) [95%] | McNemar p "
                  "| tokens / question | top answer | prior chance % | p beyond prior |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for r in data["rows"]:
            top = f"{r['top_answer']} ({_pct(r['top_share'])}%)" if r["top_share"] is not None else "-"
            tokens = "-" if r["mean_tokens"] is None else f"{r['mean_tokens']:.1f}"
            lines.append(f"| {levels.get(r['level'], r['level'])} | {r['round']} | {r['mode']} | {_pct(r['accuracy'])} "
                         f"[{_pct(r['low'])}, {_pct(r['high'])}] | {100 * r['diff_vs_round0_cot']:+.1f} "
                         f"[{100 * r['diff_low']:+.1f}, {100 * r['diff_high']:+.1f}] | {r['mcnemar_p']:.3g} | {tokens} | {top} "
                         f"| {_pct(r.get('prior_chance'))} | {_p(r.get('beyond_prior_p'))} |")
        lines += ["", "| round | pos / neg | PRM step AUC vs truth | vs dual MC | vs soft MC | tree Q vs truth "
                  "| last-step AUC | stage seconds |", "|---|---|---|---|---|---|---|---|"]
        for r in data["rounds"]:
            d, check = r["data"], r["prm_check"]
            times = ", ".join(f"{k} {v:.0f}" for k, v in r["timings"].items() if " " not in k)  # not "eval cot"
            pos_neg = f"{d.get('pos', '-')} / {d.get('neg', '-')}"
            lines.append(f"| {r['round']} | {pos_neg} | {_auc(check, 'truth', 'step_vs_truth')} | {_auc(check, 'tree', 'prm_vs_dual_mc')} "
                         f"| {_auc(check, 'tree', 'prm_vs_soft_mc')} | {_auc(check, 'tree', 'q_vs_truth')} "
                         f"| {_auc(check, 'last_step')} | {times} |")
        lines.append("")
    return "\n".join(lines)


def _x(round_label: int | str) -> float:
    """Where a round sits on the plot's x axis: the cold-start policy half-way between round 0 and round 1."""
    return 0.5 if round_label == COLD_START else float(round_label)


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arms = list(result["arms"])
    names = result.get("levels", LEVELS)
    levels = [lv for lv in names if any(r["level"] == lv for a in arms for r in result["arms"][a]["rows"])]
    fig, axes = plt.subplots(1, max(1, len(levels)), figsize=(6.5 * max(1, len(levels)), 4.6), squeeze=False)
    colours = {"cot": "#1f77b4", "sc": "#ff7f0e", "pvs": "#2ca02c", "bon-last": "#9467bd", "pass@8": "#7f7f7f"}
    styles = {"base": "-", "cold": "--"}
    for ax, level in zip(axes[0], levels):
        for arm in arms:
            rows = [r for r in result["arms"][arm]["rows"] if r["level"] == level]
            for mode in dict.fromkeys(r["mode"] for r in rows):
                pts = sorted((_x(r["round"]), r["accuracy"], r["low"], r["high"]) for r in rows if r["mode"] == mode)
                xs, ys = [p[0] for p in pts], [100 * p[1] for p in pts]
                err = [[100 * (p[1] - p[2]) for p in pts], [100 * (p[3] - p[1]) for p in pts]]
                ax.errorbar(xs, ys, yerr=err, label=f"{mode} ({arm})", color=colours.get(mode, "black"),
                            linestyle=styles.get(arm, ":"), marker="o", capsize=3, linewidth=1.6)
        base = next((result["arms"][a].get("baselines", {}).get(level) for a in arms), None)
        if base:  # what a constant answer scores: gains below this line are not knowledge
            ax.axhline(100 * base["accuracy"], color="black", linestyle=":", linewidth=1,
                       label="best constant answer" if ax is axes[0][0] else None)
            ax.annotate(f"always \"{base['answer']}\": {_pct(base['accuracy'])}%", (0.5, 100 * base["accuracy"]),
                        xycoords=("axes fraction", "data"), xytext=(0, 3), textcoords="offset points",
                        ha="center", va="bottom", fontsize=8,  # between the rounds' markers, readable over a line
                        bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 1})
        ax.set_title(f"{names[level]} ({'held-out test' if level == 'train' else 'harder, held-out'})")
        ax.set_xlabel("round (0 = base model)")
        ax.set_ylabel("accuracy % (95% Wilson)")
        ax.set_ylim(0, 100)
        ticks = sorted({r["round"] for a in arms for r in result["arms"][a]["rows"]}, key=_x)
        ax.set_xticks([_x(t) for t in ticks], ["cold\nstart" if t == COLD_START else str(t) for t in ticks])
        ax.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    fig.suptitle(f"Self-evolution of the embedded 135M model on {result.get('title', 'generated additions')}")
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


# ---------------------------------------------------------------------------------------------- main


def run_arith(args) -> None:
    from evolve.cli.render import progress_sink
    from evolve.config import ColdStartConfig, load_config
    from evolve.rounds.runner import run_rounds

    search = int(next((o.split("=", 1)[1] for o in args.overrides if o.startswith("search.limit=")), 300))
    ensure_arith_domains(max(search, 300))
    overrides = [*args.overrides, *([f"run.rounds={args.rounds}"] if args.rounds else [])]
    arms = ["base", "cold"] if args.arm == "both" else [args.arm]
    result = {"task": "arith"}
    for arm in arms:
        config = load_config(args.config, overrides)
        if arm == "cold":
            config.policy.cold_start = ColdStartConfig(source="generated", size=200)
        arm_dir = args.out / arm
        rounds = config.run.rounds
        with progress_sink(args.quiet) as events:
            for done in range(1, rounds + 1):  # one round at a time, each with its extra checks (resumable)
                config.run.rounds = done
                run_rounds(config, arm_dir, force=args.force, events=events)
                extra_evals(config, arm_dir, done, args.prm_samples, events, first=args.checks_from)
    result["arms"] = analyse_out(args.out, config.eval.n)
    write_results(args.out, result)


def analyse_out(out: Path, n: int) -> dict[str, dict]:
    """Every arm in `out`, not only the one a call ran: `--arm cold` keeps the base arm's rows in the report."""
    arms = {}
    for arm in ("base", "cold"):
        rounds = [int(d.name.split("-")[1]) for d in (out / arm).glob("round-*")]
        if rounds:
            arms[arm] = analyse_arm(out / arm, max(rounds), n, LEVEL_EVALS)
    return arms


def run_arc(args) -> None:
    from evolve.cli.render import progress_sink
    from evolve.config import load_config
    from evolve.rounds.runner import run_rounds

    ensure_arc_domain("arc-easy", ARC / "train.jsonl")
    test_file = ensure_arc_domain("arc-easy-test", ARC / "test.jsonl") / "seeds.jsonl"
    overrides = [f"eval.split={test_file}", *args.overrides, *([f"run.rounds={args.rounds}"] if args.rounds else [])]
    config = load_config(ROOT / "configs" / "arc-easy-cpu.yaml" if args.config == DEFAULT_CONFIG else args.config,
                         overrides)
    with progress_sink(args.quiet) as events:
        run_rounds(config, args.out / "base", force=args.force, events=events)
    result = {"task": "arc-easy", "title": "ARC-Easy", "levels": {"train": "ARC-Easy, first 200 of test"},
              "arms": {"base": analyse_arm(args.out / "base", config.run.rounds, config.eval.n, {"train": "eval"})}}
    write_results(args.out, result)


def write_results(out: Path, result: dict) -> None:
    (out / "learning.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    text = markdown(result)
    (out / "learning.md").write_text(text + "\n", encoding="utf-8")
    plot(result, out / "learning.png")
    print(text)
    print(out / "learning.png")


DEFAULT_CONFIG = ROOT / "configs" / "learning-cpu.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", choices=["arith", "arc-easy"], default="arith")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "learning")
    parser.add_argument("--arm", choices=["base", "cold", "both"], default="both")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--prm-samples", type=int, default=4, help="sampled solutions per question for the PRM check")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="override a config key")
    parser.add_argument("--force", action="store_true", help="continue the run under a changed config (recorded)")
    parser.add_argument("--checks-from", type=int, default=0, metavar="R",
                        help="run the harder-level and PRM checks only for rounds >= R (the cold-start policy's only "
                             "when R is 0): spends a short session on a later round when the earlier rounds' checks "
                             "were measured before; the report then lacks their rows")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    (run_arith if args.task == "arith" else run_arc)(args)


if __name__ == "__main__":
    main()
