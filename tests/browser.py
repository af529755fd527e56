"""Browser tests' shared pieces: Debian's Chromium driven by Playwright, screenshots, admin login.

Use from any app's browser test::

    from tests.browser import admin_login, browser, page, screenshot  # noqa: F401 (fixtures)

    @pytest.mark.browser
    def test_something(page, live_server, ...):
        admin_login(page, live_server, "editor", "password")
        ...
        screenshot(page, "something")

``browser`` skips the test, with the reason, only when ``/usr/bin/chromium`` is missing.

One Playwright per test module: a module-scoped fixture starts it and stops it before the next
module's starts (two live sync Playwrights in one thread refuse to run). While it is alive its
event loop counts as running in the test thread, so Django's "async unsafe" guard is switched off
for that module only and restored afterwards (so subprocesses of other tests never inherit it).
The ORM is still used from one thread at a time.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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


@pytest.fixture(scope="module")
def browser():
    """A headless Debian Chromium for one test module (skipped when it is not installed)."""
    if not CHROMIUM.exists():
        pytest.skip(f"Debian's Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


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
