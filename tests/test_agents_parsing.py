"""Lenient parsing of model output: think blocks, broken JSON, prose verdicts."""

from __future__ import annotations

from agents.parsing import parse_choice, parse_json, parse_list, parse_review, parse_yes_no, strip_think


def test_strip_think_removes_closed_and_unclosed_blocks():
    assert strip_think("<think>hmm, 1?</think> Final: 2") == "Final: 2"
    assert strip_think("Answer 1 <think>still going") == "Answer 1"


def test_parse_json_tolerates_fences_trailing_commas_and_single_quotes():
    assert parse_json('Sure!\n```json\n{"better": 2,}\n```') == {"better": 2}
    assert parse_json("{'score': 4, 'comments': 'ok'}") == {"score": 4, "comments": "ok"}
    assert parse_json('["a", "b",]') == ["a", "b"]
    assert parse_json('{"better": ') is None
    assert parse_json("no json here") is None


def test_parse_choice_reads_json_phrases_and_bare_digits():
    assert parse_choice('{"better": 2, "reason": "x"}') == "2"
    assert parse_choice('{"better": "1"}') == "1"
    assert parse_choice("Hypothesis 2 is better because it checks units.") == "2"
    assert parse_choice("Better: 1") == "1"
    assert parse_choice(" 2. ") == "2"
    assert parse_choice("<think>maybe 1</think>{\"better\": 2}") == "2"
    assert parse_choice("Hypothesis 1 is vague but hypothesis 2 is wrong") is None  # both named: unreadable
    assert parse_choice('{"better": 3}') is None


def test_parse_review():
    assert parse_review('{"score": 4, "verdict": "sound", "comments": "thin step 2"}') == {
        "score": 4.0, "verdict": "sound", "comments": "thin step 2"}
    assert parse_review("Score: 2. The dose is wrong.")["score"] == 2.0
    assert parse_review('{"score": 9}') is None  # out of the 1-5 scale
    assert parse_review("looks fine") is None


def test_parse_list_and_yes_no():
    assert parse_list('["the drug is absorbed", "no interaction"]') == ["the drug is absorbed", "no interaction"]
    assert parse_list('{"assumptions": ["a", "b"]}') == ["a", "b"]
    assert parse_list("1. first\n2) second\n- third\nnot a bullet") == ["first", "second", "third"]
    assert parse_list("nothing") is None
    assert parse_yes_no("Yes, it holds.") is True
    assert parse_yes_no("No. The premise fails") is False
    assert parse_yes_no("Perhaps") is None


ECHOED = '{"score": 1-5, "verdict": "sound" or "flawed", "comments": "the main weakness"}'


def test_template_echo_names_the_copied_fragment_or_the_example():
    from agents.parsing import template_echo

    example = '{"score": 2, "comments": "Step 1 is wrong: ice is less dense than water."}'
    assert template_echo(ECHOED) == "repeats the prompt's template (1-5)"
    assert template_echo('{"better": 1 or 2, "reason": "x"}') == "repeats the prompt's template (1 or 2)"
    assert template_echo('"sound" or "flawed"') == "repeats the prompt's template (\"sound\" or \"flawed\")"
    assert template_echo("The answer is <letter>.") == "repeats the prompt's template (<letter>)"
    # the example verbatim (whitespace and case aside), or one of its sentences under another score
    assert template_echo(' {"SCORE": 2,\n "comments": "Step 1 is wrong: ice is less dense than water."} ',
                         example) == "repeats the prompt's worked example"
    assert template_echo('{"score": 5, "comments": "step 1 is wrong: ice is less dense than water."}',
                         example) == "repeats the prompt's worked example"
    assert template_echo('{"score": 2, "comments": "Step 2 skips option C."}', example) is None
    assert template_echo('{"score": 4, "comments": "fine"}') is None


def test_a_review_that_repeats_the_template_is_no_score():
    from agents.prompts import EXAMPLE_REVIEW

    # '{"score": 1-5' once read as score 1.0 from the "score ... 1" prose pattern
    assert parse_review(ECHOED) is None
    assert parse_review('{"score": ' + '1-5, "verdict": "sound" or "flawed"}') is None
    assert parse_review(EXAMPLE_REVIEW) == {"score": 2.0, "verdict": "flawed", "comments": (
        "Step 1 is wrong: ice is less dense than liquid water, and that is why it floats.")}  # well-formed...
    assert parse_review(EXAMPLE_REVIEW, EXAMPLE_REVIEW) is None  # ...but a copy when it is the shown example
    assert parse_review('{"score": 3, "verdict": "sound", "comments": "step 2 is thin"}', EXAMPLE_REVIEW) == {
        "score": 3.0, "verdict": "sound", "comments": "step 2 is thin"}


def test_a_choice_that_repeats_the_template_or_example_is_unreadable():
    from agents.prompts import EXAMPLE_VERDICT

    assert parse_choice('{"better": 1 or 2, "reason": "..."}') is None  # once read as "1"
    assert parse_choice(EXAMPLE_VERDICT) == "2" and parse_choice(EXAMPLE_VERDICT, EXAMPLE_VERDICT) is None
    assert parse_choice('{"better": 1, "reason": "it names the units"}', EXAMPLE_VERDICT) == "1"
    assert parse_list('["ice is less dense than water", "denser things sink"]',
                      example='["ice is less dense than water", "denser things sink"]') is None
