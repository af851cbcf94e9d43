"""Checks on the built-in seed sets shipped under domains/<name>/{seeds,dev}.jsonl.

Plain json + pathlib on purpose: these files are data the domains package loads, so their
validity must not depend on that package's code being right.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DOMAINS_DIR = REPO_ROOT / "domains"
# Public datasets the seed sets must not copy from (present on development machines only).
SHARED_DATA_DIR = REPO_ROOT.parent / "shared" / "data"
SPLITS = ("seeds.jsonl", "dev.jsonl")

# domain folder -> (id prefix, kind, required fields with their types)
MCQ_FIELDS = {"id": str, "question": str, "options": dict, "answer": str, "explanation": str}
SPECS = {
    "medqa": ("medqa", "mcq", MCQ_FIELDS),
    "science": ("science", "mcq", MCQ_FIELDS),
    "pubmedqa": (
        "pubmedqa",
        "yes_no_maybe",
        {"id": str, "context": str, "question": str, "answer": str, "explanation": str},
    ),
    "science-numeric": (
        "scinum",
        "numeric",
        {"id": str, "question": str, "answer": str, "explanation": str, "check": str},
    ),
}
OPTION_COUNTS = {"medqa": {4, 5}, "science": {4}}
MIN_ITEMS_PER_DOMAIN = 60
DEV_SIZE_RANGE = (10, 16)
MAX_LETTER_SHARE = 0.40

# Only digits, arithmetic operators, parentheses, dots and spaces: eval() then sees numbers only.
ARITHMETIC_ONLY = re.compile(r"^[0-9+\-*/(). ]+$")
NUMBER = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")


def load_rows(domain: str, split: str) -> list[dict]:
    path = DOMAINS_DIR / domain / split
    rows = []
    for line_number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        assert line.strip(), f"{path}:{line_number}: blank line"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:  # re-raised with the location the author needs
            pytest.fail(f"{path}:{line_number}: invalid JSON: {exc}")
        assert isinstance(row, dict), f"{path}:{line_number}: not a JSON object"
        rows.append(row)
    return rows


def all_rows(domain: str) -> list[dict]:
    return [row for split in SPLITS for row in load_rows(domain, split)]


def eval_arithmetic(expression: str) -> float:
    assert ARITHMETIC_ONLY.match(expression), f"check is not plain arithmetic: {expression!r}"
    return float(eval(expression, {"__builtins__": {}}, {}))  # noqa: S307 - filtered above


@pytest.mark.parametrize("domain", sorted(SPECS))
@pytest.mark.parametrize("split", SPLITS)
def test_rows_have_exactly_the_canonical_fields(domain: str, split: str) -> None:
    prefix, _, fields = SPECS[domain]
    for row in load_rows(domain, split):
        assert set(row) == set(fields), f"{domain}/{split} {row.get('id')}: fields {sorted(row)}"
        for name, expected_type in fields.items():
            value = row[name]
            assert isinstance(value, expected_type), f"{row['id']}.{name} is {type(value).__name__}"
            if expected_type is str:
                assert value.strip() == value and value, f"{row['id']}.{name} empty or padded"
        assert re.fullmatch(rf"{re.escape(prefix)}-\d{{3}}", row["id"]), row["id"]


@pytest.mark.parametrize("domain", sorted(SPECS))
def test_ids_and_questions_are_unique_across_splits(domain: str) -> None:
    rows = all_rows(domain)
    duplicated_ids = [i for i, c in Counter(r["id"] for r in rows).items() if c > 1]
    assert duplicated_ids == []
    normalized = Counter(" ".join(r["question"].lower().split()) for r in rows)
    assert [q for q, c in normalized.items() if c > 1] == []


@pytest.mark.parametrize("domain", sorted(SPECS))
def test_sizes_of_domain_and_dev_split(domain: str) -> None:
    assert len(all_rows(domain)) >= MIN_ITEMS_PER_DOMAIN
    low, high = DEV_SIZE_RANGE
    assert low <= len(load_rows(domain, "dev.jsonl")) <= high


@pytest.mark.parametrize("domain", ["medqa", "science"])
def test_mcq_options_are_contiguous_and_answer_is_one_of_them(domain: str) -> None:
    for row in all_rows(domain):
        options = row["options"]
        assert len(options) in OPTION_COUNTS[domain], f"{row['id']}: {len(options)} options"
        assert list(options) == [chr(ord("A") + k) for k in range(len(options))], row["id"]
        assert all(isinstance(t, str) and t.strip() for t in options.values()), row["id"]
        texts = [t.strip().lower() for t in options.values()]
        assert len(set(texts)) == len(texts), f"{row['id']}: repeated option text"
        assert not any("all of the above" in t or "none of the above" in t for t in texts)
        assert row["answer"] in options, f"{row['id']}: answer {row['answer']!r} not an option"


@pytest.mark.parametrize("domain", ["medqa", "science"])
def test_mcq_answer_letters_are_balanced(domain: str) -> None:
    rows = all_rows(domain)
    letters = Counter(r["answer"] for r in rows)
    most_common_letter, count = letters.most_common(1)[0]
    assert count / len(rows) <= MAX_LETTER_SHARE, f"{most_common_letter} is {count}/{len(rows)}"
    # Every letter that some item offers must be the key somewhere, or position is a giveaway.
    offered = {letter for r in rows for letter in r["options"]}
    assert offered == set(letters)


def test_pubmedqa_answers_and_label_mix() -> None:
    rows = all_rows("pubmedqa")
    labels = Counter(r["answer"] for r in rows)
    assert set(labels) == {"yes", "no", "maybe"}
    shares = {label: labels[label] / len(rows) for label in labels}
    # Target mix is about 55/30/15; these bounds catch a skewed rewrite, not small drift.
    assert 0.45 <= shares["yes"] <= 0.65, shares
    assert 0.20 <= shares["no"] <= 0.40, shares
    assert 0.08 <= shares["maybe"] <= 0.25, shares
    for row in rows:
        assert all(tag in row["context"] for tag in ("METHODS:", "RESULTS:", "CONCLUSIONS:"))
        assert row["question"].endswith("?"), row["id"]


def test_pubmedqa_dev_split_has_every_label() -> None:
    assert {r["answer"] for r in load_rows("pubmedqa", "dev.jsonl")} == {"yes", "no", "maybe"}


def test_numeric_answers_parse_and_equal_their_check() -> None:
    for row in all_rows("science-numeric"):
        assert NUMBER.match(row["answer"]), f"{row['id']}: answer {row['answer']!r} not a number"
        value = eval_arithmetic(row["check"])
        assert abs(value - float(row["answer"])) <= 1e-6, f"{row['id']}: {row['check']} = {value}"


def test_eval_arithmetic_rejects_names_and_accepts_numbers() -> None:
    assert eval_arithmetic("(120-30)/2") == 45.0
    assert eval_arithmetic("2**3") == 8.0
    with pytest.raises(AssertionError):
        eval_arithmetic("__import__('os')")


def normalized(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def public_question_texts(folder: str) -> list[str]:
    texts = []
    for path in sorted((SHARED_DATA_DIR / folder).glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            question = json.loads(line)["question"]
            # ARC nests its stem; the others keep the question (PubMedQA: with context) flat.
            texts.append(normalized(question["stem"] if isinstance(question, dict) else question))
    return texts


@pytest.mark.parametrize(
    ("domain", "public_folders"),
    [
        ("medqa", ["medqa"]),
        ("pubmedqa", ["pubmedqa"]),
        ("science", ["arc_easy", "arc_challenge"]),
        ("science-numeric", ["gsm8k"]),
    ],
)
def test_seed_questions_are_not_copied_from_public_datasets(
    domain: str, public_folders: list[str]
) -> None:
    if not SHARED_DATA_DIR.is_dir():
        pytest.skip(f"{SHARED_DATA_DIR} not present")
    public = [t for folder in public_folders for t in public_question_texts(folder)]
    assert public, f"no public questions read for {public_folders}"
    for row in all_rows(domain):
        ours = normalized(row["question"])
        # Substring, not equality: PubMedQA's "question" field also carries the abstract.
        assert not any(ours in text for text in public), f"{row['id']} appears in {public_folders}"
