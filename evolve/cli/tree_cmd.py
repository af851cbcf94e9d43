"""`evolve tree`: look at search trees."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.tree import Tree as RichTree

from evolve.search.records import TreeFileError, read_records

app = typer.Typer(no_args_is_help=True)


def find_record(path: Path, question_id: str) -> dict:
    ids = []
    for record in read_records(path):
        if record["id"] == question_id:
            return record
        ids.append(record["id"])
    shown = ", ".join(ids[:8]) + (" ..." if len(ids) > 8 else "")
    raise TreeFileError(f"no tree for question '{question_id}'", where=str(path), fix=f"use one of: {shown}")


def as_rich(record: dict) -> RichTree:
    nodes = record["nodes"]

    def label(n: dict) -> str:
        mark = ""
        if n["action"] == "finish":
            mark = " [green]✓[/]" if n["correct"] else " [red]✗[/]"
            mark += f" answer={n['answer']}"
        value = f" v={n['value']:.2f}" if n["value"] is not None and n["action"] == "reason" else ""
        step = n["step"].replace("\n", " ")
        return f"[dim]#{n['id']} {n['action']} Q={n['q']:.2f} N={n['visits']}{value}[/]{mark} {step[:90]}"

    root = RichTree(label(nodes[0]))

    def grow(branch: RichTree, node: dict) -> None:
        for child_id in node["children"]:
            grow(branch.add(label(nodes[child_id])), nodes[child_id])

    grow(root, nodes[0])
    return root


@app.command("show")
def show(
    file: Path = typer.Argument(..., help="a tree file written by evolve search"),
    id_: str = typer.Option(..., "--id", help="question id"),
    out: Path | None = typer.Option(None, help="folder for <id>.graphml and <id>.png (default: next to FILE)"),
) -> None:
    """Print one tree, and export it to GraphML and a PNG drawing."""
    from evolve.search.render import render_png, write_graphml

    record = find_record(file, id_)
    folder = out or file.parent / "trees"
    console = Console()
    console.print(as_rich(record))
    graphml = write_graphml(record, folder / f"{id_}.graphml")
    png = render_png(record, folder / f"{id_}.png")
    console.print(f"graphml: {graphml}\npng: {png}")


@app.command("list")
def list_(file: Path = typer.Argument(..., help="a tree file written by evolve search")) -> None:
    """One line per tree: id, nodes, correct leaves, pos/neg."""
    console = Console()
    for record in read_records(file):
        s = record["stats"]
        console.print(f"{record['id']}\tnodes={s['nodes']}\tcorrect={s['correct_leaves']}/{s['finish_leaves']}"
                      f"\tpos={len(record['pos'])}\tneg={len(record['neg'])}\tgold={record['gold']}")
