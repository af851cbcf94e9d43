"""Every agents prompt shows filled-in examples and nothing a small model could copy as a reply."""

from __future__ import annotations

import pytest

from agents import prompts
from agents.nodes.ranking import CHOICE_REPAIR
from agents.parsing import TEMPLATE_FRAGMENTS, parse_json

PLACEHOLDERS = (*TEMPLATE_FRAGMENTS, "...", " N ", " N.", " X ", " X.", "<", ">")


def every_prompt() -> dict[str, list[dict]]:
    transcript = ["Expert A: it is the tides."]
    return {
        "plan": prompts.plan("Why do tides happen?", "physics"),
        "open_hypothesis": prompts.open_hypothesis("g", {"criteria": ["testable"]}, "c", "idea", 0, transcript),
        "open_hypothesis_final": prompts.open_hypothesis("g", {}, None, None, -1, transcript),
        "review": prompts.review("g", "Step 1: x.\nAnswer: D", "c"),
        "assumptions": prompts.assumptions("g", "h"),
        "check_assumption": prompts.check_assumption("g", "a"),
        "judge": prompts.judge("g", "h1", "h2", "c", transcript),
        "debate_turn": prompts.debate_turn("g", "h1", "h2", transcript, 2),
        "evolve_open": prompts.evolve_open("g", "combination", ["h1", "h2"], "c"),
        "evolve_hint": [{"role": "user", "content": prompts.evolve_hint("grounding", ["h1"])}],
        "meta_review": prompts.meta_review("g", ["n1", "n2"]),
        "overview": prompts.overview("g", ["H1 (Elo 1216): x"], "D"),
        "repairs": [{"role": "user", "content": prompts.JSON_REPAIR + CHOICE_REPAIR}],
    }


@pytest.mark.parametrize("name", sorted(every_prompt()))
def test_no_prompt_holds_a_placeholder(name):
    for message in every_prompt()[name]:
        for placeholder in PLACEHOLDERS:
            assert placeholder not in message["content"], (name, placeholder, message["content"])


def test_json_replies_are_shown_as_filled_in_examples():
    review = prompts.review("g", "h", None)
    assert [m["role"] for m in review] == ["system", "user", "assistant", "user"]
    assert review[2]["content"] == prompts.EXAMPLE_REVIEW and prompts.EXAMPLE_GOAL in review[1]["content"]
    assert parse_json(prompts.EXAMPLE_REVIEW)["score"] == 2
    plan = prompts.plan("g", "d")
    assert [m["role"] for m in plan] == ["system", "user", "assistant", "user"] and plan[2]["content"] == prompts.EXAMPLE_PLAN
    assert sorted(parse_json(prompts.EXAMPLE_PLAN)) == ["attributes", "constraints", "criteria", "preferences"]
    assert prompts.EXAMPLE_VERDICT in prompts.judge("g", "h1", "h2", None)[0]["content"]
    assert parse_json(prompts.EXAMPLE_VERDICT)["better"] == 2
    assert prompts.EXAMPLE_ASSUMPTIONS in prompts.assumptions("g", "h")[0]["content"]
    assert "The top hypothesis answers D." in prompts.overview("g", ["x"], "D")[1]["content"]
