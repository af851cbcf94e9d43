"""`evolve demo`: the main job of `make demo`, one full self-evolution round on CPU."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from evolve.errors import ConfigError

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
# The demo domains and their CPU presets: medcalc (the default) shows learning, medqa the pipeline on
# vignettes the 135M model cannot reason through. Minutes are measured on 2 idle cores (bench/RESULTS.md).
DEMOS = {"medcalc": ("medcalc-cpu.yaml", 10), "medqa": ("medqa-cpu.yaml", 8)}


def demo(
    out: Path = typer.Option(Path("runs/demo"), help="run folder; re-running resumes it"),
    domain: str = typer.Option("medcalc", help=f"demo domain: {', '.join(DEMOS)}"),
    limit: int | None = typer.Option(None, help="seeds to search (default: the preset's)"),
    model: str = typer.Option("embedded:smollm2-135m-instruct", help="base model spec"),
    set_: list[str] = typer.Option([], "--set", help="override a config key: --set eval.limit=4"),
) -> None:
    """One round on a bundled domain (generated medical doses by default): search, harvest, LoRA SFT of
    the policy, PRM training, evaluation of the base model and the round's policy (CoT, SC, P-VS,
    best-of-N), and the report with intervals."""
    from evolve.cli.common import print_run_report
    from evolve.cli.render import progress_sink
    from evolve.config import load_config
    from evolve.rounds.runner import run_rounds
    from evolve.search.records import read_records
    from evolve.search.render import render_png

    if domain not in DEMOS:
        raise ConfigError(f"no demo for domain '{domain}'", where="--domain", fix=f"use one of: {', '.join(DEMOS)}")
    preset_name, minutes = DEMOS[domain]
    preset = CONFIGS / preset_name
    if not preset.exists():
        raise ConfigError("the CPU preset is missing", where=str(preset), fix="run the demo from a source checkout")
    overrides = [f"model.spec={model}", *([f"search.limit={limit}"] if limit else []), *set_]
    cfg = load_config(preset, overrides)
    console = Console()
    console.print(f"[bold]demo[/]: one self-evolution round on {cfg.search.limit} {domain} seeds with {model} "
                  f"(preset {preset.name}), evaluated on {cfg.eval.limit} {cfg.eval.split} questions. Expected: "
                  f"about {minutes} minutes on 2 idle cores, longer under load; progress lines follow.", soft_wrap=True)
    with progress_sink() as events:
        run_rounds(cfg, out, events=events)
    records = list(read_records(out / "round-1" / "trees.jsonl"))
    best = max(records, key=lambda r: (r["stats"]["correct_leaves"], r["stats"]["nodes"]))
    png = render_png(best, out / f"tree-{best['id']}.png")
    print_run_report(out, console)
    console.print(f"tree drawing: {png}")
