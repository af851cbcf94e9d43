"""`evolve run`: self-evolution rounds with per-stage resume."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from evolve.cli.common import CONFIG, DOMAIN, QUIET, RAY, SEED, SET, WORKERS


def run(
    out: Path = typer.Option(..., "--out", help="run folder; re-running the same command resumes it"),
    config: Path | None = CONFIG,
    rounds: int | None = typer.Option(None, min=1, help="rounds to run (a finished run can be extended)"),
    set_: list[str] = SET,
    domain: str | None = DOMAIN,
    model: str | None = typer.Option(None, help="base model spec"),
    force: bool = typer.Option(False, help="continue a run under a changed config (recorded in run.json)"),
    redo_eval: bool = typer.Option(False, "--redo-eval", help="evaluate again each round evaluated under another "
                                   "config (with --force after changing eval.*); search and training stay"),
    seed: int | None = SEED,
    workers: int | None = WORKERS,
    ray_address: str | None = RAY,
    quiet: bool = QUIET,
) -> None:
    """Search -> harvest -> policy SFT -> PRM -> eval -> report, for each round."""
    from evolve.cli.common import config_from, print_run_report
    from evolve.cli.render import progress_sink
    from evolve.errors import Interrupted
    from evolve.rounds.runner import run_rounds

    cfg = config_from(config, set_, {"run.rounds": rounds, "data.domain": domain, "model.spec": model, "run.workers": workers, "run.ray_address": ray_address}, seed)
    try:
        with progress_sink(quiet) as events:
            run_rounds(cfg, out, force=force, events=events, redo_eval=redo_eval)
    except KeyboardInterrupt:
        raise Interrupted(f"every finished stage, the searched trees and the last training checkpoint are "
                          f"saved in {out}") from None
    print_run_report(out, Console())
