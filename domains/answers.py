"""Answer extraction and verification for the standard answer types, as pure functions.

A model ends its reasoning with `ANSWER_PHRASE` ("The answer is X"); `extract_answer` reads X from the LAST
such phrase and turns it into the canonical answer for the type; `is_correct` compares a prediction with a
question's gold answer. Canonical answers: an option letter A-J (`mcq`), yes/no/maybe (`yesno`), a number
string (`numeric`, see `domains.numbers`), trimmed free text (`text`, compared after `normalize_text`).
"""

from __future__ import annotations

import difflib
import re
import string
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from domains.numbers import first_number, format_number, numbers_match, parse_number
from domains.question import Question

ANSWER_PHRASE = "The answer is"

OPTION_LETTERS = "ABCDEFGHIJ"
FUZZY_MIN, FUZZY_GAP = 0.85, 0.15  # a misspelt option text: this similar to one option, and this far ahead
YESNO_VALUES = ("yes", "no", "maybe")


@dataclass(frozen=True)
class Tolerance:
    """How close a numeric prediction must be: within `abs` or within `rel` times the gold value."""

    abs: float = 1e-6
    rel: float = 0.0


# "The answer is", "the final answer is:", "The correct answer is", "the answer to the question is", "The
# correct option is" (phrasings the embedded model uses; tests/data/extraction).
_PHRASE = re.compile(
    r"\bthe\s+(?:(?:final|correct|right|best)\s+)?answer(?:\s+to\s+(?:the|this)\s+(?:question|problem))?\s+is\b\s*:?"
    r"|\bthe\s+(?:correct|right|best)\s+(?:option|choice)\s+is\b\s*:?",
    re.IGNORECASE,
)
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


def tidy_text(text: str) -> str:
    """Spacing folded, a final period and surrounding quotes dropped; case, signs and symbols kept, so
    "100% Rr" and "100% rr" (two genotypes) or "Rh+ve" and "Rh-ve" stay apart."""
    text = " ".join(unicodedata.normalize("NFKC", text).split()).strip().strip("\"'\u201c\u201d`").strip()
    return text.removesuffix(".").strip()


def loose_text(text: str) -> str:
    """`tidy_text` with case folded too."""
    return tidy_text(text).casefold()


def _spaceless(text: str) -> str:
    return "".join(loose_text(text).split())


# From strictest to loosest: an answer text matches an option at the first key where any option matches.
OPTION_KEYS = (str.strip, tidy_text, loose_text, _spaceless, normalize_text)


def option_matches(value: str, options: dict[str, str]) -> list[str]:
    """Letters of the options whose text `value` is, at the strictest key where any matches (see
    OPTION_KEYS). More than one letter means the text is ambiguous; none that it matches no option."""
    for key in OPTION_KEYS:
        wanted = key(value)
        if not wanted:
            continue
        hits = [letter for letter, text in options.items() if key(text) == wanted]
        if hits:
            return hits
    return []


def match_option_text(value: str, options: dict[str, str]) -> str | None:
    """The letter of the option a model's answer text names: a unique match at the strictest key that
    matches (see `option_matches`); else the option it starts with, the longest such option winning
    when it is the only one that long; else the one option it misspells ("Diltizem" for "Diltiazem":
    similarity at least FUZZY_MIN, and clearly above every other option). None when nothing matches
    or the match is ambiguous. Gold labels never use the last two rules (`option_matches` only)."""
    hits = option_matches(value, options)
    if hits:
        return hits[0] if len(hits) == 1 else None
    wanted = normalize_text(value)
    if not wanted:
        return None
    prefixes = [(len(normalize_text(text)), letter) for letter, text in options.items()
                if normalize_text(text) and wanted.startswith(normalize_text(text) + " ")]
    if prefixes:
        longest = max(length for length, _ in prefixes)
        best = [letter for length, letter in prefixes if length == longest]
        return best[0] if len(best) == 1 else None
    similar = sorted(((difflib.SequenceMatcher(None, wanted, normalize_text(text)).ratio(), letter)
                      for letter, text in options.items()), reverse=True)
    if similar and similar[0][0] >= FUZZY_MIN and (len(similar) == 1 or similar[0][0] - similar[1][0] >= FUZZY_GAP):
        return similar[0][1]
    return None


# ---- the answer sentence -------------------------------------------------------------------------


def _sentence_end(text: str, start: int) -> int | None:
    """End of the sentence whose answer begins after `start`: at a newline, or just after a ".", "!"
    or "?" that whitespace follows. None while it cannot be told yet (nothing written, or the text
    ends right after a "." that may still be a decimal point, as in "3." before "5")."""
    index, length = start, len(text)
    while index < length and text[index].isspace():
        index += 1  # the answer may start on the next line ("The answer is:\n\nB")
    for position in range(index, length):
        char = text[position]
        if char == "\n":
            return position
        if char in ".!?" and position + 1 < length and text[position + 1].isspace():
            return position + 1
    return None


def answer_end(text: str) -> int | None:
    """Where the FIRST complete answer sentence of `text` ends ("The answer is B." -> just after the
    period), or None while no answer sentence is complete. Generation stops here (the backends' stop
    rule), and text is cut here (`cut_after_answer`): a small model rambles on after its answer and
    may state a second, different one. Once it returns a position, any longer text returns the same."""
    match = _PHRASE.search(text)
    return None if match is None else _sentence_end(text, match.end())


def states_answer(text: str) -> bool:
    """Whether `text` holds an answer phrase (a step that does is the last of its solution)."""
    return _PHRASE.search(text) is not None


def cut_after_answer(text: str) -> str:
    """`text` up to the end of its first complete answer sentence (all of it when there is none)."""
    end = answer_end(text)
    return text if end is None else text[:end]


def answer_spans(text: str) -> list[str]:
    """What each answer phrase introduces, up to the end of its sentence, in text order."""
    spans = []
    for match in _PHRASE.finditer(text):
        end = _sentence_end(text, match.end())
        spans.append(text[match.end():len(text) if end is None else end].strip())
    return spans


def answer_span(text: str) -> str | None:
    """What follows the LAST answer phrase, up to the end of its sentence; None without a phrase."""
    spans = answer_spans(text)
    return spans[-1] if spans else None


# ---- extraction ----------------------------------------------------------------------------------


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


def extract_number(span: str) -> str | None:
    """The number an answer span gives: the first one after its last "=" ("28 + 19 = 47." -> 47),
    else the first one ("47 apples" -> 47); units and trailing punctuation are ignored."""
    value = first_number(span.rsplit("=", 1)[-1])
    return None if value is None else format_number(value)


def extract_text(span: str) -> str | None:
    cleaned = span.strip().strip(_DECORATION).strip().removesuffix(".").strip(_DECORATION).strip()
    return cleaned or None


def read_span(span: str, answer_type: str, options: dict[str, str] | None = None) -> str | None:
    """The canonical answer one answer span gives for `answer_type`, or None when it gives none."""
    return ANSWER_TYPES[answer_type].read(span, options)


def extract_answer(text: str, answer_type: str, options: dict[str, str] | None = None) -> str | None:
    """Canonical answer from the answer sentences of `text` ("The answer is ..."): the last one that
    gives a readable answer wins, so a trailing "The answer is N." placeholder does not hide an
    earlier "The answer is 22."; None when no sentence gives one."""
    for span in reversed(answer_spans(text)):
        value = read_span(span, answer_type, options)
        if value is not None:
            return value
    return None


# ---- verification --------------------------------------------------------------------------------


def is_correct(
    predicted: str | None, question: Question, answer_type: str, tolerance: Tolerance = Tolerance()
) -> bool:
    """Whether `predicted` (canonical or lenient) answers `question`; None is never correct."""
    if predicted is None:
        return False
    return ANSWER_TYPES[answer_type].verify(predicted, question, tolerance)


def _verify_mcq(predicted: str, question: Question, _tolerance: Tolerance) -> bool:
    letter = normalize_letter(predicted)
    if letter is None and question.options:
        letter = match_option_text(predicted, question.options)
    return letter == question.answer


def _verify_numeric(predicted: str, question: Question, tolerance: Tolerance) -> bool:
    value, gold = parse_number(predicted), parse_number(question.answer)
    if value is None or gold is None:
        return False
    return numbers_match(value, gold, abs_tol=tolerance.abs, rel_tol=tolerance.rel)


# ---- gold answers as files state them --------------------------------------------------------------


def _short(value: Any, limit: int = 40) -> str:
    text = str(value).replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _gold_yesno(value: Any) -> str:
    word = str(value).strip().strip(".").lower()
    if word not in YESNO_VALUES:
        raise ValueError(f"answer '{_short(value)}' is not yes, no or maybe")
    return word


def _gold_numeric(value: Any) -> str:
    if isinstance(value, bool):
        raise ValueError(f"answer {value} is a boolean, not a number")
    number = float(value) if isinstance(value, (int, float)) else parse_number(str(value))
    if number is None:
        raise ValueError(f"answer '{_short(value)}' is not a number (map the number itself, e.g. answer|after:####)")
    return format_number(number)


def _gold_text(value: Any) -> str:
    if isinstance(value, (dict, list)):
        raise ValueError(f"answer is a {type(value).__name__}, not text (map a path to its text)")
    return str(value).strip()


# ---- the table -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnswerType:
    """Everything that differs between answer types, in one place (domains, the CLI and the agents read it).

    `read` gets the canonical answer from an answer span; `verify` checks a prediction against the gold
    answer; `gold` turns a file's raw answer into the canonical one (None for mcq, whose gold answer is
    resolved against its options); `instruction` asks the model for the answer (nothing a model could
    copy); `example` is the worked example shown by default; `closed` means the answers come from a small
    fixed set (a distribution lists every value); `goal` says when an agents goal of this type can be
    verified: "always", "with-options" (lettered option lines) or "never" (an open goal); `options`
    says questions carry lettered options, `tolerance` that `verify` reads the domain's tolerance.
    """

    read: Callable[[str, dict[str, str] | None], str | None]
    verify: Callable[[str, Question, Tolerance], bool]
    gold: Callable[[Any], str] | None
    instruction: str
    example: dict | None
    closed: bool
    goal: Literal["always", "with-options", "never"]
    options: bool = False  # questions carry lettered options
    tolerance: bool = False  # `verify` reads the domain's numeric tolerance


# Without an example the embedded 135M model computes a sum and then never concludes: it wrote the
# answer sentence on 14 of 40 additions. Shown this one first, it concluded on 40 of 40; for mcq an
# example made it skip the reasoning (bench/prompt_sweep.py, bench/RESULTS.md).
ANSWER_TYPES: dict[str, AnswerType] = {
    "mcq": AnswerType(
        read=extract_mcq,
        verify=_verify_mcq,
        gold=None,
        instruction=f'Think step by step. End with one sentence that starts with "{ANSWER_PHRASE}" followed by the '
                    "letter of the correct option.",
        example=None, closed=True, goal="with-options", options=True),
    "yesno": AnswerType(
        read=lambda span, _options: normalize_yesno(span),
        verify=lambda predicted, question, _t: normalize_yesno(predicted) == question.answer,
        gold=_gold_yesno,
        instruction=f'Think step by step, then finish with "{ANSWER_PHRASE} yes", "{ANSWER_PHRASE} no" or '
                    f'"{ANSWER_PHRASE} maybe".',
        example=None, closed=True, goal="always"),
    "numeric": AnswerType(
        read=lambda span, _options: extract_number(span),
        verify=_verify_numeric,
        gold=_gold_numeric,
        instruction=f'Think step by step. End with one sentence that starts with "{ANSWER_PHRASE}" followed by the '
                    "final number.",
        example={"question": "What is 4 + 3?", "steps": ["4 + 3 = 7.", f"{ANSWER_PHRASE} 7."]},
        closed=False, goal="always", tolerance=True),
    "text": AnswerType(
        read=lambda span, _options: extract_text(span),
        verify=lambda predicted, question, _t: normalize_text(predicted) == normalize_text(question.answer) != "",
        gold=_gold_text,
        instruction=f'Think step by step. End with one sentence that starts with "{ANSWER_PHRASE}" followed by a '
                    "short answer.",
        example=None, closed=False, goal="never"),
}
