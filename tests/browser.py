"""A real browser for the web chat tests: Playwright driving Debian's chromium.

`playwright install` cannot download browsers here, so the tests launch the system build. Without it
they skip locally, but under CI=true they fail: `.ci/run` installs chromium, and a browser test that
silently skipped in CI would prove nothing.
"""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = next((p for p in ("/usr/lib/chromium/chromium", shutil.which("chromium") or "") if p and Path(p).exists()),
                None)


def need_browser() -> None:
    try:
        import playwright  # noqa: F401
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("playwright is not installed (it is in the dev extra)")
        pytest.skip("playwright is not installed")
    if CHROMIUM is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is missing: .ci/run installs it with apt-get install -y chromium")
        pytest.skip("chromium is not installed (apt-get install -y chromium)")


@contextmanager
def browser_page(width: int = 1300, height: int = 1000):
    need_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.set_default_timeout(30000)
            yield page
        finally:
            browser.close()


def open_chat(page, base: str) -> None:
    page.goto(base + "/")
    page.wait_for_selector("#question textarea")


def ask(page, text: str) -> None:
    page.fill("#question textarea", text)
    page.click("#ask")


def pick(page, elem_id: str, option: str) -> None:
    """Choose `option` in a Gradio dropdown."""
    page.click(f"{elem_id} input")
    page.get_by_role("option", name=option, exact=True).click()
