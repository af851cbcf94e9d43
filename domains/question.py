"""The canonical question every domain loads its rows into."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Question:
    """One question in canonical form, whatever file format it came from.

    `answer` is canonical for the domain's answer type: an option letter for `mcq`, `yes`/`no`/`maybe`
    for `yesno`, a number string for `numeric` (see `domains.numbers.format_number`), free text for `text`.
    `options` is an ordered letter -> text mapping (A, B, C, ...) for `mcq` and None otherwise.
    `meta` holds the row's descriptive fields (subject, category, difficulty, ...): `evolve eval --where`
    filters on them and `--by` reports accuracy per value. `source` says where the row came from
    ("file:line"), and `explanation` is a reference solution when the file has one.
    """

    id: str
    question: str
    answer: str
    options: dict[str, str] | None = None
    context: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    explanation: str | None = None
    source: str | None = None
