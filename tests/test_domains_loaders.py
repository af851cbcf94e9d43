"""Readers for every file format, field mapping (paths, transforms, option shapes) and row validation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from domains.convert import load_questions
from domains.errors import DataFileError
from domains.loaders import read_records
from domains.mapping import MissingField, TransformError, apply_transform, get_field, resolve_path
from domains.spec import FieldsSpec


def _write_jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


MCQ_ROW = {"id": "q1", "question": "2+2?", "options": {"A": "3", "B": "4"}, "answer": "B"}


# ---- readers -------------------------------------------------------------------------------------


def test_jsonl_records_remember_their_line_and_skip_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text('{"a": 1}\n\n{"a": 2}\n', encoding="utf-8")
    records = read_records(path)
    assert [(r.data, r.number, r.unit) for r in records] == [({"a": 1}, 1, "line"), ({"a": 2}, 3, "line")]


def test_malformed_jsonl_lines_are_bad_rows_with_their_line(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text('{"question": "q1", "answer": "1"}\n{"a": \n{"question": "q3", "answer": "3"}\n[1,\n', encoding="utf-8")
    records = read_records(path)
    assert [(r.number, r.error is None) for r in records] == [(1, True), (2, False), (3, True), (4, False)]
    conversion = load_questions(path, FieldsSpec(), "numeric", id_prefix="n")
    assert [q.answer for q in conversion.questions] == ["1", "3"]
    assert [(b.position, b.kind) for b in conversion.bad_rows] == [("line 2", "malformed"), ("line 4", "malformed")]
    assert conversion.bad_rows[0].reason.startswith("malformed JSON at column")


def test_empty_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text("\n  \n", encoding="utf-8")
    with pytest.raises(DataFileError, match="no rows"):
        read_records(path)


def test_non_utf8_names_the_line_and_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_bytes(b'{"a": 1}\n{"a": "caf\xe9"}\n')
    with pytest.raises(DataFileError) as err:
        read_records(path)
    assert err.value.where == f"{path}:2"
    assert "0xe9" in err.value.message
    assert "iconv" in err.value.fix


def test_json_list_and_data_wrapper(tmp_path: Path) -> None:
    listed = tmp_path / "l.json"
    listed.write_text(json.dumps([{"a": 1}, {"a": 2}]), encoding="utf-8")
    wrapped = tmp_path / "w.json"
    wrapped.write_text(json.dumps({"data": [{"a": 3}]}), encoding="utf-8")
    assert [(r.data, r.position) for r in read_records(listed)] == [({"a": 1}, "item 1"), ({"a": 2}, "item 2")]
    assert [r.data for r in read_records(wrapped)] == [{"a": 3}]
    scalar = tmp_path / "s.json"
    scalar.write_text('{"rows": []}', encoding="utf-8")
    with pytest.raises(DataFileError, match="not a list"):
        read_records(scalar)


def test_csv_with_and_without_header(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text('q,a\n"Is it, really?",yes\n', encoding="utf-8")
    assert [(r.data, r.number) for r in read_records(path)] == [({"q": "Is it, really?", "a": "yes"}, 2)]
    assert [r.data for r in read_records(path, csv_header=False)] == [["q", "a"], ["Is it, really?", "yes"]]


def test_csv_row_with_wrong_column_count(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("q,a\nx,y,z\n", encoding="utf-8")
    with pytest.raises(DataFileError) as err:
        read_records(path)
    assert err.value.where == f"{path}:2"


def test_parquet(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"question": ["2+2?"], "answer": [4]}), path)
    assert [(r.data, r.position) for r in read_records(path)] == [({"question": "2+2?", "answer": 4}, "row 1")]


def test_unsupported_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match="unsupported file type '.txt'"):
        read_records(tmp_path / "d.txt")
    with pytest.raises(DataFileError, match="file not found"):
        read_records(tmp_path / "absent.jsonl")


# ---- mapping -------------------------------------------------------------------------------------


def test_dotted_paths_walk_objects_and_lists() -> None:
    row = {"question": {"stem": "Why?", "choices": [{"text": "x", "label": "1"}]}, "a.b": 5}
    assert resolve_path(row, "question.stem") == "Why?"
    assert resolve_path(row, "question.choices.0.label") == "1"
    assert resolve_path(row, "a.b") == 5  # a literal dotted key wins
    assert resolve_path(["x", "y"], "1") == "y"
    with pytest.raises(MissingField, match="did you mean 'question'"):
        resolve_path(row, "questoin")


def test_transforms() -> None:
    gsm = "Add 2 and 3.\nSo 5 in all.\n#### 5"
    assert apply_transform(gsm, "after:####") == "5"
    assert apply_transform(gsm, "before:####") == "Add 2 and 3.\nSo 5 in all."
    assert apply_transform("ctx 1\nctx 2\nWhy?", "last_line") == "Why?"
    assert apply_transform("ctx 1\nctx 2\nWhy?", "except_last_line") == "ctx 1\nctx 2"
    assert apply_transform("Answer: (C) because", r"regex:\(([A-E])\)") == "C"
    assert get_field({"answer": gsm}, "answer|after:####") == "5"
    with pytest.raises(TransformError, match="'####' not found"):
        apply_transform("no marker", "after:####")


# ---- conversion ----------------------------------------------------------------------------------


def test_canonical_mcq_row(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "d.jsonl", [{**MCQ_ROW, "explanation": "arithmetic"}])
    [q] = load_questions(path, FieldsSpec(), "mcq", id_prefix="t").questions
    assert (q.id, q.question, q.options, q.answer, q.context) == ("q1", "2+2?", {"A": "3", "B": "4"}, "B", None)
    assert (q.meta, q.source, q.explanation) == ({}, f"{path}:1", "arithmetic")


def test_arc_nested_choices_with_digit_labels(tmp_path: Path) -> None:
    row = {
        "id": "arc1",
        "question": {"stem": "Which is a gas?", "choices": [{"text": "ice", "label": "1"}, {"text": "steam", "label": "2"}]},
        "answerKey": "2",
    }
    path = _write_jsonl(tmp_path / "d.jsonl", [row])
    fields = FieldsSpec(question="question.stem", options="question.choices", answer="answerKey")
    [q] = load_questions(path, fields, "mcq", id_prefix="t").questions
    assert (q.question, q.options, q.answer) == ("Which is a gas?", {"A": "ice", "B": "steam"}, "B")


@pytest.mark.parametrize(
    ("answer_format", "answer", "expected"),
    [("index0", 1, "B"), ("index1", "1", "A"), ("text", "Paris", "C"), ("letter", "c", "C")],
)
def test_option_columns_and_answer_formats(tmp_path: Path, answer_format: str, answer: object, expected: str) -> None:
    row = {"q": "Capital of France?", "opa": "Rome", "opb": "Berlin", "opc": "paris", "opd": "", "ans": answer}
    path = _write_jsonl(tmp_path / "d.jsonl", [row])
    fields = FieldsSpec(question="q", options="opa,opb,opc,opd", answer="ans", answer_format=answer_format)
    [q] = load_questions(path, fields, "mcq", id_prefix="cap").questions
    assert q.options == {"A": "Rome", "B": "Berlin", "C": "paris"}  # the empty trailing column is dropped
    assert (q.answer, q.id) == (expected, "cap-1")


def test_list_options_and_headerless_csv(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("What is 1+1?,1,2,3,B\nWhat is 2+1?,1,2,3,C\n", encoding="utf-8")
    fields = FieldsSpec(question="0", options=["1", "2", "3"], answer="4", csv_header=False)
    questions = load_questions(path, fields, "mcq", id_prefix="csv").questions
    assert [(q.id, q.answer, q.options) for q in questions] == [
        ("csv-1", "B", {"A": "1", "B": "2", "C": "3"}),
        ("csv-2", "C", {"A": "1", "B": "2", "C": "3"}),
    ]


def test_bad_rows_are_collected_with_reasons(tmp_path: Path) -> None:
    rows = [
        MCQ_ROW,
        {"id": "q2", "question": "x?", "options": {"A": "1", "B": "2"}},
        {"id": "q3", "question": "x?", "options": {"A": "1", "B": "2"}, "answer": "E"},
        {"id": "q4", "question": "  ", "options": {"A": "1"}, "answer": "A"},
        {"id": "q1", "question": "dup?", "options": {"A": "1"}, "answer": "A"},
        {"id": "q6", "question": "x?", "options": {"A": "1", "B": "2"}, "answer": "maybe"},
    ]
    path = _write_jsonl(tmp_path / "d.jsonl", rows)
    conversion = load_questions(path, FieldsSpec(), "mcq", id_prefix="t")
    assert [q.id for q in conversion.questions] == ["q1"]
    assert [(b.position, b.reason) for b in conversion.bad_rows] == [
        ("line 2", "no answer: no field 'answer' (the row has: id, question, options)"),
        ("line 3", "answer 'E' is not among its options A-B"),
        ("line 4", "empty question (field 'question')"),
        ("line 5", "duplicate id 'q1' (first at line 1)"),
        ("line 6", "answer 'maybe' is not an option letter (A-J or 1-9); set answer_format to text, index0 or index1"),
    ]


def test_yesno_numeric_and_text_answers(tmp_path: Path) -> None:
    yesno = _write_jsonl(tmp_path / "y.jsonl", [{"question": "q1", "answer": "Yes"}, {"question": "q2", "answer": "perhaps"}])
    conversion = load_questions(yesno, FieldsSpec(), "yesno", id_prefix="y")
    assert [q.answer for q in conversion.questions] == ["yes"]
    assert conversion.bad_rows[0].reason == "answer 'perhaps' is not yes, no or maybe"

    numeric = _write_jsonl(
        tmp_path / "n.jsonl",
        [{"question": "q1", "answer": "$1,000"}, {"question": "q2", "answer": 2.50}, {"question": "q3", "answer": "lots"}],
    )
    conversion = load_questions(numeric, FieldsSpec(), "numeric", id_prefix="n")
    assert [q.answer for q in conversion.questions] == ["1000", "2.5"]
    assert conversion.bad_rows[0].position == "line 3"

    text = _write_jsonl(tmp_path / "t.jsonl", [{"question": "q", "answer": " Paris "}])
    assert load_questions(text, FieldsSpec(), "text", id_prefix="t").questions[0].answer == "Paris"


def test_a_line_separator_inside_a_json_string_does_not_split_the_row(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    rows = [{"question": "Abstract\u2028with a separator\nIs it one row?", "answer": "yes"}, {"question": "q2", "answer": "no"}]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\r\n" for r in rows), encoding="utf-8")
    assert [r.data for r in read_records(path)] == rows
    fields = FieldsSpec(context="question|except_last_line", question="question|last_line")
    [first, _] = load_questions(path, fields, "yesno", id_prefix="p").questions
    assert (first.context, first.question) == ("Abstract\u2028with a separator", "Is it one row?")
