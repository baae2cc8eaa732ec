"""Browser tests: Playwright driving Debian's Chromium (never a downloaded browser)."""

import os
from pathlib import Path

import pytest

from ..conftest import postgres_pass

# Playwright's sync API runs an event loop in this thread; Django would otherwise refuse
# ORM calls made from the test while the browser is open.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

# CI runs the suite twice, on SQLite and on PostgreSQL, in under 30 minutes. The browser
# flows are the portal's pages and scripts, the same on either database, so they run in the
# SQLite pass only (the embedded default `make run` serves); what differs on PostgreSQL —
# queries, locks, races, real workers and servers — is in the fast tier and the slow tests,
# which both passes run.
BROWSER_FLOWS_ON_SQLITE = (
    "the browser flows are the same pages and scripts on either database: CI runs them in "
    "its SQLite pass (the PostgreSQL pass runs every other test)"
)


def pytest_collection_modifyitems(config, items):
    if postgres_pass():
        for item in items:
            if item.get_closest_marker("e2e"):
                item.add_marker(pytest.mark.skip(reason=BROWSER_FLOWS_ON_SQLITE))


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: install Debian's chromium package to run e2e tests"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture(autouse=True)
def seed_data(seed_data):
    """Every browser test runs against the live server (a transactional test, whose flush
    removes the reference data): tests/conftest.py's seed_data puts it back."""
    return seed_data


@pytest.fixture
def artifacts():
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
