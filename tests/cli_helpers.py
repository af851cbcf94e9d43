"""Running the `evolve` command line in-process, as the CLI tests do."""

import pytest

from evolve.cli import main


def run_cli(args, capsys):
    """(exit code, stdout, stderr) of `evolve ARGS`."""
    with pytest.raises(SystemExit) as done:
        main(args)
    out, err = capsys.readouterr()
    return done.value.code, out, err
