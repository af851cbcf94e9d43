"""Batched multi-tree scheduling gives exactly the trees of MedS3's one-at-a-time loop."""

import hashlib

from domains import load_domain
from evolve.backends.scripted import ScriptedGenerator
from evolve.config import SearchConfig
from evolve.search.mcts import MCTS
from evolve.search.scheduler import Scheduler, TreeJob
from evolve.search.task import StepTask


def pseudo_model(request, index):
    """A deterministic 'policy': its text depends only on the prompt, the seed and the sample index."""
    h = int.from_bytes(hashlib.blake2b(f"{request.prompt}|{request.seed}|{index}".encode(), digest_size=4).digest(), "big")
    if request.stop:  # a Reason step
        if h % 7 == 0:
            return f" The answer is {'ABCDE'[h % 5]}.\nStep 9: more"
        return f" clue {h % 97} points somewhere.\n\nStep 99: next"
    return f" thinking {h % 13}.\n\nStep 5: so. The answer is {'ABCD'[h % 4]}.\nextra"


def search_all(trees_in_flight, merge, questions, domain, config):
    generator = ScriptedGenerator(pseudo_model)
    trees = {}

    def make_job(q):
        return TreeJob(question=q, mcts=MCTS(q.id, config), task=StepTask(domain, q, generator.render_chat, config))

    Scheduler(generator, make_job, trees_in_flight=trees_in_flight, merge=merge,
              on_tree_done=lambda job, tree: trees.setdefault(job.question.id, tree.to_dicts())).run(questions)
    return trees, generator.batch_sizes


def test_batched_equals_one_at_a_time():
    domain = load_domain("medqa")
    questions = domain.load_split("search", limit=5)
    config = SearchConfig(max_nodes=16, rollout_base=6, rollout_min=2, correct_leaves=3)
    batched, batched_calls = search_all(3, True, questions, domain, config)
    serial, serial_calls = search_all(1, False, questions, domain, config)
    assert list(batched) != [] and set(batched) == {q.id for q in questions}
    assert batched == serial
    assert set(serial_calls) == {1}  # MedS3: one request per backend call
    assert max(batched_calls) >= 6 and len(batched_calls) < len(serial_calls) / 3
    # the trees are non-trivial: some correct and some wrong Finish leaves overall
    finishes = [n for nodes in batched.values() for n in nodes if n["action"] == "finish"]
    assert any(n["correct"] for n in finishes) and not all(n["correct"] for n in finishes)


def test_refill_keeps_trees_in_flight_and_reports_every_tree():
    domain = load_domain("medqa")
    questions = domain.load_split("search", limit=7)
    config = SearchConfig(max_nodes=8, rollout_base=4, rollout_min=2)
    trees, _ = search_all(4, True, questions, domain, config)
    assert list(trees) == list(dict.fromkeys(trees)) and len(trees) == 7
