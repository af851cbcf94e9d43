"""Answer extraction and verification for the standard answer types, as pure functions.

A model ends its reasoning with `ANSWER_PHRASE` ("The answer is X"); `extract_answer` reads X from the LAST
such phrase and turns it into the canonical answer for the type; `is_correct` compares a prediction with a
question's gold answer. Canonical answers: an option letter A-J (`mcq`), yes/no/maybe (`yesno`), a number
string (`numeric`, see `domains.numbers`), trimmed free text (`text`, compared after `normalize_text`).
"""

from __future__ import annotations

import re
import string
import unicodedata
from dataclasses import dataclass
from typing import Literal, get_args

from domains.numbers import first_number, format_number, numbers_match, parse_number
from domains.question import Question

ANSWER_PHRASE = "The answer is"

AnswerType = Literal["mcq", "yesno", "numeric", "text"]
ANSWER_TYPES: tuple[str, ...] = get_args(AnswerType)

OPTION_LETTERS = "ABCDEFGHIJ"
YESNO_VALUES = ("yes", "no", "maybe")


@dataclass(frozen=True)
class Tolerance:
    """How close a numeric prediction must be: within `abs` or within `rel` times the gold value."""

    abs: float = 1e-6
    rel: float = 0.0


# "The answer is", "the final answer is:", "The correct answer is" -- markdown between words is tolerated.
_PHRASE = re.compile(r"\bthe\s+(?:final\s+|correct\s+|best\s+)?answer\s+is\b\s*:?", re.IGNORECASE)
_DECORATION = "*_`\"' :\u201c\u201d"
_ARTICLES = re.compile(r"\b(a|an|the)\b")


# ---- normalisation -------------------------------------------------------------------------------


def normalize_text(text: str) -> str:
    """Lower case, no punctuation, no articles (a/an/the), single spaces: the `text` type's match key."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = "".join(" " if unicodedata.category(ch).startswith("P") or ch in string.punctuation else ch for ch in text)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def normalize_letter(value: str) -> str | None:
    """An option letter from "B", "b", "(B)", "B.", "B)" or a digit label "2" (-> "B"); else None."""
    cleaned = value.strip().strip(_DECORATION).strip("()[].,:;").strip()
    if len(cleaned) != 1:
        return None
    if cleaned.upper() in OPTION_LETTERS:
        return cleaned.upper()
    if cleaned in "123456789":
        return OPTION_LETTERS[int(cleaned) - 1]
    return None


def normalize_yesno(value: str) -> str | None:
    """yes / no / maybe from "Yes.", "**no**", "Maybe, because ..."; else None."""
    words = value.strip().strip(_DECORATION).split()
    if not words:
        return None
    first = words[0].strip(string.punctuation).lower()
    return first if first in YESNO_VALUES else None


def match_option_text(value: str, options: dict[str, str]) -> str | None:
    """The letter of the option `value` spells out (exactly, or as its start); the longest match wins."""
    wanted = normalize_text(value)
    if not wanted:
        return None
    best: tuple[int, str] | None = None
    for letter, text in options.items():
        option = normalize_text(text)
        if option and (wanted == option or wanted.startswith(option + " ")):
            if best is None or len(option) > best[0]:
                best = (len(option), letter)
    return best[1] if best else None


# ---- extraction ----------------------------------------------------------------------------------


def answer_span(text: str) -> str | None:
    """What follows the LAST answer phrase, up to the end of its line; None when there is no phrase."""
    matches = list(_PHRASE.finditer(text))
    if not matches:
        return None
    rest = text[matches[-1].end() :].lstrip()
    line = rest.split("\n", 1)[0]
    return line.strip()


# A letter on its own: "B", "(B)", "B)", "B.", "[B]", "option B". A lower-case letter only counts when
# bracketed or alone, so "the answer is a fever" does not read as option A. Small models often put a
# filler word first ("The answer is indeed D."), which is skipped.
_LEADING_LETTER = re.compile(
    r"^(?:(?:indeed|clearly|definitely|therefore|thus|probably|most\s+likely|likely),?\s+)?"
    r"(?:option|choice)?\s*(?:\(([A-Ja-j])\)|\[([A-Ja-j])\]|([A-J])(?=$|[\s.,:;)\]])|([a-j])(?=$|[.)\]]))"
)


def extract_mcq(span: str, options: dict[str, str] | None = None) -> str | None:
    """Option letter from an answer span; falls back to matching the option text when `options` is given."""
    # Markdown emphasis and math delimiters can sit anywhere around the letter ("**C**.", "$\boxed{C}$").
    cleaned = re.sub(r"\\boxed\{([^{}]*)\}", r"\1", span)
    cleaned = re.sub(r"[$*`]", "", cleaned)
    cleaned = cleaned.strip().strip(_DECORATION).strip()
    match = _LEADING_LETTER.match(cleaned)
    if match:
        letter = next(group for group in match.groups() if group).upper()
        return letter if options is None or letter in options else None
    if options:
        return match_option_text(cleaned.rstrip(".").strip(_DECORATION), options)
    return None


def extract_text(span: str) -> str | None:
    cleaned = span.strip().strip(_DECORATION).strip().removesuffix(".").strip(_DECORATION).strip()
    return cleaned or None


def extract_answer(text: str, answer_type: str, options: dict[str, str] | None = None) -> str | None:
    """Canonical answer from the last "The answer is X" in `text`, or None when absent or unreadable."""
    span = answer_span(text)
    if span is None:
        return None
    if answer_type == "mcq":
        return extract_mcq(span, options)
    if answer_type == "yesno":
        return normalize_yesno(span)
    if answer_type == "numeric":
        value = first_number(span)
        return None if value is None else format_number(value)
    if answer_type == "text":
        return extract_text(span)
    raise AssertionError(f"unknown answer type {answer_type!r}")  # spec validation rules this out


# ---- verification --------------------------------------------------------------------------------


def is_correct(
    predicted: str | None, question: Question, answer_type: str, tolerance: Tolerance = Tolerance()
) -> bool:
    """Whether `predicted` (canonical or lenient) answers `question`; None is never correct."""
    if predicted is None:
        return False
    if answer_type == "mcq":
        letter = normalize_letter(predicted)
        if letter is None and question.options:
            letter = match_option_text(predicted, question.options)
        return letter == question.answer
    if answer_type == "yesno":
        return normalize_yesno(predicted) == question.answer
    if answer_type == "numeric":
        value, gold = parse_number(predicted), parse_number(question.answer)
        if value is None or gold is None:
            return False
        return numbers_match(value, gold, abs_tol=tolerance.abs, rel_tol=tolerance.rel)
    if answer_type == "text":
        return normalize_text(predicted) == normalize_text(question.answer) != ""
    raise AssertionError(f"unknown answer type {answer_type!r}")
