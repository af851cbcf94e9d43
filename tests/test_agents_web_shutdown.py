"""A server shutting down stops the agents runs its web tab started, at a checkpoint they resume from."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.chat_server import build
from tests.serve_helpers import live, wait_healthy

QUESTION = "Which planet is the largest?\nA) Mars\nB) Jupiter\nC) Venus\nD) Earth"


def _steps(folder: Path) -> int:
    from agents.run import read_state

    return int(read_state(folder).get("step", 0))


def _wait_for(condition, folder: Path, timeout: float = 60.0) -> None:
    from agents import web

    deadline = time.time() + timeout
    while not condition():
        if time.time() > deadline:  # what the run said, so that a failure in CI explains itself
            thread = web._RUNNING.get(str(folder))
            raise AssertionError(f"timed out at step {_steps(folder)}; thread alive: {thread and thread.is_alive()}; "
                                 f"log: {web._LOGS.get(str(folder), [])[-12:]}")
        time.sleep(0.1)


def test_a_server_shutdown_stops_a_background_agents_run_which_then_resumes(tmp_path, monkeypatch):
    pytest.importorskip("gradio")
    from agents import web

    for table in ("_RUNNING", "_CANCEL", "_LOGS"):  # only this test's runs
        monkeypatch.setattr(web, table, {})
    from agents.chat import start_run

    app, host, _ids = build(tmp_path, delay=0.05, settings=["agents.budget=40"])
    host.start()
    with live(app) as base:
        wait_healthy(base)
        folder = start_run(host.context, "science", QUESTION, budget=40)
        assert web.launch(host.context, folder)
        _wait_for(lambda: _steps(folder) >= 2, folder)
    # leaving the block shut the server down: its lifespan stopped the run, which did not finish
    thread = web._RUNNING[str(folder)]
    assert not thread.is_alive()
    stopped_at = _steps(folder)
    assert 2 <= stopped_at < 40
    assert web._LOGS[str(folder)][-1] == "stopped: the server shut down"
    time.sleep(0.5)
    assert _steps(folder) == stopped_at  # nothing runs on after the shutdown

    assert web.launch(host.context, folder)  # Resume continues from the checkpoint
    _wait_for(lambda: _steps(folder) > stopped_at, folder)
    assert web.stop_runs() == [folder.name]
    assert not web._RUNNING[str(folder)].is_alive()
