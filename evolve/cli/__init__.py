"""The `evolve` command line. Each command group lives in its own module."""

from __future__ import annotations

import os
import sys
import warnings

import typer

from evolve.errors import UserFacingError

app = typer.Typer(
    name="evolve",
    help="Self-evolving domain reasoner: MedS3-style MCTS search, domains and models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _register() -> None:
    # Imported here so `import evolve.cli` stays cheap until a command actually runs.
    from evolve.cli import demo_cmd, domains_cmd, eval_cmd, run_cmd, search_cmd, solve_cmd, tree_cmd

    app.add_typer(domains_cmd.app, name="domains", help="List, inspect, check and add task domains.")
    app.add_typer(tree_cmd.app, name="tree", help="Inspect search trees.")
    app.command("search", help="Run the batched MedS3 MCTS over a domain's questions.")(search_cmd.search)
    app.command("run", help="Self-evolution rounds: search, harvest, train policy and PRM, evaluate, report.")(
        run_cmd.run
    )
    app.command("demo", help="One self-evolution round on bundled medqa seeds with the embedded model.")(
        demo_cmd.demo
    )
    app.command("solve", help="Answer one question with an inference mode; prints steps and scores.")(solve_cmd.solve_command)
    app.command("eval", help="Accuracy (95% Wilson CI), tokens and time of inference modes on a split.")(eval_cmd.eval_command)
    _register_plugins()


def _register_plugins() -> None:
    """Command groups from packages that build on evolve (e.g. `agents`) register themselves through
    the `evolve.commands` entry point, so evolve never imports them by name."""
    from importlib.metadata import entry_points

    for entry in entry_points(group="evolve.commands"):
        app.add_typer(entry.load(), name=entry.name)


def _quiet_libraries() -> None:
    # Library progress bars and warnings would break the one-line error contract and the live bar.
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    # Deprecation notices between transformers and peft say nothing a user of `evolve` can act on.
    warnings.filterwarnings("ignore", category=FutureWarning)


def main(argv: list[str] | None = None) -> None:
    _quiet_libraries()
    _register()
    try:
        # standalone_mode=False returns `typer.Exit` codes instead of exiting: pass them on
        sys.exit(app(args=argv, standalone_mode=False) or 0)
    except UserFacingError as err:
        typer.secho(f"error: {err.one_line()}", err=True, fg="red")
        sys.exit(2)
    except KeyboardInterrupt:
        typer.secho("interrupted", err=True)
        sys.exit(130)
    except typer.Exit as exit_:
        sys.exit(exit_.exit_code)
    except SystemExit:
        raise
    except Exception as err:  # click usage errors surface here in non-standalone mode
        import click

        if isinstance(err, click.ClickException):
            err.show()
            sys.exit(err.exit_code)
        raise
