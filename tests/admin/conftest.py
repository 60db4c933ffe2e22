"""Fixtures of the admin console tests: a headless Chromium (Debian's, driven by Playwright) and a
live server; the runs started from the browser go to the real Celery worker of tests/conftest.py."""
import os
import sys
from pathlib import Path

import pytest

from tests import missing_tools, support

CHROMIUM = os.environ.get("KRENALIS_CHROMIUM") or (
    "/Applications/Chromium.app/Contents/MacOS/Chromium" if sys.platform == "darwin" else "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
ROOT = Path(__file__).resolve().parents[2]
# Screenshots go to docs/screenshots/ when KRENALIS_SCREENSHOTS=1 (to refresh the README's), else
# to a temporary folder, so that a test run leaves the work tree as it was.
SCREENSHOTS = ROOT / "docs" / "screenshots"


def pytest_collection_modifyitems(config, items):
    if not os.path.exists(CHROMIUM):
        missing_tools.skip(config, items, "browser", f"Chromium (no {CHROMIUM})",
                           missing_tools.install_command("chromium", "--cask chromium"))


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
    # themselves (not the live server's, on its own thread) are still plain synchronous calls.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        yield from _launch(sync_playwright)
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def _launch(sync_playwright):
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.krenalis_failed = report.failed


@pytest.fixture
def page(browser, live_server, request):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1360, "height": 900},
                                  timezone_id="UTC", locale="en-US")
    context.set_default_timeout(20_000)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # What the Content-Security-Policy blocks (an inline script, a file of another origin) is an error too.
    page.on("console", lambda message: errors.append(message.text)
            if "Content Security Policy" in message.text else None)
    yield page
    if getattr(request.node, "krenalis_failed", False):
        path = Path(os.environ.get("KRENALIS_FAILURE_DIR", "/tmp")) / f"{request.node.name}.png"
        page.screenshot(path=str(path), full_page=True)
        print(f"screenshot of the failure: {path} ({page.url})")
    context.close()
    assert not errors, f"JavaScript errors or blocked content in the pages: {errors}"


@pytest.fixture
def shots(tmp_path):
    """shots(page, "name") saves a full-page screenshot."""
    folder = SCREENSHOTS if os.environ.get("KRENALIS_SCREENSHOTS") == "1" else tmp_path

    def take(page, name: str):
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)

    return take


@pytest.fixture
def admin_login(page, admin_user):
    def login():
        page.goto("/admin/login/?next=/admin/")
        page.fill("#id_username", "admin")
        page.fill("#id_password", "password")
        page.click("input[type=submit]")
        page.wait_for_selector("#site-name")

    return login


@pytest.fixture
def pg_source_10():
    source = support.create_source("postgresql", customers=10)
    yield source
    support.drop_source(source)
