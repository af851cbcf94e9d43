"""Answer format and the stop rule: greedy CoT tokens, time and accuracy on ARC-Easy and on additions.

    .venv/bin/python bench/answer_format.py --out runs/answer-format --label after

Builds two user domains in a private EVOLVE_HOME under OUT (so nothing touches ~/.evolve):
  * `arc-easy-test`: ../shared/data/arc_easy/test.jsonl, all rows in the search split;
  * `additions`: `--additions` generated two-number additions "What is a + b?" (a, b in 1..30, seed 0),
    added through `evolve domains add --type numeric`, so the domain gets the default numeric prompt.
Then runs `evolve eval --modes cot` on the first `--arc-limit` ARC questions and on every addition,
and reports accuracy (95% Wilson), mean generated tokens, wall time, the share of answers that ran to
the token limit, and the share with no readable answer. Results go to OUT/<label>.json and .md.

The script only drives the `evolve` command line, so the same file measures an older checkout too:
`--evolve "<command that runs that checkout's evolve>" --label before` (the "before" figures in
bench/RESULTS.md were taken that way, on the commit before the stop rule; see RESULTS for the command).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARC_TEST = ROOT.parent / "shared" / "data" / "arc_easy" / "test.jsonl"
ARC_MAP = ["question=question.stem", "options=question.choices", "answer=answerKey"]


EVOLVE = [sys.executable, "-m", "evolve.cli"]


def evolve(*args: str, env: dict) -> None:
    command = [*EVOLVE, *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args[:2])} failed ({done.returncode}):\n{done.stderr[-2000:]}")


def additions(count: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for index in range(count):
        a, b = rng.randint(1, 30), rng.randint(1, 30)
        rows.append({"id": f"add-{index:03d}", "question": f"What is {a} + {b}?", "answer": a + b})
    return rows


def summarise(out_dir: Path) -> dict:
    summary = json.loads((out_dir / "eval.json").read_text(encoding="utf-8"))
    cot = summary["modes"][0]
    records = [json.loads(line) for line in (out_dir / "questions.jsonl").read_text(encoding="utf-8").splitlines()]
    solutions = [r["modes"]["cot"] for r in records]
    at_limit = sum(1 for s in solutions if s["candidates"] and s["candidates"][0]["finish_reason"] == "length")
    unanswered = sum(1 for s in solutions if s["answer"] is None)
    return {"questions": cot["n"], "correct": cot["correct"], "accuracy": cot["accuracy"], "low": cot["low"],
            "high": cot["high"], "mean_tokens": cot["mean_tokens"], "seconds": cot["seconds"],
            "at_limit": at_limit, "unanswered": unanswered}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "answer-format")
    parser.add_argument("--label", default="after")
    parser.add_argument("--arc-limit", type=int, default=100)
    parser.add_argument("--additions", type=int, default=50)
    parser.add_argument("--sets", default="arc-easy-test,additions", help="which of the two sets to run")
    parser.add_argument("--evolve", default=None, help="command that runs evolve (default: this interpreter's)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        help="config override passed to evolve eval, e.g. eval.stop_at_answer=false")
    args = parser.parse_args()
    if args.evolve:
        EVOLVE[:] = shlex.split(args.evolve)

    out = args.out.resolve()
    home = out / "home"
    env = {**os.environ, "EVOLVE_HOME": str(home)}
    out.mkdir(parents=True, exist_ok=True)
    rows = additions(args.additions)
    data = out / "additions.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    if not (home / "domains" / "arc-easy-test").exists():
        evolve("domains", "add", "arc-easy-test", "--from", str(ARC_TEST), "--type", "mcq",
               *[f"--map={m}" for m in ARC_MAP], "--dev-fraction", "0", env=env)
    if not (home / "domains" / "additions").exists():
        evolve("domains", "add", "additions", "--from", str(data), "--type", "numeric", "--dev-fraction", "0", env=env)

    results = json.loads(results_file.read_text(encoding="utf-8")) if (results_file := out / f"{args.label}.json").exists() else {}
    for domain, limit in (("arc-easy-test", args.arc_limit), ("additions", args.additions)):
        if domain not in args.sets.split(","):
            continue
        target = out / args.label / domain
        evolve("eval", "--domain", domain, "--split", "search", "--modes", "cot", "--limit", str(limit),
               "--out", str(target), "--quiet", *[f"--set={o}" for o in args.overrides], env=env)
        results[domain] = summarise(target)
    results_file.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    lines = [f"greedy CoT ({args.label})", "",
             "| set | questions | accuracy % [95% Wilson] | mean tokens | wall s | at token limit | no answer |",
             "|---|---|---|---|---|---|---|"]
    for domain, r in results.items():
        lines.append(f"| {domain} | {r['questions']} | {100 * r['accuracy']:.1f} [{100 * r['low']:.1f}, "
                     f"{100 * r['high']:.1f}] | {r['mean_tokens']:.1f} | {r['seconds']:.0f} | {r['at_limit']} "
                     f"| {r['unanswered']} |")
    text = "\n".join(lines) + "\n"
    (out / f"{args.label}.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
