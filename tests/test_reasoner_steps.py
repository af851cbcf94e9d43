"""The step format: prompts, request budgets and the parsing of completions."""

import pytest

from domains import load_domain
from evolve.backends.base import Completion
from evolve.backends.scripted import render_tagged_chat
from evolve.config import SearchConfig
from evolve.reasoner.steps import Sampling, StepPrompt, cut_after_answer, serialise_steps, split_steps
from evolve.reasoner.work import Generate

STEP0 = "Let's break down this problem step by step."


@pytest.fixture(scope="module")
def task():
    domain = load_domain("medqa")
    question = domain.load_split("search", limit=1)[0]
    return StepPrompt(domain, question, render_tagged_chat)


SAMPLING = Sampling.of_search(SearchConfig(step_tokens=64, rollout_tokens=99))


def test_serialise_steps_blank_line_joined_with_next_header():
    assert serialise_steps([STEP0]) == f"Step 0: {STEP0}\n\nStep 1:"
    assert serialise_steps([STEP0, "Hyponatremia."]) == f"Step 0: {STEP0}\n\nStep 1: Hyponatremia.\n\nStep 2:"


def test_split_and_cut():
    assert split_steps(" a.\n\nStep 3: b.\n**Step 4:** c") == ["a.", "b.", "c"]
    assert cut_after_answer("x\nThe answer is B.\nThe answer is C.") == "x\nThe answer is B."
    assert cut_after_answer("no answer here") == "no answer here"


def test_requests_carry_the_step_format_and_budgets(task):
    item = Generate((), 3, "step", 7)
    reason = SAMPLING.request(task.prompt(item.steps), item)
    assert reason.prompt.startswith("<|system|>\n") and reason.prompt.endswith(f"Step 0: {STEP0}\n\nStep 1:")
    assert "Options:\nA. Adenocarcinoma" in reason.prompt
    assert (reason.n, reason.max_new_tokens, reason.stop, reason.seed) == (3, 64, ("\nStep",), 7)
    item = Generate(("SIADH.",), 10, "rollout", 3)
    rollout = SAMPLING.request(task.prompt(item.steps), item)
    assert (rollout.n, rollout.max_new_tokens, rollout.stop) == (10, 99, ())
    assert rollout.prompt.endswith("Step 1: SIADH.\n\nStep 2:")


def test_parse_rollouts_and_proposals(task):
    texts = ["So it is SCLC. The answer is D.", "The answer is (A).", "I am not sure."]
    verdicts = [task.parse("rollout", Completion(t, 5, "eos")).correct for t in texts]
    assert verdicts == [True, False, False]

    open_, answered, ended = [task.parse("step", c) for c in [
        Completion(" Low sodium with high urine osmolality.", 8, "stop"),
        Completion(" The answer is D.", 4, "stop"),
        Completion(" I give up", 3, "eos"),
    ]]
    assert (open_.final, tuple(open_.steps)) == (False, ("Low sodium with high urine osmolality.",))
    assert (answered.final, answered.answer, answered.correct) == (True, "D", True)
    assert (ended.final, ended.answer, ended.correct) == (True, None, False)

    done = task.parse("finish", Completion(" SIADH.\n\nStep 3: Central mass.\n\nStep 4: The answer is D.\nStep 5: The answer is A.", 30, "eos"))
    assert tuple(done.steps) == ("SIADH.", "Central mass.", "The answer is D.")
    assert (done.answer, done.correct, done.tokens) == ("D", True, 30)
