"""A run killed with SIGKILL mid-way resumes from its SQLite checkpoint and ends exactly where an
uninterrupted run ends: no hypothesis, review or match is duplicated or lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agents.fakes import agents_generator
from agents.run import CHECKPOINTS, create_run, execute, read_state
from agents.runtime import question_dict
from domains import load_domain
from evolve.config import AgentsConfig

ROOT = Path(__file__).resolve().parents[1]
CHILD = "import sys; from pathlib import Path; from agents.run import execute; from agents.fakes import agents_generator; " \
        "execute(Path(sys.argv[1]), agents_generator(delay=0.2), batch_window=0.0)"
CONFIG = AgentsConfig(budget=9, initial_hypotheses=3, matches_per_step=2, meta_review_every=3)


def make_run(root: Path, run_id: str) -> Path:
    q = load_domain("science").load_split("dev", 1)[0]
    return create_run("Which is the largest planet?", "science", root=root, config=CONFIG, question=question_dict(q),
                      run_id=run_id, model="scripted")


def summary(state: dict) -> dict:
    return {
        "hypotheses": sorted((h["id"], h["answer"], h["status"], round(h["elo"], 6), h["matches"])
                             for h in state["hypotheses"].values()),
        "reviews": sorted(r["id"] for r in state["reviews"]),
        "matches": sorted((m["id"], m["a"], m["b"], m["outcome"]) for m in state["matches"]),
        "actions": [a["action"] for a in state["actions"]],
        "tokens": state["tokens"],
    }


@pytest.mark.slow
def test_sigkill_then_resume_matches_an_uninterrupted_run(tmp_path):
    reference = summary(execute(make_run(tmp_path, "reference"), agents_generator(), batch_window=0.0))

    folder = make_run(tmp_path, "killed")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(folder)], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    try:
        while time.time() < deadline:
            if (folder / CHECKPOINTS).exists() and read_state(folder).get("step", 0) >= 4:
                break
            if child.poll() is not None:
                pytest.fail(f"the run ended before it could be killed: {child.stdout.read().decode()[-2000:]}")
            time.sleep(0.05)
        else:
            pytest.fail("the run made no progress within 60 s")
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL

    interrupted = read_state(folder)
    assert 4 <= interrupted["step"] < CONFIG.budget and not interrupted.get("overview")

    resumed = execute(folder, agents_generator(), batch_window=0.0)
    assert resumed["overview"]
    got = summary(resumed)
    assert got == reference
    assert len(got["matches"]) == len({m[0] for m in got["matches"]}) >= 4
    assert len(got["hypotheses"]) >= 3


def test_a_finished_run_is_not_run_again(tmp_path):
    folder = make_run(tmp_path, "done")
    first = execute(folder, agents_generator(), batch_window=0.0)
    generator = agents_generator()
    second = execute(folder, generator, batch_window=0.0)
    assert generator.stats.calls == 0 and summary(second) == summary(first)


def test_a_run_folder_holds_its_inbox_from_the_start(tmp_path):
    import sqlite3

    from agents import inbox

    folder = make_run(tmp_path, "fresh")
    path = folder / inbox.INBOX_FILE
    assert path.is_file() and inbox.read_since(path, 0) == []
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    finally:
        conn.close()
    assert "feedback" in tables


def test_feedback_to_a_finished_run_steers_its_continuation(tmp_path):
    from agents import inbox
    from agents.nodes.metareview import leaderboard
    from agents.report import status_line
    from agents.run import extend, is_finished, load_meta, pending_feedback

    folder = make_run(tmp_path, "continued")
    first = execute(folder, agents_generator(), batch_window=0.0)
    assert is_finished(first)
    done = first["step"]  # supervisor decisions, the one to write the report included
    last = leaderboard(first, 99)[-1]["id"]
    assert leaderboard(first, 1)[0]["id"] != last
    inbox.post(folder / inbox.INBOX_FILE, "pin", "", last)
    assert pending_feedback(folder, first) == 1

    meta = extend(folder, 2)
    assert (meta["config"]["budget"], meta["continue_at"]) == (done + 2, done)
    assert load_meta(folder)["extensions"] == [{"steps": 2, "budget": done + 2, "at_step": done}]
    second = execute(folder, agents_generator(), batch_window=0.0)
    assert is_finished(second) and second["step"] == done + 3
    assert [a["step"] for a in second["actions"]] == list(range(done + 3))
    assert second["actions"][-1]["action"] == "final" and second["actions"][done - 1]["action"] == "final"
    # the pin was read at the first new step and leads the new report
    assert second["feedback"][-1] == {"id": "fb-0001", "kind": "pin", "text": "", "target": last, "step": done}
    assert second["hypotheses"][last]["pinned"] is True and leaderboard(second, 1)[0]["id"] == last
    assert f"(top hypothesis {last})" in second["overview"] and pending_feedback(folder, second) == 0
    assert status_line(second, done + 2).startswith(f"finished: step {done + 2}/{done + 2}")
    # continued once: a plain resume now leaves it alone
    generator = agents_generator()
    assert summary(execute(folder, generator, batch_window=0.0)) == summary(second) and generator.stats.calls == 0


def test_extend_gives_an_unfinished_run_more_budget(tmp_path):
    from agents.run import extend

    folder = make_run(tmp_path, "young")
    meta = extend(folder, 3)
    assert meta["config"]["budget"] == CONFIG.budget + 3 and "continue_at" not in meta


class _Stop(Exception):
    pass


def test_a_run_stopped_after_any_update_resumes_to_the_uninterrupted_end(tmp_path):
    """Stopping at every update in turn covers the moment when every task of a parallel step has written
    but the step is not yet checkpointed: such a run has no `next` node left and once looked finished."""
    reference = summary(execute(make_run(tmp_path, "reference"), agents_generator(), batch_window=0.0))
    updates: list[str] = []
    execute(make_run(tmp_path, "counted"), agents_generator(), batch_window=0.0,
            on_update=lambda node, _patch: updates.append(node))

    for stop_after in range(1, len(updates)):
        seen = []

        def stop(node: str, _patch: dict, seen: list = seen, stop_after: int = stop_after) -> None:
            seen.append(node)
            if len(seen) == stop_after:
                raise _Stop()

        folder = make_run(tmp_path, f"stopped-{stop_after}")
        with pytest.raises(_Stop):
            execute(folder, agents_generator(), batch_window=0.0, on_update=stop)
        resumed = execute(folder, agents_generator(), batch_window=0.0)
        assert summary(resumed) == reference, f"stopped after update {stop_after} ({updates[stop_after - 1]})"
