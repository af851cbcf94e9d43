"""The one driver: batched multi-tree search gives exactly the trees of MedS3's one-at-a-time loop."""

from domains import load_domain
from evolve.backends.scripted import ScriptedGenerator
from evolve.backends.scripted import hashed_policy as pseudo_model
from evolve.config import SearchConfig
from evolve.reasoner.driver import Driver
from evolve.reasoner.steps import Sampling, StepPrompt
from evolve.search.mcts import MCTS


def search_all(trees_in_flight, merge, questions, domain, config, seen_in_flight=None):
    generator = ScriptedGenerator(pseudo_model)
    trees = {}
    done_calls = []

    def make_search(q):
        mcts = MCTS(q.id, config)
        return mcts.run(), mcts

    def on_done(job):
        done_calls.append(job.question.id)
        trees.setdefault(job.question.id, job.context.tree.to_dicts())

    def on_tick(tick):
        if seen_in_flight is not None:
            seen_in_flight.append(len(tick.active))

    Driver(generator, Sampling.of_search(config), in_flight=trees_in_flight, merge=merge, on_done=on_done,
           on_tick=on_tick).run(questions, make_search, lambda q: StepPrompt(domain, q, generator.render_chat))
    return trees, generator.batch_sizes, done_calls


def test_batched_equals_one_at_a_time():
    domain = load_domain("medqa")
    questions = domain.load_split("search", limit=5)
    config = SearchConfig(max_nodes=16, rollout_base=6, rollout_min=2, correct_leaves=3)
    batched, batched_calls, _ = search_all(3, True, questions, domain, config)
    serial, serial_calls, _ = search_all(1, False, questions, domain, config)
    assert list(batched) != [] and set(batched) == {q.id for q in questions}
    assert batched == serial
    assert set(serial_calls) == {1}  # MedS3: one request per backend call
    assert max(batched_calls) >= 6 and len(batched_calls) < len(serial_calls) / 3
    # the trees are non-trivial: some correct and some wrong Finish leaves overall
    finishes = [n for nodes in batched.values() for n in nodes if n["action"] == "finish"]
    assert any(n["correct"] for n in finishes) and not all(n["correct"] for n in finishes)


def test_refill_keeps_trees_in_flight_and_reports_every_tree_once():
    domain = load_domain("medqa")
    questions = domain.load_split("search", limit=7)
    config = SearchConfig(max_nodes=8, rollout_base=4, rollout_min=2)
    in_flight = []
    trees, _, done_calls = search_all(4, True, questions, domain, config, in_flight)
    assert sorted(done_calls) == sorted(q.id for q in questions)  # each tree reported exactly once
    assert max(in_flight) == 4 and len(trees) == 7  # never more than 4 trees in flight, and the set refilled
    assert in_flight[0] == 4
