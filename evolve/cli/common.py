"""What several commands share: flags into the one config, the mode list, and printing reports.

Every command reads YAML first (`--config`), then `--set section.key=value`, then its dedicated flags,
which win. `--seed` means the same in every command: the seed of every section (search, eval,
policy, prm, agents).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from evolve.config import Config, load_config
from evolve.errors import ConfigError

SEEDED = ("search", "eval", "policy", "prm", "agents")

# The flags several commands share, declared once so that they mean (and read) the same everywhere.
CONFIG = typer.Option(None, "--config", help="YAML preset, e.g. configs/medqa-cpu.yaml")
SET = typer.Option([], "--set", help="override a config key: --set eval.n=16 (repeatable)")
DOMAIN = typer.Option(None, help="domain name (evolve domains list)")
MODEL = typer.Option(None, help="model spec, e.g. embedded:smollm2-135m-instruct")
THREADS = typer.Option(None, min=1, help="torch threads (hf backend)")
SEED = typer.Option(None, help="seed of every section (search, eval, training, agents)")
POLICY = typer.Option(None, help="a LoRA adapter folder applied to the model")
PRM = typer.Option(None, help="a trained PRM folder (needed by pvs, bon-*, beam, mcts)")
QUIET = typer.Option(False, help="no progress output")
WORKERS = typer.Option(None, "--workers", min=1, help="workers, each with its own backend, on Ray: a local cluster "
                       "unless --ray (needs the ray extra)")
RAY = typer.Option(None, "--ray", help="run the workers on this Ray cluster: HOST:6379, ray://HOST:10001, or auto "
                   "($RAY_ADDRESS)")


def config_from(path: Path | None, overrides: list[str], flags: dict[str, Any], seed: int | None = None) -> Config:
    """The config of a command: `flags` maps config keys (e.g. "data.domain") to flag values, None for unset."""
    extra = [f"{key}={value}" for key, value in flags.items() if value is not None]
    if seed is not None:
        extra += [f"{section}.seed={seed}" for section in SEEDED]
    return load_config(path, list(overrides) + extra)


def parse_modes(text: str, where: str = "--modes") -> list[str]:
    from evolve.infer.modes import MODES

    modes = [m.strip() for m in text.split(",") if m.strip()]
    for mode in modes:
        if mode not in MODES:
            raise ConfigError(f"unknown inference mode '{mode}'", where=where, fix=f"use some of: {', '.join(MODES)}")
    if not modes:
        raise ConfigError("no inference mode given", where=where, fix="write e.g. --modes cot,sc,pvs")
    return modes


def modes_flag(modes: list[str]) -> str:
    return f"[{', '.join(modes)}]"


def parse_where(items: list[str]) -> dict[str, str]:
    """`["subject=anatomy"]` -> {"subject": "anatomy"}."""
    found = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ConfigError(f"--where '{item}' is not FIELD=VALUE", where="--where", fix="write e.g. --where subject=anatomy")
        found[name.strip()] = value.strip()
    return found


def print_eval_report(report, console: Console) -> None:
    where = report.config.get("where") or {}
    chosen = f" ({', '.join(f'{k}={v}' for k, v in where.items())})" if where else ""
    table = Table(title=f"{report.domain}, split {report.split}{chosen}: {report.questions} questions, "
                        f"model {report.model}")
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


def print_run_report(out: Path, console: Console) -> None:
    from evolve.rounds.report import load_manifests, markdown_table

    console.print(markdown_table(load_manifests(out)), markup=False, highlight=False, soft_wrap=True)
    console.print(f"report: {out / 'report.md'}  plot: {out / 'report.png'}")
