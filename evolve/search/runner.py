"""`evolve search` as a function: a domain's questions in, a resumable tree file out."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from domains import Question, load_domain
from evolve.backends.base import Generator
from evolve.config import Config, ConfigError
from evolve.reasoner.driver import Driver, Job, Tick
from evolve.reasoner.steps import Sampling, StepPrompt
from evolve.search.maths import rollout_count
from evolve.search.mcts import MCTS
from evolve.search.records import TreeWriter, build_record


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


def run_search(config: Config, out: str | Path, *, generator: Generator | Callable[[], Generator],
               force: bool = False, console: Console | None = None, show_progress: bool = True) -> SearchSummary:
    """Search every question of the configured split that `out` does not hold yet.

    `generator` may be a factory, so that a bad domain or data file fails before a model loads.
    """
    domain = load_domain(config.data.domain)
    questions = domain.load_split(config.data.split, limit=config.search.limit)
    if not isinstance(generator, Generator):
        generator = generator()
    check_budget(config, generator)
    digest = config.digest("model", "search")
    writer = TreeWriter(out, domain=domain.name, config_digest=digest, force=force)
    todo = [q for q in questions if q.id not in writer.done]
    summary = SearchSummary(out=Path(out), skipped=len(questions) - len(todo))
    console = console or Console(stderr=True)
    started = time.perf_counter()

    def make_search(question: Question):
        mcts = MCTS(question.id, config.search)
        return mcts.run(), mcts

    with Progress(
        TextColumn("[bold]search[/] {task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[rates]}"), TimeElapsedColumn(),
        console=console, disable=not show_progress, transient=False,
    ) as progress:
        bar = progress.add_task(domain.name, total=len(todo), rates="")
        active_nodes = 0

        def refresh() -> None:
            elapsed = time.perf_counter() - started
            nodes = summary.nodes + active_nodes
            rates = (f"{nodes / max(elapsed, 1e-9):.1f} nodes/s  {summary.generated_tokens / max(elapsed, 1e-9):.0f} tok/s"
                     f"  correct leaves {summary.correct_leaves}/{summary.finish_leaves}")
            progress.update(bar, completed=summary.questions, rates=rates)

        def on_tick(tick: Tick) -> None:
            nonlocal active_nodes
            active_nodes = sum(len(job.context.tree.nodes) for job in tick.active)
            summary.generated_tokens += tick.generated_tokens
            refresh()

        def on_tree_done(job: Job) -> None:
            tree = job.context.tree
            record = build_record(
                job.question, tree, domain=domain.name, model=config.model.spec, config_digest=digest,
                seconds=time.perf_counter() - job.started, generated_tokens=job.generated_tokens,
            )
            writer.append(record)
            summary.questions += 1
            summary.nodes += len(tree.nodes)
            summary.finish_leaves += record["stats"]["finish_leaves"]
            summary.correct_leaves += record["stats"]["correct_leaves"]
            summary.pos += len(record["pos"])
            summary.neg += len(record["neg"])
            summary.solved += bool(record["pos"])
            refresh()

        Driver(generator, Sampling.of_search(config.search), in_flight=config.search.trees_in_flight,
               on_done=on_tree_done, on_tick=on_tick).run(
            todo, make_search, lambda q: StepPrompt(domain, q, generator.render_chat))
    summary.seconds = time.perf_counter() - started
    return summary
