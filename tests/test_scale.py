"""The pieces of scaling out that need no cluster: dealing, sizing, addresses, the scripted spec."""

from collections import deque

import pytest

from domains import Question
from evolve.backends import load_generator
from evolve.backends.base import GenerationRequest
from evolve.config import Config
from evolve.errors import MissingExtraError, ModelSpecError
from evolve.scale.cluster import ClusterError, check_reachable, cluster_address, place, split_threads
from evolve.scale.pool import deal
from evolve.scale.remote import eval_batch
from evolve.scale.worker import Worker


def questions(*ids):
    return deque(Question(id=i, question=f"q {i}", answer="A") for i in ids)


def test_deal_fills_up_to_capacity_in_queue_order():
    queue = questions("a", "b", "c", "d")
    assert [q.id for q in deal(queue, held=1, capacity=3, suspects=set())] == ["a", "b"]
    assert [q.id for q in queue] == ["c", "d"]
    assert deal(queue, held=3, capacity=3, suspects=set()) == []


def test_a_lost_question_goes_alone_to_an_empty_worker():
    queue = questions("lost", "b", "c")
    # a busy worker skips it (it stays first in the queue) and takes the others
    assert [q.id for q in deal(queue, held=1, capacity=3, suspects={"lost"})] == ["b", "c"]
    assert [q.id for q in queue] == ["lost"]
    queue = questions("lost", "b", "c")
    # an empty worker gets it, and nothing else
    assert [q.id for q in deal(queue, held=0, capacity=3, suspects={"lost"})] == ["lost"]
    assert [q.id for q in queue] == ["b", "c"]


def test_threads_split_between_workers_and_eval_batches():
    assert [split_threads(16, n) for n in (1, 2, 3, 16, 32)] == [16, 8, 5, 1, 1]
    assert [eval_batch(q, w) for q, w in ((200, 2), (200, 16), (10, 2), (1, 8))] == [16, 7, 3, 1]


def config(**run):
    return Config.model_validate({"model": {"spec": "scripted:hash"}, "run": run})


def test_placement_on_cpu_and_gpu():
    assert not config().run.on_workers and not config(workers=1).run.on_workers
    assert config(workers=2).run.on_workers and config(ray_address="auto").run.on_workers
    cpu = place(config(workers=2), {"CPU": 2}, local=True)
    assert (cpu.workers, cpu.num_cpus, cpu.num_gpus) == (2, 1.0, 0.0)
    assert place(config(workers=4), {"CPU": 2}, local=True).num_cpus == 0.5  # more workers than CPUs still fit
    cluster = place(config(), {"CPU": 6}, local=False)  # a cluster: one 1-thread worker per CPU by default
    assert (cluster.workers, cluster.threads, cluster.num_cpus) == (6, 1, 1.0)
    wide = place(config(workers=2), {"CPU": 64}, local=False)  # ... or fewer, each reserving its threads
    assert (wide.threads, wide.num_cpus) == (32, 32.0)
    gpu = Config.model_validate({"model": {"spec": "vllm:m", "tensor_parallel": 2}, "run": {"ray_address": "auto"}})
    sized = place(gpu, {"CPU": 64, "GPU": 8}, local=False)
    assert (sized.workers, sized.num_gpus) == (4, 2.0)


def test_more_gpu_workers_than_gpus_says_how_many_there_are():
    gpu = Config.model_validate({"model": {"spec": "vllm:m"}, "run": {"workers": 3}})
    with pytest.raises(ClusterError, match="need 3 GPUs, but the cluster has 2") as err:
        place(gpu, {"CPU": 8, "GPU": 2}, local=True)
    assert err.value.fix == "use --workers 2 or fewer"


def test_addresses(monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    with pytest.raises(ClusterError, match="RAY_ADDRESS"):
        cluster_address("auto")
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.1:6379")
    assert cluster_address("auto") == "10.0.0.1:6379" and cluster_address("h:1") == "h:1"
    with pytest.raises(ClusterError, match="no Ray cluster answers at 127.0.0.1:1") as err:
        check_reachable("127.0.0.1:1")
    assert "ray start --head" in err.value.fix


def test_ray_missing_names_the_pip_install(monkeypatch):
    import importlib.util

    from evolve.scale import cluster

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a))
    with pytest.raises(MissingExtraError) as err:
        cluster.connect(config(workers=2))
    assert "pip install '.[ray]'" in err.value.fix


def test_scripted_spec_is_deterministic_and_sleeps():
    generator = load_generator("scripted:hash@0.02")
    request = GenerationRequest(prompt="p", n=2, max_new_tokens=20, temperature=1.0, seed=7)
    first = generator.generate([request])
    assert generator.generate([request]) == first and generator.stats.seconds >= 0.04
    assert first[0][0].text != first[0][1].text
    with pytest.raises(ModelSpecError, match="unknown script 'nope'"):
        load_generator("scripted:nope")
    with pytest.raises(ModelSpecError, match="not a latency"):
        load_generator("scripted:hash@soon")


def test_worker_in_process_searches_what_it_is_handed():
    """The worker without Ray: questions in, finished trees out, the load error as fields."""
    cfg = Config.model_validate({"data": {"domain": "medqa"}, "model": {"spec": "scripted:hash"},
                                 "search": {"max_nodes": 8, "trees_in_flight": 2}}).model_dump(mode="json")
    worker = Worker(cfg)
    ready = worker.load(("search",))
    assert ready == {"incarnation": worker.incarnation}
    batch = list(__import__("domains").load_domain("medqa").load_split("search", limit=3))
    got = []
    report = worker.exchange(batch, wait=5.0)
    while len(got) + len(report.finished) < 3:
        got += report.finished
        report = worker.exchange([], wait=5.0)
    got += report.finished
    assert sorted(f.question.id for f in got) == [q.id for q in batch]
    assert all(len(f.tree.nodes) >= 2 and f.generated_tokens > 0 for f in got)
    bad = Worker({**cfg, "model": {**cfg["model"], "spec": "/nonexistent/model"}})
    error = bad.load(("search",))["error"]
    assert error["type"] == "ModelSpecError" and "/nonexistent/model" in error["message"]
