"""Each node of the graph on its own, through `graph.nodes`, with scripted models."""

from __future__ import annotations

import pytest
from langgraph.types import Send

from agents.fakes import agents_generator
from agents.graph import build_graph
from agents.nodes.supervisor import route
from agents.runtime import question_dict
from agents.state import new_hypothesis
from domains import load_domain
from evolve.backends.scripted import ScriptedGenerator
from evolve.config import AgentsConfig

SOLUTION = " Jupiter is a gas giant.\n\nStep 2: It is larger than the others.\n\nStep 3: The answer is D."


@pytest.fixture(scope="module")
def domain():
    return load_domain("science")


@pytest.fixture(scope="module")
def question(domain):
    return domain.load_split("dev", 1)[0]  # largest planet, gold D


def graph_with(domain, respond=None, **kwargs):
    generator = ScriptedGenerator(respond) if respond else agents_generator()
    cfg = kwargs.pop("config", AgentsConfig(budget=6))
    return build_graph(generator, domain, None, config=cfg, batch_window=0.0, **kwargs), generator


def hyp(hid, answer="D", **extra):
    record = new_hypothesis(hid, f"Step 1: reason for {answer}.\nAnswer: {answer}", steps=[f"reason for {answer}"],
                            answer=answer)
    record.update(extra)
    return record


def test_graph_compiles_with_every_node(domain):
    graph, _ = graph_with(domain)
    assert set(graph.nodes) == {"__start__", "supervisor", "generate", "evolve", "reflect", "match", "elo",
                                "proximity", "meta_review", "final_report"}


def test_supervisor_plans_then_asks_for_initial_hypotheses(domain, question):
    graph, _ = graph_with(domain, config=AgentsConfig(budget=6, initial_hypotheses=3))
    out = graph.nodes["supervisor"].invoke({"goal": "g", "question": question_dict(question), "step": 0})
    assert out["plan"]["preferences"] == ["simple"] and out["plan"]["domain"] == "science"
    assert out["next_action"] == "generate" and out["step"] == 1
    assert [t["id"] for t in out["tasks"]] == ["H000-0", "H000-1", "H000-2"]


def test_route_fans_out_with_send_and_is_pure():
    state = {"next_action": "review", "goal": "g", "question": None, "plan": {}, "critique": "c",
             "tasks": [{"id": "R-a"}, {"id": "R-b"}]}
    sends = route(state)
    assert [type(s) for s in sends] == [Send, Send] and {s.node for s in sends} == {"reflect"}
    assert sends[1].arg["task"] == {"id": "R-b"} and sends[1].arg["critique"] == "c"
    assert route(state) == sends and state["tasks"] == [{"id": "R-a"}, {"id": "R-b"}]
    assert route({"next_action": "final"}) == "final_report"
    assert route({"next_action": "rank", "tasks": []}) == "supervisor"


def test_supervisor_stops_on_budget(domain):
    graph, _ = graph_with(domain, config=AgentsConfig(budget=4))
    state = {"goal": "g", "plan": {"criteria": []}, "step": 4, "hypotheses": {"a": hyp("a")}}
    out = graph.nodes["supervisor"].invoke(state)
    assert (out["next_action"], out["stop_reason"], out["tasks"]) == ("final", "budget spent", [])


def test_supervisor_stops_when_top_k_elo_is_stable(domain):
    graph, _ = graph_with(domain, config=AgentsConfig(budget=20, top_k=2, stable_window=2, stable_tolerance=8,
                                                      initial_hypotheses=2, min_matches=1))
    hyps = {h: hyp(h, reviewed=True, matches=3) for h in ("a", "b", "c")}
    history = [{"id": f"elo-{i}", "step": i, "ratings": {"a": 1230.0 + i, "b": 1210.0, "c": 1160.0}} for i in range(3)]
    base = {"goal": "g", "plan": {"x": 1}, "step": 7, "hypotheses": hyps, "elo_history": history,
            "actions": [{"id": "A0", "action": "generate", "tasks": 2, "step": 0}]}
    out = graph.nodes["supervisor"].invoke(base)
    assert (out["next_action"], out["stop_reason"]) == ("final", "top-k Elo is stable")
    moving = history[:2] + [{"id": "elo-2", "step": 2, "ratings": {"a": 1260.0, "b": 1210.0, "c": 1160.0}}]
    assert graph.nodes["supervisor"].invoke({**base, "elo_history": moving})["next_action"] != "final"


def test_generate_node_makes_a_hypothesis_from_the_reasoner(domain, question):
    graph, _ = graph_with(domain, lambda r, i: SOLUTION)
    out = graph.nodes["generate"].invoke({"goal": "g", "question": question_dict(question),
                                          "task": {"id": "H000-0", "step": 0}})
    h = out["hypotheses"]["H000-0"]
    assert h["steps"] == ["Jupiter is a gas giant.", "It is larger than the others.", "The answer is D."]
    assert (h["answer"], h["elo"], h["origin"], h["status"]) == ("D", 1200.0, "generation", "active")
    assert out["tokens"] == 19  # scripted backend: one token per word


def test_generate_records_a_failure_after_one_repair(domain, question):
    graph, generator = graph_with(domain, lambda r, i: "")
    out = graph.nodes["generate"].invoke({"goal": "g", "question": question_dict(question),
                                          "task": {"id": "H000-0", "step": 0}})
    assert out["failures"] == [{"id": "fail-H000-0", "node": "generate", "task": "H000-0",
                                "reason": "no step-format solution after one repair"}]
    assert "hypotheses" not in out and generator.stats.requests == 2  # first try + one repair


class FakePRM:
    def score(self, question, trajectories):
        return [[0.9, 0.2, 0.6][: len(t)] for t in trajectories]


def test_reflect_repairs_malformed_json_and_scores_steps_with_the_prm(domain, question):
    replies = {"first": 'oops {"score": ', "repair": '4, "verdict": "sound", "comments": "step 2 is thin"}'}

    def respond(request, index):
        return replies["repair"] if "could not" in request.prompt or "only the JSON" in request.prompt else replies["first"]

    graph, generator = graph_with(domain, respond, scorer=FakePRM())
    h = hyp("a")
    h["steps"] = ["one", "two", "three"]
    out = graph.nodes["reflect"].invoke({"goal": "g", "question": question_dict(question),
                                         "task": {"id": "R-a", "step": 1, "hypothesis": h}})
    review = out["reviews"][0]
    assert (review["score"], review["kind"], review["failed"]) == (4.0, "full", False)
    assert review["prm_scores"] == [0.9, 0.2, 0.6] and review["weakest_steps"] == [2, 3]
    assert out["hypotheses"]["a"] == {"reviewed": True, "review_score": 4.0, "prm_scores": [0.9, 0.2, 0.6],
                                      "weakest_steps": [2, 3]}
    assert generator.stats.requests == 2


def test_reflect_records_unreadable_reviews_without_crashing(domain):
    graph, _ = graph_with(domain, lambda r, i: "}}} not json at all {{{")
    out = graph.nodes["reflect"].invoke({"goal": "g", "task": {"id": "R-a", "step": 1, "hypothesis": hyp("a")}})
    assert out["reviews"][0]["failed"] is True and out["reviews"][0]["score"] is None
    assert out["hypotheses"]["a"]["reviewed"] is True


def test_deep_verification_checks_each_assumption(domain):
    def respond(request, index):
        if "List the assumptions" in request.prompt:
            return '["the orbit is stable", "mass means size"]'
        if "Check one assumption" in request.prompt:
            return "Yes." if "orbit" in request.prompt[-200:] else "No, mass is not size."
        return '5, "comments": "fine"}'

    graph, _ = graph_with(domain, respond, config=AgentsConfig(deep_verify=True))
    out = graph.nodes["reflect"].invoke({"goal": "g", "task": {"id": "R-a", "step": 1, "hypothesis": hyp("a")}})
    checks = out["reviews"][0]["assumptions"]
    assert [(c["assumption"], c["holds"]) for c in checks] == [("the orbit is stable", True), ("mass means size", False)]
    assert out["hypotheses"]["a"]["assumptions_failed"] == 1


def match_payload(debate=False):
    return {"goal": "g", "task": {"id": "M002-00", "step": 2, "a": hyp("a", "D"), "b": hyp("b", "B"), "debate": debate}}


def test_match_turns_position_bias_into_a_draw(domain):
    graph, _ = graph_with(domain, lambda r, i: "1}")  # always the first slot
    record = graph.nodes["match"].invoke(match_payload())["matches"][0]
    assert (record["first"], record["second"], record["outcome"]) == ("1", "1", "draw")


def test_match_counts_a_win_when_both_orders_agree(domain):
    def respond(request, index):  # always prefers the hypothesis answering D, wherever it is shown
        shown = request.prompt.split("Hypothesis 1:")[1]
        return "1}" if shown.split("Hypothesis 2:")[0].strip().endswith("D") else "2}"

    graph, _ = graph_with(domain, respond)
    record = graph.nodes["match"].invoke(match_payload())["matches"][0]
    assert (record["first"], record["second"], record["outcome"]) == ("1", "2", "a")


def test_top_pairs_get_a_multi_turn_debate(domain):
    graph, generator = graph_with(domain, lambda r, i: "1}" if r.prompt.endswith('{"better": ') else "I argue.",
                                  config=AgentsConfig(debate_turns=2))
    record = graph.nodes["match"].invoke(match_payload(debate=True))["matches"][0]
    assert record["debate"] is True and generator.stats.requests == 2 * 2 + 2  # two turns per order, two verdicts


def test_elo_node_applies_new_matches_in_order_with_exact_numbers(domain):
    graph, _ = graph_with(domain)
    hyps = {h: hyp(h) for h in ("a", "b", "c")}
    matches = [{"id": "M001-00", "a": "a", "b": "b", "outcome": "a"}, {"id": "M001-01", "a": "a", "b": "c", "outcome": "draw"}]
    out = graph.nodes["elo"].invoke({"hypotheses": hyps, "matches": matches, "elo_cursor": 0, "step": 3})
    assert out["elo_cursor"] == 2
    assert out["hypotheses"]["b"] == {"elo": 1184.0, "matches": 1, "wins": 0, "losses": 1, "draws": 0}
    # a (1216, 1 match) draws c (1200): 1216 + 32 * (0.5 - E(1216, 1200))
    assert out["hypotheses"]["a"]["elo"] == pytest.approx(1215.263693206, abs=1e-6)
    assert out["hypotheses"]["c"]["elo"] == pytest.approx(1200.736306794, abs=1e-6)
    assert out["elo_history"][0]["ratings"]["b"] == 1184.0
    again = graph.nodes["elo"].invoke({"hypotheses": hyps, "matches": matches, "elo_cursor": 2, "step": 4})
    assert again["hypotheses"] == {}  # nothing is counted twice


def test_evolve_creates_a_new_hypothesis_and_leaves_parents_alone(domain, question):
    graph, _ = graph_with(domain, lambda r, i: SOLUTION)
    parent = hyp("a", "B")
    out = graph.nodes["evolve"].invoke({"goal": "g", "question": question_dict(question), "task": {
        "id": "E004-0", "step": 4, "strategy": "simplification", "parents": [parent]}})
    assert list(out["hypotheses"]) == ["E004-0"]
    child = out["hypotheses"]["E004-0"]
    assert (child["origin"], child["parents"], child["answer"], child["elo"]) == ("evolution:simplification", ["a"], "D", 1200.0)


def test_proximity_drops_a_newer_near_duplicate(domain):
    graph, _ = graph_with(domain)
    text = "Step 1: Jupiter is the largest gas giant planet.\nAnswer: D"
    hyps = {"H000-0": {**hyp("H000-0"), "text": text}, "H002-0": {**hyp("H002-0"), "text": text, "step_created": 2},
            "H000-1": {**hyp("H000-1", "B"), "text": "Step 1: Saturn has rings, so it is the biggest.\nAnswer: B"}}
    out = graph.nodes["proximity"].invoke({"hypotheses": hyps})
    assert out["hypotheses"] == {"H002-0": {"status": "duplicate", "duplicate_of": "H000-0"}}
    assert sorted(x for c in out["proximity"]["communities"] for x in c) == ["H000-0", "H000-1"]


def test_meta_review_writes_a_critique_from_reviews(domain):
    graph, _ = graph_with(domain)
    state = {"goal": "g", "step": 5, "reviews": [{"id": "R-a", "score": 2.0, "comments": "ignores option C"}]}
    out = graph.nodes["meta_review"].invoke(state)
    assert out["critique"] == "- justify each elimination\n- state the answer once" and out["critique_step"] == 5


def test_final_report_lists_pinned_then_best_elo(domain):
    graph, _ = graph_with(domain)
    hyps = {"a": hyp("a", elo=1250.0), "b": hyp("b", elo=1180.0, pinned=True), "c": hyp("c", elo=1220.0)}
    out = graph.nodes["final_report"].invoke({"goal": "g", "hypotheses": hyps})
    lines = [line for line in out["overview"].splitlines() if line.startswith("- ")]
    assert [line.split()[1] for line in lines] == ["b", "a", "c"]


class ConstantScorer:
    def score(self, question, trajectories):
        return [[0.5] * len(t) for t in trajectories]


def test_prm_judge_picks_the_stronger_weakest_step_without_model_calls(domain):
    graph, generator = graph_with(domain, lambda r, i: "1}", config=AgentsConfig(judge="prm"), scorer=ConstantScorer())
    payload = match_payload()
    payload["task"]["a"]["prm_scores"] = [0.9, 0.4]
    payload["task"]["b"]["prm_scores"] = [0.6, 0.7]
    record = graph.nodes["match"].invoke(payload)["matches"][0]
    assert (record["outcome"], record["judge"]) == ("b", "prm") and generator.stats.requests == 0
    payload["task"]["b"]["prm_scores"] = [0.41]
    assert graph.nodes["match"].invoke(payload)["matches"][0]["outcome"] == "draw"  # gap 0.01 < margin 0.02


def test_prm_judge_falls_back_to_the_model_without_step_scores(domain):
    graph, generator = graph_with(domain, lambda r, i: "1}", config=AgentsConfig(judge="prm"), scorer=ConstantScorer())
    record = graph.nodes["match"].invoke(match_payload())["matches"][0]
    assert record["outcome"] == "draw" and generator.stats.requests == 2  # both orders asked, position bias cancelled


def test_a_review_that_echoes_the_template_is_a_recorded_failure_not_a_score(domain):
    # what the 135M model wrote after the prefix '{"score": ', before and after the repair
    graph, generator = graph_with(domain, lambda r, i: '1-5, "verdict": "sound" or "flawed", "comments": "x"}')
    out = graph.nodes["reflect"].invoke({"goal": "g", "task": {"id": "R-a", "step": 1, "hypothesis": hyp("a")}})
    review = out["reviews"][0]
    assert (review["score"], review["failed"], review["reason"]) == (None, True, "repeats the prompt's template (1-5)")
    assert out["failures"] == [{"id": "fail-R-a", "node": "reflect", "task": "R-a",
                                "reason": "unreadable review after one repair: repeats the prompt's template (1-5)"}]
    assert out["hypotheses"]["a"]["review_score"] is None and generator.stats.requests == 2


def test_a_review_that_copies_the_worked_example_is_a_recorded_failure(domain):
    from agents.prompts import EXAMPLE_REVIEW, review

    assert review("g", "h", None)[2]["content"] == EXAMPLE_REVIEW  # shown as a prior turn
    copied = EXAMPLE_REVIEW.removeprefix('{"score": ')
    graph, _ = graph_with(domain, lambda r, i: copied)
    out = graph.nodes["reflect"].invoke({"goal": "g", "task": {"id": "R-a", "step": 1, "hypothesis": hyp("a")}})
    assert out["reviews"][0]["score"] is None
    assert out["failures"][0]["reason"] == "unreadable review after one repair: repeats the prompt's worked example"


class AnswerPRM:
    """Scores every step of a trajectory by the answer it ends on: D (the gold) 0.8, anything else 0.3."""

    def __init__(self):
        self.calls = []

    def score(self, question, trajectories):
        self.calls.append(len(trajectories))
        return [[0.8 if t[-1].rstrip(".").endswith("D") else 0.3] * len(t) for t in trajectories]


def test_supervisor_scores_unscored_hypotheses_before_a_prm_judged_round(domain, question):
    scorer = AnswerPRM()
    graph, generator = graph_with(domain, lambda r, i: "1}", config=AgentsConfig(judge="prm", initial_hypotheses=2),
                                  scorer=scorer)
    hyps = {"a": hyp("a", "D", reviewed=True), "b": hyp("b", "B", reviewed=True),
            "c": hyp("c", "C", reviewed=True, prm_scores=[0.5])}
    for h in hyps.values():
        h["steps"] = [h["text"].splitlines()[0].removeprefix("Step 1: ")]
    state = {"goal": "g", "question": question_dict(question), "plan": {"criteria": []}, "step": 3, "hypotheses": hyps,
             "actions": [{"id": "A0000", "step": 0, "action": "generate", "tasks": 3}]}
    out = graph.nodes["supervisor"].invoke(state)
    assert out["next_action"] == "rank" and scorer.calls == [2]  # one PRM call for the two unscored
    assert out["hypotheses"] == {"a": {"prm_scores": [0.8]}, "b": {"prm_scores": [0.3]}}
    task = next(t for t in out["tasks"] if {t["a"]["id"], t["b"]["id"]} == {"a", "b"})
    record = graph.nodes["match"].invoke({"goal": "g", "question": question_dict(question), "task": task})["matches"][0]
    winner = "a" if task["a"]["id"] == "a" else "b"
    assert (record["judge"], record["outcome"], record["reason"]) == ("prm", winner, (
        "weakest PRM steps 0.800 vs 0.300" if winner == "a" else "weakest PRM steps 0.300 vs 0.800"))
    assert generator.stats.requests == 0


def test_prm_judge_says_why_it_could_not_judge_a_hypothesis_without_steps(domain):
    graph, _ = graph_with(domain, lambda r, i: "1}", config=AgentsConfig(judge="prm"), scorer=ConstantScorer())
    payload = match_payload()
    payload["task"]["a"]["steps"] = []
    record = graph.nodes["match"].invoke(payload)["matches"][0]
    assert (record["judge"], record["outcome"]) == ("llm", "draw")
    assert record["reason"] == ("the PRM cannot judge: a has no steps; the model judged: the judge picked whichever "
                                "was shown as 1 in both orders (position bias)")


def test_a_prm_judged_run_decides_its_matches_with_the_prm(tmp_path):
    from agents.run import create_run, execute

    folder = create_run("Which planet is the largest?\nA) Mars\nB) Saturn\nC) Earth\nD) Jupiter", "science",
                        root=tmp_path, config=AgentsConfig(budget=6, initial_hypotheses=3, judge="prm"), run_id="prm")
    state = execute(folder, agents_generator(), scorer=AnswerPRM(), batch_window=0.0)
    assert state["matches"] and all(m["judge"] == "prm" and m["reason"] for m in state["matches"])
    assert any(m["outcome"] != "draw" for m in state["matches"])


def test_an_answerless_hypothesis_cannot_lead_a_verifiable_goal(domain, question):
    from agents.nodes.metareview import leaderboard

    hyps = {"a": hyp("a", elo=1250.0), "b": hyp("b", "B", elo=1180.0), "c": hyp("c", "C", elo=1220.0)}
    hyps["a"]["answer"] = None  # "The answer is <letter>." reads as no answer
    assert [h["id"] for h in leaderboard({"hypotheses": hyps}, 3)] == ["a", "c", "b"]  # open goal: Elo only
    verifiable = {"hypotheses": hyps, "question": question_dict(question)}
    assert [h["id"] for h in leaderboard(verifiable, 3)] == ["c", "b", "a"]
    hyps["b"]["answer"] = None
    assert [h["id"] for h in leaderboard(verifiable, 3)] == ["c", "a", "b"]  # Elo order within each group


def test_final_report_states_the_top_answer_and_drops_a_summary_that_contradicts_it(domain, question):
    def respond(request, index):
        return "The answer is C." if "research overview" in request.prompt else "x"

    graph, _ = graph_with(domain, respond)
    hyps = {"a": hyp("a", "D", elo=1230.0), "b": hyp("b", "C", elo=1200.0), "n": hyp("n", elo=1300.0)}
    hyps["n"]["answer"] = None
    out = graph.nodes["final_report"].invoke({"goal": "g", "question": question_dict(question), "hypotheses": hyps})
    lines = out["overview"].splitlines()
    assert lines[2] == "Answer: D (top hypothesis a)"
    assert [line.split()[1] for line in lines if line.startswith("- ")] == ["a", "b", "n"]
    assert lines[-1] == "(the model's summary named answer C, not the top hypothesis's answer D; left out)"


def test_final_report_keeps_a_summary_that_agrees(domain, question):
    graph, _ = graph_with(domain, lambda r, i: "Jupiter is the largest, so the answer is D.")
    out = graph.nodes["final_report"].invoke({"goal": "g", "question": question_dict(question),
                                              "hypotheses": {"a": hyp("a", "D")}})
    assert out["overview"].splitlines()[-1] == "Jupiter is the largest, so the answer is D."


def test_a_continued_run_judges_stability_on_its_new_rounds_only():
    from agents.policy import run_stats

    cfg = AgentsConfig(top_k=1, stable_window=2, stable_tolerance=8)
    history = [{"id": f"elo-{i}", "step": i, "ratings": {"a": 1230.0, "b": 1200.0}} for i in (2, 4, 6)]
    state = {"step": 8, "hypotheses": {h: hyp(h) for h in "ab"}, "elo_history": history}
    assert run_stats(state, cfg).stable is True
    assert run_stats({**state, "history_from": 8}, cfg).stable is False
    assert run_stats({**state, "history_from": 4}, cfg).stable is False  # two snapshots: one too few
