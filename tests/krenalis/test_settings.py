"""Settings from the environment, in a process of their own: served over HTTPS behind a proxy
(docker-compose), over HTTPS without one, and over plain HTTP (bin/run); every page's
Content-Security-Policy."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json, django
django.setup()
from django.conf import settings
from django.test import Client
answers = {}
for name, headers in (("http", {}), ("forwarded https", {"HTTP_X_FORWARDED_PROTO": "https"})):
    response = Client().get("/admin/login/", **headers)
    cookie = response.cookies.get("csrftoken")
    answers[name] = {"status": response.status_code, "location": response.get("Location"),
                     "hsts": response.get("Strict-Transport-Security"),
                     "csp": response.get("Content-Security-Policy"),
                     "csrf cookie secure": None if cookie is None else bool(cookie["secure"])}
answers["session cookie secure"] = settings.SESSION_COOKIE_SECURE
print(json.dumps(answers))
"""
HSTS = "max-age=31536000; includeSubDomains; preload"


def probe(tmp_path, **env) -> dict:
    base = {k: v for k, v in os.environ.items() if not k.startswith("KRENALIS_") and k != "DJANGO_SETTINGS_MODULE"}
    base.update(DJANGO_SETTINGS_MODULE="krenalis.settings", DJANGO_ALLOWED_HOSTS="testserver",
                KRENALIS_VAR_DIR=str(tmp_path), **env)
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=base, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_behind_a_tls_proxy_cookies_are_secure_http_is_redirected_and_hsts_is_sent(tmp_path):
    answers = probe(tmp_path, KRENALIS_HTTPS="1", KRENALIS_PROXIES="1")
    assert answers["http"]["status"] == 301 and answers["http"]["location"] == "https://testserver/admin/login/"
    served = answers["forwarded https"]
    assert (served["status"], served["hsts"], served["csrf cookie secure"]) == (200, HSTS, True)
    assert answers["session cookie secure"] is True


def test_without_a_declared_proxy_its_header_is_not_believed(tmp_path):
    answers = probe(tmp_path, KRENALIS_HTTPS="1")
    assert answers["forwarded https"]["status"] == 301  # X-Forwarded-Proto from a client is no proof of TLS


def test_hsts_max_age_comes_from_the_environment(tmp_path):
    answers = probe(tmp_path, KRENALIS_HTTPS="1", KRENALIS_PROXIES="1", KRENALIS_HSTS_SECONDS="3600")
    assert answers["forwarded https"]["hsts"] == "max-age=3600; includeSubDomains; preload"


def test_over_plain_http_nothing_changes_but_the_policy_is_sent(tmp_path):
    answers = probe(tmp_path)
    served = answers["http"]
    assert (served["status"], served["hsts"], served["csrf cookie secure"]) == (200, None, False)
    assert answers["session cookie secure"] is False
    assert served["csp"].startswith("default-src 'self'; script-src 'self';")


@pytest.mark.parametrize("path", ["/v1/docs", "/v1/docs?script=", "/v1/connectors", "/admin/login/"])
def test_every_response_carries_the_content_security_policy(client, path):
    from django.conf import settings

    response = client.get(path)
    assert response["Content-Security-Policy"] == settings.CONTENT_SECURITY_POLICY
    assert "'unsafe-inline'" not in settings.CONTENT_SECURITY_POLICY.split("script-src")[1].split(";")[0]
