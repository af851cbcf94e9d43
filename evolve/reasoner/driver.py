"""One driver for every search: many questions' coroutines advanced together, their work batched.

Each tick answers every pending `Score` (one scorer call per question), then puts every pending
`Generate` of every active search into ONE `generate` call, sends each search its answers, and refills
the active set from the question queue as searches finish (rStar-Math style). With `in_flight=1,
merge=False` it becomes MedS3's own loop: one question at a time and one backend call per request,
which the throughput benchmark uses as its baseline.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from domains import Question
from evolve.backends.base import Generator, RowProgress, StepScorer, reporting_rows
from evolve.errors import EvolveError
from evolve.reasoner.steps import Sampling, StepPrompt
from evolve.reasoner.work import Generate, Score, Search


@dataclass(eq=False)
class Job:
    """One question's search in progress. `context` is whatever the caller keeps with it (the MCTS)."""

    index: int  # position of the question in the input
    question: Question
    prompt: StepPrompt
    search: Search
    context: Any = None
    pending: Any = None
    result: Any = None
    done: bool = False
    started: float = field(default_factory=time.perf_counter)
    generated_tokens: int = 0

    def advance(self, answer: Any) -> None:
        try:
            self.pending = self.search.send(answer)  # send(None) starts a fresh coroutine
        except StopIteration as stop:
            self.result, self.done, self.pending = stop.value, True, None


@dataclass
class Tick:
    """What one backend call did, and what is left in flight after it."""

    requests: int
    sequences: int
    generated_tokens: int
    seconds: float
    active: list[Job]
    nodes_in_flight: int | None = None  # when the trees are elsewhere (on workers): their node count
    info: dict[str, Any] = field(default_factory=dict)  # what else a progress line should show (workers alive)

    @property
    def active_nodes(self) -> int:
        if self.nodes_in_flight is not None:
            return self.nodes_in_flight
        return sum(len(job.context.tree.nodes) for job in self.active)


@dataclass
class Totals:
    calls: int = 0
    generate_seconds: float = 0.0
    score_seconds: float = 0.0
    batch_sizes: list[int] = field(default_factory=list)


def _checked_scores(scores: list[list[float]], trajectories: Sequence[Sequence[str]]) -> list[list[float]]:
    if len(scores) != len(trajectories) or any(len(s) != len(t) for s, t in zip(scores, trajectories)):
        raise EvolveError("the PRM returned a different number of scores than steps it was given",
                          where="--prm", fix="check that the folder holds a PRM trained by evolve")
    return [[float(x) for x in s] for s in scores]


class Driver:
    """Runs searches over questions on one generator (and optionally one PRM)."""

    def __init__(self, generator: Generator, sampling: Sampling, *, scorer: StepScorer | None = None,
                 in_flight: int | None = None, merge: bool = True,
                 on_done: Callable[[Job], None] | None = None, on_tick: Callable[[Tick], None] | None = None,
                 on_answers: Callable[[Job, Generate | Score, Any], None] | None = None,
                 on_rows: RowProgress | None = None):
        self.generator = generator
        self.sampling = sampling
        self.scorer = scorer
        self.in_flight = in_flight
        self.merge = merge
        self.on_done = on_done or (lambda job: None)
        self.on_tick = on_tick or (lambda tick: None)
        self.on_answers = on_answers  # every answer a search is sent, as it is sent (for streaming)
        self.on_rows = on_rows  # finished sample rows during a long backend call (backends that can tell)
        self.totals = Totals()

    def run(self, questions: Iterable[Question], make_search: Callable[[Question], Search | tuple[Search, Any]],
            make_prompt: Callable[[Question], StepPrompt]) -> list[Any]:
        """Every question's search to its end; the results in question order. `make_search` returns
        the coroutine, or (coroutine, context)."""
        results: dict[int, Any] = {}
        queue: Iterator[tuple[int, Question]] = iter(enumerate(questions))
        active: list[Job] = []

        def finish(job: Job) -> None:
            results[job.index] = job.result
            self.on_done(job)

        def refill() -> None:
            while self.in_flight is None or len(active) < self.in_flight:
                nxt = next(queue, None)
                if nxt is None:
                    return
                index, question = nxt
                made = make_search(question)
                search, context = made if isinstance(made, tuple) else (made, None)
                job = Job(index, question, make_prompt(question), search, context)
                job.advance(None)
                if job.done:
                    finish(job)
                else:
                    active.append(job)

        refill()
        while active:
            self._tick(active, finish)
            active[:] = [job for job in active if not job.done]
            refill()
        return [results[i] for i in sorted(results)]

    def _tick(self, active: list[Job], finish: Callable[[Job], None]) -> None:
        for job in active:
            if isinstance(job.pending, Score):
                self._score(job)
                if job.done:
                    finish(job)
        owners = [(job, item) for job in active if isinstance(job.pending, list) for item in job.pending]
        if not owners:
            if any(not job.done and not isinstance(job.pending, Score) for job in active):
                raise TypeError("a search yielded something other than a list of Generate or a Score")
            return
        requests = [self.sampling.request(job.prompt.prompt(item.steps), item) for job, item in owners]
        started = time.perf_counter()
        with reporting_rows(self.on_rows):
            if self.merge:
                groups = self.generator.generate(requests)
            else:
                groups = [self.generator.generate([request])[0] for request in requests]
        seconds = time.perf_counter() - started
        self.totals.calls += 1
        self.totals.generate_seconds += seconds
        self.totals.batch_sizes.append(len(requests))
        answers: dict[int, list] = {}
        tokens = 0
        for (job, item), group in zip(owners, groups, strict=True):
            used = sum(c.num_tokens for c in group)
            job.generated_tokens += used
            tokens += used
            parsed = [job.prompt.parse(item.kind, c) for c in group]
            if self.on_answers is not None:
                self.on_answers(job, item, parsed)
            answers.setdefault(id(job), []).append(parsed)
        for job in active:
            if id(job) in answers:
                job.advance(answers[id(job)])
                if job.done:
                    finish(job)
        self.on_tick(Tick(len(requests), sum(r.n for r in requests), tokens, seconds,
                          [job for job in active if not job.done]))

    def _score(self, job: Job) -> None:
        if self.scorer is None:
            raise EvolveError("this mode needs a PRM", where="--prm", fix="pass --prm DIR")
        started = time.perf_counter()
        trajectories = [list(t) for t in job.pending.trajectories]
        scores = _checked_scores(self.scorer.score(job.prompt.scored_question(), trajectories), trajectories)
        self.totals.score_seconds += time.perf_counter() - started
        if self.on_answers is not None:
            self.on_answers(job, job.pending, scores)
        job.advance(scores)
