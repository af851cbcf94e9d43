"""The prompt side of the search: MedS3's step format and the parsing of completions."""

import pytest

from domains import load_domain
from evolve.backends.base import Completion
from evolve.backends.scripted import render_tagged_chat
from evolve.config import SearchConfig
from evolve.search.task import StepTask, cut_after_answer, serialise_steps, split_steps
from evolve.search.work import Propose, Rollout

STEP0 = "Let's break down this problem step by step."


@pytest.fixture(scope="module")
def task():
    domain = load_domain("medqa")
    question = domain.load_split("search", limit=1)[0]
    return StepTask(domain, question, render_tagged_chat, SearchConfig(step_tokens=64, rollout_tokens=99))


def test_serialise_steps_blank_line_joined_with_next_header():
    assert serialise_steps([STEP0]) == f"Step 0: {STEP0}\n\nStep 1:"
    assert serialise_steps([STEP0, "Hyponatremia."]) == f"Step 0: {STEP0}\n\nStep 1: Hyponatremia.\n\nStep 2:"


def test_split_and_cut():
    assert split_steps(" a.\n\nStep 3: b.\n**Step 4:** c") == ["a.", "b.", "c"]
    assert cut_after_answer("x\nThe answer is B.\nThe answer is C.") == "x\nThe answer is B."
    assert cut_after_answer("no answer here") == "no answer here"


def test_requests_carry_the_step_format_and_budgets(task):
    reason = task.request(Propose(node_id=0, steps=(STEP0,), n=3, finish=False, seed=7))
    assert reason.prompt.startswith("<|system|>\n") and reason.prompt.endswith(f"Step 0: {STEP0}\n\nStep 1:")
    assert "Options:\nA. Adenocarcinoma" in reason.prompt
    assert (reason.n, reason.max_new_tokens, reason.stop, reason.seed) == (3, 64, ("\nStep",), 7)
    rollout = task.request(Rollout(node_id=1, steps=(STEP0, "SIADH."), k=10, seed=3))
    assert (rollout.n, rollout.max_new_tokens, rollout.stop) == (10, 99, ())
    assert rollout.prompt.endswith("Step 1: SIADH.\n\nStep 2:")


def test_parse_rollouts_and_proposals(task):
    rollout = Rollout(node_id=1, steps=(STEP0,), k=3, seed=0)
    texts = ["So it is SCLC. The answer is D.", "The answer is (A).", "I am not sure."]
    verdicts = task.parse(rollout, [Completion(t, 5, "eos") for t in texts])
    assert verdicts == [True, False, False]

    step = Propose(node_id=0, steps=(STEP0,), n=3, finish=False, seed=0)
    open_, answered, ended = task.parse(step, [
        Completion(" Low sodium with high urine osmolality.", 8, "stop"),
        Completion(" The answer is D.", 4, "stop"),
        Completion(" I give up", 3, "eos"),
    ])
    assert (open_.final, open_.steps) == (False, ("Low sodium with high urine osmolality.",))
    assert (answered.final, answered.answer, answered.correct) == (True, "D", True)
    assert (ended.final, ended.answer, ended.correct) == (True, None, False)

    finish = Propose(node_id=2, steps=(STEP0, "x"), n=1, finish=True, seed=0)
    (done,) = task.parse(finish, [Completion(" SIADH.\n\nStep 3: Central mass.\n\nStep 4: The answer is D.\nStep 5: The answer is A.", 30, "eos")])
    assert done.steps == ("SIADH.", "Central mass.", "The answer is D.")
    assert (done.answer, done.correct, done.tokens) == ("D", True, 30)
