"""`evolve eval`: accuracy of the inference modes on a domain's held-out questions."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.console import Console

from evolve.cli.common import (
    CONFIG,
    DOMAIN,
    MODEL,
    POLICY,
    PRM,
    QUIET,
    RAY,
    SEED,
    SET,
    THREADS,
    WORKERS,
    config_from,
    modes_flag,
    parse_modes,
    parse_where,
    print_eval_report,
)


def eval_command(
    domain: str | None = DOMAIN,
    split: str | None = typer.Option(None, help="dev, test, search, or a data file"),
    limit: int | None = typer.Option(None, min=1, help="evaluate only the first N questions"),
    where: list[str] = typer.Option([], "--where", help="keep questions whose metadata FIELD=VALUE (repeatable; "
                                    "VALUE may be a,b for either)"),
    by: str | None = typer.Option(None, "--by", help="also report accuracy per value of this metadata field"),
    modes: str | None = typer.Option(None, help="comma list of inference modes (see `evolve solve --help`)"),
    n: int | None = typer.Option(None, "--n", min=1, help="samples per question for sc, pvs and bon-*"),
    policy: Path | None = POLICY,
    prm: Path | None = PRM,
    model: str | None = MODEL,
    config: Path | None = CONFIG,
    set_: list[str] = SET,
    out: Path | None = typer.Option(None, "--out", help="results folder (default runs/eval-<domain>-<time>)"),
    label: str = typer.Option("", help="a name for this evaluation in the report"),
    threads: int | None = THREADS,
    seed: int | None = SEED,
    workers: int | None = WORKERS,
    ray_address: str | None = RAY,
    quiet: bool = QUIET,
) -> None:
    from evolve.cli.render import progress_sink
    from evolve.eval.evaluate import evaluate
    from evolve.infer.solve import check_modes
    from evolve.scale import reasoner_for

    chosen = parse_modes(modes) if modes is not None else None
    cfg = config_from(config, set_, {"data.domain": domain, "eval.split": split, "eval.limit": limit, "eval.n": n,
                                     "model.spec": model, "model.threads": threads, "model.lora": policy,
                                     "eval.by": by, "eval.modes": modes_flag(chosen) if chosen else None, "run.workers": workers, "run.ray_address": ray_address}, seed)
    if where:
        cfg.eval.where = {**cfg.eval.where, **parse_where(where)}
    check_modes(cfg.eval.modes, cfg.eval, has_scorer=prm is not None)  # before any model loads
    reasoner = reasoner_for(cfg, prm=prm)
    questions = reasoner.domain.load_split(cfg.eval.split, limit=cfg.eval.limit, where=cfg.eval.where)
    out = out or Path("runs") / f"eval-{reasoner.domain.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    with progress_sink(quiet) as events:
        report = evaluate(questions, reasoner, out_dir=out, label=label, events=events, split=cfg.eval.split)
    print_eval_report(report, Console())
