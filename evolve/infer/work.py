"""What an inference search asks for, and the driver that answers many searches with shared calls.

A search (one question, one mode) is a coroutine: it yields a list of `Generate` items or one
`Score`, receives the parsed continuations or the PRM's step scores, and finally returns its
result. `drive` advances every question's search in lockstep: each tick answers all pending
`Score`s (one scorer call per question), then puts every pending `Generate` of every question into
ONE `generate` call. Searches never see prompts or models, so they stay pure and testable.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Generator as Coroutine, Sequence

from domains import Domain, Question
from domains.answers import answer_end
from evolve.backends.base import GenerationRequest, Generator
from evolve.config import EvalConfig, SearchConfig
from evolve.errors import EvolveError
from evolve.prm.base import StepScorer
from evolve.search.task import STEP_STOP, StepTask
from evolve.search.tree import STEP_ZERO
from evolve.search.work import Propose


@dataclass(frozen=True)
class Generate:
    """`n` continuations after steps 1.. `steps`: one step (stop at the next), or with `finish`
    the rest of the solution (no stop, `max_tokens`), which may hold several steps."""

    steps: tuple[str, ...]
    n: int
    finish: bool
    seed: int
    greedy: bool = False


@dataclass(frozen=True)
class Score:
    """Step scores for each trajectory (steps 1..) of this question."""

    trajectories: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Continuation:
    """One parsed completion: its new steps, whether it ended the solution, and its answer."""

    steps: tuple[str, ...]
    final: bool
    answer: str | None
    tokens: int
    finish_reason: str


Search = Coroutine[Any, Any, Any]  # yields list[Generate] | Score, returns the search's result
Progress = Callable[[str, int, int], None]  # (label, finished questions, total questions)


def build_request(task: StepTask, item: Generate, config: EvalConfig) -> GenerationRequest:
    return GenerationRequest(
        prompt=task.prompt((STEP_ZERO, *item.steps)), n=item.n,
        max_new_tokens=config.max_tokens if item.finish else config.step_tokens,
        temperature=0.0 if item.greedy else config.temperature, top_p=config.top_p,
        stop=() if item.finish else STEP_STOP, seed=item.seed,
        stop_rule=answer_end if config.stop_at_answer else None,
    )


def parse(task: StepTask, item: Generate, completion) -> Continuation:
    # StepTask.proposal is the search's own parser: same answer cut, step split and final rule
    p = task.proposal(completion, Propose(node_id=0, steps=(), n=item.n, finish=item.finish, seed=item.seed))
    return Continuation(p.steps, p.final, p.answer, completion.num_tokens, completion.finish_reason)


@dataclass
class _Job:
    question: Question
    task: StepTask
    search: Search
    pending: Any = None
    result: Any = None
    done: bool = False

    def start(self) -> None:
        self.advance(None)

    def advance(self, answer: Any) -> None:
        try:
            self.pending = self.search.send(answer)  # send(None) starts a fresh coroutine
        except StopIteration as stop:
            self.result, self.done, self.pending = stop.value, True, None


@dataclass
class DriveResult:
    results: list[Any]  # one per question, in question order
    generate_seconds: float = 0.0
    score_seconds: float = 0.0
    calls: int = 0
    batch_sizes: list[int] = field(default_factory=list)


def _checked_scores(scores: list[list[float]], trajectories: Sequence[Sequence[str]]) -> list[list[float]]:
    if len(scores) != len(trajectories) or any(len(s) != len(t) for s, t in zip(scores, trajectories)):
        raise EvolveError("the PRM returned a different number of scores than steps it was given",
                          where="--prm", fix="check that the folder holds a PRM trained by evolve")
    return [[float(x) for x in s] for s in scores]


def drive(questions: Sequence[Question], domain: Domain, generator: Generator, config: EvalConfig,
          make_search: Callable[[Question], Search], scorer: StepScorer | None = None,
          progress: Progress | None = None, label: str = "") -> DriveResult:
    """Run one search per question to its end, batching their requests across questions."""
    out = DriveResult(results=[None] * len(questions))
    jobs = []
    for q in questions:
        job = _Job(q, StepTask(domain, q, generator.render_chat, SearchConfig()), make_search(q))
        job.start()
        jobs.append(job)
    finished = sum(job.done for job in jobs)
    if progress is not None:
        progress(label, finished, len(jobs))
    while not all(job.done for job in jobs):
        for job in jobs:
            if isinstance(job.pending, Score):
                if scorer is None:
                    raise EvolveError("this mode needs a PRM", where="--prm", fix="pass --prm DIR")
                started = time.perf_counter()
                trajectories = [list(t) for t in job.pending.trajectories]
                scores = scorer.score(domain.format_question(job.question), trajectories)
                out.score_seconds += time.perf_counter() - started
                job.advance(_checked_scores(scores, trajectories))
        owners = [(job, item) for job in jobs if isinstance(job.pending, list) for item in job.pending]
        if not owners and not any(isinstance(job.pending, Score) for job in jobs if not job.done):
            if not all(job.done for job in jobs):
                raise TypeError("a search yielded something other than a list of Generate or a Score")
        if owners:
            started = time.perf_counter()
            groups = generator.generate([build_request(job.task, item, config) for job, item in owners])
            out.generate_seconds += time.perf_counter() - started
            out.calls += 1
            out.batch_sizes.append(len(owners))
            answers: dict[int, list] = {}
            for (job, item), group in zip(owners, groups, strict=True):
                answers.setdefault(id(job), []).append([parse(job.task, item, c) for c in group])
            for job in jobs:
                if id(job) in answers:
                    job.advance(answers[id(job)])
        now = sum(job.done for job in jobs)
        if progress is not None and now != finished:
            progress(label, now, len(jobs))
        finished = now
    out.results = [job.result for job in jobs]
    return out
