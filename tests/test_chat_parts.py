"""The chat's pure parts and its SQLite store: pasted questions, weakest steps, percentiles, events,
conversations, cancellation and the terminal chat."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from domains import load_domain
from domains.pasted import pasted_question, split_pasted
from evolve.api import Reasoner
from evolve.backends.scripted import ScriptedGenerator
from evolve.chat.models import Chat, reasoner_ids, reasoner_models
from evolve.chat.store import ConversationNotFound, ConversationStore
from evolve.chat.turns import Answer, Step, Votes, answer_content, weakest_step
from evolve.config import Config
from evolve.serve.metrics import percentile


@pytest.mark.parametrize("text, stem, options", [
    ("Which planet?\nA) Mars\nB) Jupiter", "Which planet?", {"A": "Mars", "B": "Jupiter"}),
    ("Which planet?\n(A) Mars\n(B) Jupiter\n\n", "Which planet?", {"A": "Mars", "B": "Jupiter"}),
    ("Which planet?\nA. Mars\nB: Jupiter\nC) Venus", "Which planet?", {"A": "Mars", "B": "Jupiter", "C": "Venus"}),
    ("Which planet? A) Mars|B) Jupiter", "Which planet?", {"A": "Mars", "B": "Jupiter"}),
    ("Q\nB) x\nA) y\nB) z", "Q\nB) x", {"A": "y", "B": "z"}),  # the options run A, B, ... from A
    ("What is 2 + 3?", "What is 2 + 3?", None),
    ("A) alone", "A) alone", None),
])
def test_pasted_questions_split_into_stem_and_options(text, stem, options):
    assert split_pasted(text) == (stem, options)


def test_a_multiple_choice_domain_needs_options_and_a_numeric_one_keeps_its_text():
    _q, problem = pasted_question("Which planet?", "mcq")
    assert "no options" in problem
    q, problem = pasted_question("Dose?\nA) 5 mg\nB) 10 mg", "numeric")
    assert problem is None and q.options is None and q.question == "Dose?\nA) 5 mg\nB) 10 mg"
    assert pasted_question("  ", "numeric")[1] == "the message is empty"


def test_weakest_step_and_answer_content():
    assert weakest_step([0.9, 0.2, 0.2, 0.8]) == 1  # the first of equal lows
    assert weakest_step([0.5]) is None and weakest_step(None) is None
    q = pasted_question("Which?\nA) Mars\nB) Jupiter", "mcq")[0]
    assert answer_content("B", q) == "The answer is B) Jupiter."
    assert answer_content(None, q) == "I could not reach an answer."


def test_percentile_interpolates_between_ranks_like_numpy():
    values = [1.0, 2.0, 3.0, 4.0, 10.0]
    assert percentile(values, 50) == 3.0
    assert percentile(values, 95) == pytest.approx(8.8)
    assert percentile([], 50) is None


def test_reasoner_ids_leave_out_the_prm_modes_without_a_prm():
    assert reasoner_ids(["medqa"], ["cot", "sc", "pvs", "beam"], False) == ["medqa/cot", "medqa/sc"]
    assert reasoner_ids(["medqa"], ["cot", "pvs"], True) == ["medqa/cot", "medqa/pvs"]


def _reasoner(texts, scorer=None) -> Reasoner:
    config = Config()
    config.data.domain = "science"
    return Reasoner(config, load_domain("science"), ScriptedGenerator.cycle(texts), scorer)


class Halves:
    def score(self, question, trajectories):
        return [[0.5 + 0.1 * i for i, _ in enumerate(t)] for t in trajectories]


def test_sc_events_end_with_votes_and_the_answer():
    texts = [" Mars is small.\n\nStep 2: The answer is B.", " Jupiter.\n\nStep 2: The answer is B.",
             " Hmm.\n\nStep 2: The answer is A."]
    model = reasoner_models({"science": _reasoner(texts)}, ["sc"])["science/sc"]
    events = list(model.answer(Chat([{"role": "user", "content": "Largest?\nA) Mars\nB) Jupiter"}], knobs={"samples": 3}),
                               threading.Event()))
    votes = next(e for e in events if isinstance(e, Votes))
    assert votes.votes == {"B": 2.0, "A": 1.0} and votes.samples == 3
    answer = events[-1]
    assert isinstance(answer, Answer) and answer.content == "The answer is B) Jupiter."
    assert answer.completion_tokens == sum(len(t.split()) for t in texts)


def test_cot_with_a_prm_scores_the_steps_and_marks_the_weakest():
    model = reasoner_models({"science": _reasoner([" One.\n\nStep 2: The answer is A."], Halves())},
                            ["cot"])["science/cot"]
    steps = [e for e in model.answer(Chat([{"role": "user", "content": "Q?\nA) x\nB) y"}]), threading.Event())
             if isinstance(e, Step)]
    assert [(s.index, s.text, s.score, s.weakest) for s in steps] == [(1, "One.", 0.5, True),
                                                                     (2, "The answer is A.", 0.6, False)]


def test_closing_a_stream_early_cancels_the_rest_of_the_search():
    calls = []

    def respond(request, index):
        calls.append(request)
        return " A step."  # never answers: beam would go on to max_steps

    config = Config()
    config.data.domain = "science"
    config.eval.max_steps = 50
    reasoner = Reasoner(config, load_domain("science"), ScriptedGenerator(respond), Halves())
    q = pasted_question("Q?\nA) x\nB) y", "mcq")[0]
    stream = reasoner.stream(q, "beam")
    next(stream)
    stream.close()
    seen = len(calls)
    import time

    time.sleep(0.3)
    assert len(calls) <= seen + 8  # at most the call in flight, never the 50 steps
    assert seen < 50 * 8


def test_conversations_persist_list_newest_first_and_export(tmp_path):
    store = ConversationStore(tmp_path / "c.sqlite")
    first = store.create("What is 2 + 3?", "medcalc/cot")
    second = store.create("Largest planet?", "science/sc")
    store.append(first, "user", "What is 2 + 3?")
    store.append(first, "assistant", "The answer is 5.", {"steps": [{"index": 1, "text": "2 + 3 = 5", "score": 0.9}]})
    again = ConversationStore(tmp_path / "c.sqlite")  # a restarted server opens the same file
    assert [c.id for c in again.list()] == [first, second]
    conversation = again.get(first)
    assert [(m.role, m.content) for m in conversation.messages] == [("user", "What is 2 + 3?"),
                                                                    ("assistant", "The answer is 5.")]
    assert conversation.messages[1].details["steps"][0]["score"] == 0.9
    assert "- Step 1: 2 + 3 = 5 (PRM 0.90)" in again.export_markdown(first)
    assert '"role": "assistant"' in again.export_json(first)
    with sqlite3.connect(tmp_path / "c.sqlite") as conn:
        assert conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 2
    with pytest.raises(ConversationNotFound):
        again.append("nope", "user", "x")
    again.delete(first)
    assert [c.id for c in again.list()] == [second]


def test_the_terminal_chat_streams_scored_steps_and_takes_commands():
    from rich.console import Console

    from evolve.cli.chat_repl import Session, repl

    seen = []

    def ask(model_id, messages):
        seen.append((model_id, len(messages)))
        yield Step(1, "Add 2 and 3 <b>.", 0.82, False)
        yield Step(2, "The answer is 5.", 0.31, True)
        yield Answer("5", "The answer is 5.", "stop", 1, 2)

    lines = iter(["What is 2 + 3?", "/mode sc", "/mode nope", "again", "/clear", "/domain medcalc", "/quit"])
    console = Console(record=True, width=100)
    session = Session(["medcalc/cot", "medcalc/sc"], ask, "medcalc", "cot")
    repl(session, read=lambda _prompt: next(lines), console=console)
    text = console.export_text()
    assert "Step 1 [PRM 0.82]: Add 2 and 3 <b>." in text
    assert "Step 2 [PRM 0.31] weakest: The answer is 5." in text
    assert "modes of medcalc: cot, sc" in text
    assert seen == [("medcalc/cot", 1), ("medcalc/sc", 3)]  # the second question carries the first turn
    assert session.history == []
