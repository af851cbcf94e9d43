"""domain.yaml validation, the registry of built-in and user domains, the Domain API and hook verifiers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import domains
from domains import DomainSpecError, Question, UnknownDomainError, list_domains, load_domain
from domains.registry import BUILTIN_ROOT, builtin_names
from domains.spec import load_spec

BUILTINS = ["medcalc", "medqa", "pubmedqa", "science", "science-numeric"]

YAML = """\
name: {name}
description: Toy arithmetic.
answer_type: {answer_type}
prompt:
  system: You add numbers.
splits:
  search: seeds.jsonl
"""


def _make_domain(root: Path, name: str, rows: list[dict], answer_type: str = "numeric", extra: str = "") -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "domain.yaml").write_text(YAML.format(name=name, answer_type=answer_type) + extra, encoding="utf-8")
    (folder / "seeds.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return folder


def test_builtin_yamls_are_valid() -> None:
    assert builtin_names() == BUILTINS
    for name in BUILTINS:
        spec = load_spec(BUILTIN_ROOT / name / "domain.yaml")
        assert spec.name == name
        # the generated demo domain also has a test split (what it evaluates on) and cold-start questions
        assert set(spec.splits) == ({"search", "dev", "test", "cold"} if name == "medcalc" else {"search", "dev"})
    assert load_spec(BUILTIN_ROOT / "science-numeric" / "domain.yaml").tolerance.rel == 1e-3


@pytest.mark.parametrize("name", BUILTINS)
@pytest.mark.parametrize("split", ["search", "dev"])
def test_builtin_seed_files_load_when_present(name: str, split: str) -> None:
    domain = load_domain(name)
    if not domain.split_source(split).is_file():
        pytest.skip(f"{name}/{domain.spec.splits[split]} not written yet")
    questions = domain.load_split(split)
    assert questions, "a split file must hold questions"
    for q in questions:
        assert domain.is_correct(q.answer, q), q.id
        if domain.answer_type == "mcq":
            assert q.options and q.answer in q.options


def test_unknown_key_names_line_and_close_key(tmp_path: Path) -> None:
    path = tmp_path / "domain.yaml"
    path.write_text(YAML.format(name="toy", answer_type="numeric").replace("  system:", "  sytem:"), encoding="utf-8")
    with pytest.raises(DomainSpecError) as err:
        load_spec(path)
    assert err.value.where == f"{path}:5"
    assert err.value.message == "unknown key 'prompt.sytem'"
    assert err.value.fix.startswith("did you mean 'system'?")


@pytest.mark.parametrize(
    ("wrong", "right", "line"),
    [("answer_type:", "answer_typ:", 3), ("splits:", "split:", 6)],
)
def test_misspelt_top_level_key_suggests_the_right_one(tmp_path: Path, wrong: str, right: str, line: int) -> None:
    path = tmp_path / "domain.yaml"
    path.write_text(YAML.format(name="toy", answer_type="mcq").replace(wrong, right), encoding="utf-8")
    with pytest.raises(DomainSpecError) as err:
        load_spec(path)
    assert err.value.one_line() == (
        f"{path}:{line}: unknown key '{right[:-1]}' -- fix: did you mean '{wrong[:-1]}'? "
        "allowed here: name, description, answer_type, prompt, splits, fields, tolerance, verifier, generator"
    )


def test_bad_answer_type_and_missing_split(tmp_path: Path) -> None:
    path = tmp_path / "domain.yaml"
    path.write_text(YAML.format(name="toy", answer_type="multiple"), encoding="utf-8")
    with pytest.raises(DomainSpecError, match="key 'answer_type'") as err:
        load_spec(path)
    assert err.value.where == f"{path}:3"
    path.write_text(YAML.format(name="toy", answer_type="mcq").replace("search:", "dev:"), encoding="utf-8")
    with pytest.raises(DomainSpecError, match="needs a 'search' split"):
        load_spec(path)
    path.write_text("name: [unclosed\n", encoding="utf-8")
    with pytest.raises(DomainSpecError, match="invalid YAML"):
        load_spec(path)


def test_user_domains_are_listed_with_builtins(home: Path) -> None:
    _make_domain(home / "domains", "toy", [{"question": "1+1?", "answer": "2"}])
    broken = home / "domains" / "broken"
    broken.mkdir()
    (broken / "domain.yaml").write_text("name: broken\n", encoding="utf-8")
    infos = {info.name: info for info in list_domains()}
    assert [infos[name].source for name in BUILTINS] == ["builtin"] * len(BUILTINS)
    assert (infos["toy"].source, infos["toy"].answer_type, infos["toy"].path) == ("user", "numeric", home / "domains" / "toy")
    assert infos["broken"].error is not None and "missing required key" in infos["broken"].error


def test_unknown_domain_lists_known_names_and_close_match(home: Path) -> None:
    with pytest.raises(UnknownDomainError) as err:
        load_domain("pubmedq")
    assert err.value.fix.startswith("did you mean 'pubmedqa'? known domains: medcalc, medqa, pubmedqa, science, science-numeric")


def test_domain_api_on_a_user_numeric_domain(home: Path) -> None:
    _make_domain(
        home / "domains", "toy",
        [{"id": "t1", "question": "1+1?", "answer": "2"}, {"id": "t2", "question": "10/4?", "answer": "2.5"}],
        extra="tolerance: {abs: 0.01}\n",
    )
    domain = load_domain("toy")
    assert (domain.name, domain.answer_type, domain.system_prompt) == ("toy", "numeric", "You add numbers.")
    questions = domain.load_split()
    assert [q.id for q in domain.load_split(limit=1)] == ["t1"]
    assert domain.format_question(questions[0]) == (
        'Question: 1+1?\n\nThink step by step. End with one sentence that starts with "The answer is" followed by the '
        'final number.'
    )
    # numeric domains show the default worked example unless they declare their own (or false)
    example, steps = domain.worked_example()
    assert example.startswith("Question: What is 4 + 3?\n\nThink step by step.") and steps == ["4 + 3 = 7.", "The answer is 7."]
    assert domain.extract_answer("1 and 1 make two. The answer is 2.") == "2"
    assert domain.is_correct("2.005", questions[0])
    assert not domain.is_correct("2.02", questions[0])
    assert not domain.is_correct(None, questions[0])
    with pytest.raises(DomainSpecError, match="no split 'dev'"):
        domain.load_split("dev")


def test_load_split_from_a_path_and_strict_errors(home: Path, tmp_path: Path) -> None:
    _make_domain(home / "domains", "toy", [{"question": "1+1?", "answer": "2"}])
    other = tmp_path / "other.jsonl"
    other.write_text('{"question": "2+2?", "answer": "4"}\n{"question": "no answer"}\n', encoding="utf-8")
    with pytest.raises(domains.DataFileError) as err:
        load_domain("toy").load_split(str(other))
    assert err.value.message.startswith("1 of 2 rows are invalid: line 2: no answer")


def test_mcq_formatting_with_context_and_option_text_extraction(home: Path) -> None:
    _make_domain(home / "domains", "quiz", [], answer_type="mcq")
    domain = load_domain("quiz")
    q = Question(id="x", question="Which?", answer="B", options={"A": "Red", "B": "Blue"}, context="Sky facts.")
    assert domain.format_question(q) == (
        "Context:\nSky facts.\n\nQuestion: Which?\n\nOptions:\nA. Red\nB. Blue\n\n"
        'Think step by step. End with one sentence that starts with "The answer is" followed by the letter of the '
        'correct option.'
    )
    assert domain.worked_example() is None
    assert domain.extract_answer("The answer is blue.", q) == "B"
    assert domain.extract_answer("The answer is blue.") is None


def test_hook_verifier(home: Path) -> None:
    folder = _make_domain(
        home / "domains", "parity", [{"question": "An even number?", "answer": "2"}], extra="verifier: hook.py:is_even\n"
    )
    (folder / "hook.py").write_text(
        "def is_even(predicted, question):\n    return predicted is not None and int(predicted) % 2 == 0\n", encoding="utf-8"
    )
    domain = load_domain("parity")
    [q] = domain.load_split()
    assert domain.is_correct("8", q)
    assert not domain.is_correct("7", q)
    (folder / "domain.yaml").write_text(
        YAML.format(name="parity", answer_type="numeric") + "verifier: hook.py:missing\n", encoding="utf-8"
    )
    with pytest.raises(DomainSpecError, match="hook.py has no function 'missing'"):
        load_domain("parity").load_verifier()
