"""`evolve search` as a function: a domain's questions in, a resumable tree file out."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from evolve.backends.base import Generator
from evolve.config import Config, ConfigError
from evolve.events import Progress, Sink, emit
from evolve.reasoner.driver import Tick
from evolve.search.maths import rollout_count
from evolve.search.records import TreeWriter, build_record
from evolve.search.tree import FinishedTree

if TYPE_CHECKING:
    from evolve.api import Reasoner  # the runner is handed one; it sits above the search


@dataclass
class SearchSummary:
    out: Path
    questions: int = 0  # searched in this run
    skipped: int = 0  # already in the tree file
    nodes: int = 0
    finish_leaves: int = 0
    correct_leaves: int = 0
    pos: int = 0
    neg: int = 0
    generated_tokens: int = 0
    seconds: float = 0.0
    solved: int = 0  # questions with at least one correct leaf
    workers: int = 1
    startup_seconds: float = 0.0  # starting the workers and loading their models (0 in one process)
    deaths: int = 0  # workers that died during the run
    restarts: int = 0  # of those, the ones Ray restarted that loaded their model again before the end
    requeued: int = 0  # questions dealt again after their worker was lost
    failed: list[tuple[str, str]] = field(default_factory=list)  # (question id, why): lost on every attempt

    @property
    def correct_leaf_rate(self) -> float:
        return self.correct_leaves / self.finish_leaves if self.finish_leaves else 0.0

    @property
    def tokens_per_second(self) -> float:
        return self.generated_tokens / self.seconds if self.seconds else 0.0

    @property
    def nodes_per_second(self) -> float:
        return self.nodes / self.seconds if self.seconds else 0.0


def check_budget(config: Config, generator: Generator) -> None:
    """Refuse up front a search that would ask a backend for more samples than it allows."""
    limit = generator.max_n
    if limit is None:
        return
    cfg = config.search
    wanted = max(cfg.root_children, cfg.children, rollout_count(0, cfg.rollout_base, cfg.rollout_min))
    if wanted > limit:
        raise ConfigError(
            f"the search asks for n={wanted} samples per request but backend '{generator.name}' allows {limit}",
            where="search.rollout_base / search.children",
            fix=f"lower them so that max(children, rollout_base) <= {limit}",
        )


def run_search(reasoner: Reasoner, out: str | Path, *, force: bool = False, events: Sink | None = None) -> SearchSummary:
    """Search every question of the configured split that `out` does not hold yet, appending each tree
    to `out` as it finishes. Progress goes to `events` after every backend call."""
    config, domain = reasoner.config, reasoner.domain
    questions = domain.load_split(config.data.split, limit=config.search.limit)
    if reasoner.workers is None:  # on workers, each checks its own backend
        check_budget(config, reasoner.generator)
    digest = config.digest("model", "search")
    writer = TreeWriter(out, domain=domain.name, config_digest=digest, force=force,
                        settings=config.settings("model", "search"))
    todo = [q for q in questions if q.id not in writer.done]
    summary = SearchSummary(out=Path(out), skipped=len(questions) - len(todo))
    started = time.perf_counter()
    active_nodes = 0
    extra: dict = {}

    def report() -> None:
        elapsed = max(time.perf_counter() - started, 1e-9)
        nodes = summary.nodes + active_nodes
        emit(events, Progress(f"search {domain.name}", summary.questions, len(todo), "questions", {
            "nodes": nodes, "nodes/s": nodes / elapsed, "tok/s": summary.generated_tokens / elapsed,
            "correct leaves": f"{summary.correct_leaves}/{summary.finish_leaves}", **extra}))

    def on_tick(tick: Tick) -> None:
        nonlocal active_nodes, extra
        active_nodes, extra = tick.active_nodes, {k: v for k, v in tick.info.items() if k != "tok/s"}
        summary.generated_tokens += tick.generated_tokens
        report()

    def on_tree(finished: FinishedTree) -> None:
        nonlocal active_nodes
        tree = finished.tree
        # the last tick still counted this tree among the active ones: count it once
        active_nodes = max(active_nodes - len(tree.nodes), 0)
        record = build_record(
            finished.question, tree, domain=domain.name, model=config.model.spec, config_digest=digest,
            seconds=finished.seconds, generated_tokens=finished.generated_tokens,
        )
        writer.append(record)
        summary.questions += 1
        summary.nodes += len(tree.nodes)
        summary.finish_leaves += record["stats"]["finish_leaves"]
        summary.correct_leaves += record["stats"]["correct_leaves"]
        summary.pos += len(record["pos"])
        summary.neg += len(record["neg"])
        summary.solved += bool(record["pos"])
        report()

    if reasoner.workers is None:  # workers report once they have loaded
        report()
    pool = reasoner.search(todo, on_tree=on_tree, on_tick=on_tick)
    summary.seconds = time.perf_counter() - started
    if pool is not None:
        summary.workers, summary.deaths, summary.restarts = pool.workers, pool.deaths, pool.restarts
        summary.requeued = pool.requeued
        summary.startup_seconds = pool.startup_seconds
        summary.failed = list(pool.failed)
    return summary
