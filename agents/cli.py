"""`evolve agents ...`: run, resume, steer and inspect co-scientist runs (registered via the
`evolve.commands` entry point)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

app = typer.Typer(help="Co-scientist agent loop: generate, review, rank, evolve and report.", no_args_is_help=True)

RUNS_DIR = typer.Option(None, "--runs-dir", help="folder of runs (default $EVOLVE_HOME/agents/runs)")


def run_config(meta: dict, threads: int | None):
    """The config a run was started with (model section, agents section), with this call's threads."""
    from evolve.config import Config

    config = Config.model_validate({"model": meta.get("model_config") or {"spec": meta["model"]},
                                    "agents": meta["config"], "data": {"domain": meta["domain"]}})
    if threads is not None:
        config.model.threads = threads
    return config


def progress_printer(console: Console):
    """One line per node update (`agents.progress.update_lines`): supervisor steps in bold, failures in
    yellow, worker results indented."""
    from rich.markup import escape

    from agents.progress import update_lines

    def on_update(node: str, patch: dict) -> None:
        for line in update_lines(node, patch):
            if node == "supervisor":
                head, _, rest = line.partition(" (")
                console.print(f"[bold]{escape(head)}[/] ({escape(rest)}" if rest else f"[bold]{escape(line)}[/]")
            elif node == "final_report":
                console.print(f"[bold]{escape(line)}[/]")
            elif line.startswith("!"):
                console.print(f"  {escape(line)}", style="yellow")
            else:
                console.print(f"  {escape(line)}")

    return on_update


def _execute(folder: Path, meta: dict, threads: int | None, quiet: bool) -> None:
    from agents.report import status_line
    from agents.run import execute
    from evolve.api import build_generator, build_scorer

    console = Console(stderr=True)
    config = run_config(meta, threads)
    scorer = build_scorer(meta["prm"], config) if meta.get("prm") else None
    generator = build_generator(config.model, meta.get("policy"))
    try:
        state = execute(folder, generator, scorer=scorer, on_update=None if quiet else progress_printer(console),
                        base=config)
    except KeyboardInterrupt:
        from evolve.errors import Interrupted

        raise Interrupted(f"run {folder.name} is checkpointed in {folder}",
                          resume=["agents", "resume", str(folder)]) from None
    Console().print(status_line(state, meta["config"]["budget"]))
    Console().print(state.get("overview", ""))


@app.command("run")
def run(
    goal: str = typer.Argument(..., help="a research goal, or a question with lettered option lines"),
    domain: str | None = typer.Option(None, help="domain name (evolve domains list); default data.domain"),
    budget: int | None = typer.Option(None, min=1, help="supervisor steps before the final report (agents.budget)"),
    model: str | None = typer.Option(None, help="model spec (model.spec)"),
    policy: str | None = typer.Option(None, "--policy", help="a LoRA policy folder from self-evolution"),
    prm: str | None = typer.Option(None, "--prm", help="a trained PRM folder: P-VS generation and step reviews"),
    idea: list[str] = typer.Option([], "--idea", help="a seed idea for the first hypotheses (repeatable)"),
    deep_verify: bool | None = typer.Option(None, "--deep-verify/--no-deep-verify",
                                               help="split hypotheses into assumptions and check each"),
    judge: str | None = typer.Option(None, help="who judges matches: llm (both orders) or prm (needs --prm)"),
    config: Path | None = typer.Option(None, "--config", help="YAML preset; its agents section sets the loop's knobs"),
    set_: list[str] = typer.Option([], "--set", help="override a config key: --set agents.matches_per_step=6"),
    seed: int | None = typer.Option(None, help="seed of every section (search, eval, training, agents)"),
    run_id: str | None = typer.Option(None, "--id", help="name of the run folder"),
    runs_dir: Path | None = RUNS_DIR,
    threads: int | None = typer.Option(None, min=1, help="torch threads (hf backends)"),
    quiet: bool = typer.Option(False, help="no live progress"),
) -> None:
    """Start a run; Ctrl-C stops it, `evolve agents resume RUN` continues it."""
    from agents.errors import AgentsError
    from agents.run import create_run, load_meta
    from domains import load_domain
    from evolve.cli.common import config_from

    cfg = config_from(config, set_, {"data.domain": domain, "agents.budget": budget, "model.spec": model,
                                     "model.threads": threads, "agents.deep_verify": deep_verify,
                                     "agents.judge": judge}, seed)
    load_domain(cfg.data.domain)  # an unknown domain fails here, before a folder is made
    if cfg.agents.judge == "prm" and not prm:
        raise AgentsError("--judge prm needs a PRM to judge with", where="--judge",
                          fix="use --judge llm, or --judge prm together with --prm DIR")
    folder = create_run(goal, cfg.data.domain, root=runs_dir, model=cfg.model.spec, policy=policy, prm=prm,
                        config=cfg.agents, seed_ideas=list(idea), run_id=run_id, model_config=cfg.model.model_dump())
    Console(stderr=True).print(f"run {folder.name} in {folder}")
    _execute(folder, load_meta(folder), threads, quiet)


@app.command("resume")
def resume(run: str = typer.Argument(..., help="run id or folder"), runs_dir: Path | None = RUNS_DIR,
           budget: int | None = typer.Option(None, "--budget", min=1,
                                             help="N more supervisor steps: continues a finished run too, with the "
                                                  "feedback sent since"),
           threads: int | None = typer.Option(None, help="torch threads"),
           quiet: bool = typer.Option(False, help="no live progress")) -> None:
    """Continue a run from its last checkpoint; `--budget N` gives it N more steps."""
    from agents.run import extend, is_finished, load_meta, pending_feedback, read_state, resolve_run

    folder = resolve_run(run, runs_dir)
    if budget is not None:
        extend(folder, budget)
    else:
        state = read_state(folder)
        if is_finished(state):
            waiting = pending_feedback(folder, state)
            note = f" and {waiting} unread feedback entr{'y' if waiting == 1 else 'ies'}" if waiting else ""
            Console(stderr=True).print(f"run {folder.name} is finished{note}; `evolve agents resume {folder.name} "
                                       "--budget N` continues it for N more steps", soft_wrap=True, markup=False)
    _execute(folder, load_meta(folder), threads, quiet)


@app.command("feedback")
def feedback(
    run: str = typer.Argument(..., help="run id or folder"),
    text: str = typer.Argument("", help="a note for the agents (appended to their prompts)"),
    pin: str | None = typer.Option(None, "--pin", help="keep this hypothesis at the top"),
    reject: str | None = typer.Option(None, "--reject", help="take this hypothesis out of play"),
    add_hypothesis: str | None = typer.Option(None, "--add-hypothesis", help="add your own hypothesis"),
    runs_dir: Path | None = RUNS_DIR,
) -> None:
    """Steer a run, also while it is running: the supervisor reads this at its next step."""
    from agents import inbox
    from agents.errors import AgentsError
    from agents.run import is_finished, read_state, resolve_run

    folder = resolve_run(run, runs_dir)
    path = folder / inbox.INBOX_FILE
    posted = []
    if text:
        posted.append(inbox.post(path, "note", text))
    if pin:
        posted.append(inbox.post(path, "pin", text, pin))
    if reject:
        posted.append(inbox.post(path, "reject", text, reject))
    if add_hypothesis:
        posted.append(inbox.post(path, "add", add_hypothesis))
    if not posted:
        raise AgentsError("nothing to send", where="feedback", fix='pass a note, --pin ID, --reject ID or --add-hypothesis "..."')
    entries = f"{len(posted)} feedback entr{'y' if len(posted) == 1 else 'ies'}"
    if is_finished(read_state(folder)):  # nothing reads the inbox until the run is continued
        Console().print(f"run {folder.name} is finished; queued {entries} for "
                        f"`evolve agents resume {folder.name} --budget N`, which continues it for N more steps",
                        soft_wrap=True, markup=False)
    else:
        Console().print(f"queued {entries} for {folder.name}")


@app.command("status")
def status(run: str = typer.Argument(..., help="run id or folder"), runs_dir: Path | None = RUNS_DIR) -> None:
    """One line: step, last action, hypotheses, matches."""
    from agents.report import status_line
    from agents.run import load_meta, read_state, resolve_run

    folder = resolve_run(run, runs_dir)
    Console().print(status_line(read_state(folder), load_meta(folder)["config"]["budget"]))


@app.command("show")
def show(run: str = typer.Argument(..., help="run id or folder"), runs_dir: Path | None = RUNS_DIR) -> None:
    """Leaderboard, lineage, reviews and matches."""
    from agents.report import markdown
    from agents.run import load_meta, read_state, resolve_run

    folder = resolve_run(run, runs_dir)
    print(markdown(read_state(folder), load_meta(folder)), end="")


@app.command("export")
def export(run: str = typer.Argument(..., help="run id or folder"),
           out: Path | None = typer.Option(None, "--out", help="folder to write (default RUN/export)"),
           runs_dir: Path | None = RUNS_DIR) -> None:
    """A markdown report, a proximity-graph PNG and an Elo-over-time PNG."""
    from agents.report import export as write
    from agents.run import load_meta, read_state, resolve_run

    folder = resolve_run(run, runs_dir)
    for path in write(read_state(folder), load_meta(folder), out or folder / "export"):
        Console().print(str(path))
