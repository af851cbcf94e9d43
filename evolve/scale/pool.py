"""The coordinator: questions dealt out to workers from one queue, their results handed to one writer.

Each worker holds at most `capacity` questions; as it reports finished ones it is dealt more, so fast
workers take more. A worker that dies loses what it held: those questions go back to the front of the
queue, Ray restarts the actor, and the coordinator loads it again. A question lost `question_attempts`
times is given up and reported by id. A lost question is dealt again only to a worker holding nothing
else, alone, so one question that kills its worker cannot take innocent ones down with it. Results
are handed over once per question id, in the order they finish; the caller is the only writer.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from domains import Question
from evolve.config import Config
from evolve.errors import EvolveError
from evolve.scale.cluster import connect, place, start_workers

EXCHANGE_WAIT = 0.5  # seconds a worker waits for something to finish before it answers an exchange
# A load sent while Ray is still restarting the actor fails with ActorUnavailableError ("the actor is
# restarting"), more often the busier the machine is. It is tried again every RELOAD_WAIT seconds, for up
# to RELOAD_PATIENCE, before the worker is given up. Any other failure of a load gives it up at once.
RELOAD_WAIT = 0.5
RELOAD_PATIENCE = 300.0


class WorkerFailed(EvolveError):
    """A worker could not load its model, or every worker is gone."""


@dataclass
class PoolStats:
    """What the workers did, for progress lines and summaries."""

    workers: int = 0
    alive: int = 0
    deaths: int = 0  # workers that died during the run (or stopped serving and were replaced)
    restarts: int = 0  # of those, the ones that came back and loaded their model again before the end
    requeued: int = 0  # questions dealt again after their worker died or failed
    finished: int = 0
    generated_tokens: int = 0
    nodes_in_flight: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (question id, last error)
    started: float = field(default_factory=time.perf_counter)
    startup_seconds: float = 0.0  # from asking for the workers until every one had loaded its model

    def info(self) -> dict[str, Any]:
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        return {"workers": f"{self.alive}/{self.workers}", "tok/s": self.generated_tokens / elapsed,
                **({"requeued": self.requeued} if self.requeued else {}),
                **({"failed": len(self.failed)} if self.failed else {})}


def deal(queue: deque[Question], held: int, capacity: int, suspects: set[str]) -> list[Question]:
    """Take from `queue` what a worker holding `held` questions gets now: up to `capacity` in all, in queue
    order, except that a suspect (a question that was lost before) goes only to an empty worker, alone."""
    given: list[Question] = []
    skipped: list[Question] = []
    while queue and held + len(given) < capacity:
        question = queue.popleft()
        if question.id in suspects:
            if held == 0 and not given:
                given.append(question)
                break
            skipped.append(question)
            continue
        given.append(question)
    queue.extendleft(reversed(skipped))
    return given


@dataclass
class WorkerSpec:
    """What every worker builds its own Reasoner from."""

    config: Config
    policy: str | None = None
    prm: str | None = None


def run_on_workers(spec: WorkerSpec, task: tuple, questions: Sequence[Question], *, capacity: int | Callable[[int], int],
                   on_result: Callable[[Any], None], on_progress: Callable[[PoolStats], None] | None = None,
                   stats: PoolStats | None = None) -> PoolStats:
    """Do `task` (("search",) or ("eval", modes)) for every question on the workers; `on_result` gets each
    question's FinishedTree or Answered once, in the order they finish. `capacity` is the most questions
    a worker holds (or a function of the number of workers that gives it)."""
    ray, local = connect(spec.config)
    from ray.exceptions import ActorUnavailableError, RayActorError, RayError

    placement = place(spec.config, ray.cluster_resources(), local)
    capacity = capacity(placement.workers) if callable(capacity) else capacity
    handles = start_workers(ray, spec.config, placement, spec.policy, spec.prm)
    stats = stats or PoolStats()
    stats.workers = stats.alive = len(handles)
    on_progress = on_progress or (lambda s: None)
    try:
        try:
            loaded = ray.get([h.load.remote(task) for h in handles])
        except RayError as err:
            raise WorkerFailed(f"a worker died while loading its model ({str(err).splitlines()[0]})",
                               where="the workers' model", fix="check the node's memory and the Ray logs "
                               "(/tmp/ray/session_latest/logs)") from None
        stats.startup_seconds = time.perf_counter() - stats.started
        first = next((answer["error"] for answer in loaded if "error" in answer), None)
        if first is not None:  # every worker fails alike: say it once
            raise WorkerFailed(first["message"], where=first["where"] or "the workers' model",
                               fix=first["fix"] or "check that every node can load the model")
        born = {w: answer["incarnation"] for w, answer in enumerate(loaded)}  # which process each worker is
        queue: deque[Question] = deque(questions)
        attempts: Counter[str] = Counter()
        held: dict[int, dict[str, Question]] = {w: {} for w in range(len(handles))}
        outstanding: dict[Any, tuple[int, str]] = {}  # ray ref -> (worker, "exchange" | "load")
        delivered: set[str] = set()
        busy: set[int] = set()
        alive = set(range(len(handles)))
        nodes: dict[int, int] = {}  # each worker's tree nodes in flight
        reload_at: dict[int, float] = {}  # workers whose load meets a restarting actor: when to try again
        restarting_since: dict[int, float] = {}

        def lose(worker: int, message: str, ids: Sequence[str] | None = None) -> None:
            """What `worker` held (or only `ids` of it) goes back to the queue, or fails after question_attempts."""
            for qid in list(held[worker]) if ids is None else ids:
                question = held[worker].pop(qid, None)
                if question is None or qid in delivered:
                    continue
                attempts[qid] += 1
                if attempts[qid] >= spec.config.run.question_attempts:
                    stats.failed.append((qid, message))
                else:
                    queue.appendleft(question)
                    stats.requeued += 1
            if ids is None:
                nodes[worker] = 0

        def reload(worker: int) -> None:
            """Load the worker again: a restarted actor builds its model, a live one drops its inbox."""
            reload_at.pop(worker, None)
            outstanding[handles[worker].load.remote(task)] = (worker, "load")
            busy.add(worker)

        def still_restarting(worker: int, err: Exception) -> bool:
            """Ray is restarting the actor, and has been for less than RELOAD_PATIENCE."""
            if not isinstance(err, ActorUnavailableError):
                return False
            since = restarting_since.setdefault(worker, time.monotonic())
            return time.monotonic() - since < RELOAD_PATIENCE

        def gone(worker: int) -> None:
            alive.discard(worker)
            stats.alive = len(alive)

        on_progress(stats)
        while alive and (queue or any(held[w] for w in alive)):
            for worker in [w for w, due in reload_at.items() if due <= time.monotonic()]:
                reload(worker)
            for worker in sorted(alive - busy):
                given = deal(queue, len(held[worker]), capacity, set(attempts))
                held[worker].update((q.id, q) for q in given)
                outstanding[handles[worker].exchange.remote(given, EXCHANGE_WAIT)] = (worker, "exchange")
                busy.add(worker)
            wait = max(0.0, min([10.0, *(due - time.monotonic() for due in reload_at.values())]))
            if outstanding:
                ready, _ = ray.wait(list(outstanding), num_returns=1, timeout=wait)
            else:  # nothing in flight, only loads waiting for their actors to restart
                time.sleep(wait)
                ready = []
            for ref in ready:
                worker, kind = outstanding.pop(ref)
                busy.discard(worker)
                try:
                    answer = ray.get(ref)
                except RayActorError as err:
                    if kind == "load" and still_restarting(worker, err):  # try again soon
                        reload_at[worker] = time.monotonic() + RELOAD_WAIT
                        busy.add(worker)
                        continue
                    lose(worker, "its worker died")
                    if kind == "load":  # it did not come back: no restarts left, or its node is gone
                        gone(worker)
                    else:  # Ray restarts it (up to run.worker_restarts times); load it again
                        stats.deaths += 1
                        reload(worker)
                    continue
                except RayError as err:  # the call failed without the actor dying (unreachable, lost result)
                    lose(worker, f"its worker failed ({str(err).splitlines()[0]})")
                    gone(worker) if kind == "load" else reload(worker)
                    continue
                if kind == "load":
                    restarting_since.pop(worker, None)
                    if "error" in answer:  # it came back but cannot load any more
                        gone(worker)
                    else:
                        stats.restarts += answer["incarnation"] != born[worker]
                        born[worker] = answer["incarnation"]
                    continue
                if answer.incarnation != born[worker] or not answer.serving:
                    # a restarted process that was never loaded, or a worker whose thread has stopped
                    lose(worker, "its worker restarted" if answer.serving else "its worker stopped serving")
                    stats.deaths += 1
                    if not answer.serving and answer.incarnation == born[worker]:
                        ray.kill(handles[worker], no_restart=False)  # Ray starts a fresh process
                    reload(worker)
                    continue
                for item in answer.finished:
                    qid = item.question.id
                    held[worker].pop(qid, None)
                    if qid in delivered:
                        continue
                    delivered.add(qid)
                    stats.finished += 1
                    on_result(item)
                for ids, message in answer.errors:  # only these were lost; the rest is still in hand
                    lose(worker, message, ids)
                stats.generated_tokens += answer.generated_tokens
                nodes[worker] = answer.nodes_in_flight
                stats.nodes_in_flight = sum(nodes.values())
                on_progress(stats)
        if not alive and (queue or any(held.values())):
            left = len(queue) + sum(len(h) for h in held.values())
            raise WorkerFailed(f"every worker died with {left} questions left", where="the workers",
                               fix="see the Ray logs (/tmp/ray/session_latest/logs); what finished is saved, "
                                   "so the same command resumes")
        return stats
    finally:
        for handle in handles:
            ray.kill(handle, no_restart=True)
