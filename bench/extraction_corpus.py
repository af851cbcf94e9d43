"""Collect real outputs of the embedded model for the answer-extraction regression corpus.

    .venv/bin/python bench/extraction_corpus.py --out runs/extraction/raw.jsonl

Per answer type it writes the raw completions (after `Step 1:` of the step format) of the embedded
model on questions it was not tuned on: greedy under the library's prompts with the stop rule, and
sampled (temperature 0.8) without the stop rule, which gives the long, rambling outputs with several
answer sentences that a careful reader must still read right; and greedy, without the stop rule,
under the first version's instructions, whose placeholders the model copied ("The answer is N.").
mcq: ARC-Easy test (questions 200..)
and the bundled medqa seeds; numeric: generated additions and the bundled science-numeric seeds;
yesno: PubMedQA test. A person then writes down, for each output, the answer a careful reader
takes from it; tests/data/extraction/*.jsonl holds the result and tests/test_extraction_corpus.py
checks every entry.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"


def question_sets():
    from domains import Question, load_domain
    from domains.convert import load_questions
    from domains.spec import FieldsSpec

    arc = load_questions(DATA / "arc_easy" / "test.jsonl",
                         FieldsSpec(question="question.stem", options="question.choices", answer="answerKey"),
                         "mcq", id_prefix="arc").questions[200:230]
    pubmed = load_questions(DATA / "pubmedqa" / "test.jsonl",
                            FieldsSpec(context="question|except_last_line", question="question|last_line"),
                            "yesno", id_prefix="pmq").questions[100:140]
    rng = random.Random(1)
    additions = [Question(id=f"add-{i}", question=f"What is {a} + {b}?", answer=str(a + b))
                 for i, (a, b) in enumerate((rng.randint(1, 40), rng.randint(1, 40)) for _ in range(25))]
    return {
        "mcq": [(load_domain("science"), q) for q in arc] + [(load_domain("medqa"), q) for q in load_domain("medqa").load_split()[:10]],
        "numeric": [(load_domain("science-numeric"), q) for q in additions + load_domain("science-numeric").load_split()[:15]],
        "yesno": [(load_domain("pubmedqa"), q) for q in pubmed],
    }


FIRST_VERSION = {  # the default instructions before the placeholders were taken out
    "mcq": 'Think step by step, then end with the sentence "The answer is <letter>." using the letter of the correct option.',
    "numeric": 'Think step by step, then finish with "The answer is N" where N is the final number only.',
    "yesno": 'Think step by step, then finish with "The answer is yes", "The answer is no" or "The answer is maybe".',
}


def first_version(domain):
    prompt = domain.spec.prompt.model_copy(update={"instruction": FIRST_VERSION[domain.answer_type], "example": False})
    return type(domain)(domain.spec.model_copy(update={"prompt": prompt}), domain.root, domain.source)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "extraction" / "raw.jsonl")
    parser.add_argument("--sampled", type=int, default=15, help="sampled outputs without the stop rule, per type")
    parser.add_argument("--old", type=int, default=15, help="outputs under the first version's instructions, per type")
    args = parser.parse_args()

    from domains.answers import answer_end
    from evolve.api import Reasoner, build_generator
    from evolve.backends.base import GenerationRequest
    from evolve.config import Config

    config = Config()
    generator = build_generator(config.model)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    entries = []
    for answer_type, items in question_sets().items():
        requests, meta = [], []
        for index, (domain, q) in enumerate(items):
            prompt = Reasoner(config, domain, generator).prompt(q).prompt(())
            requests.append(GenerationRequest(prompt=prompt, n=1, max_new_tokens=200, temperature=0.0,
                                              stop_rule=answer_end, seed=index))
            meta.append((q, "greedy, stop rule"))
            if index < args.sampled:
                requests.append(GenerationRequest(prompt=prompt, n=1, max_new_tokens=200, temperature=0.8,
                                                  top_p=0.95, seed=1000 + index))
                meta.append((q, "sampled 0.8, no stop rule"))
            if index < args.old:
                old = Reasoner(config, first_version(domain), generator).prompt(q).prompt(())
                requests.append(GenerationRequest(prompt=old, n=1, max_new_tokens=200, temperature=0.0))
                meta.append((q, "greedy, first version's instruction, no stop rule"))
        for (q, setting), [completion] in zip(meta, generator.generate(requests)):
            entries.append({"type": answer_type, "id": q.id, "setting": setting, "options": q.options,
                            "gold": q.answer, "text": "Step 1:" + completion.text})
        print(f"{answer_type}: {len(meta)} outputs", flush=True)
    args.out.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in entries), encoding="utf-8")
    print(args.out)


if __name__ == "__main__":
    main()
