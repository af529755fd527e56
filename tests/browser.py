"""Browser tests' shared pieces: Debian's Chromium driven by Playwright, screenshots, admin login.

Use from any app's browser test::

    from tests.browser import admin_login, browser, page, screenshot  # noqa: F401 (fixtures)

    @pytest.mark.browser
    def test_something(page, live_server, ...):
        admin_login(page, live_server, "editor", "password")
        ...
        screenshot(page, "something")

``browser`` skips the test, with the reason, only when ``/usr/bin/chromium`` is missing.
Playwright's sync API runs an event loop in the test thread, so Django's "async unsafe" guard
is switched off for the session that imports this module (the ORM is still used from one thread).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
DEFAULT_TIMEOUT_MS = 15_000


@pytest.fixture(scope="session")
def browser():
    """A headless Debian Chromium for the whole session (skipped when it is not installed)."""
    if not CHROMIUM.exists():
        pytest.skip(f"Debian's Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    try:
        yield chromium
    finally:
        chromium.close()
        playwright.stop()


@pytest.fixture
def page(browser):
    """A fresh browser context and page per test (no cookies shared between tests)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-GB")
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot as ``tests/artifacts/<name>.png`` and return its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def admin_login(page, live_server, username: str, password: str) -> None:
    """Log into the Django admin through its login form."""
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
