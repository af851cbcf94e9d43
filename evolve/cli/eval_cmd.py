"""`evolve eval`: accuracy of the inference modes on a domain's held-out questions."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from evolve.config import Config, load_config
from evolve.errors import ConfigError

_FLAG_KEYS = {"domain": "data.domain", "model": "model.spec", "threads": "model.threads", "policy": "model.lora",
              "split": "eval.split", "limit": "eval.limit", "n": "eval.n", "seed": "eval.seed", "by": "eval.by"}


def parse_where(items: list[str]) -> dict[str, str]:
    """`["subject=anatomy"]` -> {"subject": "anatomy"}."""
    found = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ConfigError(f"--where '{item}' is not FIELD=VALUE", where="--where", fix="write e.g. --where subject=anatomy")
        found[name.strip()] = value.strip()
    return found


def parse_modes(text: str) -> list[str]:
    from evolve.infer.modes import MODES

    modes = [m.strip() for m in text.split(",") if m.strip()]
    for mode in modes:
        if mode not in MODES:
            raise ConfigError(f"unknown inference mode '{mode}'", where="--modes", fix=f"use some of: {', '.join(MODES)}")
    if not modes:
        raise ConfigError("no inference mode given", where="--modes", fix="write e.g. --modes cot,sc,pvs")
    return modes


def infer_config(config_path: Optional[Path], overrides: list[str], modes: list[str] | None = None, **flags) -> Config:
    """YAML first, then `--set`, then the dedicated flags (which win)."""
    extra = [f"{_FLAG_KEYS[k]}={v}" for k, v in flags.items() if v is not None]
    if modes:
        extra.append(f"eval.modes=[{', '.join(modes)}]")
    return load_config(config_path, list(overrides) + extra)


def check_prm_dir(prm: Optional[Path]) -> None:
    if prm is not None and not Path(prm).is_dir():
        raise ConfigError("PRM folder not found", where=str(prm), fix="pass --prm the folder a PRM training run wrote")


def load_scorer(prm: Path, config: Config):
    """The trained PRM as a `StepScorer` (imported lazily: it needs torch)."""
    try:
        from evolve.prm.scorer import load_prm
    except ImportError:
        try:
            from evolve.train.prm import load_prm  # type: ignore[no-redef]
        except ImportError:
            raise ConfigError("this install cannot load a PRM", where="--prm",
                              fix="update evolve (evolve.prm.scorer is missing)") from None
    base = None
    if config.prm.base:
        from evolve.backends import resolve_model_folder

        base = resolve_model_folder(config.prm.base)
    return load_prm(str(prm), base_dir=base, threads=config.model.threads)


def print_report(report, console: Console) -> None:
    where = report.config.get("where") or {}
    chosen = f" ({', '.join(f'{k}={v}' for k, v in where.items())})" if where else ""
    table = Table(title=f"{report.domain}, split {report.split}{chosen}: {report.questions} questions, model {report.model}")
    for column in ("mode", "accuracy", "95% CI", "correct", "mean tokens", "wall s"):
        table.add_column(column, justify="left" if column == "mode" else "right")
    for m in report.modes:
        table.add_row(m.mode + (" *" if m.shared else ""), f"{m.accuracy:.1%}", f"[{m.low:.1%}, {m.high:.1%}]",
                      f"{m.correct}/{m.n}", f"{m.mean_tokens:.1f}", f"{m.seconds:.1f}")
    console.print(table)
    if report.groups:
        groups = Table(title=f"by {report.groups[0]['field']}")
        groups.add_column(report.groups[0]["field"])
        groups.add_column("questions", justify="right")
        for mode in report.groups[0]["modes"]:
            groups.add_column(mode, justify="right")
        for group in report.groups:
            groups.add_row(group["value"], str(group["n"]), *[f"{g['accuracy']:.1%} [{g['low']:.0%}, {g['high']:.0%}]"
                                                             for g in group["modes"].values()])
        console.print(groups)
    if any(m.shared for m in report.modes):
        console.print("* one shared draw of N samples per question")
    console.print(f"results: {report.out_dir}")


def eval_command(
    domain: Optional[str] = typer.Option(None, help="domain name (evolve domains list)"),
    split: Optional[str] = typer.Option(None, help="dev, test, search, or a data file"),
    limit: Optional[int] = typer.Option(None, help="evaluate only the first N questions"),
    where: list[str] = typer.Option([], "--where", help="keep questions whose metadata FIELD=VALUE (repeatable; "
                                    "VALUE may be a,b for either)"),
    by: Optional[str] = typer.Option(None, "--by", help="also report accuracy per value of this metadata field"),
    modes: Optional[str] = typer.Option(None, help="comma list of modes: cot,sc,pvs,bon-last,bon-min,beam,mcts"),
    n: Optional[int] = typer.Option(None, "--n", help="samples per question for sc, pvs and bon-*"),
    policy: Optional[Path] = typer.Option(None, help="a LoRA adapter folder applied to the model"),
    prm: Optional[Path] = typer.Option(None, help="a trained PRM folder (needed by pvs, bon-*, beam, mcts)"),
    model: Optional[str] = typer.Option(None, help="model spec, e.g. embedded:smollm2-135m-instruct"),
    config: Optional[Path] = typer.Option(None, "--config", help="YAML preset"),
    set_: list[str] = typer.Option([], "--set", help="override a config key: --set eval.max_tokens=256"),
    out: Optional[Path] = typer.Option(None, "--out", help="results folder (default runs/eval-<domain>-<time>)"),
    label: str = typer.Option("", help="a name for this evaluation in the report"),
    threads: Optional[int] = typer.Option(None, help="torch threads (hf backend)"),
    seed: Optional[int] = typer.Option(None, help="sampling seed"),
    quiet: bool = typer.Option(False, help="no live progress bar"),
) -> None:
    from domains import load_domain
    from evolve.cli.search_cmd import model_from_config
    from evolve.eval.evaluate import evaluate
    from evolve.infer.solve import check_modes

    cfg = infer_config(config, set_, parse_modes(modes) if modes is not None else None, domain=domain, split=split,
                       limit=limit, n=n, model=model, threads=threads, seed=seed, policy=policy, by=by)
    if where:
        cfg.eval.where = {**cfg.eval.where, **parse_where(where)}
    check_modes(cfg.eval.modes, cfg.eval, has_scorer=prm is not None)
    check_prm_dir(prm)
    task_domain = load_domain(cfg.data.domain)
    questions = task_domain.load_split(cfg.eval.split, limit=cfg.eval.limit, where=cfg.eval.where)
    generator = model_from_config(cfg)
    check_modes(cfg.eval.modes, cfg.eval, generator, has_scorer=prm is not None)
    scorer = load_scorer(prm, cfg) if prm is not None else None
    out = out or Path("runs") / f"eval-{task_domain.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    report = evaluate(questions, task_domain, generator, cfg.eval, scorer=scorer, out_dir=out, label=label,
                      progress=not quiet, split=cfg.eval.split)
    print_report(report, Console())
