"""Fixtures of the admin console tests: a headless Chromium (Debian's, driven by Playwright), a live
server, and a real Celery worker that executes the runs started from the browser."""
import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import support

CHROMIUM = os.environ.get("KRENALIS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
WORKER_BROKER = "redis://127.0.0.1:6379/13"
ROOT = Path(__file__).resolve().parents[2]
# Screenshots go to docs/screenshots/ when KRENALIS_SCREENSHOTS=1 (to refresh the README's), else
# to a temporary folder, so that a test run leaves the work tree as it was.
SCREENSHOTS = ROOT / "docs" / "screenshots"


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM) and not os.environ.get("CI"):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
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
    yield page
    if getattr(request.node, "krenalis_failed", False):
        path = Path(os.environ.get("KRENALIS_FAILURE_DIR", "/tmp")) / f"{request.node.name}.png"
        page.screenshot(path=str(path), full_page=True)
        print(f"screenshot of the failure: {path} ({page.url})")
    context.close()
    assert not errors, f"JavaScript errors in the admin pages: {errors}"


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
def celery_worker(live_server, monkeypatch, tmp_path):
    """A real `celery -A krenalis worker` on Redis db 13, sharing the live server's test database.
    Runs started by the live server are published to that broker, on a queue of this test's own."""
    from django.conf import settings
    from django.db import connection

    from krenalis.celery import app
    from pipelines.services import runs
    from pipelines.tasks import execute_run_task

    queue = f"krenalis-admin-tests-{os.getpid()}-{secrets.token_hex(4)}"  # this test's worker alone

    def enqueue(run_id: int) -> None:
        with app.connection_for_write(WORKER_BROKER) as conn:
            execute_run_task.apply_async(args=[run_id], connection=conn, queue=queue)

    monkeypatch.setattr(runs, "_enqueue", enqueue)
    db = connection.settings_dict
    env = dict(os.environ,
               DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
               CELERY_BROKER_URL=WORKER_BROKER,
               KRENALIS_ENCRYPTION_KEY=settings.KRENALIS_ENCRYPTION_KEY,
               DJANGO_SECRET_KEY=settings.SECRET_KEY)
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    log = tmp_path / "worker.log"
    celery = shutil.which("celery", path=str(Path(sys.executable).parent)) or "celery"
    with open(log, "wb") as out:
        worker = subprocess.Popen([celery, "-A", "krenalis", "worker", "--pool", "solo", "--concurrency", "1",
                                   "--without-gossip", "--without-mingle", "--without-heartbeat", "--queues", queue,
                                   "--loglevel", "INFO", "--hostname", f"admin-tests-{os.getpid()}@%h"],
                                  cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while b"ready." not in log.read_bytes():
            if worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the Celery worker did not start:\n{log.read_text()}")
            time.sleep(0.2)
        yield worker
    finally:
        worker.terminate()
        try:
            worker.wait(20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


@pytest.fixture
def pg_source_10():
    source = support.create_source("postgresql", customers=10)
    yield source
    support.drop_source(source)
