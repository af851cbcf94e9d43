"""A question as a person pastes it: the stem, then lettered option lines ("A) Mars", "(B) Jupiter",
"C. Saturn", "D: Venus"), or one line of `|`-separated options. The chat, the API and `evolve solve`
read questions this way, so a question typed anywhere means the same thing."""

from __future__ import annotations

import re

from domains.answers import ANSWER_TYPES
from domains.question import Question

_OPTION_LINE = re.compile(r"^\s*\(?([A-Ja-j])\s*[).:]\s+(.+?)\s*$")
_LETTERED = re.compile(r"^\s*\(?([A-Za-z])\s*[).:]\s*(.+)$", re.S)


def parse_options(text: str) -> dict[str, str] | None:
    """`"A) red|B) blue"` -> {"A": "red", "B": "blue"}; unlettered parts are lettered A, B, ... in order.
    None when there are fewer than two parts."""
    parts = [p.strip() for p in text.split("|") if p.strip()]
    if len(parts) < 2:
        return None
    matches = [_LETTERED.match(p) for p in parts]
    if all(matches):
        options = {m.group(1).upper(): m.group(2).strip() for m in matches}  # type: ignore[union-attr]
        if len(options) == len(parts):
            return options
    return {chr(ord("A") + i): p for i, p in enumerate(parts)}


def split_pasted(text: str) -> tuple[str, dict[str, str] | None]:
    """(stem, options): the trailing run of lettered lines A, B, C, ... in order, when there are two or
    more of them; else no options. A line inside the stem that happens to start with "A." stays text."""
    lines = text.strip().splitlines()
    options: dict[str, str] = {}
    end = len(lines)
    while end > 0 and not lines[end - 1].strip():
        end -= 1
    start = end
    while start > 0 and _OPTION_LINE.match(lines[start - 1]):
        start -= 1
    run = [_OPTION_LINE.match(line) for line in lines[start:end]]
    letters = [m.group(1).upper() for m in run if m]
    # The run must read A, B, C, ... from its first letter on; otherwise take the longest such tail.
    while letters and letters != [chr(ord("A") + i) for i in range(len(letters))]:
        start += 1
        run, letters = run[1:], letters[1:]
    if len(letters) >= 2:
        options = {m.group(1).upper(): m.group(2) for m in run if m}
        stem = "\n".join(lines[:start]).strip()
        if stem:
            return stem, options
    stem = "\n".join(lines[:end]).strip()
    if "\n" not in stem and "|" in stem:
        head, _, tail = stem.partition("?")
        inline = parse_options(tail) if tail.strip() else None
        if inline is not None and head.strip():
            return head.strip() + "?", inline
    return stem, None


def pasted_question(text: str, answer_type: str, *, qid: str = "chat") -> tuple[Question, str | None]:
    """The question a pasted text asks, and a problem (None when it reads fine): a multiple-choice
    domain needs options, and an empty message asks nothing."""
    if not ANSWER_TYPES[answer_type].options:  # lettered lines are part of a numeric or yes/no question
        stem, options = text.strip(), None
    else:
        stem, options = split_pasted(text)
    if not stem:
        return Question(id=qid, question="", answer=""), "the message is empty"
    if ANSWER_TYPES[answer_type].options and options is None:
        return (Question(id=qid, question=stem, answer=""),
                "this domain answers multiple-choice questions, but the message has no options: put each option "
                'on its own line after the question, like "A) Mars" then "B) Jupiter"')
    return Question(id=qid, question=stem, answer="", options=options), None
