"""`evolve search`: the batched MedS3 MCTS over a domain's questions."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from evolve.cli.common import CONFIG, DOMAIN, MODEL, QUIET, RAY, SEED, SET, THREADS, WORKERS, config_from


def print_summary(summary, console: Console) -> None:
    console.print(
        f"[bold]searched[/] {summary.questions} questions ({summary.skipped} already done) in {summary.seconds:.0f}s: "
        f"{summary.nodes} nodes, correct leaves {summary.correct_leaves}/{summary.finish_leaves} "
        f"({summary.correct_leaf_rate:.0%}), pos {summary.pos} / neg {summary.neg}, "
        f"{summary.solved} questions with a correct leaf, {summary.tokens_per_second:.0f} generated tok/s, "
        f"{summary.nodes_per_second:.2f} nodes/s"
    )
    if summary.workers > 1 or summary.deaths or summary.requeued:
        console.print(f"on {summary.workers} workers (started in {summary.startup_seconds:.1f}s): {summary.deaths} died "
                      f"({summary.restarts} restarted and loaded again before the end), {summary.requeued} questions "
                      "dealt again after their worker was lost")
    if summary.failed:
        console.print(f"[bold red]failed on every attempt[/] ({len(summary.failed)}, left out of the file; the same "
                      f"command tries them again): " + ", ".join(f"{qid} ({why})" for qid, why in summary.failed))
    console.print(f"trees: {summary.out}")


def search(
    out: Path = typer.Option(..., "--out", help="tree file (JSONL); re-running the command resumes it"),
    domain: str | None = DOMAIN,
    model: str | None = MODEL,
    limit: int | None = typer.Option(None, min=1, help="search only the first N questions"),
    split: str | None = typer.Option(None, help="search, dev, test, or a data file"),
    config: Path | None = CONFIG,
    set_: list[str] = SET,
    threads: int | None = THREADS,
    seed: int | None = SEED,
    force: bool = typer.Option(False, help="append to a tree file searched with another config"),
    workers: int | None = WORKERS,
    ray_address: str | None = RAY,
    quiet: bool = QUIET,
) -> None:
    from evolve.cli.render import progress_sink
    from evolve.errors import Interrupted
    from evolve.scale import reasoner_for
    from evolve.search.records import count_records
    from evolve.search.runner import run_search

    cfg = config_from(config, set_, {"data.domain": domain, "data.split": split, "search.limit": limit,
                                     "model.spec": model, "model.threads": threads, "run.workers": workers, "run.ray_address": ray_address}, seed)
    reasoner = reasoner_for(cfg)
    try:
        with progress_sink(quiet) as events:
            summary = run_search(reasoner, out, force=force, events=events)
    except KeyboardInterrupt:
        raise Interrupted(f"{count_records(out)} finished trees are saved in {out}") from None
    print_summary(summary, Console())
