"""`evolve solve`: answer one question with one inference mode and show the steps with their scores."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from evolve.cli.common import CONFIG, MODEL, POLICY, PRM, SEED, SET, THREADS, config_from, modes_flag, parse_modes
from evolve.errors import ConfigError


def parse_options(text: str) -> dict[str, str]:
    """`--options "A) red|B) blue"` (see `domains.pasted.parse_options`), or a one-line error."""
    from domains.pasted import parse_options as parse

    options = parse(text)
    if options is None:
        raise ConfigError("a multiple-choice question needs at least two options", where="--options",
                          fix='write e.g. --options "A) red|B) blue"')
    return options


def _mode_help() -> str:
    from evolve.infer.modes import modes_help

    return modes_help()


def solve_command(
    question: str = typer.Argument(..., help="the question text"),
    domain: str | None = typer.Option(None, help="domain whose prompt and answer format to use"),
    mode: str = typer.Option("cot", help=f"the inference mode: {_mode_help()}"),
    n: int | None = typer.Option(None, "--n", min=1, help="samples for sc, pvs and bon-*"),
    options: str | None = typer.Option(None, help='answer options for multiple choice: "A) ...|B) ..."'),
    policy: Path | None = POLICY,
    prm: Path | None = PRM,
    model: str | None = MODEL,
    config: Path | None = CONFIG,
    set_: list[str] = SET,
    threads: int | None = THREADS,
    seed: int | None = SEED,
) -> None:
    from domains import Question
    from evolve.api import Reasoner
    from evolve.infer.solve import check_modes

    modes = parse_modes(mode, where="--mode")
    if len(modes) != 1:
        raise ConfigError("--mode takes one mode", where="--mode", fix="use evolve eval to compare several modes")
    mode = modes[0]
    if not question.strip():
        raise ConfigError("the question is empty", where="QUESTION", fix="pass the question text as the argument")
    cfg = config_from(config, set_, {"data.domain": domain, "eval.n": n, "model.spec": model, "model.threads": threads,
                                     "model.lora": policy, "eval.modes": modes_flag([mode])}, seed)
    check_modes([mode], cfg.eval, has_scorer=prm is not None, where="--mode")
    q = Question(id="cli", question=question.strip(), answer="", options=parse_options(options) if options else None)
    reasoner = Reasoner.from_config(cfg, prm=prm)
    started = time.perf_counter()
    solution = reasoner.solve([q], mode)[0]
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
