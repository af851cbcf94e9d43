"""Does the agents' Elo ranking pick better answers? (the co-scientist paper's GPQA analysis, small)

Each multiple-choice dev question becomes a goal; the hypotheses are candidate answers with their
reasoning, made, reviewed, ranked and evolved by the agents loop. Reported: accuracy of the top-Elo
answer against CoT, SC (and P-VS with --prm) from `evolve.infer.solve`, generated tokens of each,
and accuracy by Elo bucket (is a higher Elo more often correct?).

    .venv/bin/python bench/agents_eval.py --domain science --limit 12 --budget 6 --json /tmp/agents_eval.json

All questions run concurrently in threads over one shared `BatchingGenerator`, so the model sees
batched calls. Every question's graph is checkpointed to a real SQLite file under --workdir.
Not part of the test suite: it takes minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from agents.graph import build_graph, recursion_limit
from agents.nodes.metareview import leaderboard
from agents.runtime import question_dict
from domains import load_domain
from evolve.api import Reasoner, build_generator, build_scorer
from evolve.backends.batching import BatchingGenerator
from evolve.config import AgentsConfig, Config

BUCKETS = ((-1e9, 1184.0, "< 1184"), (1184.0, 1216.0, "1184-1216"), (1216.0, 1e9, ">= 1216"))


def run_question(q, domain, generator, cfg, scorer, workdir: Path) -> dict:
    from langgraph.checkpoint.sqlite import SqliteSaver

    conn = sqlite3.connect(str(workdir / f"{q.id}.sqlite"), check_same_thread=False)
    try:
        graph = build_graph(generator, domain, SqliteSaver(conn), config=cfg, scorer=scorer, batch_window=0.01)
        run_cfg = {"configurable": {"thread_id": q.id}, "recursion_limit": recursion_limit(cfg)}
        graph.invoke({"goal": domain.format_question(q), "question": question_dict(q)}, run_cfg)
        state = graph.get_state(run_cfg).values
    finally:
        conn.close()
    # only matches an LLM judged have a slot-1/slot-2 choice; the PRM judge has no order to prefer
    llm_judged = [m for m in state.get("matches") or [] if m.get("judge") != "prm"]
    ranked = {**state, "hypotheses": {k: h for k, h in state["hypotheses"].items() if h["matches"] > 0}}
    top = leaderboard(ranked if ranked["hypotheses"] else state, 1)  # an unplayed 1200 is no verdict
    hyps = [{"id": h["id"], "elo": round(h["elo"], 2), "matches": h["matches"], "answer": h["answer"],
             "origin": h["origin"], "status": h["status"], "correct": domain.is_correct(h["answer"], q)}
            for h in state["hypotheses"].values()]
    return {"id": q.id, "gold": q.answer, "top_answer": top[0]["answer"] if top else None,
            "top_correct": bool(top) and domain.is_correct(top[0]["answer"], q), "tokens": state.get("tokens", 0),
            "matches": len(state.get("matches") or []), "decisive": sum(1 for m in state.get("matches") or [] if m["outcome"] != "draw"),
            "llm_judged": len(llm_judged),
            "unparsed_judgements": sum((m["first"] is None) + (m["second"] is None) for m in llm_judged),
            # how often the judge picked whatever was shown first: 1.0 is pure position bias
            "judgements_slot1": sum((m["first"] == "1") + (m["second"] == "1") for m in llm_judged),
            "actions": [a["action"] for a in state.get("actions") or []], "stop": state.get("stop_reason"),
            "failures": len(state.get("failures") or []), "hypotheses": hyps}


def elo_buckets(results: list[dict]) -> list[dict]:
    rows = []
    played = [h for r in results for h in r["hypotheses"] if h["matches"] > 0 and h["status"] == "active"]
    for lo, hi, label in BUCKETS:
        inside = [h for h in played if lo <= h["elo"] < hi]
        rows.append({"bucket": label, "hypotheses": len(inside),
                     "accuracy": round(sum(h["correct"] for h in inside) / len(inside), 4) if inside else None})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--domain", default="science")
    parser.add_argument("--split", default="dev", help="split name or file of the domain")
    parser.add_argument("--limit", type=int, default=12)
    parser.add_argument("--model", default="embedded:smollm2-135m-instruct")
    parser.add_argument("--budget", type=int, default=6, help="supervisor steps per question")
    parser.add_argument("--policy", default=None, help="a LoRA policy adapter from `evolve run` (round-r/policy/adapter)")
    parser.add_argument("--prm", default=None, help="a trained PRM folder (adds P-VS and PRM reviews)")
    parser.add_argument("--judge", choices=["llm", "prm"], default="llm", help="match judge (prm needs --prm)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--hypotheses", type=int, default=4, help="initial hypotheses per question")
    parser.add_argument("--sc-n", type=int, default=8, help="samples of the SC / P-VS baselines")
    parser.add_argument("--max-tokens", type=int, default=192, help="max new tokens of one solution")
    parser.add_argument("--json", default="agents_eval.json", help="where to write the results")
    parser.add_argument("--workdir", default=None, help="folder for the per-question SQLite checkpoints")
    args = parser.parse_args()

    domain = load_domain(args.domain)
    questions = domain.load_split(args.split, args.limit)
    config = Config.model_validate({"model": {"spec": args.model, "threads": args.threads},
                                    "eval": {"n": args.sc_n, "max_tokens": args.max_tokens, "temperature": 0.7}})
    generator = build_generator(config.model, args.policy)
    scorer = build_scorer(args.prm, config) if args.prm else None
    cfg = AgentsConfig(budget=args.budget, initial_hypotheses=args.hypotheses, plan_tokens=0, overview_tokens=0,
                       debate_turns=0, hypothesis_tokens=args.max_tokens, review_tokens=48, judge_tokens=12,
                       judge=args.judge if args.prm else "llm")
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="agents_eval_"))
    workdir.mkdir(parents=True, exist_ok=True)

    shared = BatchingGenerator(generator, window=0.5)  # merges the concurrent questions' calls
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(questions)) as pool:
        results = list(pool.map(lambda q: run_question(q, domain, shared, cfg, scorer, workdir), questions))
    agent_seconds = time.perf_counter() - started

    modes = ["cot", "sc"] + (["pvs"] if scorer is not None else [])
    started = time.perf_counter()
    runs = Reasoner(config, domain, generator, scorer).run_modes(questions, modes)
    baseline_seconds = time.perf_counter() - started

    n = len(questions)
    summary = {"agents_top_elo": {"accuracy": sum(r["top_correct"] for r in results) / n,
                                  "tokens_per_question": sum(r["tokens"] for r in results) / n,
                                  "seconds": round(agent_seconds, 1)}}
    for mode, run in runs.items():
        summary[mode] = {"accuracy": sum(domain.is_correct(s.answer, q) for s, q in zip(run.solutions, questions)) / n,
                         "tokens_per_question": sum(s.tokens for s in run.solutions) / n, "seconds": round(run.seconds, 1)}
    any_correct = sum(any(h["correct"] for h in r["hypotheses"]) for r in results) / n
    out = {"args": vars(args), "questions": n, "summary": summary, "oracle_any_hypothesis_correct": any_correct,
           "elo_buckets": elo_buckets(results), "decisive_matches": sum(r["decisive"] for r in results),
           "matches": sum(r["matches"] for r in results),
           "slot1_share": (round(sum(r["judgements_slot1"] for r in results) / (2 * judged), 4)
                           if (judged := sum(r["llm_judged"] for r in results)) else None),
           "baseline_seconds": round(baseline_seconds, 1),
           "per_question": results}
    Path(args.json).write_text(json.dumps(out, indent=2))
    print(json.dumps({k: out[k] for k in ("questions", "summary", "oracle_any_hypothesis_correct", "elo_buckets",
                                          "matches", "decisive_matches", "slot1_share")}, indent=2))


if __name__ == "__main__":
    main()
