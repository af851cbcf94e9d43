"""Which split each question of a new domain goes to, as pure functions.

- A split may be declared: by a file of its own (`--split-file test=PATH`) or by a field of the rows
  (`--split-field split`, whose values name the split: train -> search, validation -> dev, ...).
- Without a declared dev split, dev takes the rows whose content hash falls below `dev_fraction`, so
  each row's membership depends on that row alone: adding or removing a row moves no other row.
- A question that is in a held-out split is never also searched or trained on: across splits, the
  copy in the more held-out split wins (test over dev over search).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from domains.convert import content_key
from domains.errors import DomainSpecError
from domains.question import Question

SPLITS = ("search", "dev", "test")  # least to most held out
SPLIT_ALIASES = {
    "search": ("search", "train", "training", "seed", "seeds"),
    "dev": ("dev", "val", "valid", "validation", "development"),
    "test": ("test", "testing", "eval", "evaluation"),
}


def split_of_value(value: object, field: str) -> str:
    """The split a `--split-field` value names ("train" -> search); unknown values are an error."""
    text = str(value).strip().lower()
    for split, aliases in SPLIT_ALIASES.items():
        if text in aliases:
            return split
    names = "; ".join(f"{split}: {', '.join(aliases)}" for split, aliases in SPLIT_ALIASES.items())
    raise DomainSpecError(f"split field '{field}' has the value '{value}', which names no split", where="--split-field",
                          fix=f"values it understands: {names}")


def in_dev(question: Question, fraction: float, seed: int) -> bool:
    """Whether the hash of the question's content (and the seed) falls below `fraction`."""
    digest = hashlib.sha256(f"{seed}\0{content_key(question)}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


@dataclass
class Assignment:
    splits: dict[str, list[Question]]
    cross_duplicates: int = 0  # questions dropped from a split because a more held-out split has them


def assign(declared: dict[str, list[Question]], undeclared: list[Question], *, dev_fraction: float,
           seed: int) -> Assignment:
    """Splits from the declared questions and the rest: the rest is search, less the hashed dev share
    when no dev split is declared. Then questions held out in a later split leave the earlier ones."""
    splits = {name: list(declared.get(name, [])) for name in SPLITS}
    if declared.get("dev") or dev_fraction <= 0:
        splits["search"] += undeclared
    else:
        for question in undeclared:
            splits["dev" if in_dev(question, dev_fraction, seed) else "search"].append(question)
    held: set[str] = set()
    dropped = 0
    for name in reversed(SPLITS):
        kept = []
        for question in splits[name]:
            key = content_key(question)
            if key in held:
                dropped += 1
                continue
            kept.append(question)
        splits[name] = kept
        held.update(content_key(q) for q in kept)
    return Assignment(splits, dropped)


def check_unique_ids(splits: dict[str, list[Question]]) -> None:
    seen: dict[str, str] = {}
    for name, questions in splits.items():
        for question in questions:
            if question.id in seen and seen[question.id] != name:
                raise DomainSpecError(f"id '{question.id}' is in both the {seen[question.id]} and the {name} split",
                                      where="--split-file", fix="give the files distinct ids, or --map id=none to "
                                      "number the rows of each file")
            seen[question.id] = name
