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
