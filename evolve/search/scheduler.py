"""Advance many trees at once and batch their work into shared backend calls.

On each tick every active tree has yielded its pending work (an expansion, or the rollouts of its
new children). The scheduler turns all of it into one `generate` call, hands each tree its
answers, and refills the set of active trees from the question queue as trees finish (rStar-Math
style). With `trees_in_flight=1, merge=False` it becomes MedS3's own loop: one tree at a time and
one backend call per request, which the throughput benchmark uses as its honest baseline.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

from domains import Question
from evolve.backends.base import Generator
from evolve.search.mcts import MCTS
from evolve.search.task import StepTask
from evolve.search.tree import Tree
from evolve.search.work import Work


@dataclass
class TreeJob:
    question: Question
    mcts: MCTS
    task: StepTask
    started: float = field(default_factory=time.perf_counter)
    generated_tokens: int = 0
    pending: list[Work] = field(default_factory=list)
    _steps: object = None

    def start(self) -> bool:
        """Run the tree to its first request; False if it finished without asking for anything."""
        self._steps = self.mcts.run()
        return self._advance(None)

    def send(self, answers: list) -> bool:
        return self._advance(answers)

    def _advance(self, answers: list | None) -> bool:
        try:
            self.pending = next(self._steps) if answers is None else self._steps.send(answers)  # type: ignore[union-attr]
        except StopIteration:
            self.pending = []
            return False
        return True


@dataclass
class TickStats:
    requests: int
    sequences: int
    generated_tokens: int
    seconds: float
    active_nodes: int  # nodes in the trees still being searched, after this tick


class Scheduler:
    def __init__(
        self,
        generator: Generator,
        make_job: Callable[[Question], TreeJob],
        *,
        trees_in_flight: int,
        merge: bool = True,
        on_tree_done: Callable[[TreeJob, Tree], None] | None = None,
        on_tick: Callable[[TickStats], None] | None = None,
    ):
        self.generator = generator
        self.make_job = make_job
        self.trees_in_flight = trees_in_flight
        self.merge = merge
        self.on_tree_done = on_tree_done or (lambda job, tree: None)
        self.on_tick = on_tick or (lambda stats: None)

    def run(self, questions: Iterable[Question]) -> None:
        queue = iter(questions)
        active: list[TreeJob] = []
        self._refill(active, queue)
        while active:
            self._tick(active)
            for job in [j for j in active if not j.pending]:
                active.remove(job)
            self._refill(active, queue)

    def _refill(self, active: list[TreeJob], queue: Iterator[Question]) -> None:
        while len(active) < self.trees_in_flight:
            question = next(queue, None)
            if question is None:
                return
            job = self.make_job(question)
            if job.start():
                active.append(job)
            else:
                self.on_tree_done(job, job.mcts.tree)

    def _tick(self, active: list[TreeJob]) -> None:
        owners = [(job, work) for job in active for work in job.pending]
        requests = [job.task.request(work) for job, work in owners]
        started = time.perf_counter()
        if self.merge:
            completions = self.generator.generate(requests)
        else:
            completions = [self.generator.generate([request])[0] for request in requests]
        seconds = time.perf_counter() - started
        tokens = sum(c.num_tokens for group in completions for c in group)

        answers: dict[int, list] = {id(job): [] for job in active}
        for (job, work), group in zip(owners, completions, strict=True):
            job.generated_tokens += sum(c.num_tokens for c in group)
            answers[id(job)].append(job.task.parse(work, group))
        for job in active:
            if not job.send(answers[id(job)]):
                self.on_tree_done(job, job.mcts.tree)
        active_nodes = sum(len(job.mcts.tree.nodes) for job in active if job.pending)
        self.on_tick(TickStats(len(requests), sum(r.n for r in requests), tokens, seconds, active_nodes))
