"""MedS3 against DeepSeek-R1 on the same generated domain, model, held-out sets and generated-token
budget (not CI).

    .venv/bin/python bench/sft_vs_grpo.py --meds3 runs/learning/base --out runs/sft-vs-grpo \\
        [--arms grpo,grpo-prm] [--rounds 1]

Arms:
- `meds3`: MCTS, SFT and the PRM. This is the learning benchmark's base arm (bench/learning.py), read
  from `--meds3`, not re-run.
- `grpo`: GRPO (TRL) with the verifier and format rewards.
- `grpo-prm`: the same, plus the PRM-shaped reward (the MedS3 arm's PRM of the same round).

Every arm starts where the MedS3 run did: from the base model (R1-Zero-like), or, for a `--meds3` run
with a cold start (`bench/learning.py --arm cold`), from the same cold-start stage at the same seed
(R1-like). Use another --out for each start. Each GRPO round stops once its completions total
the generated tokens of the MedS3 round's search and rollouts (`policy.token_budget`). Every arm is
evaluated on the same 200 test additions (CoT, SC@8, and P-VS@8 where a PRM exists, plus pass@8) and on
the harder three-term level. Each is compared with the MedS3 arm question by question: a paired
bootstrap interval and an exact McNemar test, and with its own previous round (round 1 with the base
model). Results: OUT/sft_vs_grpo.json, .md and .png (accuracy against generated tokens), for every arm
found in OUT and every round MedS3 has, whichever arms this call ran.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from learning import COLD_START_EVALS, HARD_DOMAIN, LEVEL_EVALS, ensure_arith_domains, manifest, per_question  # noqa: E402

GRPO_SETTINGS = ["policy.method=grpo", "policy.learning_rate=5e-5", "policy.epochs=1", "policy.batch_size=8",
                 "policy.checkpoint_every=10", "policy.grpo.num_generations=4",
                 "policy.grpo.max_completion_length=64", "policy.grpo.temperature=0.8", "policy.grpo.beta=0.0",
                 "prm.enabled=false", "run.baseline=false"]


ARMS = {"grpo": "GRPO with the verifier and format rewards",
        "grpo-prm": "the same, plus the PRM-shaped reward (MedS3's PRM of the same round)"}


def start_cot(meds3: Path) -> tuple[str, dict[str, float]]:
    """Where every arm starts, as MedS3's did ("base model" or "cold start"), and that policy's greedy CoT
    accuracy per level: round 0's evals, or their cold-start twins (`bench/learning.py` writes both)."""
    cold = cold_start(meds3) is not None
    base = {}
    for level, folder in LEVEL_EVALS.items():
        path = meds3 / "round-0" / (COLD_START_EVALS[folder] if cold else folder) / "questions.jsonl"
        if path.exists():
            records = per_question(path)
            base[level] = sum(bool(r["modes"]["cot"]["correct"]) for r in records.values()) / len(records)
    return ("cold start" if cold else "base model"), base


def cold_start(meds3: Path) -> dict | None:
    """The MedS3 run's cold start (`policy.cold_start` of its config.yaml), or None if it began at the base model."""
    from evolve.config import load_config

    start = load_config(meds3 / "config.yaml").policy.cold_start
    return start.model_dump(mode="json") if start else None


def arm_settings(arm: str, meds3: Path, index: int, budget: int | None = None) -> list[str]:
    """`budget`: generated tokens for the GRPO round (default: the MedS3 round's search tokens)."""
    budget = budget or manifest(meds3, index)["data"]["search_tokens"]
    settings = [*GRPO_SETTINGS, f"policy.token_budget={budget}"]
    if start := cold_start(meds3):  # the same cold-start stage as MedS3's, so both arms begin alike
        settings += [f"policy.cold_start.{key}={value}" for key, value in sorted(start.items())]
    if arm == "grpo-prm":
        prm = meds3 / manifest(meds3, index)["models"]["prm"]
        settings += ["policy.rewards.prm=0.5", f"policy.reward_prm={prm}"]
    else:
        settings += ["eval.modes=[cot, sc]"]
    return settings


# Settings that follow the MedS3 round a GRPO round is matched to, so they change from round to round.
PER_ROUND = ("policy.token_budget:", "policy.reward_prm:")


def planned_change(arm_dir: Path, config, plan: list) -> bool:
    """Round N's budget and PRM are MedS3 round N's. While the arm's run recorded one round's config of
    `plan` and `config` differs from it only there, that is the plan, not a changed config. Any other
    change (another --token-budget or --meds3 on a rerun) still needs --force."""
    from evolve.rounds.manifest import config_changes

    changes = config_changes(arm_dir, config)
    return (bool(changes) and all(change.startswith(PER_ROUND) for change in changes)
            and any(not config_changes(arm_dir, planned) for planned in plan))


def hard_eval(config, arm_dir: Path, index: int, events) -> None:
    from domains import load_domain
    from evolve.api import Reasoner, build_generator, build_scorer
    from evolve.eval.evaluate import evaluate

    round_dir = arm_dir / f"round-{index}"
    if (round_dir / "eval-hard" / "eval.json").exists():
        return
    models = manifest(arm_dir, index)["models"]
    policy = str(arm_dir / models["policy"])
    scorer = build_scorer(models["prm"], config) if models.get("prm") else None
    reasoner = Reasoner(config, load_domain(config.data.domain), lambda: build_generator(config.model, policy), scorer)
    modes = [m for m in config.eval.modes if scorer is not None or m in ("cot", "sc")]
    evaluate(load_domain(HARD_DOMAIN).load_split("test"), reasoner, modes=modes, out_dir=round_dir / "eval-hard",
             label=f"round {index}, harder level", events=events, split=f"{HARD_DOMAIN}:test")


def columns(records: dict[str, dict], n: int) -> dict[str, list[bool]]:
    """mode -> correct per question (sorted ids), plus pass@n over the shared SC (or P-VS) samples."""
    ids = sorted(records)
    modes = list(records[ids[0]]["modes"])
    result = {m: [bool(records[i]["modes"][m]["correct"]) for i in ids] for m in modes}
    shared = next((m for m in ("sc", "pvs") if m in modes), None)
    if shared:
        result[f"pass@{n}"] = [any(c["correct"] for c in records[i]["modes"][shared]["candidates"]) for i in ids]
    return result


def paired(correct: list[bool], reference: list[bool], key: str) -> dict:
    """`key`'s paired bootstrap difference (95%, 10,000 resamples) and exact McNemar p, question by question."""
    from evolve.eval.evaluate import compare as paired_test

    test = paired_test("reference", key, reference, correct, seed=0, iters=10_000)
    return {key: test["diff"], f"{key}_low": test["diff_low"], f"{key}_high": test["diff_high"],
            f"{key}_p": test["mcnemar_p"]}


def compare(meds3: Path, arms: dict[str, Path], rounds: int, n: int) -> list[dict]:
    """Per level, round, arm and mode: accuracy, its interval, and paired differences to MedS3's round of the
    same index (equal generated tokens) and to the arm's own previous round (for round 1, the base model's
    round 0 in MedS3's run), in the same mode. GRPO with the PRM reward is also paired with plain GRPO's round
    of the same index, which isolates what the PRM reward adds."""
    from evolve.eval.stats import wilson_interval

    def records(arm_dir: Path, index: int, folder: str) -> dict[str, dict]:
        path = arm_dir / f"round-{index}" / folder / "questions.jsonl"
        return per_question(path) if path.exists() else {}

    rows = []
    for level, folder in (("train", "eval"), ("hard", "eval-hard")):
        for index in range(1, rounds + 1):
            dirs = {"meds3": meds3, **arms}
            answered = {arm: records(arm_dir, index, folder) for arm, arm_dir in dirs.items()}  # each read once
            reference_answers = answered["meds3"]
            if not reference_answers:
                continue
            reference = columns(reference_answers, n)
            for arm, arm_dir in dirs.items():
                answers = answered[arm]
                if not answers:
                    continue
                previous_dir = arm_dir if index > 1 else meds3  # round 0: the base model, in MedS3's run
                previous_answers = records(previous_dir, index - 1, folder)
                plain = answered.get("grpo", {}) if arm == "grpo-prm" else {}
                for name, other in ((f"MedS3 round {index}", reference_answers),
                                    (f"{previous_dir.name} round {index - 1}", previous_answers),
                                    (f"grpo round {index}", plain)):
                    if other and answers.keys() != other.keys():  # pairing needs the same questions
                        raise SystemExit(f"{arm_dir}/round-{index}/{folder}: not the questions {name} answered")
                found = columns(answers, n)
                grpo = columns(plain, n) if plain else {}
                previous = columns(previous_answers, n) if previous_answers else {}
                data = manifest(arm_dir, index)
                tokens = sum(manifest(arm_dir, i)["data"].get("search_tokens") or
                             manifest(arm_dir, i)["data"].get("generated_tokens") or 0
                             for i in range(1, index + 1))  # cumulative over the rounds so far
                seconds = sum(v for k, v in data["timings"].items() if k in ("search", "policy", "prm", "harvest"))
                log = arm_dir / f"round-{index}" / "policy" / "grpo_log.jsonl"
                if log.exists():  # a resumed GRPO stage's timing holds only its last part; TRL times every step
                    seconds = sum(json.loads(line).get("step_time", 0.0) for line in log.read_text().splitlines())
                for mode, correct in found.items():
                    k = sum(correct)
                    low, high = wilson_interval(k, len(correct))
                    row = {"level": level, "round": index, "arm": arm, "mode": mode, "correct": k, "n": len(correct),
                           "accuracy": k / len(correct), "low": low, "high": high, "generated_tokens": tokens,
                           "training_seconds": round(seconds, 1)}
                    if not mode.startswith("pass@"):
                        lengths = [t for r in answers.values() if (t := r["modes"][mode].get("tokens")) is not None]
                        row["mean_tokens"] = sum(lengths) / len(lengths) if lengths else None
                    if arm != "meds3" and mode in reference:
                        row.update(paired(correct, reference[mode], "vs_meds3"))
                    if mode in previous:
                        row.update(paired(correct, previous[mode], "vs_previous"))
                    if mode in grpo:
                        row.update(paired(correct, grpo[mode], "vs_grpo"))
                    rows.append(row)
    return rows


def _difference(row: dict, key: str) -> str:
    if key not in row:
        return ""
    return (f"{100 * row[key]:+.1f} [{100 * row[f'{key}_low']:+.1f}, {100 * row[f'{key}_high']:+.1f}], "
            f"p={row[f'{key}_p']:.3g}")


def markdown(rows: list[dict], base: dict, start: str = "base model") -> str:
    lines = ["| level | round | arm | mode | accuracy [95% CI] | vs MedS3 same round and mode [95% CI], McNemar p | "
             "vs GRPO same round and mode (grpo-prm) | vs own previous round (r1: vs base) | mean tokens per answer "
             "| generated tokens (training) | training s |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for level, cot in base.items():
        lines.append(f"| {level} | 0 | {start} | cot | {100 * cot:.1f} | | | | | | |")
    for r in rows:
        mean = f"{r['mean_tokens']:.1f}" if r.get("mean_tokens") is not None else ""
        lines.append(f"| {r['level']} | {r['round']} | {r['arm']} | {r['mode']} | {100 * r['accuracy']:.1f} "
                     f"[{100 * r['low']:.1f}, {100 * r['high']:.1f}] | {_difference(r, 'vs_meds3')} | "
                     f"{_difference(r, 'vs_grpo')} | {_difference(r, 'vs_previous')} | {mean} | {r['generated_tokens']} | {r['training_seconds']} |")
    return "\n".join(lines)


def plot(rows: list[dict], base: dict, path: Path, start: str = "base model") -> None:
    """Accuracy against cumulative training tokens per arm: CoT with its 95% band, SC, P-VS and pass@8."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12.5, 4.8))
    colours = {"meds3": "#1565c0", "grpo": "#c62828", "grpo-prm": "#2e7d32"}
    styles = {"cot": ("o", "-"), "sc": ("s", "--"), "pvs": ("^", "-."), "pass@8": ("x", ":")}
    for ax, level in zip(axes, ("train", "hard")):
        for arm, colour in colours.items():
            for mode, (marker, line) in styles.items():
                points = sorted((r["generated_tokens"], r["accuracy"], r["low"], r["high"]) for r in rows
                                if r["level"] == level and r["arm"] == arm and r["mode"] == mode)
                if not points:
                    continue
                xs = [p[0] for p in points]
                ys = [100 * p[1] for p in points]
                if mode == "cot":  # from round 0's CoT (base model or cold start) at x=0, with the Wilson band
                    base_cot = 100 * base.get(level, 0.0)
                    ax.plot([0, xs[0]], [base_cot, ys[0]], line, color=colour, lw=1.2)
                    ax.fill_between(xs, [100 * p[2] for p in points], [100 * p[3] for p in points], color=colour,
                                    alpha=0.12, lw=0)
                ax.plot(xs, ys, line, marker=marker, color=colour, label=f"{arm} {mode}", lw=2 if mode == "cot" else 1.2)
        ax.plot([0], [100 * base.get(level, 0.0)], "ko", label=f"{start} cot (round 0)" if level == "train" else None)
        ax.set(title=f"{'2 terms (trained level)' if level == 'train' else '3 terms (harder level)'}",
               xlabel="training-data tokens generated (cumulative)", ylabel="accuracy %")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    legend = {}
    for ax in axes:  # a series drawn at one level only still gets its entry
        for handle, label in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(label, handle)
    fig.legend(list(legend.values()), list(legend), fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.suptitle("MedS3 (MCTS + SFT + PRM) against GRPO, by the tokens generated for training (search and rollouts, "
                 "or GRPO groups)\nShaded: greedy CoT's 95% Wilson interval; the paired differences are in the .md", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")  # the legend sits outside the panels, clear of the data
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--meds3", type=Path, default=ROOT / "runs" / "learning" / "base")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "sft-vs-grpo")
    parser.add_argument("--arms", default="grpo,grpo-prm",
                        help="the arms to run, comma-separated: " + ", ".join(f"{k} ({v})" for k, v in ARMS.items())
                        + ". The report covers every arm found in --out")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "learning-cpu.yaml")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--token-budget", type=int, default=None,
                        help="GRPO generated tokens per round, when the matched budget does not fit the time")
    parser.add_argument("--force", action="store_true", help="accept a changed config (e.g. --token-budget)")
    args = parser.parse_args()

    from evolve.cli.render import progress_sink
    from evolve.config import load_config
    from evolve.rounds.runner import run_rounds

    arms = {arm: args.out / arm for arm in args.arms.split(",") if arm}
    if unknown := sorted(set(arms) - set(ARMS)):
        parser.error(f"--arms: unknown {', '.join(unknown)}; the arms are {', '.join(ARMS)}")
    ensure_arith_domains(300)
    with progress_sink(args.quiet) as events:
        for arm, arm_dir in arms.items():
            plan = [load_config(args.config, [*arm_settings(arm, args.meds3, done, args.token_budget),
                                              f"run.rounds={done}"]) for done in range(1, args.rounds + 1)]
            for done, config in enumerate(plan, start=1):
                force = args.force or planned_change(arm_dir, config, plan)
                run_rounds(config, arm_dir, events=events, force=force)
                hard_eval(config, arm_dir, done, events)
    start, base = start_cot(args.meds3)
    # The report covers every arm in --out and every round MedS3 has, not only what this call ran.
    reported = {arm: args.out / arm for arm in ARMS if (args.out / arm / "run.json").exists()}
    last = max((int(d.name.split("-")[1]) for d in args.meds3.glob("round-*") if d.name.split("-")[1].isdigit()),
               default=0)
    rows = compare(args.meds3, reported, last, 8)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "sft_vs_grpo.json").write_text(json.dumps({"base_cot": base, "rows": rows}, indent=2))
    text = markdown(rows, base, start)
    (args.out / "sft_vs_grpo.md").write_text(text + "\n")
    plot(rows, base, args.out / "sft_vs_grpo.png", start)
    print(text)


if __name__ == "__main__":
    main()
