"""The scripted fake backend: stop/budget semantics, determinism, bookkeeping."""

from __future__ import annotations

import pytest

from evolve.backends.base import Completion, GenerationRequest, Generator
from evolve.backends.scripted import ScriptedGenerator, apply_stop_and_budget


def test_stop_cuts_at_the_first_stop_string_and_excludes_it():
    assert apply_stop_and_budget("a b\nStep 2 c", ("\nStep", " c"), 10) == Completion("a b", 2, "stop")


def test_budget_cuts_before_a_later_stop():
    assert apply_stop_and_budget("one two  three four\nStep", ("\nStep",), 3) == Completion("one two  three", 3, "length")


def test_no_stop_within_budget_is_eos():
    assert apply_stop_and_budget("  one two ", (), 2) == Completion("  one two ", 2, "eos")


def test_exactly_budget_words_then_stop_is_stop():
    assert apply_stop_and_budget("one two||", ("||",), 2) == Completion("one two", 2, "stop")


def test_zero_budget_gives_empty_length():
    assert apply_stop_and_budget("x", (), 0) == Completion("", 0, "length")


def test_generate_depends_only_on_request_and_sample_index():
    generator = ScriptedGenerator(lambda request, index: f"{request.prompt}:{request.seed}:{index} tail\nStep more")
    a = GenerationRequest("p", n=2, seed=1, stop=("\nStep",))
    b = GenerationRequest("q", n=1, max_new_tokens=1)
    together = generator.generate([a, b])
    assert together == [
        [Completion("p:1:0 tail", 2, "stop"), Completion("p:1:1 tail", 2, "stop")],
        [Completion("q:None:0", 1, "length")],
    ]
    assert generator.generate([a]) == [together[0]]
    assert generator.batch_sizes == [2, 1]
    stats = generator.stats
    assert (stats.calls, stats.requests, stats.completions, stats.generated_tokens, stats.prompt_tokens) == (2, 3, 5, 9, 3)


def test_cycle_constant_and_max_n():
    cycling = ScriptedGenerator.cycle(["A", "B"], max_n=3)
    assert [c.text for c in cycling.generate([GenerationRequest("x", n=3)])[0]] == ["A", "B", "A"]
    assert cycling.max_n == 3
    with pytest.raises(ValueError, match="at most 3"):
        cycling.generate([GenerationRequest("x", n=4)])
    assert ScriptedGenerator.constant("Z").generate([GenerationRequest("x")]) == [[Completion("Z", 1, "eos")]]
    with pytest.raises(ValueError):
        ScriptedGenerator.cycle([])


def test_render_chat_and_protocol():
    generator = ScriptedGenerator.constant("")
    assert isinstance(generator, Generator)
    rendered = generator.render_chat([{"role": "system", "content": "S"}, {"role": "user", "content": "U"}])
    assert rendered == "<|system|>\nS\n<|user|>\nU\n<|assistant|>\n"
