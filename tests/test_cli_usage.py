"""Every `evolve` command, walked: a usage mistake is one line on stderr with exit 2, never a traceback."""

from __future__ import annotations

import pytest

from evolve.cli import _register, app
from tests.cli_helpers import run_cli

_register()


def _commands():
    """(path, click command) of every leaf command, agents' included."""
    import typer.main

    found = []

    def walk(command, path):
        subcommands = getattr(command, "commands", None)
        if subcommands:
            for name, sub in subcommands.items():
                walk(sub, [*path, name])
        else:
            found.append((path, command))

    walk(typer.main.get_command(app), [])
    return found


COMMANDS = _commands()


def run(capsys, args):
    return run_cli(args, capsys)


def one_line_error(code, err):
    lines = [line for line in err.splitlines() if line.strip()]
    return code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err


def test_the_walk_finds_every_command():
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"search", "run", "demo", "solve", "eval", "domains add", "tree show", "agents run", "agents feedback"} <= names


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=[" ".join(p) for p, _ in COMMANDS])
def test_an_unknown_flag_is_one_line(capsys, path):
    code, _, err = run(capsys, [*path, "--bogus-flag"])
    assert one_line_error(code, err) and "--bogus-flag" in err and f"evolve {' '.join(path)} --help" in err


@pytest.mark.parametrize("path", [p for p, c in COMMANDS if any(x.required for x in c.params)],
                         ids=[" ".join(p) for p, c in COMMANDS if any(x.required for x in c.params)])
def test_a_missing_argument_is_one_line(capsys, path):
    code, _, err = run(capsys, list(path))
    assert one_line_error(code, err) and "Missing" in err


def _numeric_option(command):
    for param in command.params:
        annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
        if param.param_type_name == "option" and annotation in (int, float) and param.opts:
            return param.opts[0]
    return None


NUMERIC = [(p, _numeric_option(c)) for p, c in COMMANDS if _numeric_option(c)]


@pytest.mark.parametrize(("path", "flag"), NUMERIC, ids=[" ".join(p) for p, _ in NUMERIC])
def test_a_bad_number_names_the_flag(capsys, path, flag):
    code, _, err = run(capsys, [*path, flag, "abc"])
    assert one_line_error(code, err) and f"'{flag}'" in err


@pytest.mark.parametrize("args", [[], ["agents"], ["domains"], ["tree"]])
def test_a_group_alone_prints_its_help(capsys, args):
    code, out, err = run(capsys, args)
    assert code == 0 and "Usage:" in out and err == ""


def test_version(capsys):
    from evolve import __version__

    code, out, _ = run(capsys, ["--version"])
    assert (code, out.strip()) == (0, f"evolve {__version__}")


@pytest.mark.parametrize(("args", "needle"), [
    (["solve", "q?", "--mode", "foo"], "--mode: unknown inference mode 'foo'"),
    (["search", "--out", "x.jsonl", "--limit", "-1"], "'--limit'"),
    (["eval", "--n", "0"], "'--n'"),
    (["solve", "q?", "--policy", "/no/such/adapter"], "policy adapter folder '/no/such/adapter' does not exist"),
])
def test_messages_name_the_flag_the_user_typed(capsys, args, needle):
    code, _, err = run(capsys, args)
    assert one_line_error(code, err) and needle in err, err
