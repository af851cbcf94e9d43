"""`evolve demo`: the main job of `make demo`, one full self-evolution round on CPU."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from evolve.errors import ConfigError

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def demo(
    out: Path = typer.Option(Path("runs/demo"), help="run folder; re-running resumes it"),
    limit: int | None = typer.Option(None, help="medqa seeds to search (default: the preset's)"),
    model: str = typer.Option("embedded:smollm2-135m-instruct", help="base model spec"),
    set_: list[str] = typer.Option([], "--set", help="override a config key: --set eval.limit=4"),
) -> None:
    """One round on the bundled medqa seeds: search, harvest, LoRA SFT of the policy, PRM training,
    evaluation of the base model and the round's policy (CoT, SC, P-VS, best-of-N), and the report."""
    from evolve.cli.common import print_run_report
    from evolve.cli.render import progress_sink
    from evolve.config import load_config
    from evolve.rounds.runner import run_rounds
    from evolve.search.records import read_records
    from evolve.search.render import render_png

    preset = CONFIGS / "medqa-cpu.yaml"
    if not preset.exists():
        raise ConfigError("the CPU preset is missing", where=str(preset), fix="run the demo from a source checkout")
    overrides = [f"model.spec={model}", *([f"search.limit={limit}"] if limit else []), *set_]
    cfg = load_config(preset, overrides)
    console = Console()
    console.print(f"[bold]demo[/]: one self-evolution round on {cfg.search.limit} medqa seeds with {model} "
                  f"(preset {preset.name}), evaluated on {cfg.eval.limit} dev questions", soft_wrap=True)
    with progress_sink() as events:
        run_rounds(cfg, out, events=events)
    records = list(read_records(out / "round-1" / "trees.jsonl"))
    best = max(records, key=lambda r: (r["stats"]["correct_leaves"], r["stats"]["nodes"]))
    png = render_png(best, out / f"tree-{best['id']}.png")
    print_run_report(out, console)
    console.print(f"tree drawing: {png}")
