"""Generated domains, step truth, the PRM's truth check and the cold start: exact, on the scripted backend."""

from __future__ import annotations

import json
import re

import pytest

from domains import load_domain
from domains.builder import add_generated_domain
from domains.errors import DomainSpecError
from domains.generators import gold_steps, resolve_params
from domains.truth import first_error, label_step, label_steps
from evolve.eval.stats import best_threshold, first_below, first_error_f1, roc_points
from tests.cli_helpers import run_cli

SIZES = {"search": 12, "dev": 6, "test": 8, "cold": 5}


def test_the_same_seed_gives_the_same_items_and_splits_share_no_question(home, tmp_path):
    add_generated_domain("a", "medcalc", params={"kinds": "dose,infusion,bmi", "level": "2"}, seed=3, sizes=SIZES)
    add_generated_domain("b", "medcalc", params={"kinds": "dose,infusion,bmi", "level": "2"}, seed=3, sizes=SIZES)
    add_generated_domain("c", "medcalc", params={"kinds": "dose,infusion,bmi", "level": "2"}, seed=4, sizes=SIZES)
    def files(name):  # the questions of every split, ids aside (they start with the domain's name)
        return {p.name: p.read_text().replace(f'"{name}-', '"x-') for p in (home / "domains" / name).glob("*.jsonl")}

    assert files("a") == files("b") and files("a") != files("c")
    domain = load_domain("a")
    splits = {split: domain.load_split(split) for split in ("search", "dev", "test", "cold")}
    assert {split: len(qs) for split, qs in splits.items()} == SIZES
    texts = [q.question for qs in splits.values() for q in qs]
    assert len(texts) == len(set(texts))  # no question in two splits
    assert domain.worked_example()[0].split("\n")[0].removeprefix("Question: ") not in texts
    spec = domain.spec.generator
    assert (spec.kind, spec.seed, spec.params["level"], spec.sizes["search"]) == ("medcalc", 3, 2, 12)


def test_the_yaml_rebuilds_the_domain_exactly(home):
    add_generated_domain("a", "arith", params={"terms": "3"}, seed=1, sizes=SIZES)
    spec = load_domain("a").spec.generator
    before = {p.name: p.read_text() for p in (home / "domains" / "a").iterdir()}
    add_generated_domain("a", spec.kind, params={k: str(v) for k, v in spec.params.items()}, seed=spec.seed,
                         sizes=spec.sizes, force=True)
    assert {p.name: p.read_text() for p in (home / "domains" / "a").iterdir()} == before


def test_every_item_carries_a_true_chain_whose_gold_steps_verify(home):
    add_generated_domain("m", "medcalc", params={"kinds": "dose,infusion,dilution,bmi,bsa,convert,crcl", "level": "4",
                                                 "scale": "2"}, sizes={"search": 40, "dev": 0, "test": 0, "cold": 0})
    domain = load_domain("m")
    for q in domain.load_split("search"):
        steps = gold_steps(q.meta["truth"])
        assert domain.is_correct(domain.extract_answer(steps[-1]), q), (q.question, steps)
        assert "wrong" not in label_steps(steps, q.meta["truth"], q.question, float(q.answer)), steps


@pytest.mark.parametrize(("args", "needle"), [
    (["--generate", "medcalcx"], "unknown generator 'medcalcx' -- fix: use one of: medcalc, arith"),
    (["--generate", "medcalc", "--set", "levels=2"], "generator 'medcalc' has no parameter 'levels' -- fix: its "
                                                     "parameters: kinds"),
    (["--generate", "arith", "--set", "terms=many"], "terms='many' is not a int"),
])
def test_bad_generator_input_is_one_line_and_writes_nothing(home, capsys, args, needle):
    code, _, err = run_cli(["domains", "add", "g", *args], capsys)
    assert code == 2 and err.count("\n") == 1 and needle in err, err
    assert not (home / "domains" / "g").exists()


def test_reasoning_gym_domains_carry_their_partial_sums(home, capsys):
    pytest.importorskip("reasoning_gym")
    code, out, _ = run_cli(["domains", "add", "cs", "--generate", "rg:chain_sum", "--set", "min_terms=3",
                            "--set", "max_terms=3", "--size", "4", "--dev-size", "0", "--test-size", "0",
                            "--cold-size", "0"], capsys)
    assert code == 0 and "4 search questions" in out
    [q, *_] = load_domain("cs").load_split("search")
    numbers = [int(n) for n in re.findall(r"\d+", q.question.split(":")[-1])]
    signs = re.findall(r"[+-]", q.question.split(":")[-1])
    partial = numbers[0] + (numbers[1] if signs[0] == "+" else -numbers[1])
    assert [t["value"] for t in q.meta["truth"]] == [partial, float(q.answer)]


TRUTH = [{"name": "single dose", "value": 100.0, "unit": "mg", "expr": "20 × 5"},
         {"name": "daily dose", "value": 300.0, "unit": "mg", "expr": "100 × 3"}]
QUESTION = "A child weighing 20 kg is prescribed amoxicillin at 5 mg/kg per dose given 3 times a day. What is the daily dose?"


@pytest.mark.parametrize(("step", "label"), [
    ("20 × 5 = 100 mg.", "correct"),
    ("The single dose is 20 kg × 5 mg/kg = 100 mg.", "correct"),
    ("20 × 5 = 120 mg.", "wrong"),  # a false arithmetic claim
    ("The daily dose is 100 × 3 = 300 mg.", "correct"),
    ("The answer is 300.", "correct"),
    ("The answer is 100.", "wrong"),  # not the gold answer
    ("So the dose is 150 mg.", "wrong"),  # a quantity that contradicts the chain
    ("The child weighs 20 kg and takes it 3 times a day.", "neutral"),  # the question restated
    ("Multiply the weight by the dose per kilogram.", "neutral"),
    ("We get 100 mg per dose, and 60 minutes make an hour.", "correct"),  # 60 is a known constant
])
def test_the_step_checker_on_hand_written_steps(step, label):
    assert label_step(step, TRUTH, QUESTION, 300.0) == label


def test_first_error_and_its_f1():
    assert first_error(["neutral", "correct", "wrong", "wrong"]) == 2 and first_error(["correct"]) is None
    assert first_below([0.9, 0.4, 0.1], 0.5) == 1 and first_below([0.9], 0.5) is None
    # two trajectories with an error (at 1 and at 0), two without
    result = first_error_f1([1, 2, None, 0], [1, 0, None, None])
    assert (result["error_accuracy"], result["clean_accuracy"], result["f1"]) == (0.5, 0.5, 0.5)
    threshold, best = best_threshold([[0.9, 0.2], [0.8, 0.9]], [1, None])
    assert best["f1"] == 1.0 and 0.2 < threshold <= 0.8


def test_roc_points():
    assert roc_points([0.9, 0.8, 0.3, 0.1], [1, 1, 0, 0]) == ([0.0, 0.0, 0.0, 0.5, 1.0], [0.0, 0.5, 1.0, 1.0, 1.0])
    assert roc_points([0.5, 0.5], [1, 0]) == ([0.0, 1.0], [0.0, 1.0])
    assert roc_points([0.5], [1]) == ([], [])


def sums_model(request, index):
    """Answers "What is a + b?" correctly on even samples, one too high on odd ones."""
    a, b = map(int, re.findall(r"Question: \D*(\d+) \+ (\d+)", request.prompt)[-1])
    total = a + b + index % 2
    return f" {a} + {b} = {total}.\n\nStep 2: The answer is {total}."


class TruthScorer:
    """A constructed PRM: 1 for a step whose arithmetic holds, 0 for one that does not (or inverted)."""

    def __init__(self, inverted=False):
        self.inverted = inverted

    def score(self, question, trajectories):
        def one(step):
            a = re.findall(r"(\d+) \+ (\d+) = (\d+)", step)
            good = (int(a[0][0]) + int(a[0][1]) == int(a[0][2])) if a else ("answer" in step and self._last_ok)
            self._last_ok = good
            return float(good != self.inverted)
        out = []
        for steps in trajectories:
            self._last_ok = True
            out.append([one(s) for s in steps])
        return out


@pytest.mark.parametrize(("inverted", "auc"), [(False, 1.0), (True, 0.0)])
def test_prm_eval_on_a_constructed_prm_whose_auc_is_known(home, inverted, auc):
    from evolve.api import Reasoner
    from evolve.backends.scripted import ScriptedGenerator
    from evolve.config import Config
    from evolve.eval.prm_eval import evaluate_prm

    add_generated_domain("sums", "arith", params={"terms": "2"}, sizes={"search": 4, "dev": 4, "test": 6, "cold": 0})
    domain = load_domain("sums")
    reasoner = Reasoner(Config(), domain, ScriptedGenerator(sums_model), TruthScorer(inverted))
    report = evaluate_prm(reasoner, domain.load_split("test"), domain.load_split("dev"), samples=2, prm_name="fake")
    assert report.trajectories == 12 and report.truth["labels"] == {"correct": 12, "wrong": 12, "neutral": 0}
    assert report.truth["step_vs_truth"]["auc"] == auc and report.last_step["auc"] == auc
    if not inverted:  # flagged exactly at the first wrong step, and nothing on the right solutions
        assert report.truth["first_error"]["f1"] == 1.0


def test_prm_eval_refuses_a_domain_without_truth_and_says_what_still_runs(capsys, tmp_path):
    code, _, err = run_cli(["prm", "eval", "--prm", str(tmp_path), "--domain", "medqa", "--split", "dev", "--out",
                            str(tmp_path / "o")],
                           capsys)
    assert code == 2 and err.count("\n") == 1 and not (tmp_path / "o").exists()
    assert "no step truth" in err and "--no-truth" in err and "last-step AUC" in err


def test_cold_start_rows_are_gold_solutions_of_the_cold_questions(home):
    from evolve.config import Config
    from evolve.rounds.stages import RoundContext, cold_start_rows

    add_generated_domain("sums", "arith", params={"terms": "3"}, sizes={"search": 4, "dev": 2, "test": 2, "cold": 3})
    domain = load_domain("sums")
    config = Config.model_validate({"data": {"domain": "sums"}, "policy": {"cold_start": {"size": 2}}})
    rows = cold_start_rows(RoundContext(config=config, run_dir=home, domain=domain, factory=None))
    cold = domain.load_split("cold")
    assert [r["question_id"] for r in rows] == [q.id for q in cold[:2]]
    held_out = {q.question for split in ("dev", "test") for q in domain.load_split(split)}
    assert not held_out & {q.question for q in cold}
    first = rows[0]
    assert first["messages"][-1]["content"].startswith(f"Question: {cold[0].question}")
    assert first["completion"].endswith(f"The answer is {cold[0].answer}.") and "Step 2:" in first["completion"]
    assert json.dumps(first)  # plain data, as the harvest writes it


def test_resolve_params_types_and_defaults():
    assert resolve_params("medcalc", {"level": "3"}) == {"kinds": "dose", "level": 3, "scale": 1}
    with pytest.raises(DomainSpecError):
        resolve_params("arith", {"minus": "perhaps"})
