"""The web chat in a real browser (chromium via Playwright), on a live server with scripted models."""

from __future__ import annotations

import re
import time

import pytest

from tests.browser import ask, browser_page, need_browser, open_chat, pick
from tests.chat_server import build
from tests.serve_helpers import live, wait_healthy

pytestmark = pytest.mark.slow

QUESTION = "Which planet is the largest?\nA) Mars\nB) Jupiter\nC) Venus\nD) Earth"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    need_browser()
    home = tmp_path_factory.mktemp("web")
    app, host, _ids = build(home, delay=0.15, settings=["agents.budget=30"])
    host.start()
    with live(app) as base:
        wait_healthy(base)
        yield base, home


def _board(page) -> list[list[str]]:
    """The leaderboard's rows as cell texts."""
    rows = page.locator("#agents-leaderboard tbody tr")
    return [[c.strip() for c in rows.nth(i).locator("td").all_text_contents()] for i in range(rows.count())]


def _expand_thinking(page) -> None:
    for title in page.get_by_text("Thinking:").all():
        title.click()


def test_a_question_shows_scored_steps_and_the_answer(server):
    base, _home = server
    with browser_page() as page:
        open_chat(page, base)
        ask(page, QUESTION)
        page.get_by_text("The answer is A) Mars.").wait_for()
        _expand_thinking(page)
        page.locator("#chatbot .prm").first.wait_for()
        chat = page.inner_text("#chatbot")
        assert "Look at option A first." in chat
        assert "Step 3" in chat
        badges = page.locator("#chatbot .prm").all_inner_texts()
        assert len([b for b in badges if b.startswith("PRM ")]) == 3
        assert badges.count("weakest") == 1
        assert "weakest is step" in page.inner_text("#chatbot")


def test_model_html_is_shown_as_text_and_never_runs(server):
    base, _home = server
    with browser_page() as page:
        open_chat(page, base)
        ask(page, "Is this xss safe?\nA) yes\nB) no")
        page.get_by_text("The answer is A) yes.").wait_for()
        _expand_thinking(page)
        page.get_by_text("window.__xss=2", exact=False).first.wait_for()
        assert page.evaluate("window.__xss") is None
        assert page.locator("#chatbot img[src='x']").count() == 0
        assert page.locator("#chatbot script").count() == 0
        assert "<script>window.__xss=2</script>" in page.inner_text("#chatbot")


def test_a_reload_finds_the_conversation_again(server):
    base, _home = server
    with browser_page() as page:
        open_chat(page, base)
        pick(page, "#domain", "medcalc")
        ask(page, "What is 17 + 25?")
        page.get_by_text("The answer is 42.", exact=True).wait_for()
        page.reload()
        page.wait_for_selector("#question textarea")
        page.get_by_text("What is 17 + 25?").first.wait_for()  # reopened from this browser's last conversation
        assert page.input_value("#conversations input").startswith("What is 17 + 25?")
        page.click("#new-conversation")
        page.wait_for_function("!document.querySelector('#chatbot').innerText.includes('17 + 25')")
        page.click("#conversations input")
        page.get_by_role("option", name="What is 17 + 25?", exact=False).first.click()
        page.get_by_text("What is 17 + 25?").first.wait_for()


def test_an_agents_run_starts_and_a_pin_takes_effect(server):
    base, _home = server
    with browser_page(height=1400) as page:
        open_chat(page, base)
        page.get_by_role("tab", name="Agents").click()
        page.wait_for_function("document.querySelector('#agents-domain input').value === 'science'")
        page.fill("#agents-goal textarea", QUESTION)
        page.click("#agents-start")
        # anchored and case-sensitive: the run's status line may say "last action: started ..." meanwhile
        page.get_by_text(re.compile(r"^Started \S+\.$")).wait_for()
        # wait until the first duplicates are dropped (proximity runs before step 2), then pin the last one
        page.wait_for_function("/step ([2-9]|[1-9][0-9])\\//.test(document.querySelector('#agents-status').innerText)",
                               timeout=60000)
        rows = page.locator("#agents-leaderboard tbody tr")
        deadline = time.time() + 60
        while time.time() < deadline and rows.count() < 2:
            time.sleep(0.3)
        target = _board(page)[-1][1]
        assert target.startswith("H000-")
        page.fill("#agents-target textarea", target)
        page.click("#agents-pin")
        page.get_by_text(f"Queued pin {target}").wait_for()
        deadline = time.time() + 60
        while time.time() < deadline:  # the supervisor reads the inbox at its next step
            first = _board(page)[0]
            if first[1] == target and first[-1] == "pinned":
                break
            time.sleep(0.3)
        assert first[1] == target and first[-1] == "pinned"  # pinned hypotheses lead the board
        assert "running" in page.inner_text("#agents-status") or "finished" in page.inner_text("#agents-status")
