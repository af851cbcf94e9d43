"""Raw records -> canonical `Question`s, validating every row and collecting the bad ones with reasons.

A gold answer is taken only when the row states it without doubt: an answer given as option text must
match one option exactly, or one option alone under a looser comparison (`answers.option_matches`);
rows whose options repeat are bad. Exact duplicates (same context, question and options) are dropped
and counted; a duplicate with another answer is a bad row.
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from domains.answers import ANSWER_TYPES, OPTION_LETTERS, normalize_letter, option_matches, tidy_text
from domains.errors import DataFileError
from domains.loaders import Record, read_records
from domains.mapping import MissingField, TransformError, get_field
from domains.question import Question
from domains.spec import FieldsSpec

MAX_LISTED_BAD_ROWS = 20  # what `evolve domains check` and `add --skip-bad` print; bad_rows.jsonl has them all
MAX_BAD_ROWS_IN_ERROR = 5  # a one-line error stays readable
MAX_KEPT_TEXT = 200  # longer unmapped strings are passages, not metadata; --keep keeps them anyway

# What to do about the most common kind of bad row, for the error that refuses a file.
FIXES = {
    "malformed": "each line of a .jsonl file must be one complete JSON object",
    "missing": "check the --map field mapping: the rows lack a field it names",
    "answer-is-text": "the answer field holds option text: map the letter field instead (e.g. --map answer=answer_idx) "
                      "or pass --map answer_format=text",
    "not-a-letter": "set --map answer_format to text, index0 or index1, or map the field holding the letter",
    "ambiguous": "the answer text fits several options: map a letter or index field for the answer",
    "no-match": "the answer text is none of the options: check --map answer and --map options",
    "duplicate-options": "two options of a row say the same: fix or drop those rows",
    "conflicting-duplicate": "the same question appears with different answers: fix one of them",
    "duplicate-id": "ids repeat: map a unique id field, or --map id=none to number the rows",
}
DEFAULT_FIX = "check the --map field mapping and --type"


class RowError(Exception):
    """Why one row cannot become a question; `kind` groups reasons for the summary and its fix."""

    def __init__(self, message: str, kind: str = "other"):
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class BadRow:
    number: int
    unit: str
    reason: str
    kind: str = "other"

    @property
    def position(self) -> str:
        return f"{self.unit} {self.number}"


@dataclass(frozen=True)
class Duplicate:
    """A row dropped because an earlier row holds the same question and options."""

    number: int
    unit: str
    first: str  # position of the row it repeats


@dataclass(frozen=True)
class Conversion:
    questions: list[Question]
    bad_rows: list[BadRow]
    total: int
    duplicates: list[Duplicate] = field(default_factory=list)

    def most_common_problem(self) -> tuple[str, int, str]:
        """(an example reason, how many rows share its kind, the likely fix)."""
        kind, count = Counter(row.kind for row in self.bad_rows).most_common(1)[0]
        example = next(row for row in self.bad_rows if row.kind == kind)
        return f"{example.position}: {example.reason}", count, FIXES.get(kind, DEFAULT_FIX)


def load_questions(source: str | Path, fields: FieldsSpec, answer_type: str, *, id_prefix: str) -> Conversion:
    """Read `source` and convert every row; whole-file problems raise DataFileError, row problems are collected."""
    records = read_records(source, csv_header=fields.csv_header, columns=fields.columns(required=True))
    return convert_records(records, fields, answer_type, source=str(source), id_prefix=id_prefix)


def content_key(question: Question) -> str:
    """What makes two rows the same question: context, question and options (not id or answer)."""
    options = list(question.options.items()) if question.options else None
    return json.dumps([question.context or "", question.question, options], ensure_ascii=False)


def convert_records(
    records: list[Record], fields: FieldsSpec, answer_type: str, *, source: str, id_prefix: str
) -> Conversion:
    questions: list[Question] = []
    bad: list[BadRow] = []
    duplicates: list[Duplicate] = []
    first_of_id: dict[str, str] = {}
    first_of_content: dict[str, tuple[str, Question]] = {}
    kept: list[Record] = []  # the record of each question, in step
    for record in records:
        try:
            if record.error is not None:
                raise RowError(record.error, "malformed")
            question = row_to_question(record, fields, answer_type, source=source, id_prefix=id_prefix)
        except RowError as err:
            bad.append(BadRow(record.number, record.unit, str(err), err.kind))
            continue
        key = content_key(question)
        if key in first_of_content:
            position, first = first_of_content[key]
            if first.answer != question.answer:
                bad.append(BadRow(record.number, record.unit, f"repeats the question of {position} with answer "
                                  f"'{question.answer}' where it has '{first.answer}'", "conflicting-duplicate"))
            else:
                duplicates.append(Duplicate(record.number, record.unit, position))
            continue
        if question.id in first_of_id:
            bad.append(BadRow(record.number, record.unit, f"duplicate id '{question.id}' (first at "
                              f"{first_of_id[question.id]})", "duplicate-id"))
            continue
        first_of_id[question.id] = record.position
        first_of_content[key] = (record.position, question)
        questions.append(question)
        kept.append(record)
    if ANSWER_TYPES[answer_type].options and fields.answer_format == "letter":
        questions, bad = _doubt_letters_among_texts(questions, kept, bad, fields)
    return Conversion(questions, bad, len(records), duplicates)


def _doubt_letters_among_texts(questions: list[Question], records: list[Record], bad: list[BadRow],
                               fields: FieldsSpec) -> tuple[list[Question], list[BadRow]]:
    """In a file whose answer field mostly holds option text (a forgotten `--map answer=answer_idx`), an
    answer "D" that is also the text of another option is text too, not the letter D: such rows are bad.
    Where answers are letters (ARC's answerKey, with "C" for carbon among the options), they stay."""
    texts = sum(row.kind == "answer-is-text" for row in bad)
    if texts * 2 < texts + len(questions):
        return questions, bad
    kept, doubted = [], list(bad)
    for question, record in zip(questions, records):
        value = str(_optional(record.data, fields.answer)).strip()
        others = [letter for letter, text in (question.options or {}).items()
                  if text.strip() == value and letter != question.answer]
        if others:
            doubted.append(BadRow(record.number, record.unit, f"answer '{_short(value)}' is the text of option "
                                  f"{others[0]} as well as a letter, and most answers here are option texts",
                                  "answer-is-text"))
        else:
            kept.append(question)
    return kept, sorted(doubted, key=lambda row: row.number)


def bad_rows_error(conversion: Conversion, source: str, fix: str) -> DataFileError:
    """One error naming the first MAX_BAD_ROWS_IN_ERROR bad rows with their reasons, then how many more
    there are and how many share the most common kind of problem."""
    bad = conversion.bad_rows
    listed = "; ".join(f"{row.position}: {row.reason}" for row in bad[:MAX_BAD_ROWS_IN_ERROR])
    more = ""
    if len(bad) > MAX_BAD_ROWS_IN_ERROR:
        kind, count = Counter(row.kind for row in bad).most_common(1)[0]
        more = f"; and {len(bad) - MAX_BAD_ROWS_IN_ERROR} more ({count} of all {len(bad)} of the kind '{kind}')"
    return DataFileError(f"{len(bad)} of {conversion.total} rows are invalid: {listed}{more}", where=source, fix=fix)


def row_to_question(record: Record, fields: FieldsSpec, answer_type: str, *, source: str, id_prefix: str) -> Question:
    data = record.data
    if not isinstance(data, (dict, list)):
        raise RowError(f"is a {type(data).__name__}, not an object", "malformed")
    question_text = _text(_required(data, fields.question, "question"), "question")
    options: dict[str, str] | None = None
    if ANSWER_TYPES[answer_type].options:
        if fields.options is None:
            raise RowError("mcq needs options: map 'options' to a field")
        options, labels = _options(data, fields.options)
        answer = _mcq_answer(_required(data, fields.answer, "answer"), fields.answer_format, options, labels)
    else:
        try:
            answer = ANSWER_TYPES[answer_type].gold(_required(data, fields.answer, "answer"))
        except ValueError as err:
            raise RowError(str(err)) from None
    raw_id = _optional(data, fields.id)
    explanation = _optional(data, fields.explanation)
    context = _optional(data, fields.context)
    return Question(
        id=str(raw_id).strip() if raw_id is not None and str(raw_id).strip() else f"{id_prefix}-{record.number}",
        question=question_text,
        answer=answer,
        options=options,
        context=(str(context).strip() or None) if context is not None else None,
        meta=_metadata(data, fields),
        explanation=str(explanation).strip() or None if explanation is not None else None,
        source=f"{source}:{record.number}" if record.unit == "line" else f"{source} {record.position}",
    )


def _metadata(data: Any, fields: FieldsSpec) -> dict[str, Any]:
    """The row's descriptive fields: the `meta` dict, then the kept fields (see FieldsSpec)."""
    if not isinstance(data, dict):
        return {}
    found: dict[str, Any] = {}
    nested = _optional(data, fields.meta)
    if isinstance(nested, dict):
        found.update(nested)
    if fields.keep is not None:
        for name in fields.keep:
            value = _optional(data, name)
            if value is not None:
                found[name] = value
        return found
    used = set(fields.columns())
    for name, value in data.items():
        if name in used or value is None:
            continue
        if isinstance(value, (bool, int, float)) or (isinstance(value, str) and 0 < len(value) <= MAX_KEPT_TEXT):
            found[str(name)] = value
    return found


def _required(data: Any, source: str, what: str) -> Any:
    try:
        value = get_field(data, source)
    except MissingField as err:
        raise RowError(f"no {what}: {err}", "missing") from None
    except TransformError as err:
        raise RowError(f"{what} field '{source}': {err}", "missing") from None
    if isinstance(value, str) and not value.strip():
        raise RowError(f"empty {what} (field '{source}')", "missing")
    return value


def _optional(data: Any, source: str | None) -> Any:
    if source is None:
        return None
    try:
        return get_field(data, source)
    except (MissingField, TransformError):
        return None


def _text(value: Any, what: str) -> str:
    if isinstance(value, (dict, list)):
        raise RowError(f"{what} is a {type(value).__name__}, not text (map a path to its text, e.g. question.stem)")
    return str(value).strip()


def _options(data: Any, source: str | list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """(letter -> text, raw label -> letter) from one source or a list of per-option sources."""
    sources = [part.strip() for part in source.split(",")] if isinstance(source, str) and "," in source else source
    if isinstance(sources, list):
        values = []
        for column in sources:
            try:
                values.append(get_field(data, column))
            except MissingField:
                values.append(None)
        while values and (values[-1] is None or not str(values[-1]).strip()):
            values.pop()  # rows with fewer options leave trailing columns empty
        pairs = list(zip(sources, values))
    else:
        value = _required(data, sources, "options")
        if isinstance(value, str) and value.strip()[:1] in "[{":
            with contextlib.suppress(json.JSONDecodeError):
                value = json.loads(value)  # a JSON-encoded cell of a CSV
        pairs = _labelled(value, sources)
    if not pairs:
        raise RowError("no options", "missing")
    if len(pairs) > len(OPTION_LETTERS):
        raise RowError(f"{len(pairs)} options; at most {len(OPTION_LETTERS)} (A-J) are supported")
    letters = [normalize_letter(str(label)) for label, _ in pairs]
    if None in letters or len(set(letters)) != len(letters):
        letters = list(OPTION_LETTERS[: len(pairs)])  # labels like "opa" or duplicates: position decides
    options: dict[str, str] = {}
    labels: dict[str, str] = {}
    for letter, (label, text) in zip(letters, pairs):
        if text is None or not str(text).strip():
            raise RowError(f"option {letter} ('{label}') is empty", "missing")
        options[letter] = str(text).strip()
        labels[str(label).strip().upper()] = letter
    options = dict(sorted(options.items()))
    _refuse_repeated_options(options)
    return options, labels


def _refuse_repeated_options(options: dict[str, str]) -> None:
    # Two options that say the same make the letter of the right one arbitrary. Case counts: "Rr" and
    # "rr" are two genotypes (ARC-Easy test line 1931).
    seen: dict[str, str] = {}
    for letter, text in options.items():
        key = tidy_text(text)
        if key in seen:
            raise RowError(f"options {seen[key]} and {letter} are the same text ('{_short(text)}')", "duplicate-options")
        seen[key] = letter


def _labelled(value: Any, source: str) -> list[tuple[Any, Any]]:
    if isinstance(value, dict):
        return list(value.items())
    if isinstance(value, list):
        if all(isinstance(item, dict) for item in value):
            pairs = []
            for item in value:
                label, text = item.get("label", item.get("key")), item.get("text", item.get("value"))
                if label is None or text is None:
                    raise RowError(f"options '{source}': each item needs 'label' and 'text' (got keys {sorted(item)})")
                pairs.append((label, text))
            return pairs
        return [(OPTION_LETTERS[index] if index < len(OPTION_LETTERS) else index, item) for index, item in enumerate(value)]
    raise RowError(f"options '{source}' is a {type(value).__name__}; expected a dict, a list, or a list of columns")


def _mcq_answer(value: Any, answer_format: str, options: dict[str, str], labels: dict[str, str]) -> str:
    shown = f"{min(options)}-{max(options)}"
    if answer_format == "text":
        hits = option_matches(str(value), options)
        if not hits:
            raise RowError(f"answer text '{_short(value)}' matches none of the options", "no-match")
        if len(hits) > 1:
            raise RowError(f"answer text '{_short(value)}' matches options {', '.join(hits)} alike", "ambiguous")
        return hits[0]
    if answer_format in ("index0", "index1"):
        base = 0 if answer_format == "index0" else 1
        try:
            index = int(str(value).strip()) - base
        except ValueError:
            raise RowError(f"answer '{_short(value)}' is not an integer index ({answer_format})", "not-a-letter") from None
        if not 0 <= index < len(options):
            raise RowError(f"answer index {value} is out of range for {len(options)} options ({answer_format})")
        return sorted(options)[index]
    letter = labels.get(str(value).strip().upper()) or normalize_letter(str(value))
    if letter is None:
        if option_matches(str(value), options):
            raise RowError(f"answer '{_short(value)}' is an option's text, not its letter", "answer-is-text")
        raise RowError(f"answer '{_short(value)}' is not an option letter (A-J or 1-9); set answer_format to text, "
                       "index0 or index1", "not-a-letter")
    if letter not in options:
        raise RowError(f"answer '{letter}' is not among its options {shown}")
    return letter


def _short(value: Any, limit: int = 40) -> str:
    text = str(value).replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."
