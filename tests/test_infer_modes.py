"""Every inference mode on the scripted backend: exact answers, votes, chosen trajectories, tokens, batching."""

import re

import pytest

from domains import Question, load_domain
from evolve.backends.scripted import ScriptedGenerator
from evolve.config import EvalConfig
from evolve.errors import ConfigError
from evolve.infer.solve import run_modes, solve_many
from evolve.reasoner.steps import STEP_ZERO

DOMAIN = load_domain("science")
OPTIONS = {"A": "red", "B": "blue", "C": "green", "D": "gold"}
QUESTIONS = [Question(id=f"q{i}", question=f"Which colour {i}?", answer="A", options=OPTIONS) for i in range(3)]


class TagScorer:
    """A step's score is the number in its `[x]` tag (0.5 without one); records every call."""

    def __init__(self):
        self.calls = []

    def score(self, question, trajectories):
        self.calls.append((question, [list(t) for t in trajectories]))
        return [[float(m.group(1)) if (m := re.search(r"\[([\d.]+)\]", s)) else 0.5 for s in t] for t in trajectories]


# N-sample mode: sample i writes SAMPLES[i] after "Step 1:"; cot (greedy) writes GREEDY.
SAMPLES = [
    " x [0.1]\n\nStep 2: [0.8] The answer is B.",  # 9 words
    " [0.6] The answer is A.",  # 5
    " y [0.1]\n\nStep 2: [0.3] The answer is B.",  # 9
    " w [0.7]\n\nStep 2: [0.65] The answer is C.",  # 9
    " no answer here [0.99]",  # 4
    " z [0.3]\n\nStep 2: [0.55] The answer is A.\nStep 3: The answer is D.",  # 9: generation stops after "A."
]
GREEDY = " [0.5] The answer is D.\n\nStep 2: The answer is A."


def respond_samples(request, index):
    return GREEDY if request.temperature == 0 else SAMPLES[index]


def config(**changes):
    return EvalConfig(n=len(SAMPLES), temperature=0.7, max_tokens=64, **changes)


def test_cot_is_one_greedy_sample_per_question_in_one_call():
    generator = ScriptedGenerator(respond_samples)
    solutions = solve_many(QUESTIONS, DOMAIN, generator, "cot", config())
    assert generator.batch_sizes == [3] and generator.stats.completions == 3
    s = solutions[0]
    # generation stops at the end of the answer sentence: 5 tokens, where the scripted model would write 11
    assert (s.answer, s.steps, s.scores, s.tokens, s.votes) == ("D", ["[0.5] The answer is D."], None, 5, {"D": 1.0})


def test_progress_counts_each_question_with_its_tokens_as_it_finishes():
    lines = []
    solve_many(QUESTIONS, DOMAIN, ScriptedGenerator(respond_samples), "cot", config(),
               progress=lambda label, done, total, info: lines.append((label, done, total, info.get("tokens"))))
    # all three finish in the one batched call, 5 tokens each (the call reports its first two rows as it
    # goes); the last line holds them all, once
    assert lines == [("cot", 0, 3, None), ("cot", 0, 3, 5), ("cot", 0, 3, 10),
                     ("cot", 1, 3, 5), ("cot", 2, 3, 10), ("cot", 3, 3, 15)]


def test_a_long_call_reports_its_finished_samples_before_it_returns():
    lines = []
    solve_many(QUESTIONS, DOMAIN, ScriptedGenerator(respond_samples), "sc", config(),
               progress=lambda label, done, total, info: lines.append((done, info.get("samples"), info.get("tokens"))))
    # one call of 3 x 6 samples (45 tokens each question): the rows of the first two questions are reported
    # while the call runs, then the questions finish
    assert lines == [(0, None, None), (0, "6/18", 45), (0, "12/18", 90), (1, None, 45), (2, None, 90), (3, None, 135)]


@pytest.mark.parametrize("mode,answer,chosen,votes", [
    ("sc", "B", 0, {"B": 2.0, "A": 2.0, "C": 1.0}),
    ("pvs", "A", 1, {"B": 1.1, "A": 1.15, "C": 0.65}),
    ("bon-last", "B", 0, {}),
    ("bon-min", "C", 3, {}),
])
def test_sampling_modes_exact(mode, answer, chosen, votes):
    generator, scorer = ScriptedGenerator(respond_samples), TagScorer()
    solutions = solve_many(QUESTIONS, DOMAIN, generator, mode, config(), scorer=scorer if mode != "sc" else None)
    assert generator.batch_sizes == [3]  # every question's N samples in one call
    s = solutions[2]
    assert s.answer == answer and s.votes == pytest.approx(votes)
    assert s.steps == [p.strip() for p in re.split(r"\n\s*Step \d+:", SAMPLES[chosen].split("\nStep 3")[0])]
    assert s.tokens == 9 + 5 + 9 + 9 + 4 + 9
    assert [c.tokens for c in s.candidates] == [9, 5, 9, 9, 4, 9]
    assert [c.answer for c in s.candidates] == ["B", "A", "B", "C", None, "A"]
    if mode != "sc":
        assert len(scorer.calls) == 3 and scorer.calls[0][0] == DOMAIN.format_question(QUESTIONS[0])
        assert s.scores == s.candidates[chosen].scores
        assert s.candidates[5].steps == ["z [0.3]", "[0.55] The answer is A."]  # cut after the first answer


def test_sampling_modes_share_one_draw_and_one_prm_pass():
    generator, scorer = ScriptedGenerator(respond_samples), TagScorer()
    runs = run_modes(QUESTIONS, DOMAIN, generator, ["cot", "sc", "pvs", "bon-last", "bon-min"], config(), scorer)
    assert generator.batch_sizes == [3, 3]  # cot, then one shared draw
    assert len(scorer.calls) == 3
    assert [runs[m].solutions[0].answer for m in runs] == ["D", "B", "A", "B", "C"]
    assert runs["sc"].shared and not runs["cot"].shared
    assert runs["sc"].seconds <= runs["pvs"].seconds


def test_sample_seeds_depend_on_question_not_batching():
    seen = []
    generator = ScriptedGenerator(lambda request, index: seen.append(request.seed) or SAMPLES[index])
    solve_many(QUESTIONS, DOMAIN, generator, "sc", config())
    solve_many(QUESTIONS[1:], DOMAIN, generator, "sc", config())
    per_question = seen[:: len(SAMPLES)]
    assert per_question[1:3] == per_question[3:5] and len(set(per_question[:3])) == 3


# Step-wise modes: the next step depends on the last step of the prompt (and on whether it must finish).
STEPS = {
    STEP_ZERO: ["a [0.5]", "b [0.7]"],
    "b [0.7]": ["b1 [0.6]", "[0.95] The answer is C."],
    "a [0.5]": ["a1 [0.8]", "[0.4] The answer is A."],
    ("a1 [0.8]", "finish"): ["[0.99] The answer is B.", "foo [0.2]\n\nStep 4: [0.3] The answer is D."],
    ("b [0.7]", "finish"): ["[0.95] The answer is C."],
}


def respond_steps(request, index):
    last = re.findall(r"Step \d+: (.*?)\n\nStep \d+:$", request.prompt, re.S)
    last = last[0].split("\n\nStep ")[-1].split(": ", 1)[-1] if last else STEP_ZERO
    if not request.stop:
        return " " + STEPS[(last, "finish")][index]
    return " " + STEPS[last][index] + "\n\nStep 9: more to say"


def test_respond_steps_reads_the_last_step():
    assert respond_steps(type("R", (), {"prompt": "Step 0: z\n\nStep 1: a [0.5]\n\nStep 2:", "stop": ("\nStep",)})(), 0)\
        == " a1 [0.8]\n\nStep 9: more to say"


def test_beam_search_exact():
    generator, scorer = ScriptedGenerator(respond_steps), TagScorer()
    cfg = config(beam_width=2, beam_expansions=2, max_steps=3)
    solutions = solve_many(QUESTIONS[:2], DOMAIN, generator, "beam", cfg, scorer)
    assert generator.batch_sizes == [2, 4, 2]  # one call per depth, both questions together
    assert len(scorer.calls) == 6  # one per question per depth
    s = solutions[1]
    assert s.answer == "B"
    assert s.steps == ["a [0.5]", "a1 [0.8]", "[0.99] The answer is B."] and s.scores == [0.5, 0.8, 0.99]
    assert s.votes == {"C": 0.95, "B": 0.99, "D": 0.3}
    assert s.tokens == (2 + 2) + (2 + 5 + 2 + 5) + (5 + 9)
    assert [c.answer for c in s.candidates] == ["C", "B", "D"]
    assert s.candidates[2].steps == ["a [0.5]", "a1 [0.8]", "foo [0.2]", "[0.3] The answer is D."]
    assert [c.tokens for c in s.candidates] == [2 + 5, 2 + 2 + 5, 2 + 2 + 9]


def test_mcts_exact():
    generator, scorer = ScriptedGenerator(respond_steps), TagScorer()
    cfg = config(mcts_iterations=3, mcts_children=2, max_steps=4)
    solutions = solve_many(QUESTIONS[:2], DOMAIN, generator, "mcts", cfg, scorer)
    assert generator.batch_sizes == [2, 2, 2]  # the two searches' expansions share each call
    s = solutions[0]
    # iteration 2 expands b (UCT .7 + sqrt(ln 2)), iteration 3 expands a (.5 + sqrt(ln 4) beats .75 + sqrt(ln 4 / 3))
    assert s.answer == "C" and s.steps == ["b [0.7]", "[0.95] The answer is C."] and s.scores == [0.7, 0.95]
    assert s.votes == {"C": 0.7, "A": 0.4}  # highest minimum step score per answer
    assert s.tokens == 2 + 2 + 2 + 5 + 2 + 5


def test_mcts_forces_a_finish_on_the_best_open_path():
    generator, scorer = ScriptedGenerator(respond_steps), TagScorer()
    s = solve_many(QUESTIONS[:1], DOMAIN, generator, "mcts", config(mcts_iterations=1, mcts_children=2), scorer)[0]
    assert generator.batch_sizes == [1, 1]
    assert s.answer == "C" and s.steps == ["b [0.7]", "[0.95] The answer is C."] and s.tokens == 2 + 2 + 5


def test_too_many_samples_fails_before_any_work():
    generator = ScriptedGenerator(respond_samples, max_n=4)
    with pytest.raises(ConfigError) as err:
        solve_many(QUESTIONS, DOMAIN, generator, "sc", config())
    line = err.value.one_line()
    assert "n=6" in line and "generator.max_n" in line and "\n" not in line and "eval.n" in line
    assert generator.stats.calls == 0
    with pytest.raises(ConfigError, match="beam"):
        solve_many(QUESTIONS, DOMAIN, generator, "beam", config(beam_expansions=5), TagScorer())


@pytest.mark.parametrize("mode", ["pvs", "bon-last", "bon-min", "beam", "mcts"])
def test_prm_mode_without_scorer_names_prm(mode):
    generator = ScriptedGenerator(respond_samples)
    with pytest.raises(ConfigError) as err:
        solve_many(QUESTIONS, DOMAIN, generator, mode, config())
    assert "--prm" in err.value.one_line() and generator.stats.calls == 0
