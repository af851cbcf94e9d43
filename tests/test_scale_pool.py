"""The coordinator against a scripted stand-in for Ray (in process, no cluster): what it does when a
worker dies and Ray is still restarting it when the coordinator asks it to load its model again."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from domains import Question
from evolve.config import Config
from evolve.scale import pool
from evolve.scale.cluster import Placement
from evolve.scale.worker import Report

exceptions = pytest.importorskip("ray.exceptions")

RESTARTING = exceptions.ActorUnavailableError("The actor is temporarily unavailable: IOError: The actor is restarting.",
                                              None)
DIED_MID_CALL = exceptions.ActorUnavailableError("The actor is temporarily unavailable: IOError: The actor was "
                                                 "restarted.", None)


class Ref:
    """A finished call: its value, or the error `ray.get` raises."""

    def __init__(self, outcome):
        self.outcome = outcome


class Method:
    def __init__(self, actor, name):
        self.actor, self.name = actor, name

    def remote(self, *args):
        return Ref(self.actor.call(self.name, *args))


class ScriptedActor:
    """Answers `load` and `exchange` at once. `script` lists what the calls after the first load give,
    in order ("die", "restarting" or "ok"); a dead actor comes back as a new incarnation."""

    def __init__(self, script: list[str]):
        self.script, self.incarnation, self.calls = list(script), "first", []
        self.load, self.exchange = Method(self, "load"), Method(self, "exchange")

    def call(self, name, *args):
        outcome = self.script.pop(0) if self.calls and self.script else "ok"
        self.calls.append((name, outcome, time.monotonic()))
        if outcome == "die":
            self.incarnation = "second"
            return DIED_MID_CALL
        if outcome == "restarting":
            return RESTARTING
        if name == "load":
            return {"incarnation": self.incarnation}
        finished = [SimpleNamespace(question=q) for q in args[0]]
        return Report(finished=finished, incarnation=self.incarnation)


class ScriptedRay:
    def __init__(self, actor):
        self.actor = actor

    def cluster_resources(self):
        return {"CPU": 1}

    def get(self, ref):
        if isinstance(ref, list):
            return [self.get(r) for r in ref]
        if isinstance(ref.outcome, Exception):
            raise ref.outcome
        return ref.outcome

    def wait(self, refs, num_returns, timeout):
        return refs[:num_returns], refs[num_returns:]

    def kill(self, handle, no_restart):
        pass


def run(monkeypatch, script: list[str], **patience):
    actor = ScriptedActor(script)
    ray = ScriptedRay(actor)
    monkeypatch.setattr(pool, "connect", lambda config: (ray, True))
    monkeypatch.setattr(pool, "place", lambda config, resources, local: Placement(1, 1.0, 0.0, None))
    monkeypatch.setattr(pool, "start_workers", lambda *args: [actor])
    monkeypatch.setattr(pool, "RELOAD_WAIT", 0.02)
    for name, value in patience.items():
        monkeypatch.setattr(pool, name, value)
    questions = [Question(id=f"q{i}", question=f"question {i}", answer="1") for i in range(3)]
    results = []
    spec = pool.WorkerSpec(Config.model_validate({"run": {"workers": 1}}))
    stats = pool.run_on_workers(spec, ("search",), questions, capacity=3, on_result=results.append)
    return stats, [r.question.id for r in results], actor.calls


def test_a_load_that_meets_a_restarting_actor_is_tried_again_until_it_loads(monkeypatch):
    # The only worker dies holding all three questions; Ray takes two tries to bring it back.
    stats, answered, calls = run(monkeypatch, ["die", "restarting", "restarting", "ok"])
    assert sorted(answered) == ["q0", "q1", "q2"] and stats.failed == []
    assert (stats.deaths, stats.restarts, stats.requeued) == (1, 1, 3)
    assert [(name, outcome) for name, outcome, _ in calls] == [
        ("load", "ok"), ("exchange", "die"), ("load", "restarting"), ("load", "restarting"), ("load", "ok"),
        *[("exchange", "ok")] * 3]  # nothing dealt while it restarts; then the lost questions one at a time
    gaps = [later - earlier for (_, _, earlier), (_, _, later) in zip(calls[2:4], calls[3:5])]
    assert min(gaps) >= 0.02  # tried again after RELOAD_WAIT, not in a busy loop


def test_an_actor_that_never_comes_back_is_given_up_after_the_patience(monkeypatch):
    with pytest.raises(pool.WorkerFailed, match="every worker died with 3 questions left"):
        run(monkeypatch, ["die"] + ["restarting"] * 1000, RELOAD_PATIENCE=0.2)
