"""`Reasoner.search` and `Reasoner.run_modes` when the work runs on workers: the same callbacks and the
same results as in one process, put together from what the workers send back. `reasoner_for` is how a
front end gets a Reasoner that works this way whenever its config asks for workers."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from domains import Question
from evolve.api import Reasoner, build_generator
from evolve.config import Config
from evolve.errors import ConfigError, EvolveError
from evolve.infer.solve import ModeRun, Progress, check_modes
from evolve.reasoner.driver import Tick
from evolve.scale.pool import PoolStats, WorkerSpec, run_on_workers
from evolve.scale.worker import Answered
from evolve.search.tree import FinishedTree

EVAL_BATCH = 16  # the most questions one eval worker answers in one batch


def search_on_workers(spec: WorkerSpec, questions: Iterable[Question], on_tree: Callable[[FinishedTree], None],
                      on_tick: Callable[[Tick], None] | None) -> PoolStats:
    seen = 0

    def progress(stats: PoolStats) -> None:
        nonlocal seen
        if on_tick is not None:
            new, seen = stats.generated_tokens - seen, stats.generated_tokens
            on_tick(Tick(0, 0, new, 0.0, [], nodes_in_flight=stats.nodes_in_flight, info=stats.info()))

    # one more question than trees in flight, so a worker never waits on a round trip for its next tree
    return run_on_workers(spec, ("search",), list(questions), capacity=spec.config.search.trees_in_flight + 1,
                          on_result=on_tree, on_progress=progress)


def eval_batch(questions: int, workers: int) -> int:
    """Questions one worker answers at once: about two batches per worker, at most EVAL_BATCH."""
    return max(1, min(EVAL_BATCH, math.ceil(questions / (2 * max(1, workers)))))


def run_modes_on_workers(spec: WorkerSpec, questions: Sequence[Question], modes: Sequence[str],
                         progress: Progress | None) -> dict[str, ModeRun]:
    """Every mode's solutions in question order. A mode's seconds are the worker seconds it took, summed
    over workers (so the modes' costs compare as in one process); a question lost on every attempt
    fails the evaluation, whose comparisons need every question."""
    modes = list(dict.fromkeys(modes))
    answered: dict[str, Answered] = {}
    label = "+".join(modes)

    def on_result(item: Answered) -> None:
        answered[item.question.id] = item

    def on_progress(stats: PoolStats) -> None:
        if progress is not None:
            progress(label, len(answered), len(questions), stats.info())

    stats = run_on_workers(spec, ("eval", modes), questions, capacity=lambda workers: eval_batch(len(questions), workers),
                           on_result=on_result, on_progress=on_progress)
    if stats.failed:
        ids = ", ".join(qid for qid, _ in stats.failed[:5])
        raise EvolveError(f"{len(stats.failed)} questions were lost on every attempt ({ids}): {stats.failed[0][1]}",
                          where="the workers", fix="see the Ray logs (/tmp/ray/session_latest/logs), then run the "
                          "same command again")
    ordered = [answered[q.id] for q in questions]
    return {m: ModeRun(m, [a.solutions[m] for a in ordered], sum(a.seconds[m] for a in ordered),
                       any(a.shared[m] for a in ordered)) for m in modes}


class Workers:
    """What a Reasoner delegates to when its work runs on workers (see `Reasoner.workers`)."""

    def __init__(self, spec: WorkerSpec):
        self.spec = spec

    def check(self, modes: Sequence[str]) -> None:
        """What can be checked without a model here; each worker checks its own backend as it loads."""
        check_modes(modes, self.spec.config.eval, has_scorer=self.spec.prm is not None)

    def search(self, questions, on_tree, on_tick) -> PoolStats:
        return search_on_workers(self.spec, questions, on_tree, on_tick)

    def run_modes(self, questions, modes, progress, **extras) -> dict[str, ModeRun]:
        if any(value is not None for value in extras.values()):
            raise EvolveError(f"{', '.join(k for k, v in extras.items() if v is not None)} cannot reach workers",
                              where="run.workers", fix="answer in one process (run.workers=1) to stream or add notes")
        return run_modes_on_workers(self.spec, questions, modes, progress)


def reasoner_for(config: Config, *, policy: str | Path | None = None, prm: str | Path | None = None,
                 domain=None) -> Reasoner:
    """`Reasoner.from_config`, or, when `run.workers` or `run.ray_address` ask for workers, a Reasoner whose
    search and eval are dealt out to workers that each load the policy (and PRM) themselves; nothing
    loads in this process then. A missing PRM or adapter folder fails here, before any worker starts."""
    if not config.run.on_workers:
        return Reasoner.from_config(config, policy=policy, prm=prm)
    from domains import load_domain

    if prm is not None and not Path(prm).is_dir():
        raise ConfigError("PRM folder not found", where=str(prm), fix="pass --prm the folder a PRM training run wrote")
    adapter = str(policy) if policy is not None else config.model.lora
    if adapter is not None and not Path(adapter).exists():
        build_generator(config.model, adapter)  # raises its one-line error
    # workers may start elsewhere (another node, another working folder): they get absolute paths
    for_workers = config.model_copy(deep=True)
    if Path(config.model.spec).exists():
        for_workers.model.spec = str(Path(config.model.spec).resolve())
    adapter = str(Path(adapter).resolve()) if adapter is not None else None
    for_workers.model.lora = adapter

    def no_local_model():
        raise EvolveError("this Reasoner runs its models on workers", where="run.workers",
                          fix="call search or run_modes, or build it with Reasoner.from_config")

    reasoner = Reasoner(config, domain or load_domain(config.data.domain), no_local_model)
    reasoner.workers = Workers(WorkerSpec(for_workers, adapter, str(Path(prm).resolve()) if prm is not None else None))
    return reasoner
