"""Exact behaviour of answer extraction, number parsing and verifiers for every standard answer type."""

from __future__ import annotations

import pytest

from domains.answers import (
    ANSWER_PHRASE,
    Tolerance,
    extract_answer,
    is_correct,
    match_option_text,
    normalize_letter,
    normalize_text,
    normalize_yesno,
)
from domains.numbers import first_number, format_number, parse_number
from domains.question import Question

OPTIONS = {"A": "Aspirin", "B": "Tell the attending", "C": "Heparin", "D": "Warfarin"}


def test_every_instruction_asks_for_the_answer_phrase_and_holds_no_placeholder() -> None:
    from domains.answers import ANSWER_TYPES
    from evolve.reasoner.steps import STEP_INSTRUCTIONS

    for text in [kind.instruction for kind in ANSWER_TYPES.values()] + [STEP_INSTRUCTIONS]:
        assert f'"{ANSWER_PHRASE}' in text or f"'{ANSWER_PHRASE}'" in text, text
        for placeholder in ("<letter>", " N ", '" N', " X.", "Step k"):
            assert placeholder not in text, (placeholder, text)
    for kind in ANSWER_TYPES.values():  # a default worked example ends with an answer the type can read
        if kind.example:
            assert kind.read(kind.example["steps"][-1].split(ANSWER_PHRASE)[1], None) is not None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The answer is B", "B"),
        ("The answer is (B).", "B"),
        ("the answer is: B) Tell the attending", "B"),
        ("**The answer is B**", "B"),
        ("The answer is **C**.", "C"),
        ("The final answer is D", "D"),
        ("The answer is [A]", "A"),
        ("The answer is option C.", "C"),
        ("The answer is (b)", "B"),
        ("The answer is $\\boxed{D}$", "D"),
        ("First I thought the answer is A. On reflection, the answer is C.", "C"),  # the LAST phrase wins
        ("The answer is Tell the attending.", "B"),  # option text -> letter
        ("The answer is warfarin", "D"),
        ("The answer is\n\nA", "A"),
        ("The answer is E", None),  # not among this question's options
        ("The answer is a fever", None),  # lower-case article, not option A
        ("I think B is right", None),  # no answer phrase at all
        ("The answer is something else entirely", None),
    ],
)
def test_extract_mcq(text: str, expected: str | None) -> None:
    assert extract_answer(text, "mcq", OPTIONS) == expected


def test_extract_mcq_without_options_accepts_any_letter_a_to_j() -> None:
    assert extract_answer("The answer is J", "mcq") == "J"
    assert extract_answer("The answer is K", "mcq") is None
    assert extract_answer("The answer is Warfarin", "mcq") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The answer is yes", "yes"),
        ("The answer is: **No**.", "no"),
        ("Evidence is mixed. The answer is maybe, given the small sample.", "maybe"),
        ("The answer is yes. Wait, the answer is no", "no"),
        ("The answer is probably yes", None),
        ("Yes.", None),
    ],
)
def test_extract_yesno(text: str, expected: str | None) -> None:
    assert extract_answer(text, "yesno") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The answer is 42", "42"),
        ("The final answer is $1,000", "1000"),
        ("The answer is 18 dollars.", "18"),
        ("The answer is 18.0.", "18"),
        ("The answer is -3", "-3"),
        ("The answer is 2.5e3", "2500"),
        ("The answer is 1/2", "0.5"),
        ("The answer is \\frac{3}{4}", "0.75"),
        ("The answer is $\\boxed{1{,}250}$", "1250"),
        ("The answer is 50%", "50"),
        ("The answer is \u22127", "-7"),
        ("The answer is 3, 4 and 5", "3"),
        ("The answer is twelve", None),
        ("no phrase 12", None),
    ],
)
def test_extract_numeric(text: str, expected: str | None) -> None:
    assert extract_answer(text, "numeric") == expected


def test_extract_text_strips_decoration_and_final_period() -> None:
    assert extract_answer("So the answer is **Paris**.", "text") == "Paris"
    assert extract_answer("The answer is", "text") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1,000", 1000.0),
        ("$18", 18.0),
        ("18.0", 18.0),
        ("1/2", 0.5),
        ("-3", -3.0),
        ("-$3", -3.0),
        ("2.5e3", 2500.0),
        ("50%", 50.0),  # documented: the number as written, not 0.5
        (".5", 0.5),
        ("  7. ", 7.0),
        ("$\\frac{1}{4}$", 0.25),
        ("1/0", None),
        ("12 apples", None),
        ("1,00", None),
        ("", None),
    ],
)
def test_parse_number(text: str, expected: float | None) -> None:
    assert parse_number(text) == expected


def test_first_number_and_format_number() -> None:
    assert first_number("about 3,500 km, or 2,175 mi") == 3500.0
    assert first_number("none here") is None
    assert format_number(18.0) == "18"
    assert format_number(-0.0) == "0"
    assert format_number(0.1 + 0.2) == "0.30000000000000004"
    assert format_number(1e20) == "1e+20"


def test_normalisers() -> None:
    assert normalize_text("  The  Mitochondria, of the cell! ") == "mitochondria of cell"
    assert normalize_text("An apple") == "apple"
    assert normalize_letter("(c)") == "C"
    assert normalize_letter("3") == "C"
    assert normalize_letter("0") is None
    assert normalize_letter("AB") is None
    assert normalize_yesno("Maybe.") == "maybe"
    assert normalize_yesno("perhaps") is None
    assert match_option_text("heparin therapy", {"A": "Heparin", "B": "Heparin therapy"}) == "B"  # longest wins


def _q(answer: str, options: dict[str, str] | None = None) -> Question:
    return Question(id="q1", question="?", answer=answer, options=options)


def test_is_correct_mcq() -> None:
    q = _q("B", OPTIONS)
    assert is_correct("B", q, "mcq")
    assert is_correct("(b)", q, "mcq")
    assert is_correct("2", q, "mcq")  # digit label
    assert is_correct("Tell the attending", q, "mcq")
    assert not is_correct("C", q, "mcq")
    assert not is_correct(None, q, "mcq")


def test_is_correct_yesno() -> None:
    assert is_correct("Yes", _q("yes"), "yesno")
    assert not is_correct("maybe", _q("yes"), "yesno")
    assert not is_correct(None, _q("no"), "yesno")


def test_is_correct_numeric_uses_the_tolerance() -> None:
    gold = _q("100")
    assert is_correct("100.0", gold, "numeric")
    assert is_correct("$100", gold, "numeric")
    assert not is_correct("100.1", gold, "numeric")
    assert is_correct("100.1", gold, "numeric", Tolerance(abs=0.0, rel=1e-3))
    assert not is_correct("100.2", gold, "numeric", Tolerance(abs=0.0, rel=1e-3))
    assert is_correct("100.5", gold, "numeric", Tolerance(abs=0.5, rel=0.0))
    assert not is_correct("one hundred", gold, "numeric")
    assert not is_correct(None, gold, "numeric")


def test_is_correct_text_normalises() -> None:
    assert is_correct("the Mitochondria.", _q("Mitochondria"), "text")
    assert not is_correct("nucleus", _q("Mitochondria"), "text")
    assert not is_correct("", _q("the"), "text")  # both normalise to empty: not a match


def test_mcq_skips_a_filler_word_before_the_letter():
    from domains.answers import extract_answer

    options = {"A": "Adenocarcinoma", "B": "Carcinoid", "C": "Large cell", "D": "Small cell"}
    assert extract_answer("The answer is indeed D.", "mcq", options) == "D"
    assert extract_answer("The answer is most likely (B).", "mcq", options) == "B"
    assert extract_answer("The answer is clearly a fever.", "mcq", None) is None
