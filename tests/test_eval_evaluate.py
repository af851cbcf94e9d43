"""`evaluate` on the scripted backend: exact accuracies, shared samples, and the files it writes."""

import json
import re

import pytest

from domains import Question, load_domain
from evolve.api import Reasoner
from evolve.backends.scripted import ScriptedGenerator
from evolve.config import Config, EvalConfig
from evolve.errors import ConfigError, EvolveError
from evolve.eval.evaluate import evaluate

DOMAIN = load_domain("science")
OPTIONS = {"A": "red", "B": "blue", "C": "green"}
# gold answers: q0 A, q1 B, q2 C, q3 A
QUESTIONS = [Question(id=f"q{i}", question=f"Which colour {i}?", answer="ABCA"[i], options=OPTIONS) for i in range(4)]
# sample i of every question: answers B, A, B, C with these last-step scores
# (the score tag comes first: generation stops at the end of the answer sentence)
SAMPLES = [" [0.2] The answer is B.", " [0.9] The answer is A.", " [0.3] The answer is B.", " [0.95] The answer is C."]


class TagScorer:
    def __init__(self):
        self.calls = 0

    def score(self, question, trajectories):
        self.calls += 1
        return [[float(re.search(r"\[([\d.]+)\]", s).group(1)) for s in t] for t in trajectories]


def respond(request, index):
    if request.temperature == 0:  # cot answers each question's gold letter for q0 and q1 only
        return " [0.5] The answer is A." if "colour 0" in request.prompt else " [0.5] The answer is B."
    return SAMPLES[index]


def test_evaluate_exact_and_files(tmp_path):
    generator, scorer = ScriptedGenerator(respond), TagScorer()
    config = EvalConfig(modes=["cot", "sc", "pvs", "bon-last", "bon-min"], n=4)
    report = evaluate(QUESTIONS, Reasoner(Config(eval=config), DOMAIN, generator, scorer), out_dir=tmp_path / "ev", label="r1")
    assert generator.batch_sizes == [4, 4] and scorer.calls == 4  # cot, then one shared draw and PRM pass
    by_mode = {m.mode: m for m in report.modes}
    # cot: q0 A (right), q1-q3 B (q1 right) -> 2/4. sc: B everywhere -> q1 only. pvs: A 0.9 vs B 0.5 vs C 0.95 -> C.
    assert [(m, by_mode[m].correct) for m in by_mode] == [("cot", 2), ("sc", 1), ("pvs", 1), ("bon-last", 1),
                                                          ("bon-min", 1)]
    assert by_mode["cot"].accuracy == 0.5 and by_mode["cot"].low == pytest.approx(0.15003570882017148)
    assert by_mode["cot"].mean_tokens == 5 and by_mode["sc"].mean_tokens == 20
    assert by_mode["sc"].shared and not by_mode["cot"].shared
    assert report.comparisons[0] == {"base": "cot", "mode": "sc", "only_base": 1, "only_mode": 0, "mcnemar_p": 1.0,
                                     "diff": -0.25, "diff_low": pytest.approx(-0.75), "diff_high": 0.0}

    out = tmp_path / "ev"
    summary = json.loads((out / "eval.json").read_text())
    assert summary["label"] == "r1" and summary["questions"] == 4 and summary["domain"] == "science"
    assert [m["mode"] for m in summary["modes"]] == ["cot", "sc", "pvs", "bon-last", "bon-min"]
    assert summary["modes"][0]["high"] == pytest.approx(0.8499642911798285)
    md = (out / "eval.md").read_text()
    assert "| cot | 50.0% | [15.0%, 85.0%] | 2/4 | 5.0 |" in md and "| sc * | 25.0% |" in md
    assert (out / "eval.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    records = [json.loads(line) for line in (out / "questions.jsonl").read_text().splitlines()]
    assert [r["id"] for r in records] == ["q0", "q1", "q2", "q3"] and records[2]["gold"] == "C"
    pvs = records[2]["modes"]["pvs"]
    assert pvs["answer"] == "C" and pvs["correct"] and pvs["steps"] == ["[0.95] The answer is C."]
    assert pvs["scores"] == [0.95] and pvs["votes"] == pytest.approx({"B": 0.5, "A": 0.9, "C": 0.95})
    assert [c["answer"] for c in pvs["candidates"]] == ["B", "A", "B", "C"]
    assert records[0]["modes"]["sc"]["votes"] == {"B": 2.0, "A": 1.0, "C": 1.0}


def test_evaluate_refuses_before_work():
    generator = ScriptedGenerator(respond, max_n=2)
    with pytest.raises(ConfigError, match="generator.max_n"):
        evaluate(QUESTIONS, Reasoner(Config(eval=EvalConfig(modes=["cot", "sc"], n=4)), DOMAIN, generator))
    with pytest.raises(ConfigError) as err:
        evaluate(QUESTIONS, Reasoner(Config(eval=EvalConfig(modes=["cot", "pvs"], n=2)), DOMAIN, generator))
    assert err.value.one_line().startswith("--prm: mode pvs needs a process reward model")
    with pytest.raises(EvolveError, match="no questions"):
        evaluate([], Reasoner(Config(eval=EvalConfig(modes=["cot"])), DOMAIN, generator))
    assert generator.stats.calls == 0


def test_accuracy_per_metadata_value_with_intervals(tmp_path):
    from dataclasses import replace

    subjects = ["anatomy", "anatomy", "physiology", "physiology"]
    questions = [replace(q, meta={"subject": s}) for q, s in zip(QUESTIONS, subjects)]
    report = evaluate(questions, Reasoner(Config(eval=EvalConfig(modes=["cot"], by="subject")), DOMAIN, ScriptedGenerator(respond)),
                      out_dir=tmp_path / "ev", split="dev")
    # cot is right on q0 and q1 only: both anatomy questions
    assert [(g["value"], g["n"], g["modes"]["cot"]["correct"]) for g in report.groups] == [("anatomy", 2, 2),
                                                                                          ("physiology", 2, 0)]
    assert report.groups[0]["modes"]["cot"]["low"] == pytest.approx(0.34237195288961925)
    md = (tmp_path / "ev" / "eval.md").read_text()
    assert "4 questions of split `dev`" in md and "| anatomy | 2 | 100.0% [34%, 100%] |" in md
    assert json.loads((tmp_path / "ev" / "eval.json").read_text())["split"] == "dev"
    generator = ScriptedGenerator(respond)
    with pytest.raises(EvolveError) as err:
        evaluate(questions, Reasoner(Config(eval=EvalConfig(modes=["cot"], by="year")), DOMAIN, generator))
    assert err.value.one_line() == "--by year: no question has a metadata field 'year' -- fix: fields there: subject"
    assert generator.stats.calls == 0
