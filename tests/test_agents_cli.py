"""`evolve agents status | show | export | feedback` on a run made with the scripted model."""

from __future__ import annotations

import pytest

from agents import inbox
from agents.fakes import agents_generator
from agents.run import create_run, execute
from evolve.cli import main
from evolve.config import AgentsConfig

GOAL = "Which planet is the largest?\nA) Mars\nB) Saturn\nC) Earth\nD) Jupiter"


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    folder = create_run(GOAL, "science", root=root, config=AgentsConfig(budget=8, initial_hypotheses=3),
                        run_id="planets", model="scripted")
    state = execute(folder, agents_generator(), batch_window=0.0)
    return root, folder, state


def cli(capsys, *args) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    out = capsys.readouterr()
    return exit_.value.code, out.out, out.err


def test_goal_with_option_lines_becomes_a_verifiable_question(finished):
    _, _, state = finished
    assert state["question"]["options"] == {"A": "Mars", "B": "Saturn", "C": "Earth", "D": "Jupiter"}
    assert all(h["answer"] in "ABCD" for h in state["hypotheses"].values())


def test_status_and_show(finished, capsys):
    root, _, state = finished
    code, out, _ = cli(capsys, "agents", "status", "planets", "--runs-dir", str(root))
    # 8 budgeted steps, then the decision to write the report (state step 9), shown as 8/8, never 9/8
    assert state["step"] == 9 and code == 0 and out.startswith("finished: step 8/8")
    code, out, _ = cli(capsys, "agents", "show", "planets", "--runs-dir", str(root))
    assert code == 0 and "## Leaderboard" in out and "## Matches" in out and "lineage:" in out
    assert out.count("\n- M0") == len(state["matches"])


def test_export_writes_markdown_and_two_pngs(finished, capsys, tmp_path):
    root, _, _ = finished
    code, out, _ = cli(capsys, "agents", "export", "planets", "--runs-dir", str(root), "--out", str(tmp_path / "x"))
    assert code == 0
    assert (tmp_path / "x" / "report.md").read_text().startswith("# Agents run:")
    for name in ("proximity.png", "elo.png"):
        assert (tmp_path / "x" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_feedback_goes_to_the_inbox(finished, capsys):
    root, folder, _ = finished
    code, out, _ = cli(capsys, "agents", "feedback", "planets", "focus on mass", "--pin", "H000-1",
                       "--runs-dir", str(root))
    # the run is finished: the message says that the entries wait for a continuation, and which
    assert code == 0 and out.strip() == ("run planets is finished; queued 2 feedback entries for `evolve agents "
                                         "resume planets --budget N`, which continues it for N more steps")
    entries = inbox.read_since(folder / inbox.INBOX_FILE, 0)
    assert [(e["kind"], e["target"]) for e in entries] == [("note", None), ("pin", "H000-1")]


def test_unknown_run_is_a_one_line_error(tmp_path, capsys):
    code, _, err = cli(capsys, "agents", "status", "nope", "--runs-dir", str(tmp_path))
    assert code == 2 and err.startswith("error: ") and "no agents run 'nope'" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli(capsys, "agents", "feedback", "nope", "x", "--runs-dir", str(tmp_path))
    assert code == 2


@pytest.mark.slow
def test_run_with_a_real_gibberish_model_finishes_without_crashing(tiny_model_dir, tmp_path, capsys):
    """A random-weights model writes no JSON and no steps: every parse fails, is repaired once, and is
    recorded; the run still reaches its report."""
    code, out, _ = cli(capsys, "agents", "run", "Why do leaves change colour?\nA) Less chlorophyll\nB) Frost",
                       "--domain", "science",
                       "--budget", "2", "--model", str(tiny_model_dir), "--runs-dir", str(tmp_path), "--id", "tiny",
                       "--threads", "1", "--quiet")
    assert code == 0 and out.startswith("finished: step ")
    code, out, _ = cli(capsys, "agents", "status", "tiny", "--runs-dir", str(tmp_path))
    assert code == 0 and "budget spent" in out


@pytest.mark.parametrize("goal,found", [
    ("Which planet is the largest?", "no lettered option lines"),
    ("Which planet is the largest? A) Mars B) Jupiter", "no lettered option lines"),  # options on one line
    ("Which planet is the largest?\nA) Mars", "1 lettered option line"),
    ("A) Mars\nB) Jupiter", "no question before the options"),
])
def test_a_multiple_choice_goal_without_options_is_refused_before_any_model_loads(goal, found, tmp_path, capsys):
    # the model does not exist: the goal error must come first, before a folder or a model
    code, out, err = cli(capsys, "agents", "run", goal, "--domain", "science", "--runs-dir", str(tmp_path / "runs"),
                         "--model", str(tmp_path / "no-such-model"), "--quiet")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert err.startswith(f"error: GOAL: domain 'science' is multiple choice, but the goal has {found} -- fix: ")
    assert '"A) Mars", then "B) Jupiter" on the next line' in err
    assert not (tmp_path / "runs").exists()


def test_resume_with_budget_continues_a_finished_run_with_its_feedback(tmp_path, capsys, monkeypatch):
    from agents.nodes.metareview import leaderboard

    # the scripted model stands in for the one run.json names; everything else is the real command
    monkeypatch.setattr("evolve.api.build_generator", lambda model, lora=None: agents_generator())
    folder = create_run(GOAL, "science", root=tmp_path, config=AgentsConfig(budget=5, initial_hypotheses=2),
                        run_id="more", model="scripted")
    first = execute(folder, agents_generator(), batch_window=0.0)
    code, _, err = cli(capsys, "agents", "resume", "more", "--runs-dir", str(tmp_path), "--quiet")
    assert code == 0 and "run more is finished; `evolve agents resume more --budget N` continues it" in err
    last = leaderboard(first, 99)[-1]["id"]
    code, out, _ = cli(capsys, "agents", "feedback", "more", "--pin", last, "--runs-dir", str(tmp_path))
    assert code == 0 and out.startswith("run more is finished; queued 1 feedback entry for")
    code, out, _ = cli(capsys, "agents", "resume", "more", "--budget", "2", "--runs-dir", str(tmp_path), "--quiet")
    steps = first["step"] + 2
    assert code == 0 and out.startswith(f"finished: step {steps}/{steps}")
    assert f"Answer: {first['hypotheses'][last]['answer']} (top hypothesis {last})" in out
