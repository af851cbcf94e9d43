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
    # values the generators would crash on or silently ignore
    (["--generate", "medcalc", "--set", "kinds=dose,nosuch"], "kinds='dose,nosuch' has no 'nosuch' -- fix: use a "
                                                                "comma list of: dose, infusion, dilution, bmi"),
    (["--generate", "medcalc", "--set", "kinds=,"], "kinds=',' is empty"),
    (["--generate", "medcalc", "--set", "level=0"], "level=0 is out of range -- fix: use 1 to 4"),
    (["--generate", "medcalc", "--set", "level=9"], "level=9 is out of range -- fix: use 1 to 4"),
    (["--generate", "medcalc", "--set", "scale=0"], "scale=0 is out of range -- fix: use 1 to 3"),
    (["--generate", "arith", "--set", "terms=1"], "terms=1 is out of range -- fix: use at least 2"),
    (["--generate", "arith", "--set", "high=0"], "high=0 is out of range -- fix: use at least 1"),
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


@pytest.mark.parametrize(("args", "needle"), [
    (["--generate", "rg:chain_sum", "--set", "bogus=3"], "reasoning-gym 'chain_sum' has no parameter 'bogus' -- fix: "
                                                         "its parameters: min_terms, max_terms"),
    (["--generate", "rg:no_such_set"], "reasoning-gym has no dataset 'no_such_set' -- fix: use rg:<dataset> with a "
                                       "numeric one, e.g. chain_sum"),
])
def test_bad_reasoning_gym_input_names_the_valid_choices(home, capsys, args, needle):
    pytest.importorskip("reasoning_gym")
    code, _, err = run_cli(["domains", "add", "g", *args], capsys)
    assert code == 2 and err.count("\n") == 1 and needle in err, err
    assert not (home / "domains" / "g").exists()


def test_rg_without_the_extra_names_the_pip_command(home, capsys, monkeypatch):
    """As on a machine without the `gym` extra: find_spec answers None for reasoning_gym only."""
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "reasoning_gym" else real(name, *a))
    code, _, err = run_cli(["domains", "add", "g", "--generate", "rg:chain_sum"], capsys)
    assert code == 2 and err.count("\n") == 1, err
    assert "needs the reasoning-gym package" in err and "pip install '.[gym]'" in err
    assert not (home / "domains" / "g").exists()


@pytest.mark.parametrize(("expression", "chain"), [
    ("4 - 1 - 7", [("difference", 3.0, "4 - 1"), ("difference", -4.0, "3 - 7")]),
    ("3 + 4 * 2", [("product", 8.0, "4 * 2"), ("sum", 11.0, "3 + 8")]),  # precedence
    ("(5 - 3) / 4", [("difference", 2.0, "5 - 3"), ("quotient", 0.5, "2 / 4")]),
    ("2 - -1", [("difference", 3.0, "2 - -1")]),
    ("-(7 + 5) + 8", [("sum", 12.0, "7 + 5"), ("negation", -12.0, "-(12)"), ("sum", -4.0, "-12 + 8")]),
    ("1.125 * 8", [("product", 9.0, "1.125 * 8")]),  # operands exact, not rounded to 2 decimals
    ("7", []), ("2 ** 3", []), ("1 / 0", []), ("x + 1", []), ("3 +", []),
])
def test_expression_chains_follow_the_order_of_work(expression, chain):
    from domains.generators import _expression_chain

    assert [(q.name, q.value, q.expr) for q in _expression_chain(expression)] == chain


def test_reasoning_gym_tasks_with_products_and_quotients_get_a_truth_their_gold_steps_pass(home, capsys):
    pytest.importorskip("reasoning_gym")
    code, _, err = run_cli(["domains", "add", "ba", "--generate", "rg:basic_arithmetic", "--set", "min_terms=3",
                            "--set", "max_terms=4", "--size", "20", "--dev-size", "0", "--test-size", "0",
                            "--cold-size", "0"], capsys)
    assert code == 0, err
    questions = load_domain("ba").load_split("search")
    ops = {t["expr"].split()[1] for q in questions for t in q.meta["truth"] if t["name"] != "negation"}
    assert {"*", "/"} & ops  # not only sums: the old chain gave these items no intermediates at all
    for q in questions:
        truth = q.meta["truth"]
        assert len(truth) >= 2 and truth[-1]["value"] == pytest.approx(float(q.answer), abs=0.011)
        steps = gold_steps(truth)
        assert label_steps(steps, truth, q.question, float(q.answer)) == ["correct"] * len(steps), (q.question, steps)


def test_a_reasoning_gym_task_without_an_expression_has_no_step_truth(home, capsys, tmp_path):
    """gsm_symbolic gives only an answer: its items carry no truth (not an answer-only chain, under which
    every right intermediate value would be labelled wrong), so `prm eval` asks for --no-truth and a
    generated cold start refuses, each in one line."""
    pytest.importorskip("reasoning_gym")
    from evolve.config import Config
    from evolve.errors import TrainingError
    from evolve.rounds.stages import RoundContext, cold_start_rows

    code, _, err = run_cli(["domains", "add", "gsm", "--generate", "rg:gsm_symbolic", "--size", "3", "--dev-size", "0",
                            "--test-size", "2", "--cold-size", "2"], capsys)
    assert code == 0, err
    domain = load_domain("gsm")
    assert all(q.meta["truth"] == [] and float(q.answer) for q in domain.load_split("search"))
    assert domain.spec.prompt.example.steps[0].startswith("The answer is ")
    code, _, err = run_cli(["prm", "eval", "--prm", str(tmp_path), "--domain", "gsm", "--split", "test", "--out",
                            str(tmp_path / "o")], capsys)
    assert code == 2 and err.count("\n") == 1 and "no step truth" in err and not (tmp_path / "o").exists()
    config = Config.model_validate({"data": {"domain": "gsm"}, "policy": {"cold_start": {"size": 2}}})
    with pytest.raises(TrainingError, match="2 cold-start question.s. of domain 'gsm' have no true chain"):
        cold_start_rows(RoundContext(config=config, run_dir=home, domain=domain, factory=None))


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
    # found by the hand check (bench/RESULTS.md): true arithmetic under the wrong quantity's name
    ("The total daily dose is 20 × 5 = 100 mg.", "wrong"),
    ("The daily dose is 100 mg.", "wrong"),
    ("The single dose is 5 mg.", "wrong"),  # a question number stated as the dose
    ("The single dose is 20 mg/kg.", "wrong"),  # in another unit, but not as the question states it
    ("The single dose is 100 mg, so the daily dose is 100 × 3 = 300 mg.", "correct"),
])
def test_the_step_checker_on_hand_written_steps(step, label):
    assert label_step(step, TRUTH, QUESTION, 300.0) == label


def test_named_sums_and_restated_quantities():
    truth = [{"name": "sum", "value": 17.0, "unit": "", "expr": "14 + 3"},
             {"name": "sum", "value": 29.0, "unit": "", "expr": "17 + 12"}]
    question = "Calculate 14 + 3 + 12."
    assert label_step("The sum is 14 + 3 = 17.", truth, question, 29.0) == "correct"  # 17 is also a question number
    assert label_step("The sum is 14.", truth, question, 29.0) == "wrong"
    assert label_step("The sum of 17 and 12 is 29.", truth, question, 29.0) == "correct"
    weight = [{"name": "weight", "value": 70.0, "unit": "kg", "expr": "154 / 2.2"}]
    assert label_step("The weight is 154 lb.", weight, "A patient weighs 154 lb. What is the weight in kg?", 70.0) == "neutral"


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
    events = []
    report = evaluate_prm(reasoner, domain.load_split("test"), domain.load_split("dev"), samples=2, prm_name="fake",
                          events=events.append)
    # the log is never silent while it samples: test, then dev, each from 0 to all questions
    ends = [(e.task, e.done, e.total) for i, e in enumerate(events)
            if i in (0, len(events) - 1) or e.task != events[i - 1].task or e.task != events[i + 1].task]
    assert ends == [("prm eval: sample test", 0, 6), ("prm eval: sample test", 6, 6),
                    ("prm eval: sample dev", 0, 4), ("prm eval: sample dev", 4, 4)]
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


def test_a_cold_start_file_may_not_hold_held_out_questions(home, tmp_path):
    from evolve.config import Config
    from evolve.errors import TrainingError
    from evolve.rounds.stages import RoundContext, cold_start_rows

    add_generated_domain("sums", "arith", sizes={"search": 4, "dev": 2, "test": 2, "cold": 0})
    domain = load_domain("sums")
    fresh = {"id": "mine-1", "question": "What is 1000 + 2000?", "answer": "3000", "steps": ["1000 + 2000 = 3000."]}
    leaked = domain.load_split("test")[1]
    rows = [fresh, {"id": "mine-2", "question": leaked.question, "answer": leaked.answer, "steps": ["x"]}]
    path = tmp_path / "cold.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    config = Config.model_validate({"data": {"domain": "sums"}, "policy": {"cold_start": {"source": str(path)}}})
    context = RoundContext(config=config, run_dir=home, domain=domain, factory=None)
    with pytest.raises(TrainingError, match="1 cold-start question.s. are also in the test split of domain 'sums' "
                                            r"\(e.g. mine-2\)"):
        cold_start_rows(context)
    path.write_text(json.dumps(fresh) + "\n", encoding="utf-8")
    assert [row["question_id"] for row in cold_start_rows(context)] == ["mine-1"]


@pytest.mark.parametrize("kind", ["dose", "infusion", "dilution", "bmi", "bsa", "convert", "crcl"])
def test_every_medcalc_kind_has_at_least_three_phrasings(kind):
    """So that a model cannot learn one sentence: question shapes, numbers, drugs, units and sex masked."""
    import random

    from domains.generators import medcalc

    rng = random.Random(0)
    masks = [r"\d+(?:\.\d+)?", r"(?i)amoxicillin|gentamicin|paracetamol|ibuprofen|cefalexin|vancomycin",
             r"\b(?:mcg|mg|g|lb|kg)\b", r"\b(?:wo)?man\b"]
    shapes = set()
    for _ in range(200):
        text = medcalc.make(rng, [kind], 1, 1).question
        for mask in masks:
            text = re.sub(mask, "#", text)
        shapes.add(text)
    assert len(shapes) >= 3, shapes


def test_resolve_params_types_and_defaults():
    assert resolve_params("medcalc", {"level": "3"}) == {"kinds": "dose", "level": 3, "scale": 1}
    with pytest.raises(DomainSpecError):
        resolve_params("arith", {"minus": "perhaps"})


def sums_search_model(request, index):
    """For the search: a step (request.stop set) states the sum, right on most samples; a finish answers."""
    import hashlib

    a, b = map(int, re.findall(r"Question: \D*(\d+) \+ (\d+)", request.prompt)[-1])
    h = int.from_bytes(hashlib.blake2b(f"{request.prompt}|{request.seed}|{index}".encode(), digest_size=4).digest(), "big")
    total = a + b + (h % 3 == 0)  # one sample in three is one too high
    if request.stop:
        return f" The sum is {a} + {b} = {total}.\n\nStep 9: next"
    return f" The answer is {total}.\nextra"


@pytest.mark.slow
def test_a_tiny_end_to_end_run_on_a_generated_domain_with_a_cold_start(home, tmp_path, tiny_model_dir):
    """Generated domain -> cold start -> search -> harvest -> policy and PRM -> eval with pass@N -> the PRM
    checked against the step truth and the tree's Q values, on a real tiny model (the scripted
    backend generates, the tiny model trains)."""
    from evolve.api import Reasoner, build_scorer
    from evolve.backends.scripted import ScriptedGenerator
    from evolve.config import Config
    from evolve.eval.prm_eval import evaluate_prm
    from evolve.rounds.runner import run_rounds
    from evolve.search.records import read_records
    from tests.test_rounds import tiny_run_config

    add_generated_domain("tiny-sums", "arith", params={"terms": "2", "high": "30"},
                         sizes={"search": 4, "dev": 2, "test": 3, "cold": 3})
    config = Config.model_validate(tiny_run_config(
        tiny_model_dir, data={"domain": "tiny-sums"}, search={"limit": 4},
        policy={"cold_start": {"size": 3}}, eval={"split": "test", "modes": ["cot", "sc", "pvs"], "n": 3}))
    run = tmp_path / "run"
    run_rounds(config, run, factory=lambda lora: ScriptedGenerator(sums_search_model))
    round0 = json.loads((run / "round-0" / "manifest.json").read_text())
    round1 = json.loads((run / "round-1" / "manifest.json").read_text())
    assert round0["models"]["cold_start"] == "round-0/cold-start/adapter" and round0["data"]["cold_start_rows"] == 3
    assert round1["models"]["policy_init"] is None  # the round trains from the cold start, not a previous round
    assert round1["data"]["pos"] > 0 and round1["data"]["neg"] > 0
    evals = round1["metrics"]["eval"]
    # scripted generation, so exact: greedy right on 2 of 3, the vote on 1, some sample right on all 3
    assert (evals["cot"]["correct"], evals["sc"]["correct"]) == (2, 1)
    assert (round1["metrics"]["pass_at"]["n"], round1["metrics"]["pass_at"]["correct"]) == (3, 3)
    domain = load_domain("tiny-sums")
    reasoner = Reasoner(config, domain, ScriptedGenerator(sums_model), build_scorer(run / round1["models"]["prm"], config))
    trees = list(read_records(run / "round-1" / "trees.jsonl"))
    report = evaluate_prm(reasoner, domain.load_split("test"), domain.load_split("dev"), samples=2, prm_name="tiny",
                          trees=trees)
    assert report.trajectories == 6 and report.truth["labels"] == {"correct": 6, "wrong": 6, "neutral": 0}
    # the tree's Q values against the truth of its 22 checkable steps (the scripted rollouts ignore the
    # step before them, so Q separates right from wrong steps only partly)
    assert (report.tree["q_vs_truth"]["auc"], report.tree["q_vs_truth"]["steps"]) == (0.78125, 22)
    assert report.tree["prm_vs_dual_mc"]["steps"] == 22 and report.truth["step_vs_truth"]["auc"] is not None


def test_prm_eval_refuses_a_tree_file_of_another_domain(home, tmp_path, capsys):
    add_generated_domain("sums", "arith", params={"terms": "2"}, sizes={"search": 2, "dev": 2, "test": 2, "cold": 0})
    trees = tmp_path / "trees.jsonl"
    trees.write_text(json.dumps({"id": "q1", "domain": "medqa", "pos": [], "neg": []}) + "\n", encoding="utf-8")
    code, _, err = run_cli(["prm", "eval", "--prm", str(tmp_path / "no-prm"), "--domain", "sums", "--trees", str(trees),
                            "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and err.count("\n") == 1 and not (tmp_path / "o").exists()
    assert "holds trees of domain 'medqa', not 'sums'" in err


def test_prm_eval_checks_a_tree_file_alone_without_a_model(home, tmp_path, capsys):
    """--samples 0 --trees and no --prm: the tree's Q values against the truth, exact, no model loaded."""
    add_generated_domain("sums", "arith", params={"terms": "2"}, sizes={"search": 2, "dev": 2, "test": 2, "cold": 0})
    q = load_domain("sums").load_split("search")[0]
    a, b = map(int, re.findall(r"\d+", q.question))
    right, off = a + b, a + b + 1

    def trajectory(steps, values):
        return {"steps": ["", *steps], "values": [0.5, *values]}

    record = {"id": q.id, "domain": "sums",
              "pos": [trajectory([f"The sum is {a} + {b} = {right}.", f"The answer is {right}."], [0.9, 1.0])],
              "neg": [trajectory([f"The sum is {a} + {b} = {off}.", f"The answer is {off}."], [0.2, 0.0]),  # Q flags it
                      trajectory([f"The sum is {a} + {b} = {right}.", f"The answer is {off}."], [0.1, 0.0])]}  # too early
    trees = tmp_path / "trees.jsonl"
    trees.write_text(json.dumps(record) + "\n", encoding="utf-8")
    code, out, err = run_cli(["prm", "eval", "--domain", "sums", "--samples", "0", "--trees", str(trees),
                              "--out", str(tmp_path / "o")], capsys)
    assert code == 0, err
    report = json.loads((tmp_path / "o" / "prm_eval.json").read_text())
    # right steps score 0.9, 1.0 and 0.1; wrong ones 0.2, 0.0, 0.0: 8 of 9 pairs ordered
    assert report["tree"]["q_vs_truth"] == {"auc": pytest.approx(8 / 9), "steps": 6, "positive": 3}
    first = report["tree"]["q_first_error"]  # 1 of 2 erroneous found at its first wrong step, the clean one unflagged
    assert (first["error_accuracy"], first["clean_accuracy"], first["f1"]) == (0.5, 1.0, pytest.approx(2 / 3))
    assert "prm_vs_dual_mc" not in report["tree"] and report["truth"] is None and report["trajectories"] == 0
    assert "| tree Q value vs true step label | 0.889 | 6 | 3 |" in out and "F1 0.667" in out
    assert (tmp_path / "o" / "prm_eval.png").stat().st_size > 0


@pytest.mark.parametrize(("args", "needle"), [
    (["--samples", "0"], "--samples 0 samples nothing"),
    ([], "sampled solutions need a PRM to score them"),
    (["--samples", "0", "--trees", "T", "--no-truth"], "--no-truth with --samples 0 leaves no check"),
])
def test_prm_eval_usage_without_a_prm_or_samples_is_one_line(home, tmp_path, capsys, args, needle):
    add_generated_domain("sums", "arith", params={"terms": "2"}, sizes={"search": 2, "dev": 2, "test": 2, "cold": 0})
    args = [str(tmp_path / "t.jsonl") if arg == "T" else arg for arg in args]
    code, _, err = run_cli(["prm", "eval", "--domain", "sums", *args, "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and err.count("\n") == 1 and needle in err and not (tmp_path / "o").exists(), err


def test_the_bundled_medcalc_domain_is_its_generator_s_output(home):
    """domains/medcalc (the demo's) is exactly what its yaml's generator, parameters, seed and sizes give."""
    import yaml

    from domains.registry import builtin_names

    assert "medcalc" in builtin_names()
    bundled = load_domain("medcalc")
    spec = yaml.safe_load((bundled.root / "domain.yaml").read_text(encoding="utf-8"))["generator"]
    add_generated_domain("regenerated", spec["kind"], params={k: str(v) for k, v in spec["params"].items()},
                         seed=spec["seed"], sizes=spec["sizes"])
    again = load_domain("regenerated")
    for split in ("search", "dev", "test", "cold"):
        assert ([(q.question, q.answer, q.meta) for q in bundled.load_split(split)]
                == [(q.question, q.answer, q.meta) for q in again.load_split(split)]), split
