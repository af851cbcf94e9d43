"""Learning benchmark: does self-evolution make the embedded model better on ARC-Easy?

    .venv/bin/python bench/learning.py --out runs/learning-arc [--rounds 2] [--set key=value ...]

Creates two user domains from ../shared/data/arc_easy (train -> `arc-easy` for the search, test ->
`arc-easy-test`, whose converted file is the evaluation split), then runs `evolve run` rounds with
configs/arc-easy-cpu.yaml. Interrupt it at any time: the same command resumes at the first
unfinished stage. It then reports, per round and mode, accuracy with a 95% Wilson interval, and the
paired difference of every mode against round-0 CoT on the same questions (exact McNemar p and a
paired bootstrap interval). Written to OUT/learning.json and OUT/learning.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
ARC = ROOT.parent / "shared" / "data" / "arc_easy"
ARC_MAP = ["question=question.stem", "options=question.choices", "answer=answerKey"]


def ensure_domain(name: str, source: Path) -> Path:
    from domains.builder import add_domain, parse_mappings
    from domains.registry import user_domains_root

    target = user_domains_root() / name
    if not (target / "domain.yaml").exists():
        add_domain(name, str(source), "mcq", parse_mappings(ARC_MAP), description="ARC-Easy grade-school science",
                   dev_fraction=0.0)
    return target


def per_question(run_dir: Path, index: int) -> dict[str, dict[str, bool]]:
    """question id -> mode -> correct, from a round's questions.jsonl."""
    path = run_dir / f"round-{index}" / "eval" / "questions.jsonl"
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        out[record["id"]] = {mode: bool(r["correct"]) for mode, r in record["modes"].items()}
    return out


def analyse(run_dir: Path, rounds: int) -> dict:
    from evolve.eval.stats import mcnemar, paired_bootstrap_diff, wilson_interval

    base = per_question(run_dir, 0)
    ids = sorted(base)
    reference = [base[i]["cot"] for i in ids]
    table = []
    for index in range(rounds + 1):
        results = per_question(run_dir, index)
        modes = list(next(iter(results.values())))
        for mode in modes:
            correct = [results[i][mode] for i in ids]
            k, n = sum(correct), len(correct)
            low, high = wilson_interval(k, n)
            diff, dlow, dhigh = paired_bootstrap_diff(correct, reference, 10_000, seed=0)
            only_mode = sum(c and not r for c, r in zip(correct, reference))
            only_ref = sum(r and not c for c, r in zip(correct, reference))
            table.append({"round": index, "mode": mode, "correct": k, "n": n, "accuracy": k / n, "low": low,
                          "high": high, "diff_vs_round0_cot": diff, "diff_low": dlow, "diff_high": dhigh,
                          "mcnemar_p": mcnemar(only_ref, only_mode)})
    return {"questions": len(ids), "rows": table}


def markdown(result: dict) -> str:
    lines = [f"ARC-Easy test, {result['questions']} questions. Diff = accuracy minus round-0 CoT on the same "
             "questions, with a 95% paired-bootstrap interval and the exact McNemar p.", "",
             "| round | mode | accuracy % [95% Wilson] | diff vs round-0 CoT (pts) [95%] | McNemar p |",
             "|---|---|---|---|---|"]
    for row in result["rows"]:
        lines.append(f"| {row['round']} | {row['mode']} | {100 * row['accuracy']:.1f} [{100 * row['low']:.1f}, "
                     f"{100 * row['high']:.1f}] | {100 * row['diff_vs_round0_cot']:+.1f} [{100 * row['diff_low']:+.1f}, "
                     f"{100 * row['diff_high']:+.1f}] | {row['mcnemar_p']:.3g} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "learning-arc")
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "arc-easy-cpu.yaml")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="override a config key")
    parser.add_argument("--force", action="store_true", help="continue the run under a changed config (recorded)")
    parser.add_argument("--redo-eval", action="store_true",
                        help="evaluate again each round evaluated under another config (e.g. a new eval.limit)")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()

    from evolve.cli.render import progress_sink
    from evolve.config import load_config
    from evolve.rounds.runner import run_rounds

    ensure_domain("arc-easy", ARC / "train.jsonl")
    test_file = ensure_domain("arc-easy-test", ARC / "test.jsonl") / "seeds.jsonl"
    overrides = [f"eval.split={test_file}", *args.overrides, *([f"run.rounds={args.rounds}"] if args.rounds else [])]
    config = load_config(args.config, overrides)
    with progress_sink(args.quiet) as events:
        run_rounds(config, args.out, force=args.force, events=events, redo_eval=args.redo_eval)
    result = analyse(args.out, config.run.rounds)
    (args.out / "learning.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    text = markdown(result)
    (args.out / "learning.md").write_text(text + "\n", encoding="utf-8")
    print(text)
    print((args.out / "report.md").read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
