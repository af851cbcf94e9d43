"""Which answer instruction does the embedded model follow? Greedy CoT under several wordings.

    .venv/bin/python bench/prompt_sweep.py --out runs/prompt-sweep [--limit 40]

For each answer type, the same questions are answered with each candidate instruction in place of the
default one (domains.prompting.DEFAULT_INSTRUCTIONS): mcq on the first ARC-Easy test questions, numeric
on generated two-number additions (a, b in 1..30, as bench/answer_format.py), yesno on the first
PubMedQA test questions. Reported per wording: readable answers, accuracy, answers that copy a
placeholder from the instruction, the most frequent answer's share (a constant answer shows there),
and mean tokens. Wordings named "+ ... example" also show a worked example before each question
(`prompt.example`); the others show none. Everything else (system prompt, step format, stop rule) is
as in the library.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"

PHRASE = "The answer is"
WORDINGS = {
    "mcq": {
        "letter-placeholder": f'Think step by step, then end with the sentence "{PHRASE} <letter>." using the letter of the correct option.',
        "plain": f'Think step by step, then give the letter of the correct option in a last sentence that begins with "{PHRASE}".',
        "plain-followed": f'Think step by step. End with one sentence that starts with "{PHRASE}" followed by the letter of the correct option.',
        "example": f'Think step by step. Finish with the answer sentence, for example "{PHRASE} B." when option B is correct.',
        "plain-followed + worked example": (
            f'Think step by step. End with one sentence that starts with "{PHRASE}" followed by the letter of the correct option.',
            {"question": "Which of these is a planet?", "options": {"A": "the Moon", "B": "Mars", "C": "the Sun", "D": "a comet"},
             "steps": ["Mars orbits the Sun and is a planet; the Moon is a satellite, the Sun is a star and a comet is not "
                       "a planet.", f"{PHRASE} B."]}),
    },
    "numeric": {
        "N-placeholder": f'Think step by step, then finish with "{PHRASE} N" where N is the final number only.',
        "plain": f'Think step by step, then give the final number in a last sentence that begins with "{PHRASE}".',
        "plain-followed": f'Think step by step. End with one sentence that starts with "{PHRASE}" followed by the final number.',
        "example": f'Think step by step. Finish with the answer sentence, for example "{PHRASE} 12." when the result is 12.',
        "plain-followed + worked example": (
            f'Think step by step. End with one sentence that starts with "{PHRASE}" followed by the final number.',
            {"question": "What is 4 + 3?", "steps": ["4 + 3 = 7.", f"{PHRASE} 7."]}),
        "plain-followed + word-problem example": (
            f'Think step by step. End with one sentence that starts with "{PHRASE}" followed by the final number.',
            {"question": "A box holds 12 pens and 5 more are added. How many pens are in the box?",
             "steps": ["The box starts with 12 pens and 5 are added, so we add: 12 + 5 = 17.", f"{PHRASE} 17."]}),
    },
    "yesno": {
        "three-sentences": f'Think step by step, then finish with "{PHRASE} yes", "{PHRASE} no" or "{PHRASE} maybe".',
        "plain": f'Think step by step, then answer yes, no or maybe in a last sentence that begins with "{PHRASE}".',
    },
}
PLACEHOLDERS = ("<letter>", " N.", " N\n", " X.", "the letter", "the final number", "number only")


def questions(answer_type: str, limit: int):
    from domains import Question
    from domains.convert import load_questions
    from domains.spec import FieldsSpec

    if answer_type == "mcq":
        fields = FieldsSpec(question="question.stem", options="question.choices", answer="answerKey")
        return load_questions(DATA / "arc_easy" / "test.jsonl", fields, "mcq", id_prefix="arc").questions[:limit]
    if answer_type == "yesno":
        fields = FieldsSpec(context="question|except_last_line", question="question|last_line")
        return load_questions(DATA / "pubmedqa" / "test.jsonl", fields, "yesno", id_prefix="pmq").questions[:limit]
    rng = random.Random(0)
    pairs = [(rng.randint(1, 30), rng.randint(1, 30)) for _ in range(limit)]
    return [Question(id=f"add-{i:03d}", question=f"What is {a} + {b}?", answer=str(a + b)) for i, (a, b) in enumerate(pairs)]


def domain_for(answer_type: str, wording):
    """The domain with this instruction and, for (instruction, example) pairs, this worked example (else none)."""
    from domains import load_domain
    from domains.spec import ExampleSpec

    instruction, example = wording if isinstance(wording, tuple) else (wording, None)
    base = load_domain({"mcq": "science", "numeric": "science-numeric", "yesno": "pubmedqa"}[answer_type])
    prompt = base.spec.prompt.model_copy(update={"instruction": instruction,
                                                  "example": ExampleSpec(**example) if example else False})
    return type(base)(base.spec.model_copy(update={"prompt": prompt}), base.root, base.source)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "prompt-sweep")
    parser.add_argument("--limit", type=int, default=40)
    parser.add_argument("--types", default="mcq,numeric,yesno")
    parser.add_argument("--only", default="", help="run only the wordings whose name contains this")
    args = parser.parse_args()

    from evolve.api import Reasoner, build_generator
    from evolve.config import Config

    config = Config.model_validate({"eval": {"max_tokens": 256}})
    generator = build_generator(config.model)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for answer_type in args.types.split(","):
        qs = questions(answer_type, args.limit)
        for name, wording in WORDINGS[answer_type].items():
            if args.only and args.only not in name:
                continue
            domain = domain_for(answer_type, wording)
            before = generator.stats.generated_tokens
            solutions = Reasoner(config, domain, generator).solve(qs, "cot")
            answers = [s.answer for s in solutions]
            texts = [" ".join(s.steps) for s in solutions]
            counts = Counter(a for a in answers if a is not None)
            row = {
                "type": answer_type, "wording": name, "questions": len(qs),
                "answered": sum(a is not None for a in answers),
                "correct": sum(domain.is_correct(a, q) for a, q in zip(answers, qs)),
                "copied": sum(any(p in t for p in PLACEHOLDERS) for t in texts),
                "top_answer": counts.most_common(1)[0] if counts else None,
                "mean_tokens": (generator.stats.generated_tokens - before) / len(qs),
            }
            rows.append(row)
            with (args.out / f"{answer_type}-{name.replace(' ', '')}.jsonl").open("w", encoding="utf-8") as handle:
                for q, s in zip(qs, solutions):
                    handle.write(json.dumps({"id": q.id, "gold": q.answer, "answer": s.answer, "steps": s.steps}) + "\n")
            print(json.dumps(row), flush=True)
    lines = ["| type | wording | answered | correct | copied a placeholder | most frequent answer | mean tokens |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        top = f"{r['top_answer'][0]} ({r['top_answer'][1]})" if r["top_answer"] else "-"
        lines.append(f"| {r['type']} | {r['wording']} | {r['answered']}/{r['questions']} | {r['correct']} | "
                     f"{r['copied']} | {top} | {r['mean_tokens']:.0f} |")
    name = "sweep" + (f"-{args.only.replace(' ', '-')}" if args.only else "") + ".md"
    (args.out / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
