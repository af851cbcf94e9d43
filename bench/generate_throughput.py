"""Throughput of `HFGenerator` against plain `model.generate`, same model, same process.

    .venv/bin/python bench/generate_throughput.py [--model embedded:smollm2-135m-instruct]
        [--threads 2] [--batches 1 8 32] [--new-tokens 64] [--repeats 2] [--search]

Part 1 (fixed length): B distinct chat prompts, greedy, exactly `--new-tokens` tokens per row
(EOS disabled in both), so both sides do the same work; tok/s = B * new_tokens / wall time,
prefill included. Part 2 (`--search`, a search-like batch): 12 prompts sharing a long question,
n=4 samples each, stop "\\nStep", up to 96 tokens; `generate` gets the prompts in chunks of
`max_batch_size // n` with num_return_sequences=n. Timings take the best of `--repeats`, with the
two sides interleaved so background load hits both alike.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TOPICS = [
    "the kidney", "insulin", "a fever", "the lung", "blood pressure", "sodium", "the liver", "anemia",
    "asthma", "vitamin D", "the thyroid", "sepsis", "migraine", "the spleen", "gout", "the cornea",
]


def chat_prompts(generator, count: int) -> list[str]:
    prompts = []
    for index in range(count):
        topic = TOPICS[index % len(TOPICS)]
        question = (
            f"Case {index}: a {30 + index}-year-old patient asks about {topic}. "
            f"Explain, step by step, how {topic} works, what commonly goes wrong with it, "
            "and which first-line treatment a clinician would choose and why."
        )
        prompts.append(generator.render_chat([{"role": "user", "content": question}]))
    return prompts


def time_plain_generate(model, tokenizer, prompts: list[str], new_tokens: int) -> float:
    import torch

    tokenizer.padding_side = "left"
    batch = tokenizer(prompts, return_tensors="pt", padding=True)
    started = time.perf_counter()
    with torch.inference_mode():
        model.generate(
            **batch,
            max_new_tokens=new_tokens,
            min_new_tokens=new_tokens,  # EOS suppressed: every row makes exactly new_tokens
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id,
        )
    return time.perf_counter() - started


def time_ours(generator, prompts: list[str], new_tokens: int) -> float:
    from evolve.backends.base import GenerationRequest

    requests = [GenerationRequest(p, max_new_tokens=new_tokens, temperature=0.0) for p in prompts]
    started = time.perf_counter()
    results = generator.generate(requests)
    elapsed = time.perf_counter() - started
    assert all(r[0].num_tokens == new_tokens for r in results), "EOS should be disabled for the benchmark"
    return elapsed


def fixed_length(generator, batches: list[int], new_tokens: int, repeats: int) -> None:
    model, tokenizer = generator.model, generator.tokenizer
    saved_eos = generator.eos_ids
    generator.eos_ids = frozenset()  # same work on both sides: no early stop
    print(f"fixed length: greedy, {new_tokens} new tokens per row, prefill included")
    print(f"{'batch':>5} {'prompt toks':>11} {'generate tok/s':>15} {'HFGenerator tok/s':>18} {'ratio':>6}")
    for batch in batches:
        prompts = chat_prompts(generator, batch)
        prompt_tokens = sum(len(generator.encode(p)) for p in prompts) // batch
        plain, ours = float("inf"), float("inf")
        for _ in range(repeats):
            plain = min(plain, time_plain_generate(model, tokenizer, prompts, new_tokens))
            ours = min(ours, time_ours(generator, prompts, new_tokens))
        tokens = batch * new_tokens
        print(f"{batch:>5} {prompt_tokens:>11} {tokens / plain:>15.1f} {tokens / ours:>18.1f} {plain / ours:>6.2f}")
    generator.eos_ids = saved_eos


def search_like(generator, repeats: int, n: int = 4, prompts_count: int = 12, new_tokens: int = 96) -> None:
    import torch

    from evolve.backends.base import GenerationRequest

    question = chat_prompts(generator, 1)[0]
    prompts = [question + f"Step 1: consider option {chr(65 + i)} first.\nStep 2:" for i in range(prompts_count)]
    requests = [
        GenerationRequest(p, n=n, max_new_tokens=new_tokens, temperature=0.8, top_p=0.95, stop=("\nStep",), seed=i)
        for i, p in enumerate(prompts)
    ]
    tokenizer, model = generator.tokenizer, generator.model
    tokenizer.padding_side = "left"
    per_chunk = max(1, generator.max_batch_size // n)

    def plain() -> tuple[float, int]:
        started, tokens = time.perf_counter(), 0
        for start in range(0, len(prompts), per_chunk):
            batch = tokenizer(prompts[start : start + per_chunk], return_tensors="pt", padding=True)
            with torch.inference_mode():
                out = model.generate(
                    **batch, max_new_tokens=new_tokens, do_sample=True, temperature=0.8, top_p=0.95,
                    num_return_sequences=n, stop_strings=["\nStep"], tokenizer=tokenizer,
                    pad_token_id=tokenizer.pad_token_id,
                )
            new = out[:, batch["input_ids"].shape[1] :]
            tokens += int((new != tokenizer.pad_token_id).sum())
        return time.perf_counter() - started, tokens

    def ours() -> tuple[float, int]:
        started = time.perf_counter()
        results = generator.generate(requests)
        return time.perf_counter() - started, sum(c.num_tokens for r in results for c in r)

    best_plain, best_ours = (float("inf"), 0), (float("inf"), 0)
    for _ in range(repeats):
        best_plain = min(best_plain, plain())
        best_ours = min(best_ours, ours())
    print(f"\nsearch-like: {prompts_count} prompts x n={n}, stop '\\nStep', <= {new_tokens} tokens, sampled")
    for label, (seconds, tokens) in (("generate", best_plain), ("HFGenerator", best_ours)):
        print(f"{label:>12}: {seconds:6.1f} s  {tokens:5d} tokens  {tokens / seconds:6.1f} tok/s")
    print(f"{'wall ratio':>12}: {best_plain[0] / best_ours[0]:.2f}x (token counts differ: sampling streams differ)")


def shared_prefix(generator, repeats: int, prompts_count: int = 16) -> None:
    """Prefill cost of prompts that share a long question, with and without prefix sharing."""
    from evolve.backends.base import GenerationRequest

    case = " ".join(f"Finding {i}: the {TOPICS[i % len(TOPICS)]} shows a mild change on day {i}." for i in range(24))
    question = generator.render_chat([{"role": "user", "content": case + " What is the most likely diagnosis?"}])
    prompts = [question + f"Step 1: option {chr(65 + i % 5)} fits finding {i}, because" for i in range(prompts_count)]
    requests = [GenerationRequest(p, max_new_tokens=1, temperature=0.0) for p in prompts]
    saved = generator.min_shared_prefix
    timings = {}
    for label, minimum in (("unshared", 0), ("shared", saved or 32)):
        generator.min_shared_prefix = minimum
        best = float("inf")
        for _ in range(repeats):
            before = generator.stats.extra.get("prefill_tokens", 0)
            started = time.perf_counter()
            generator.generate(requests)
            best = min(best, time.perf_counter() - started)
            computed = generator.stats.extra["prefill_tokens"] - before
        timings[label] = (best, computed)
    generator.min_shared_prefix = saved
    total = sum(len(generator.encode(p)) for p in prompts)
    print(f"\nshared prefix: {prompts_count} prompts of ~{total // prompts_count} tokens sharing a question, prefill only")
    for label, (seconds, computed) in timings.items():
        print(f"{label:>12}: {seconds:6.2f} s  {computed:5d} prompt tokens run  {total / seconds:7.1f} prompt tok/s")
    print(f"{'speed-up':>12}: {timings['unshared'][0] / timings['shared'][0]:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="embedded:smollm2-135m-instruct")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--search", action="store_true", help="also run the search-like batch")
    parser.add_argument("--prefix", action="store_true", help="also measure shared-prefix prefill")
    parser.add_argument("--skip-fixed", action="store_true", help="skip the fixed-length comparison")
    args = parser.parse_args()

    from evolve.backends import load_generator

    started = time.perf_counter()
    generator = load_generator(args.model, threads=args.threads, max_batch_size=max(args.batches))
    print(f"model {args.model} loaded in {time.perf_counter() - started:.1f} s; threads={args.threads}")
    if not args.skip_fixed:
        fixed_length(generator, args.batches, args.new_tokens, args.repeats)
    if args.prefix:
        shared_prefix(generator, args.repeats)
    if args.search:
        search_like(generator, args.repeats)


if __name__ == "__main__":
    main()
