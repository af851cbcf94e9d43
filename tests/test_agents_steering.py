"""Steering through the inbox: notes, pins, rejects and added hypotheses change the supervisor's next step."""

from __future__ import annotations

import pytest

from agents import inbox
from agents.errors import AgentsError
from agents.fakes import agents_generator
from agents.graph import build_graph
from agents.state import new_hypothesis
from domains import load_domain
from evolve.config import AgentsConfig


@pytest.fixture()
def setup(tmp_path):
    path = tmp_path / "inbox.sqlite"
    cfg = AgentsConfig(budget=20, initial_hypotheses=3, min_matches=1, matches_per_step=3, evolve_per_step=1)
    graph = build_graph(agents_generator(), load_domain("science"), None, config=cfg, inbox=path, batch_window=0.0)
    hyps = {}
    for hid, elo in (("a", 1230.0), ("b", 1200.0), ("c", 1170.0)):
        h = new_hypothesis(hid, f"hypothesis {hid} about topic {hid}", answer=None)
        h.update(reviewed=True, matches=1, elo=elo)
        hyps[hid] = h
    state = {"goal": "g", "plan": {"criteria": []}, "step": 5, "hypotheses": hyps,
             "actions": [{"id": "A0000", "step": 0, "action": "generate", "tasks": 3},
                         {"id": "A0004", "step": 4, "action": "review", "tasks": 0}]}
    return graph, path, state


def test_without_feedback_the_next_step_ranks_everyone(setup):
    graph, _, state = setup
    out = graph.nodes["supervisor"].invoke(state)
    assert out["next_action"] == "rank"
    assert sorted({x for t in out["tasks"] for x in (t["a"]["id"], t["b"]["id"])}) == ["a", "b", "c"]


def test_reject_takes_a_hypothesis_out_of_the_next_round(setup):
    graph, path, state = setup
    inbox.post(path, "reject", "off topic", "c")
    out = graph.nodes["supervisor"].invoke(state)
    assert out["hypotheses"] == {"c": {"status": "rejected"}} and out["inbox_cursor"] == 1
    assert [(t["a"]["id"], t["b"]["id"]) for t in out["tasks"]] == [("a", "b")]
    assert out["feedback"][0] == {"id": "fb-0001", "kind": "reject", "text": "off topic", "target": "c", "step": 5}
    # the cursor is in the state: the same entry is not applied twice
    assert "feedback" not in graph.nodes["supervisor"].invoke({**state, "inbox_cursor": 1})


def test_pin_makes_the_pinned_hypothesis_the_parent_of_the_next_evolution(setup):
    graph, path, state = setup
    state = {**state, "actions": state["actions"] + [{"id": "A0005", "step": 5, "action": "meta_review", "tasks": 0}],
             "step": 6, "critique_step": 5}
    plain = graph.nodes["supervisor"].invoke(state)
    assert plain["next_action"] == "evolve" and plain["tasks"][0]["parents"][0]["id"] == "a"
    inbox.post(path, "pin", "", "c")
    pinned = graph.nodes["supervisor"].invoke(state)
    assert pinned["next_action"] == "evolve" and pinned["tasks"][0]["parents"][0]["id"] == "c"


def test_added_hypothesis_is_reviewed_next(setup):
    graph, path, state = setup
    inbox.post(path, "add", "Maybe it is the tides.")
    out = graph.nodes["supervisor"].invoke(state)
    assert out["hypotheses"]["U001"]["origin"] == "user" and out["next_action"] == "review"
    assert [t["id"] for t in out["tasks"]] == ["R-U001"]


def test_note_reaches_the_next_prompts(setup):
    graph, path, state = setup
    inbox.post(path, "note", "prefer mechanisms that can be tested in mice")
    out = graph.nodes["supervisor"].invoke(state)
    assert out["critique"] == "Scientist feedback:\n- prefer mechanisms that can be tested in mice"


def test_unknown_target_is_recorded_not_raised(setup):
    graph, path, state = setup
    inbox.post(path, "pin", "", "nope")
    out = graph.nodes["supervisor"].invoke(state)
    assert out["failures"][-1]["reason"] == "no hypothesis 'nope' to pin"


def test_inbox_rejects_unknown_kinds(tmp_path):
    with pytest.raises(AgentsError, match="unknown feedback kind"):
        inbox.post(tmp_path / "inbox.sqlite", "shout", "x")
    assert inbox.read_since(tmp_path / "missing.sqlite", 0) == []
