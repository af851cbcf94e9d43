"""Raw records -> canonical `Question`s, validating every row and collecting the bad ones with reasons."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from domains.answers import OPTION_LETTERS, YESNO_VALUES, normalize_letter, normalize_text
from domains.errors import DataFileError
from domains.loaders import Record, read_records
from domains.mapping import MissingField, TransformError, get_field
from domains.numbers import format_number, parse_number
from domains.question import Question
from domains.spec import FieldsSpec

MAX_LISTED_BAD_ROWS = 20


class RowError(Exception):
    """Why one row cannot become a question."""


@dataclass(frozen=True)
class BadRow:
    number: int
    unit: str
    reason: str

    @property
    def position(self) -> str:
        return f"{self.unit} {self.number}"


@dataclass(frozen=True)
class Conversion:
    questions: list[Question]
    bad_rows: list[BadRow]
    total: int


def load_questions(source: str | Path, fields: FieldsSpec, answer_type: str, *, id_prefix: str) -> Conversion:
    """Read `source` and convert every row; whole-file problems raise DataFileError, row problems are collected."""
    records = read_records(source, csv_header=fields.csv_header)
    return convert_records(records, fields, answer_type, source=str(source), id_prefix=id_prefix)


def convert_records(
    records: list[Record], fields: FieldsSpec, answer_type: str, *, source: str, id_prefix: str
) -> Conversion:
    questions: list[Question] = []
    bad: list[BadRow] = []
    first_line_of_id: dict[str, str] = {}
    for record in records:
        try:
            question = row_to_question(record, fields, answer_type, source=source, id_prefix=id_prefix)
        except RowError as err:
            bad.append(BadRow(record.number, record.unit, str(err)))
            continue
        if question.id in first_line_of_id:
            bad.append(BadRow(record.number, record.unit, f"duplicate id '{question.id}' (first at {first_line_of_id[question.id]})"))
            continue
        first_line_of_id[question.id] = record.position
        questions.append(question)
    return Conversion(questions, bad, len(records))


def bad_rows_error(conversion: Conversion, source: str, fix: str) -> DataFileError:
    """One error naming up to MAX_LISTED_BAD_ROWS bad rows with their reasons, then a count of the rest."""
    bad = conversion.bad_rows
    listed = "; ".join(f"{row.position}: {row.reason}" for row in bad[:MAX_LISTED_BAD_ROWS])
    more = f"; and {len(bad) - MAX_LISTED_BAD_ROWS} more" if len(bad) > MAX_LISTED_BAD_ROWS else ""
    return DataFileError(f"{len(bad)} of {conversion.total} rows are invalid: {listed}{more}", where=source, fix=fix)


def row_to_question(record: Record, fields: FieldsSpec, answer_type: str, *, source: str, id_prefix: str) -> Question:
    data = record.data
    if not isinstance(data, (dict, list)):
        raise RowError(f"is a {type(data).__name__}, not an object")
    question_text = _text(_required(data, fields.question, "question"), "question")
    options: dict[str, str] | None = None
    if answer_type == "mcq":
        if fields.options is None:
            raise RowError("mcq needs options: map 'options' to a field")
        options, labels = _options(data, fields.options)
        answer = _mcq_answer(_required(data, fields.answer, "answer"), fields.answer_format, options, labels)
    else:
        answer = _plain_answer(_required(data, fields.answer, "answer"), answer_type)
    raw_id = _optional(data, fields.id)
    meta: dict[str, Any] = {"source": source, record.unit: record.number}
    explanation = _optional(data, fields.explanation)
    if explanation is not None and str(explanation).strip():
        meta["explanation"] = str(explanation).strip()
    context = _optional(data, fields.context)
    return Question(
        id=str(raw_id).strip() if raw_id is not None and str(raw_id).strip() else f"{id_prefix}-{record.number}",
        question=question_text,
        answer=answer,
        options=options,
        context=(str(context).strip() or None) if context is not None else None,
        meta=meta,
    )


def _required(data: Any, source: str, what: str) -> Any:
    try:
        value = get_field(data, source)
    except MissingField as err:
        raise RowError(f"no {what}: {err}") from None
    except TransformError as err:
        raise RowError(f"{what} field '{source}': {err}") from None
    if isinstance(value, str) and not value.strip():
        raise RowError(f"empty {what} (field '{source}')")
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
            try:
                value = json.loads(value)  # a JSON-encoded cell of a CSV
            except json.JSONDecodeError:
                pass
        pairs = _labelled(value, sources)
    if not pairs:
        raise RowError("no options")
    if len(pairs) > len(OPTION_LETTERS):
        raise RowError(f"{len(pairs)} options; at most {len(OPTION_LETTERS)} (A-J) are supported")
    letters = [normalize_letter(str(label)) for label, _ in pairs]
    if None in letters or len(set(letters)) != len(letters):
        letters = list(OPTION_LETTERS[: len(pairs)])  # labels like "opa" or duplicates: position decides
    options: dict[str, str] = {}
    labels: dict[str, str] = {}
    for letter, (label, text) in zip(letters, pairs):
        if text is None or not str(text).strip():
            raise RowError(f"option {letter} ('{label}') is empty")
        options[letter] = str(text).strip()
        labels[str(label).strip().upper()] = letter
    return dict(sorted(options.items())), labels


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
        letter = _exact_text_match(str(value), options)
        if letter is None:
            raise RowError(f"answer text '{_short(value)}' matches none of the options")
        return letter
    if answer_format in ("index0", "index1"):
        base = 0 if answer_format == "index0" else 1
        try:
            index = int(str(value).strip()) - base
        except ValueError:
            raise RowError(f"answer '{_short(value)}' is not an integer index ({answer_format})") from None
        if not 0 <= index < len(options):
            raise RowError(f"answer index {value} is out of range for {len(options)} options ({answer_format})")
        return sorted(options)[index]
    letter = labels.get(str(value).strip().upper()) or normalize_letter(str(value))
    if letter is None:
        raise RowError(f"answer '{_short(value)}' is not an option letter (A-J or 1-9); set answer_format to text, index0 or index1")
    if letter not in options:
        raise RowError(f"answer '{letter}' is not among its options {shown}")
    return letter


def _exact_text_match(value: str, options: dict[str, str]) -> str | None:
    wanted = normalize_text(value)
    return next((letter for letter, text in options.items() if normalize_text(text) == wanted), None)


def _plain_answer(value: Any, answer_type: str) -> str:
    if answer_type == "yesno":
        word = str(value).strip().strip(".").lower()
        if word not in YESNO_VALUES:
            raise RowError(f"answer '{_short(value)}' is not yes, no or maybe")
        return word
    if answer_type == "numeric":
        if isinstance(value, bool):
            raise RowError(f"answer {value} is a boolean, not a number")
        number = float(value) if isinstance(value, (int, float)) else parse_number(str(value))
        if number is None:
            raise RowError(f"answer '{_short(value)}' is not a number (map the number itself, e.g. answer|after:####)")
        return format_number(number)
    return _text(value, "answer")


def _short(value: Any, limit: int = 40) -> str:
    text = str(value).replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."
