"""Answer extraction on real outputs of the embedded model (tests/data/extraction/*.jsonl).

Each entry is a completion the embedded SmolLM2-135M wrote (collected by bench/extraction_corpus.py),
with `expected`: the answer a careful reader takes from it, written down by a person before the test
ran, and `note` saying why where it is not obvious. The reader's rule is the library's documented
one: the answer is what an answer sentence ("The answer is ...") gives, the last such sentence that
gives one when there are several; a sentence that gives none (a placeholder, a word the type cannot
read) counts for nothing; no answer sentence at all means no answer (null).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from domains.answers import extract_answer

DATA = Path(__file__).parent / "data" / "extraction"
ENTRIES = [(path.stem, index, json.loads(line)) for path in sorted(DATA.glob("*.jsonl"))
           for index, line in enumerate(path.read_text(encoding="utf-8").splitlines())]


def test_the_corpus_has_at_least_fifty_real_outputs_per_answer_type():
    counts = {kind: sum(1 for k, _, _ in ENTRIES if k == kind) for kind in ("mcq", "yesno", "numeric")}
    assert all(count >= 50 for count in counts.values()), counts


@pytest.mark.parametrize(("kind", "index", "entry"), ENTRIES, ids=[f"{k}-{i}" for k, i, _ in ENTRIES])
def test_extraction_reads_what_a_careful_reader_reads(kind, index, entry):
    assert extract_answer(entry["text"], kind, entry.get("options")) == entry["expected"], entry.get("note", "")
