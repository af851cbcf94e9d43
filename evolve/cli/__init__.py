"""The `evolve` command line. Each command group lives in its own module.

Every usage mistake (an unknown command or flag, a missing argument, a bad value) and every typed
error is one line on stderr and exit 2; `evolve` alone prints the help; Ctrl-C during a resumable
command says what is saved and the command that resumes (exit 130). No user mistake shows a traceback.
"""

from __future__ import annotations

import os
import shlex
import sys
import warnings

import typer
from typer._click import exceptions as click_errors  # typer bundles its own click

from evolve import __version__
from evolve.errors import Interrupted, UserFacingError

app = typer.Typer(
    name="evolve",
    help="Self-evolving domain reasoner: MedS3-style MCTS search, domains and models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"evolve {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="print the version and exit")) -> None:
    """Self-evolving domain reasoner: MedS3-style MCTS search, domains and models."""


def _register() -> None:
    # Imported here so `import evolve.cli` stays cheap until a command actually runs.
    from evolve.cli import demo_cmd, domains_cmd, eval_cmd, prm_cmd, run_cmd, search_cmd, serve_cmd, solve_cmd, tree_cmd

    app.add_typer(domains_cmd.app, name="domains", help="List, inspect, check and add task domains.")
    app.add_typer(prm_cmd.app, name="prm", help="Check a trained PRM against the true step labels.")
    app.add_typer(tree_cmd.app, name="tree", help="Inspect search trees.")
    app.command("search", help="Run the batched MedS3 MCTS over a domain's questions.")(search_cmd.search)
    app.command("run", help="Self-evolution rounds: search, harvest, train policy and PRM, evaluate, report.")(
        run_cmd.run
    )
    app.command("demo", help="One self-evolution round on a bundled domain (generated doses by default) with the embedded model.")(
        demo_cmd.demo
    )
    app.command("solve", help="Answer one question with an inference mode; prints steps and scores.")(solve_cmd.solve_command)
    app.command("eval", help="Accuracy (95% Wilson CI), tokens and time of inference modes on a split.")(eval_cmd.eval_command)
    app.command("serve", help="An OpenAI-compatible API (with the web chat at /) on a run's policy and PRM.")(
        serve_cmd.serve
    )
    app.command("chat", help="Chat with a reasoner in the browser, or in this terminal with --terminal.")(serve_cmd.chat)
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


def _usage_line(err: click_errors.UsageError) -> str:
    """click's usage error as one line: the problem, then the command's usage and where to get help."""
    ctx = err.ctx
    hint = ""
    if ctx is not None:
        hint = f" -- usage: {ctx.command_path} {' '.join(ctx.command.collect_usage_pieces(ctx))}; " \
               f"see {ctx.command_path} --help"
    return f"error: {err.format_message().strip().splitlines()[0]}{hint}"


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    _quiet_libraries()
    _register()
    try:
        # standalone_mode=False returns `typer.Exit` codes instead of exiting: pass them on
        sys.exit(app(args=argv, standalone_mode=False, prog_name="evolve") or 0)
    except Interrupted as err:
        typer.secho(f"{err.message}; resume with: {shlex.join(['evolve', *(err.resume or argv)])}", err=True)
        sys.exit(130)
    except UserFacingError as err:
        typer.secho(f"error: {err.one_line()}", err=True, fg="red")
        sys.exit(2)
    except KeyboardInterrupt:
        typer.secho("interrupted", err=True)
        sys.exit(130)
    except click_errors.NoArgsIsHelpError as err:  # `evolve` or `evolve agents` alone: the help, exit 0
        typer.echo(err.ctx.get_help())
        sys.exit(0)
    except click_errors.UsageError as err:
        typer.secho(_usage_line(err), err=True, fg="red")
        sys.exit(2)
    except click_errors.ClickException as err:
        typer.secho(f"error: {err.format_message()}", err=True, fg="red")
        sys.exit(2)
    except typer.Exit as exit_:
        sys.exit(exit_.exit_code)
    except click_errors.TyperException as err:  # anything else typer raises for bad input
        typer.secho(f"error: {err}", err=True, fg="red")
        sys.exit(2)
