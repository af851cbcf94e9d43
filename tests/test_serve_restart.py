"""kill -9 the server mid-stream, restart it, and find the conversations and the agent run intact."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.browser import ask, browser_page, need_browser, open_chat, pick
from tests.serve_helpers import free_port, wait_healthy

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
GOAL = "Which planet is the largest?\nA) Mars\nB) Jupiter\nC) Venus\nD) Earth"


def _start(home: Path, port: int, log: Path) -> subprocess.Popen:
    """The server, its stderr in `log`: pytest prints the log's tail (`_show`) when the test fails."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with log.open("ab") as stderr:
        return subprocess.Popen([sys.executable, str(ROOT / "tests" / "chat_server.py"), "--port", str(port), "--home",
                                 str(home), "--delay", "0.3"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                stderr=stderr)


def _show(log: Path) -> None:
    print(f"--- the server's stderr ({log}), last 6000 characters:")
    print(log.read_text(errors="replace")[-6000:])


def test_kill_9_mid_stream_keeps_conversations_and_the_agent_run_resumes(tmp_path):
    need_browser()
    from agents.run import read_state

    home, port, log = tmp_path / "home", free_port(), tmp_path / "server.log"
    base = f"http://127.0.0.1:{port}"
    server = _start(home, port, log)
    try:
        wait_healthy(base)
        with browser_page() as page:  # a conversation, saved by the web chat
            open_chat(page, base)
            pick(page, "#domain", "medcalc")
            ask(page, "What is 17 + 25?")
            page.get_by_text("The answer is 42.", exact=True).wait_for()
        seen: list[str] = []
        body = {"model": "agents/science", "stream": True, "messages": [{"role": "user", "content": GOAL}]}

        def stream() -> None:
            try:
                with httpx.stream("POST", f"{base}/v1/chat/completions", json=body, timeout=60) as response:
                    for line in response.iter_lines():
                        seen.append(line)
            except httpx.HTTPError:
                seen.append("<connection lost>")

        reader = threading.Thread(target=stream)
        reader.start()
        deadline = time.time() + 60
        while time.time() < deadline and sum("step 2 " in line for line in seen) == 0:
            time.sleep(0.05)
        assert any("step 2 " in line for line in seen), seen[-5:]
        server.send_signal(signal.SIGKILL)  # mid-stream: the run is between supervisor steps
        server.wait(10)
        reader.join(30)
        assert not any(line.strip() == "data: [DONE]" for line in seen)
    finally:
        if server.poll() is None:
            server.kill()
        _show(log)

    runs = list((home / "agents" / "runs").iterdir())
    assert len(runs) == 1
    killed = read_state(runs[0])
    assert 2 <= killed["step"] < 4 and not killed.get("overview")  # checkpointed mid-run, not finished
    ids_before = set(killed["hypotheses"])

    server = _start(home, port, log)
    try:
        wait_healthy(base)
        from evolve.chat.store import ConversationStore

        conversations = ConversationStore(home / "conversations.sqlite").list()
        assert [c.title for c in conversations] == ["What is 17 + 25?"]
        with browser_page(height=1400) as page:
            open_chat(page, base)
            page.click("#conversations input")
            page.get_by_role("option", name="What is 17 + 25?", exact=False).first.click()
            page.get_by_text("What is 17 + 25?").first.wait_for()
            page.get_by_role("tab", name="Agents").click()
            page.click("#agents-runs input")
            page.get_by_role("option", name=runs[0].name, exact=False).first.click()
            page.get_by_text("in progress: step", exact=False).first.wait_for()
            page.click("#agents-resume")
            page.get_by_text("Resumed from its last checkpoint.").wait_for()
            page.get_by_text("finished: step 4/4", exact=False).first.wait_for(timeout=120000)
    finally:
        server.kill()
        server.wait(10)
        _show(log)
    done = read_state(runs[0])
    assert done["overview"] and ids_before <= set(done["hypotheses"])
    assert len(done["actions"]) == len({a["id"] for a in done["actions"]})  # nothing ran twice
    assert json.loads((runs[0] / "run.json").read_text())["goal"] == GOAL
