"""`evolve search`: the batched MedS3 MCTS over a domain's questions."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from evolve.config import Config, load_config


def model_from_config(config: Config):
    from evolve.backends import load_generator

    m = config.model
    return load_generator(m.spec, threads=m.threads, dtype=m.dtype, max_batch_size=m.max_batch_size,
                          openai_model=m.openai_model, lora=m.lora)


def apply_flags(config_path: Optional[Path], overrides: list[str], **flags) -> Config:
    """YAML first, then `--set`, then the dedicated flags (which win)."""
    names = {"domain": "data.domain", "split": "data.split", "limit": "search.limit", "model": "model.spec",
             "threads": "model.threads", "seed": "search.seed"}
    extra = [f"{names[k]}={v}" for k, v in flags.items() if v is not None]
    return load_config(config_path, list(overrides) + extra)


def print_summary(summary, console: Console) -> None:
    console.print(
        f"[bold]searched[/] {summary.questions} questions ({summary.skipped} already done) in {summary.seconds:.0f}s: "
        f"{summary.nodes} nodes, correct leaves {summary.correct_leaves}/{summary.finish_leaves} "
        f"({summary.correct_leaf_rate:.0%}), pos {summary.pos} / neg {summary.neg}, "
        f"{summary.solved} questions with a correct leaf, {summary.tokens_per_second:.0f} generated tok/s, "
        f"{summary.nodes_per_second:.2f} nodes/s"
    )
    console.print(f"trees: {summary.out}")


def search(
    out: Path = typer.Option(..., "--out", help="tree file (JSONL); re-running the command resumes it"),
    domain: Optional[str] = typer.Option(None, help="domain name (evolve domains list)"),
    model: Optional[str] = typer.Option(None, help="model spec, e.g. embedded:smollm2-135m-instruct"),
    limit: Optional[int] = typer.Option(None, help="search only the first N questions"),
    split: Optional[str] = typer.Option(None, help="search, dev, or a data file"),
    config: Optional[Path] = typer.Option(None, "--config", help="YAML preset, e.g. configs/search-cpu.yaml"),
    set_: list[str] = typer.Option([], "--set", help="override a config key: --set search.max_nodes=10"),
    threads: Optional[int] = typer.Option(None, help="torch threads (hf backend)"),
    seed: Optional[int] = typer.Option(None, help="search seed"),
    force: bool = typer.Option(False, help="append to a tree file searched with another config"),
    quiet: bool = typer.Option(False, help="no live progress bar"),
) -> None:
    from evolve.search.runner import run_search

    cfg = apply_flags(config, set_, domain=domain, split=split, limit=limit, model=model, threads=threads, seed=seed)
    console = Console(stderr=True)
    summary = run_search(cfg, out, generator=lambda: model_from_config(cfg), force=force, console=console,
                         show_progress=not quiet)
    print_summary(summary, Console())
