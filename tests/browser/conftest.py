"""Real-browser tests: Playwright (sync API) driving the system Chromium against the live server.

One Chromium per test session, a fresh context (cookies, storage) per test. Every page a test
opens fails the test when the browser console logs an error or the page raises, so a broken
script, a missing static file (404) or a failed htmx request is caught by any scenario.

Content-Security-Policy violations fail a test the same way (CSP_LISTENER).

Chromium comes from the Debian package (``apt-get install chromium``); Playwright's own browser
download is not used. Without Chromium the browser tests are skipped with one line in the
summary, unless ``BROWSER_TESTS_REQUIRED=1`` (CI), which turns that into a failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these Chromium keeps dialling Google's hosts, which this network refuses.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SKIP_LINE = "browser tests skipped: Chromium not installed (apt-get install chromium)"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
# Generous for a 2-core machine shared with other work, short enough to fail fast.
TIMEOUT_MS = 10_000


def find_chromium() -> str | None:
    """The system Chromium: $CHROMIUM_PATH when set (and then only it), else chromium on PATH,
    else /usr/bin/chromium."""
    chosen = os.environ.get("CHROMIUM_PATH", "").strip()
    candidates = [chosen] if chosen else [shutil.which("chromium"), "/usr/bin/chromium"]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def browser_tests_required() -> bool:
    return os.environ.get("BROWSER_TESTS_REQUIRED", "").strip() == "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    browser_items = [item for item in items if item.get_closest_marker("browser")]
    # Browser tests run last: once Playwright has started, its event loop stays in the main
    # thread until the session ends (see the browser fixture), and no other test should run
    # under that.
    items[:] = [item for item in items if not item.get_closest_marker("browser")] + browser_items
    if not browser_items or find_chromium():
        return
    if browser_tests_required():
        raise pytest.UsageError(
            "BROWSER_TESTS_REQUIRED=1 but no Chromium executable was found "
            "(install it: apt-get install chromium, or set CHROMIUM_PATH)"
        )
    # Deselected rather than marked skip: "-ra" would print a skip line per file, and one line
    # in the summary (pytest_terminal_summary) says it all.
    config._browser_tests_skipped = len(browser_items)
    items[:] = [item for item in items if not item.get_closest_marker("browser")]
    config.hook.pytest_deselected(items=browser_items)


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    skipped = getattr(config, "_browser_tests_skipped", 0)
    if skipped:
        terminalreporter.write_line(f"{SKIP_LINE} [{skipped} tests]", yellow=True, bold=True)


@pytest.fixture(scope="session")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    executable = find_chromium()
    if executable is None:  # only reachable when a test asks for the browser without the marker
        pytest.skip(SKIP_LINE)
    # Playwright's sync API keeps an asyncio loop running in the test thread from here to the
    # end of the session, and Django then refuses ORM calls from that thread. The tests use the
    # ORM synchronously only, so the check is switched off, for the browser tests alone (they
    # run last) and not at import: `manage.py check --deploy` in a subprocess would inherit it.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


# Every page reports Content-Security-Policy violations as console errors (which fail the test):
# Chromium logs most of them itself, this also catches any it reports only as the event.
# Init scripts come from the DevTools protocol, so the policy does not block this one.
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", function (event) {
  console.error("CSP violation: " + event.violatedDirective + " blocked " + (event.blockedURI || "inline")
                + " at " + event.sourceFile + ":" + event.lineNumber);
});
"""


class BrowserErrors:
    """Console errors (CSP violations included) and uncaught exceptions of every page in one
    context."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.expected: list[str] = []

    def attach(self, page) -> None:
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.messages.append(f"page error: {error}"))

    def _on_console(self, message) -> None:
        if message.type == "error":
            location = message.location.get("url", "") if message.location else ""
            self.messages.append(f"console error: {message.text} ({location})")

    def allow(self, fragment: str) -> None:
        """Let one expected error through (for example a deliberate 403 in a test)."""
        self.expected.append(fragment)

    def unexpected(self) -> list[str]:
        return [m for m in self.messages if not any(f in m for f in self.expected)]


@pytest.fixture
def browser_errors() -> BrowserErrors:
    return BrowserErrors()


@pytest.fixture
def context_factory(browser, live_server, browser_errors) -> Iterator[Callable]:
    """New browser contexts for this test; each page they open is watched for errors."""
    contexts = []

    def make(viewport: dict | None = None, timezone_id: str = "UTC"):
        context = browser.new_context(
            base_url=live_server.url, viewport=viewport or DESKTOP, locale="en-US",
            timezone_id=timezone_id,
        )
        context.set_default_timeout(TIMEOUT_MS)
        context.add_init_script(CSP_LISTENER)
        context.on("page", browser_errors.attach)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()
    errors = browser_errors.unexpected()
    if errors:
        pytest.fail("the browser logged errors:\n" + "\n".join(errors), pytrace=False)


@pytest.fixture
def page(context_factory):
    """A fresh, anonymous page (its own context) on the live server."""
    return context_factory().new_page()


def session_cookie_for(user, live_server) -> dict:
    """Log ``user`` in without the form (the log-in scenario covers the form itself)."""
    client = Client()
    client.force_login(user)
    return {
        "name": settings.SESSION_COOKIE_NAME,
        "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
        "url": live_server.url,
    }


@pytest.fixture
def login_page(context_factory, live_server) -> Callable:
    """``login_page(user, viewport=None, timezone_id="UTC")``: a page whose context is logged in
    as ``user`` (the browser's time zone can be chosen)."""

    def make(user, viewport: dict | None = None, timezone_id: str = "UTC"):
        context = context_factory(viewport, timezone_id)
        context.add_cookies([session_cookie_for(user, live_server)])
        return context.new_page()

    return make
