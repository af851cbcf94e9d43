"""`evolve demo`: the main job of `make demo`, a small real search on CPU."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from evolve.errors import ConfigError

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def demo(
    out: Path = typer.Option(Path("runs/demo"), help="run folder"),
    limit: int = typer.Option(8, help="bundled medqa seeds to search"),
    model: str = typer.Option("embedded:smollm2-135m-instruct", help="model spec"),
) -> None:
    """Search bundled medqa seeds with the embedded model, then summarise and draw one tree."""
    from evolve.cli.search_cmd import model_from_config, print_summary
    from evolve.config import load_config
    from evolve.search.records import read_records
    from evolve.search.render import render_png
    from evolve.search.runner import run_search

    preset = CONFIGS / "search-cpu.yaml"
    if not preset.exists():
        raise ConfigError("the CPU preset is missing", where=str(preset), fix="run the demo from a source checkout")
    cfg = load_config(preset, [f"data.domain=medqa", f"search.limit={limit}", f"model.spec={model}"])
    console = Console()
    console.print(f"[bold]demo[/]: MedS3 MCTS on {limit} medqa seeds with {model} (preset {preset.name})")
    summary = run_search(cfg, out / "trees.jsonl", generator=lambda: model_from_config(cfg),
                         console=Console(stderr=True))
    print_summary(summary, console)
    records = list(read_records(out / "trees.jsonl"))
    best = max(records, key=lambda r: (r["stats"]["correct_leaves"], r["stats"]["nodes"]))
    png = render_png(best, out / f"tree-{best['id']}.png")
    console.print(f"tree drawing: {png}   (evolve tree show {out / 'trees.jsonl'} --id {best['id']})")
