"""Gold labels, bad rows, splits, metadata and CSV headers of `evolve domains add`, on constructed files
that reproduce what real public datasets did to the first version (issue: "Domains and answers you can trust")."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from domains.convert import load_questions
from domains.domain import Domain
from domains.spec import FieldsSpec
from tests.test_domains_cli import read_jsonl, run_cli, write_jsonl

TEXT_ANSWERS = FieldsSpec(answer_format="text")


def test_answer_text_matches_the_exact_option_among_near_duplicates(tmp_path: Path) -> None:
    rows = [
        {"question": "Universal donor?", "options": {"A": "O group and Rh+ve", "B": "O group and Rh-ve",
                                                     "C": "AB group and Rh+ve", "D": "AB group and Rh-ve"},
         "answer": "O group and Rh-ve"},
        {"question": "Marker of CLL?", "options": {"A": "CD5+, CD23+", "B": "CD5-, CD23+", "C": "CD5+, CD23-",
                                                   "D": "CD5-, CD23-"}, "answer": "CD5+, CD23-"},
        {"question": "Order?", "options": ["C,A,D,B", "C,A,B,D", "A,C,D,B", "D,C,A,B"], "answer": "C,A,B,D"},
        {"question": "Case and spacing only?", "options": ["Vitamin  D", "vitamin C"], "answer": "vitamin d."},
    ]
    conversion = load_questions(write_jsonl(tmp_path / "d.jsonl", rows), TEXT_ANSWERS, "mcq", id_prefix="t")
    assert conversion.bad_rows == []
    assert [q.answer for q in conversion.questions] == ["B", "C", "B", "A"]


def test_ambiguous_unmatched_and_duplicated_options_are_bad_rows_with_reasons(tmp_path: Path) -> None:
    rows = [
        # "CD 5+, CD 23-" is no option exactly; without spaces and signs it fits two of them alike.
        {"question": "q1", "options": ["CD 5+, CD 23+", "CD 5-, CD 23-"], "answer": "CD 5, CD 23"},
        {"question": "q2", "options": ["Red", "Blue"], "answer": "Green"},
        {"question": "q3", "options": ["Same", "Same", "Same", "Same"], "answer": "Same"},
        {"question": "q4", "options": ["Rh+ve", " Rh+ve."], "answer": "Rh+ve"},
        {"question": "q5", "options": ["100% Rr", "100% rr"], "answer": "100% rr"},  # case counts: two genotypes
    ]
    conversion = load_questions(write_jsonl(tmp_path / "d.jsonl", rows), TEXT_ANSWERS, "mcq", id_prefix="t")
    assert [q.answer for q in conversion.questions] == ["B"]
    assert [(row.number, row.kind, row.reason) for row in conversion.bad_rows] == [
        (1, "ambiguous", "answer text 'CD 5, CD 23' matches options A, B alike"),
        (2, "no-match", "answer text 'Green' matches none of the options"),
        (3, "duplicate-options", "options A and B are the same text ('Same')"),
        (4, "duplicate-options", "options A and B are the same text ('Rh+ve.')"),
    ]


def test_a_letter_that_is_also_an_options_text_is_doubted_only_where_answers_are_texts(tmp_path: Path) -> None:
    vitamin = {"question": "Which vitamin?", "options": {"A": "C", "B": "D", "C": "K", "D": "E"}, "answer": "D"}
    drugs = [{"question": f"Which drug {i}?", "options": {"A": "Ampicillin", "B": f"Ceftriaxone {i}"},
              "answer": f"Ceftriaxone {i}"} for i in range(2)]
    # Most answers are option texts (a forgotten --map answer=answer_idx): "D" is the text of option B too.
    conversion = load_questions(write_jsonl(tmp_path / "d.jsonl", [vitamin, *drugs]), FieldsSpec(), "mcq", id_prefix="t")
    assert conversion.questions == []
    assert [(row.number, row.kind, row.reason) for row in conversion.bad_rows] == [
        (1, "answer-is-text", "answer 'D' is the text of option B as well as a letter, and most answers here are "
                              "option texts"),
        (2, "answer-is-text", "answer 'Ceftriaxone 0' is an option's text, not its letter"),
        (3, "answer-is-text", "answer 'Ceftriaxone 1' is an option's text, not its letter"),
    ]
    # Where answers are letters (ARC: "C" is carbon among the options, answerKey C means option C), it stays.
    carbon = {"question": "Which gas increases?", "options": {"A": "C", "B": "NO2", "C": "O2", "D": "CO"}, "answer": "C"}
    letters = [{"question": f"q{i}?", "options": {"A": "x", "B": "y"}, "answer": "B"} for i in range(2)]
    conversion = load_questions(write_jsonl(tmp_path / "e.jsonl", [carbon, *letters, drugs[0]]), FieldsSpec(), "mcq",
                                id_prefix="t")
    assert [q.answer for q in conversion.questions] == ["C", "B", "B"] and len(conversion.bad_rows) == 1


def _medqa_like(count: int) -> list[dict]:
    return [{"question": f"Vignette {i}?", "options": {"A": f"Drug {i}", "B": f"Other {i}", "C": "Watch", "D": "Wait"},
             "answer": f"Drug {i}", "answer_idx": "A", "meta_info": "step1"} for i in range(count)]


def test_a_forgotten_answer_mapping_is_refused_with_the_likely_fix(home: Path, tmp_path: Path, capsys) -> None:
    source = write_jsonl(tmp_path / "medqa.jsonl", _medqa_like(40))
    code, out, err = run_cli(capsys, "domains", "add", "mq", "--from", str(source), "--type", "mcq", "--skip-bad")
    assert (code, out, err.count("\n")) == (2, "", 1)
    assert "40 rows is valid" in err or "none of the 40 rows is valid" in err
    assert "most common problem (40 rows): line 1: answer 'Drug 0' is an option's text, not its letter" in err
    assert "--map answer=answer_idx" in err and "answer_format=text" in err
    assert not (home / "domains").exists() or list((home / "domains").iterdir()) == []
    # With the mapping, every row loads and the unmapped short fields stay as metadata.
    assert run_cli(capsys, "domains", "add", "mq", "--from", str(source), "--type", "mcq", "--map",
                   "answer=answer_idx", "--dev-fraction", "0")[0] == 0
    first = read_jsonl(home / "domains" / "mq" / "seeds.jsonl")[0]
    assert first["answer"] == "A" and first["meta"] == {"answer": "Drug 0", "meta_info": "step1"}


def test_max_bad_caps_what_skip_bad_accepts(home: Path, tmp_path: Path, capsys) -> None:
    rows = [{"question": f"q{i}", "answer": "many" if i < 3 else str(i)} for i in range(40)]
    lines = [json.dumps(row) for row in rows]
    lines[10] = '{"question": "broken'  # a malformed line is a bad row too, skipped like the others
    source = tmp_path / "n.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, _, err = run_cli(capsys, "domains", "add", "n", "--from", str(source), "--type", "numeric", "--skip-bad")
    assert code == 2 and "4 of 40 rows are bad, more than --max-bad 5%" in err and err.count("\n") == 1
    assert "most common problem (3 rows): line 1: answer 'many' is not a number" in err
    code, out, _ = run_cli(capsys, "domains", "add", "n", "--from", str(source), "--type", "numeric", "--skip-bad",
                           "--max-bad", "4", "--dev-fraction", "0")
    assert code == 0 and "36 search questions" in out and "skipped 4 bad rows" in out
    bad = read_jsonl(home / "domains" / "n" / "bad_rows.jsonl")
    assert [(row["line"], row["kind"]) for row in bad] == [(1, "other"), (2, "other"), (3, "other"), (11, "malformed")]


def test_zero_good_rows_is_refused_whatever_max_bad_says(home: Path, tmp_path: Path, capsys) -> None:
    source = write_jsonl(tmp_path / "n.jsonl", [{"question": f"q{i}", "answer": "x"} for i in range(3)])
    code, _, err = run_cli(capsys, "domains", "add", "n", "--from", str(source), "--type", "numeric", "--skip-bad",
                           "--max-bad", "100%")
    assert code == 2 and "none of the 3 rows is valid" in err and not (home / "domains" / "n").exists()


@pytest.mark.parametrize("name", ["x" * 300, "a" * 65])
def test_a_name_too_long_for_the_file_system_is_a_one_line_error(home: Path, tmp_path: Path, capsys, name: str) -> None:
    source = write_jsonl(tmp_path / "n.jsonl", [{"question": "q", "answer": "1"}])
    code, _, err = run_cli(capsys, "domains", "add", name, "--from", str(source), "--type", "numeric")
    assert code == 2 and f"the domain name is {len(name)} characters long" in err and "at most 64" in err


def test_removing_one_row_of_a_thousand_moves_no_other_row_between_splits(home: Path, tmp_path: Path, capsys) -> None:
    rows = [{"id": f"q{i}", "question": f"What is {i} + {i % 7}?", "answer": str(i + i % 7)} for i in range(1000)]
    dev_of = {}
    for name, kept in (("full", rows), ("less", rows[:417] + rows[418:])):
        source = write_jsonl(tmp_path / f"{name}.jsonl", kept)
        assert run_cli(capsys, "domains", "add", name, "--from", str(source), "--type", "numeric")[0] == 0
        dev_of[name] = {row["id"] for row in read_jsonl(home / "domains" / name / "dev.jsonl")}
    assert dev_of["full"] - {"q417"} == dev_of["less"]
    assert 70 <= len(dev_of["full"]) <= 130  # about 10%, by hash


def test_exact_duplicates_are_dropped_and_never_straddle_splits(home: Path, tmp_path: Path, capsys) -> None:
    rows = [{"question": f"q{i}", "options": ["x", "y"], "answer": "A"} for i in range(30)]
    rows += [dict(rows[3]), dict(rows[4], id="other-id")]  # the same question and options twice more
    source = write_jsonl(tmp_path / "main.jsonl", rows)
    test_file = write_jsonl(tmp_path / "test.jsonl", [rows[5], {"question": "held out", "options": ["x", "y"], "answer": "B"}])
    code, out, err = run_cli(capsys, "domains", "add", "d", "--from", str(source), "--type", "mcq",
                             "--split-file", f"test={test_file}", "--dev-fraction", "0")
    assert (code, err) == (0, "")
    assert "29 search, 2 test questions" in out
    assert "dropped 2 exact duplicate rows and 1 questions that a more held-out split also holds" in out
    folder = home / "domains" / "d"
    assert "q5" not in [row["question"] for row in read_jsonl(folder / "seeds.jsonl")]
    assert [row["question"] for row in read_jsonl(folder / "test.jsonl")] == ["q5", "held out"]
    assert Domain.from_dir(folder, "user").split_names == ["search", "test"]


def test_a_duplicate_with_another_answer_is_a_bad_row(tmp_path: Path) -> None:
    rows = [{"question": "q", "answer": "1"}, {"question": "q", "answer": "2"}]
    conversion = load_questions(write_jsonl(tmp_path / "d.jsonl", rows), FieldsSpec(), "numeric", id_prefix="t")
    assert [(row.number, row.kind) for row in conversion.bad_rows] == [(2, "conflicting-duplicate")]
    assert conversion.bad_rows[0].reason == "repeats the question of line 1 with answer '2' where it has '1'"


def test_a_split_file_of_another_layout_is_refused(home: Path, tmp_path: Path, capsys) -> None:
    source = write_jsonl(tmp_path / "main.jsonl", [{"question": "q1", "answer": "1"}])
    other = write_jsonl(tmp_path / "test.jsonl", [{"prompt": "q2", "label": "2"}])
    code, _, err = run_cli(capsys, "domains", "add", "d", "--from", str(source), "--type", "numeric",
                           "--split-file", f"test={other}")
    assert code == 2 and "the test file is laid out unlike --from" in err and err.count("\n") == 1
    assert not (home / "domains" / "d").exists()


def test_a_split_field_declares_the_splits(home: Path, tmp_path: Path, capsys) -> None:
    rows = [{"question": f"q{i}", "answer": str(i), "split": ["train", "validation", "test"][i % 3],
             "subject": ["anatomy", "physiology"][i % 2]} for i in range(12)]
    source = write_jsonl(tmp_path / "d.jsonl", rows)
    code, out, err = run_cli(capsys, "domains", "add", "d", "--from", str(source), "--type", "numeric",
                             "--split-field", "split")
    assert (code, err) == (0, "") and "4 search, 4 dev, 4 test questions" in out
    test_rows = read_jsonl(home / "domains" / "d" / "test.jsonl")
    assert [row["question"] for row in test_rows] == ["q2", "q5", "q8", "q11"]
    assert test_rows[0]["meta"] == {"subject": "anatomy"}  # the split field itself is not metadata
    bad = write_jsonl(tmp_path / "bad.jsonl", [dict(rows[0], split="holdout")])
    code, _, err = run_cli(capsys, "domains", "add", "e", "--from", str(bad), "--type", "numeric", "--split-field", "split")
    assert code == 2 and "has the value 'holdout', which names no split" in err


def test_keep_names_the_metadata_fields(home: Path, tmp_path: Path, capsys) -> None:
    rows = [{"question": "q", "answer": "1", "subject": "anatomy", "year": 2020, "passage": "p" * 500}]
    source = write_jsonl(tmp_path / "d.jsonl", rows)
    assert run_cli(capsys, "domains", "add", "a", "--from", str(source), "--type", "numeric")[0] == 0
    assert read_jsonl(home / "domains" / "a" / "seeds.jsonl")[0]["meta"] == {"subject": "anatomy", "year": 2020}
    assert run_cli(capsys, "domains", "add", "b", "--from", str(source), "--type", "numeric", "--keep", "passage")[0] == 0
    assert read_jsonl(home / "domains" / "b" / "seeds.jsonl")[0]["meta"] == {"passage": "p" * 500}


def _mmlu_rows() -> list[list[str]]:
    return [[f"Which organ filters blood number {i}?", "Kidney", "Heart", "Lung", "Brain", "A"] for i in range(6)]


def test_a_headerless_csv_loads_by_column_index_without_flags(home: Path, tmp_path: Path, capsys) -> None:
    source = tmp_path / "anatomy_test.csv"
    with source.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(_mmlu_rows())
    code, out, err = run_cli(capsys, "domains", "add", "mmlu", "--from", str(source), "--type", "mcq",
                             "--map", "question=0", "--map", "options=1,2,3,4", "--map", "answer=5", "--dev-fraction", "0")
    assert (code, err) == (0, "") and "6 search questions" in out
    # Mapped by column names, the file's first row is named in one short line with the fix.
    code, _, err = run_cli(capsys, "domains", "add", "mmlu2", "--from", str(source), "--type", "mcq")
    assert code == 2 and err.count("\n") == 1 and len(err) < 500
    assert "--no-header" in err or "map columns by index" in err


def test_a_csv_header_is_detected_and_can_be_forced(home: Path, tmp_path: Path, capsys) -> None:
    source = tmp_path / "with_header.csv"
    with source.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([["question", "a", "b", "c", "d", "answer"], *_mmlu_rows()])
    code, out, _ = run_cli(capsys, "domains", "add", "h", "--from", str(source), "--type", "mcq",
                           "--map", "options=a,b,c,d", "--dev-fraction", "0")
    assert code == 0 and "6 search questions" in out
    code, out, _ = run_cli(capsys, "domains", "add", "h2", "--from", str(source), "--type", "mcq", "--no-header",
                           "--map", "question=0", "--map", "options=1,2,3,4", "--map", "answer=5", "--dev-fraction", "0",
                           "--skip-bad", "--max-bad", "1")
    assert code == 0 and "skipped 1 bad rows" in out  # the header read as a row: its answer 'answer' is no letter


def test_the_description_is_for_people_and_the_system_prompt_is_explicit(home: Path, tmp_path: Path, capsys) -> None:
    source = write_jsonl(tmp_path / "raw.jsonl", [{"question": "q", "answer": "1"}])
    assert run_cli(capsys, "domains", "add", "a", "--from", str(source), "--type", "numeric",
                   "--description", "Ward arithmetic")[0] == 0
    domain = Domain.from_dir(home / "domains" / "a", "user")
    assert "Ward arithmetic" not in domain.system_prompt and domain.description == "Ward arithmetic"
    assert run_cli(capsys, "domains", "add", "b", "--from", str(source), "--type", "numeric",
                   "--system-prompt", "You are a ward pharmacist.")[0] == 0
    domain = Domain.from_dir(home / "domains" / "b", "user")
    assert domain.system_prompt == "You are a ward pharmacist." and domain.description == "Added from raw.jsonl"


SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.mark.skipif(not (SHARED / "medqa").is_dir(), reason="../shared/data is absent")
def test_medqa_answer_texts_give_exactly_the_letters_the_file_states() -> None:
    """MedQA states each gold answer twice, as text and as a letter: read as text, every one of the 1,273
    rows must come out as the letter the file gives (the first version mislabelled near-duplicates)."""
    path = SHARED / "medqa" / "test.jsonl"
    by_text = load_questions(path, FieldsSpec(answer_format="text"), "mcq", id_prefix="m")
    by_letter = load_questions(path, FieldsSpec(answer="answer_idx"), "mcq", id_prefix="m")
    assert (len(by_text.questions), by_text.bad_rows, len(by_letter.questions)) == (1273, [], 1273)
    assert [q.answer for q in by_text.questions] == [q.answer for q in by_letter.questions]
    first = by_letter.questions[0]
    assert first.meta == {"answer": first.options[first.answer], "meta_info": "step1", "realidx": 0}
