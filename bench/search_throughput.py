"""Search throughput: MedS3's one-tree-at-a-time loop against the batched multi-tree scheduler.

Same questions, budget, seed and model, in one process, so the ratio is measured side by side:
  (a) MedS3-style: one tree at a time; each expansion is one backend call with n=3 and each
      node's rollouts one call with n=k (`Reasoner.search(in_flight=1, merge=False)`);
  (b) batched: all active trees' work merged into shared calls (`Reasoner.search(in_flight=T)`).
It also measures the raw batched `model.generate` throughput at batch 32 as the ceiling.

    .venv/bin/python bench/search_throughput.py --questions 8 [--config configs/search-cpu.yaml]

Not part of the test suite (it takes minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from evolve.api import Reasoner
from evolve.config import load_config

ROOT = Path(__file__).resolve().parents[1]


def search(reasoner, questions, *, trees_in_flight: int, merge: bool) -> dict:
    nodes = 0
    generator = reasoner.generator

    def done(finished):
        nonlocal nodes
        nodes += len(finished.tree.nodes)

    tokens_before, calls_before = generator.stats.generated_tokens, generator.stats.calls
    started = time.perf_counter()
    reasoner.search(questions, on_tree=done, in_flight=trees_in_flight, merge=merge)
    seconds = time.perf_counter() - started
    tokens = generator.stats.generated_tokens - tokens_before
    return {"seconds": round(seconds, 1), "nodes": nodes, "generated_tokens": tokens,
            "backend_calls": generator.stats.calls - calls_before,
            "nodes_per_s": round(nodes / seconds, 3), "tokens_per_s": round(tokens / seconds, 1)}


def raw_generate(model_dir: str, prompt: str, batch: int, new_tokens: int, threads: int | None) -> dict:
    """Plain `model.generate` on `batch` copies of a prompt, sampling, EOS ignored: the ceiling."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if threads:
        torch.set_num_threads(threads)
    tok = AutoTokenizer.from_pretrained(model_dir, padding_side="left")
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    inputs = tok([prompt] * batch, return_tensors="pt", padding=True)
    torch.manual_seed(0)
    with torch.inference_mode():
        model.generate(**inputs, max_new_tokens=4, do_sample=True, pad_token_id=tok.pad_token_id or tok.eos_token_id)
        started = time.perf_counter()
        out = model.generate(**inputs, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=True,
                             temperature=0.8, top_p=0.95, pad_token_id=tok.pad_token_id or tok.eos_token_id)
        seconds = time.perf_counter() - started
    tokens = (out.shape[1] - inputs["input_ids"].shape[1]) * batch
    return {"batch": batch, "prompt_tokens": int(inputs["input_ids"].shape[1]), "seconds": round(seconds, 1),
            "tokens_per_s": round(tokens / seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="embedded:smollm2-135m-instruct")
    parser.add_argument("--domain", default="medqa")
    parser.add_argument("--questions", type=int, default=8)
    parser.add_argument("--config", default=str(ROOT / "configs/search-cpu.yaml"))
    parser.add_argument("--trees-in-flight", type=int, default=None, help="default: --questions")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="config override key=value")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--json", default=None, help="also write the figures here")
    args = parser.parse_args()

    threads = [f"model.threads={args.threads}"] if args.threads else []
    config = load_config(args.config, [f"data.domain={args.domain}", f"model.spec={args.model}", *threads,
                                       *args.overrides])
    reasoner = Reasoner.from_config(config)
    questions = reasoner.domain.load_split("search", limit=args.questions)
    generator = reasoner.generator
    report: dict = {"model": args.model, "domain": args.domain, "questions": len(questions),
                    "config": Path(args.config).name, "search": config.search.model_dump()}

    trees = args.trees_in_flight or len(questions)
    report["batched"] = search(reasoner, questions, trees_in_flight=trees, merge=True)
    print("batched   ", report["batched"], flush=True)
    if not args.skip_baseline:
        report["meds3_one_at_a_time"] = search(reasoner, questions, trees_in_flight=1, merge=False)
        print("one-at-a-time", report["meds3_one_at_a_time"], flush=True)
        base = report["meds3_one_at_a_time"]
        report["speedup_tokens_per_s"] = round(report["batched"]["tokens_per_s"] / base["tokens_per_s"], 2)
        report["speedup_nodes_per_s"] = round(report["batched"]["nodes_per_s"] / base["nodes_per_s"], 2)

    from evolve.backends import resolve_model_folder

    prompt = reasoner.prompt(questions[0]).prompt(())
    folder = resolve_model_folder(args.model)
    # the stricter ceiling: a short prompt, so nearly all the time is decoding (the ~188 tok/s figure)
    short = generator.render_chat([{"role": "user", "content": "Explain how the kidney regulates sodium."}])
    report["raw_generate_short_prompt"] = raw_generate(folder, short, 32, 128, args.threads)
    report["raw_generate_search_prompt"] = raw_generate(folder, prompt, 32, 128, args.threads)
    print("raw generate", report["raw_generate_short_prompt"], report["raw_generate_search_prompt"], flush=True)
    ceiling = report["raw_generate_short_prompt"]["tokens_per_s"]
    report["batched_vs_raw"] = round(report["batched"]["tokens_per_s"] / ceiling, 2)
    print(json.dumps({k: report[k] for k in report if k.startswith(("speedup", "batched_vs"))}))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
