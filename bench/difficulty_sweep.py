"""Which generated task fits the learning benchmark? Round-0 greedy CoT and pass@8 per candidate.

    .venv/bin/python bench/difficulty_sweep.py --out runs/difficulty [--questions 60]

The learning benchmark wants a task where the embedded model's greedy CoT is below 30% (room to learn)
and pass@8 above 40% (the search finds correct traces to learn from). Each candidate is a generated
domain (`evolve domains add --generate ...`, in a private EVOLVE_HOME under OUT), evaluated with
`cot` and `sc` at N = 8 on its first `--questions` test questions. Results: OUT/sweep.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CANDIDATES = {
    "arith-2x30": ("arith", {"terms": "2", "high": "30"}),
    "arith-2x99": ("arith", {"terms": "2", "high": "99"}),
    "arith-3x20": ("arith", {"terms": "3", "high": "20"}),
    "arith-3x50": ("arith", {"terms": "3", "high": "50"}),
    "arith-4x20": ("arith", {"terms": "4", "high": "20"}),
    "dose-1": ("medcalc", {"kinds": "dose", "level": "1", "scale": "1"}),
    "dose-2": ("medcalc", {"kinds": "dose", "level": "2", "scale": "1"}),
    "convert-2": ("medcalc", {"kinds": "convert", "scale": "2"}),
    "infusion-1": ("medcalc", {"kinds": "infusion", "level": "1", "scale": "1"}),
    "mix-1": ("medcalc", {"kinds": "dose,infusion,convert", "level": "1", "scale": "1"}),
    "rg-chain_sum-2x2": ("rg:chain_sum", {"min_terms": "2", "max_terms": "2", "min_digits": "1", "max_digits": "2"}),
    "rg-chain_sum-3x2": ("rg:chain_sum", {"min_terms": "3", "max_terms": "3", "min_digits": "1", "max_digits": "2"}),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "difficulty")
    parser.add_argument("--questions", type=int, default=60)
    parser.add_argument("--only", default="", help="comma list of candidates to run")
    args = parser.parse_args()
    os.environ["EVOLVE_HOME"] = str((args.out / "home").resolve())

    from domains import load_domain
    from domains.builder import add_generated_domain
    from domains.errors import DomainSpecError
    from domains.registry import user_domains_root
    from evolve.api import Reasoner, build_generator
    from evolve.config import Config
    from evolve.eval.evaluate import evaluate

    config = Config.model_validate({"eval": {"modes": ["cot", "sc"], "n": 8, "max_tokens": 256}})
    generator = build_generator(config.model)
    results_file = args.out / "sweep.json"
    results = json.loads(results_file.read_text()) if results_file.exists() else {}
    chosen = [c for c in CANDIDATES if not args.only or c in args.only.split(",")]
    for name in chosen:
        if name in results:
            continue
        kind, params = CANDIDATES[name]
        if not (user_domains_root() / name).exists():
            try:
                add_generated_domain(name, kind, params=params,
                                     sizes={"search": 10, "dev": 10, "test": args.questions, "cold": 0})
            except DomainSpecError as err:  # a candidate too small for the split sizes is reported, not fatal
                results[name] = {"kind": kind, "params": params, "error": str(err)}
                print(name, "skipped:", err, flush=True)
                continue
        domain = load_domain(name)
        questions = domain.load_split("test", limit=args.questions)
        report = evaluate(questions, Reasoner(config, domain, generator), out_dir=args.out / name, label=name, split="test")
        cot, sc = report.modes
        results[name] = {"kind": kind, "params": params, "questions": len(questions), "cot": cot.accuracy,
                         "sc@8": sc.accuracy, "pass@8": report.pass_at["accuracy"], "cot_tokens": cot.mean_tokens,
                         "cot_top_answer": [cot.top_answer, cot.top_share]}
        results_file.write_text(json.dumps(results, indent=2) + "\n")
        print(name, json.dumps(results[name]), flush=True)
    lines = ["| candidate | greedy CoT | SC@8 | pass@8 | CoT tokens | fits (CoT < 30%, pass@8 > 40%) |",
             "|---|---|---|---|---|---|"]
    for name, r in results.items():
        if "error" in r:
            lines.append(f"| {name} | - | - | - | - | skipped: {r['error']} |")
            continue
        fits = "yes" if r["cot"] < 0.3 and r["pass@8"] > 0.4 else ""
        lines.append(f"| {name} | {100 * r['cot']:.0f}% | {100 * r['sc@8']:.0f}% | {100 * r['pass@8']:.0f}% | "
                     f"{r['cot_tokens']:.0f} | {fits} |")
    (args.out / "sweep.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
