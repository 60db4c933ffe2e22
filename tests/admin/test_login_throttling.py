"""Admin logins are throttled per username and per client address, in the cache the web processes
share (the tests' Redis): Django's test client against the real database, and gunicorn workers that
each serve one request only, so that only the shared cache can carry the counts from one to the next."""
import collections
import http.cookiejar
import re
import secrets
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

from pipelines.services import logins
from tests import support

pytestmark = pytest.mark.django_db

WRONG = "Please enter the correct username and password"
LOCKED = "Too many failed logins for this username or from this address"


@pytest.fixture
def throttled(settings):
    """A staff user and a client address of the test's own; their counts are forgotten after it."""
    name, address = f"staff-{secrets.token_hex(4)}", f"198.51.100.{secrets.randbelow(250) + 1}"
    User.objects.create_user(name, password="right password", is_staff=True)
    used = [(name, address)]
    yield name, address, used
    for username, where in used:
        logins.forget(username, where)


def login(client: Client, username: str, password: str):
    return client.post("/admin/login/?next=/admin/", {"username": username, "password": password})


def test_twenty_wrong_passwords_lock_the_username_even_for_the_right_one_until_the_lockout_ends(
        throttled, settings):
    name, address, _ = throttled
    settings.KRENALIS = {**settings.KRENALIS, "LOGIN_LOCKOUT_SECONDS": 3}
    client = Client(REMOTE_ADDR=address)
    answers = [login(client, name, f"wrong {i}") for i in range(20)]
    assert all(a.status_code == 200 for a in answers)
    assert [WRONG in a.content.decode() for a in answers] == [True] * 5 + [False] * 15
    assert all(LOCKED in a.content.decode() for a in answers[5:])
    refused = login(client, name, "right password")
    assert refused.status_code == 200 and LOCKED in refused.content.decode()
    assert "1 more minute" in refused.content.decode()
    assert "_auth_user_id" not in client.session
    # From another address too: the username is locked.
    assert LOCKED in login(Client(REMOTE_ADDR="192.0.2.77"), name, "right password").content.decode()
    logins.forget(name, "192.0.2.77")
    time.sleep(3.5)  # the lockout ends
    accepted = login(client, name, "right password")
    assert accepted.status_code == 302 and client.session["_auth_user_id"] == str(User.objects.get(username=name).id)


def test_too_many_failures_from_one_address_lock_every_username_from_it(throttled, settings):
    name, address, used = throttled
    settings.KRENALIS = {**settings.KRENALIS, "LOGIN_FAILURES_PER_ADDRESS": 3}
    client = Client(REMOTE_ADDR=address)
    for guess in ("root", "admin", "postgres"):
        used.append((guess, address))
        assert WRONG in login(client, guess, "123456").content.decode()
    assert LOCKED in login(client, name, "right password").content.decode()
    other = Client(REMOTE_ADDR="192.0.2.78")
    used.append((name, "192.0.2.78"))
    assert login(other, name, "right password").status_code == 302


def test_a_success_forgets_the_failures_of_its_username(throttled):
    name, address, _ = throttled
    client = Client(REMOTE_ADDR=address)
    for _ in range(4):
        assert WRONG in login(client, name, "wrong").content.decode()
    assert login(client, name, "right password").status_code == 302
    client.logout()
    for _ in range(4):
        assert WRONG in login(client, name, "wrong").content.decode()
    assert login(client, name, "right password").status_code == 302


def test_behind_a_proxy_the_address_is_the_one_the_proxy_saw(rf, settings):
    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.9, 198.51.100.4")
    assert logins.client_address(request) == "10.0.0.2"  # no proxy declared: the header is the client's
    settings.PROXIES = 1
    assert logins.client_address(request) == "198.51.100.4"
    settings.PROXIES = 2
    assert logins.client_address(request) == "203.0.113.9"


# --------------------------------------------------------------------------- across gunicorn workers

class Browser:
    """Cookies and CSRF as a browser keeps them, over real HTTP."""

    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
                                                  NoRedirect())
        page = self.opener.open(f"{base}/admin/login/", timeout=30).read().decode()
        self.token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)

    def login(self, username: str, password: str) -> tuple[int, str]:
        data = urllib.parse.urlencode({"username": username, "password": password, "next": "/admin/",
                                       "csrfmiddlewaretoken": self.token}).encode()
        request = urllib.request.Request(f"{self.base}/admin/login/", data=data,
                                         headers={"Referer": f"{self.base}/admin/login/"})
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytest.mark.django_db(transaction=True)
def test_gunicorn_workers_share_the_counts(tmp_path):
    if not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.skip("the shared cache is the broker's Redis")
    name = f"staff-{secrets.token_hex(4)}"
    User.objects.create_user(name, password="right password", is_staff=True)
    port = _free_port()
    log = tmp_path / "gunicorn.log"
    # Each worker serves one request and is replaced: a count kept in a worker's memory would be lost.
    server = support.Child([sys.executable, "-m", "gunicorn", "krenalis.wsgi", "--bind", f"127.0.0.1:{port}",
                            "--workers", "2", "--max-requests", "1", "--access-logfile", "-",
                            "--access-logformat", "%(p)s %(r)s %(s)s"],
                           support.child_env(settings.CELERY_BROKER_URL, DJANGO_ALLOWED_HOSTS="127.0.0.1"),
                           log, ready=b"Booting worker")
    try:
        base = f"http://127.0.0.1:{port}"
        assert support.wait_for(lambda: _answers(base), timeout=60), server.output()[-3000:]
        browser = Browser(base)
        answers = [browser.login(name, "wrong") for _ in range(5)]
        assert [status for status, _ in answers] == [200] * 5 and all(WRONG in page for _, page in answers)
        status, page = browser.login(name, "right password")
        assert status == 200 and LOCKED in page
        assert logins.lockout_seconds(name, "127.0.0.1") > 0  # this process reads the same cache
        def login_pids() -> list[str]:
            return re.findall(r"^\[?<?(\d+)>? \"?POST /admin/login/", server.output(), re.M)

        # A worker logs its request as it exits: wait for all six lines. A gthread worker told to stop
        # may still take the next request, so a process can serve two; none served five, so whichever
        # refused the sixth counted failures it never saw.
        assert support.wait_for(lambda: len(login_pids()) == 6, timeout=15), server.output()[-3000:]
        assert max(collections.Counter(login_pids()).values()) < 5, server.output()[-3000:]
    finally:
        server.stop()
        logins.forget(name, "127.0.0.1")


def _answers(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/admin/login/", timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
