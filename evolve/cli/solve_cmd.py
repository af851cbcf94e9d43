"""`evolve solve`: answer one question with one inference mode and show the steps with their scores."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape

from evolve.cli.eval_cmd import check_prm_dir, infer_config, load_scorer, parse_modes
from evolve.errors import ConfigError

_LETTERED = re.compile(r"^\s*\(?([A-Za-z])\s*[\).:]\s*(.+)$", re.S)


def parse_options(text: str) -> dict[str, str]:
    """`"A) red|B) blue"` -> {"A": "red", "B": "blue"}; unlettered parts are lettered A, B, ... in order."""
    parts = [p.strip() for p in text.split("|") if p.strip()]
    if len(parts) < 2:
        raise ConfigError("a multiple-choice question needs at least two options", where="--options",
                          fix='write e.g. --options "A) red|B) blue"')
    matches = [_LETTERED.match(p) for p in parts]
    if all(matches):
        options = {m.group(1).upper(): m.group(2).strip() for m in matches}  # type: ignore[union-attr]
        if len(options) == len(parts):
            return options
    return {chr(ord("A") + i): p for i, p in enumerate(parts)}


def solve_command(
    question: str = typer.Argument(..., help="the question text"),
    domain: Optional[str] = typer.Option(None, help="domain whose prompt and answer format to use"),
    mode: str = typer.Option("cot", help="cot, sc, pvs, bon-last, bon-min, beam or mcts"),
    n: Optional[int] = typer.Option(None, "--n", help="samples for sc, pvs and bon-*"),
    options: Optional[str] = typer.Option(None, help='answer options for multiple choice: "A) ...|B) ..."'),
    policy: Optional[Path] = typer.Option(None, help="a LoRA adapter folder applied to the model"),
    prm: Optional[Path] = typer.Option(None, help="a trained PRM folder (needed by pvs, bon-*, beam, mcts)"),
    model: Optional[str] = typer.Option(None, help="model spec, e.g. embedded:smollm2-135m-instruct"),
    config: Optional[Path] = typer.Option(None, "--config", help="YAML preset"),
    set_: list[str] = typer.Option([], "--set", help="override a config key: --set eval.max_tokens=256"),
    threads: Optional[int] = typer.Option(None, help="torch threads (hf backend)"),
    seed: Optional[int] = typer.Option(None, help="sampling seed"),
) -> None:
    import time

    from domains import Question, load_domain
    from evolve.cli.search_cmd import model_from_config
    from evolve.infer.solve import check_modes, solve_many

    if len(parse_modes(mode)) != 1:
        raise ConfigError("--mode takes one mode", where="--mode", fix="use evolve eval to compare several modes")
    mode = mode.strip()
    cfg = infer_config(config, set_, None, domain=domain, n=n, model=model, threads=threads, seed=seed,
                       policy=policy)
    check_modes([mode], cfg.eval, has_scorer=prm is not None)
    check_prm_dir(prm)
    if not question.strip():
        raise ConfigError("the question is empty", where="QUESTION", fix="pass the question text as the argument")
    task_domain = load_domain(cfg.data.domain)
    q = Question(id="cli", question=question.strip(), answer="", options=parse_options(options) if options else None)
    generator = model_from_config(cfg)
    check_modes([mode], cfg.eval, generator, has_scorer=prm is not None)
    scorer = load_scorer(prm, cfg) if prm is not None else None
    started = time.perf_counter()
    solution = solve_many([q], task_domain, generator, mode, cfg.eval, scorer=scorer)[0]
    seconds = time.perf_counter() - started
    console = Console()
    for i, step in enumerate(solution.steps, start=1):
        score = f" [cyan]\\[{solution.scores[i - 1]:.3f}][/]" if solution.scores else ""
        console.print(f"[bold]Step {i}[/]{score}: {escape(step)}")
    console.print(f"[bold]answer:[/] {solution.answer if solution.answer is not None else '(none found)'}")
    if solution.votes:
        votes = ", ".join(f"{a}: {v:.3g}" for a, v in sorted(solution.votes.items(), key=lambda kv: -kv[1]))
        console.print(f"votes: {votes}")
    console.print(f"mode {mode}, {len(solution.candidates)} candidate(s), {solution.tokens} generated tokens, {seconds:.1f}s")
