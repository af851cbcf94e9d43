"""The answer sentence: where it ends (the shared stop rule), and what it gives."""

from __future__ import annotations

import pytest

from domains.answers import answer_end, cut_after_answer, extract_answer
from evolve.backends.base import Completion, GenerationRequest, apply_stop_rule
from evolve.backends.scripted import ScriptedGenerator


@pytest.mark.parametrize(("text", "end"), [
    ("The answer is B. Because the", 16),
    ("The answer is B.\nStep 3: more", 16),
    ("The answer is B.", None),  # the text may go on ("B.5"): not complete yet
    ("The answer is 3.5 mg/dL. So", 24),
    ("The answer is 3.", None),
    ("The answer is 3.5", None),
    ("The answer is:\n\nB\nStep 2", 17),  # the answer may start on the next line
    ("The answer is", None),
    ("The answer is \n", None),
    ("So 4 + 3 = 7, done. Then", None),  # no answer sentence at all
    ("Step 1: 9 + 13 = 22.\n\nStep 2: The answer is 22! Next", 47),
    ("The answer is B. The answer is C. more", 16),  # the FIRST complete sentence
])
def test_answer_end(text, end):
    assert answer_end(text) == end


def test_answer_end_is_monotone_so_backends_may_apply_it_as_the_text_grows():
    text = "Step 1: 12 + 5 = 17 pens.\n\nStep 2: The answer is 17.5 or so. Step 3: The answer is 18.\nMore text"
    final = answer_end(text)
    assert final == text.index("so.") + 3
    for size in range(len(text) + 1):
        found = answer_end(text[:size])
        assert found is None or found == final, size
    assert cut_after_answer(text) == text[:final] and cut_after_answer("no phrase") == "no phrase"


@pytest.mark.parametrize(("text", "expected"), [
    ("The answer is 28 + 19 = 47.", "47"),  # the value after the last "="
    ("The answer is 47 apples.", "47"),
    ("The answer is 1.5 g = 1500 mg.", "1500"),
    ("Step 1: 9 + 13 = 22.\nStep 2: The answer is 22.\nStep 3: The answer is N.", "22"),  # a placeholder gives nothing
    ("The answer is N.", None),
    ("The answer is 12. Later: the answer is 14.", "14"),  # the last readable sentence wins
])
def test_numeric_answer_sentences(text, expected):
    assert extract_answer(text, "numeric") == expected


def test_the_scripted_backend_stops_at_the_rule_and_counts_only_what_it_wrote():
    text = "x y The answer is B. and then a lot more words here"
    generator = ScriptedGenerator.constant(text)
    [[stopped], [free]] = generator.generate([
        GenerationRequest(prompt="p", max_new_tokens=50, stop_rule=answer_end),
        GenerationRequest(prompt="p", max_new_tokens=50)])
    assert (stopped.text, stopped.num_tokens, stopped.finish_reason) == ("x y The answer is B.", 6, "stop")
    assert (free.text, free.num_tokens, free.finish_reason) == (text, 13, "eos")
    # a budget that runs out first still wins
    [[short]] = generator.generate([GenerationRequest(prompt="p", max_new_tokens=3, stop_rule=answer_end)])
    assert (short.text, short.finish_reason) == ("x y The", "length")


def test_backends_that_stop_late_cut_the_text_where_the_rule_ends_it():
    done = apply_stop_rule(Completion("The answer is B. And more", 7, "length"), answer_end)
    assert (done.text, done.num_tokens, done.finish_reason) == ("The answer is B.", 7, "stop")
    same = Completion("no answer", 2, "eos")
    assert apply_stop_rule(same, answer_end) is same and apply_stop_rule(same, None) is same


def test_the_hf_decode_loop_stops_where_the_rule_says(tiny_model_dir):
    from evolve.backends.hf import HFGenerator

    generator = HFGenerator(tiny_model_dir)
    request = GenerationRequest(prompt="Step 1:", n=2, max_new_tokens=40, temperature=1.0, seed=3)
    [free] = generator.generate([request])
    cut_at = 12  # a rule that ends every text at its 12th character, once it has 20

    def rule(text):
        return cut_at if len(text) >= 20 else None

    [stopped] = generator.generate([GenerationRequest(**{**request.__dict__, "stop_rule": rule})])
    assert all(len(a.text) >= 20 for a in free)
    for a, b in zip(free, stopped):
        if len(a.text) >= 20:
            assert (b.text, b.finish_reason) == (a.text[:cut_at], "stop") and b.num_tokens < a.num_tokens


def test_option_text_read_from_an_answer_exact_then_prefix_then_one_clear_misspelling():
    from domains.answers import match_option_text

    options = {"A": "Amiodarone", "B": "Digoxin", "C": "Diltiazem", "D": "Sotalol"}
    assert match_option_text("Diltizem", options) == "C"  # a real output of the embedded model
    assert match_option_text("Digoxin, a cardiac glycoside", options) == "B"
    assert match_option_text("Diltizem", {"A": "Diltiazem", "B": "Diltiazam"}) is None  # two alike: no guess
    assert match_option_text("Lithium", options) is None
    assert extract_answer("So, the answer to the question is B.", "mcq", options) == "B"
    assert extract_answer("The correct option is D.", "mcq", options) == "D"
