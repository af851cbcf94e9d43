"""`evolve run`: self-evolution rounds with per-stage resume."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console


def run(
    out: Path = typer.Option(..., "--out", help="run folder; re-running the same command resumes it"),
    config: Optional[Path] = typer.Option(None, "--config", help="YAML preset, e.g. configs/medqa-cpu.yaml"),
    rounds: Optional[int] = typer.Option(None, help="rounds to run (a finished run can be extended)"),
    set_: list[str] = typer.Option([], "--set", help="override a config key: --set search.limit=4"),
    domain: Optional[str] = typer.Option(None, help="domain name (evolve domains list)"),
    model: Optional[str] = typer.Option(None, help="base model spec"),
    force: bool = typer.Option(False, help="continue a run under a changed config (recorded in run.json)"),
    redo_eval: bool = typer.Option(False, "--redo-eval", help="evaluate again each round evaluated under another "
                                   "config (with --force after changing eval.*); search and training stay"),
    quiet: bool = typer.Option(False, help="no live progress bars"),
) -> None:
    """Search -> harvest -> policy SFT -> PRM -> eval -> report, for each round."""
    from evolve.cli.search_cmd import apply_flags
    from evolve.rounds.runner import run_rounds

    extra = [f"run.rounds={rounds}"] if rounds is not None else []
    cfg = apply_flags(config, list(set_) + extra, domain=domain, model=model)
    run_rounds(cfg, out, force=force, console=Console(stderr=True), show_progress=not quiet, redo_eval=redo_eval)
    print_report(out, Console())


def print_report(out: Path, console: Console) -> None:
    from evolve.rounds.report import load_manifests, markdown_table

    console.print(markdown_table(load_manifests(out)), markup=False, highlight=False, soft_wrap=True)
    console.print(f"report: {out / 'report.md'}  plot: {out / 'report.png'}")
