"""Secrets: connection and warehouse passwords are encrypted at rest and never leave the server (no
API response, admin page, log line or run error carries them); API keys are stored as hashes, so a
leaked dump of the database holds no usable key."""
import hashlib
import json
import logging
import re
import secrets

import pytest
from cryptography.fernet import Fernet
from django.conf import settings as django_settings
from django.db import connection as db_connection
from django.test import Client
from django.urls import reverse

from pipelines import apikeys
from pipelines.models import APIKey, Connection, Pipeline, Run, Workspace
from tests import support
from tests.pipelines.services import RICH_PROFILE_SCHEMA, create_pipeline, run_now
from tests.reliability import USERS_MAPPING


def canary(label: str) -> str:
    return f"canary-{label}-{secrets.token_hex(10)}"


@pytest.fixture
def mysql_canary():
    """A MariaDB source whose user has a canary password (MariaDB checks passwords, PostgreSQL here trusts)."""
    source = support.create_source("mysql")
    password = canary("mysql")
    conn = support._mysql()
    cur = conn.cursor()
    cur.execute(f"ALTER USER '{source.settings['username']}'@'%' IDENTIFIED BY '{password}'")
    conn.close()
    source.settings["password"] = password
    yield source
    support.drop_source(source)


class Captured:
    """Every response body and header, and every log line, of the test."""

    def __init__(self):
        self.texts: list[tuple[str, str]] = []

    def add(self, where: str, text) -> None:
        self.texts.append((where, text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)))

    def response(self, where: str, resp) -> None:
        self.add(where, resp.content)
        self.add(f"{where} headers", "\n".join(f"{k}: {v}" for k, v in resp.items()))

    def leaks(self, secret: str) -> list[str]:
        forms = {secret, json.dumps(secret)[1:-1], secret.encode().hex()}
        return [where for where, text in self.texts for form in forms if form in text]


@pytest.fixture
def captured_logs(caplog, settings):
    """All loggers at DEBUG, Django's SQL log included (it logs queries with their parameters)."""
    settings.DEBUG = True
    caplog.set_level(logging.DEBUG)
    for name in ("django", "django.db.backends", "pipelines", "warehouse", "celery"):
        caplog.set_level(logging.DEBUG, logger=name)
    yield caplog


def test_passwords_are_encrypted_at_rest_and_never_leave_the_server(api, org_key, warehouse_db, pg_source,
                                                                    mysql_canary, captured_logs, capfd,
                                                                    django_user_model):
    seen = Captured()
    pg_password, wh_password, wrong_password = canary("pg"), canary("warehouse"), canary("wrong")
    # A PostgreSQL warehouse and source (trust authentication: any password connects) with canaries.
    body = support.workspace_body("Secrets", warehouse_db, RICH_PROFILE_SCHEMA)
    body["warehouse"]["settings"]["password"] = wh_password
    resp = api.post("/v1/workspaces", body)
    seen.response("POST /v1/workspaces", resp)
    ws = support.WorkspaceRef(resp.json()["id"], warehouse_db, api.scoped(resp.json()["id"]))
    pg_body = support.connection_body(pg_source, "PG")
    pg_body["settings"]["password"] = pg_password
    resp = ws.api.post("/v1/connections", pg_body)
    seen.response("POST /v1/connections (pg)", resp)
    pg_id = resp.json()["id"]
    resp = ws.api.post("/v1/connections", support.connection_body(mysql_canary, "MariaDB"))
    seen.response("POST /v1/connections (mysql)", resp)
    my_id = resp.json()["id"]
    wrong = support.connection_body(mysql_canary, "Wrong")
    wrong["settings"]["password"] = wrong_password
    resp = ws.api.post("/v1/connections", wrong)
    seen.response("POST /v1/connections (wrong password)", resp)
    assert resp.status_code == 503 and "Access denied" in resp.json()["error"]["message"]

    # Encrypted at rest: the raw column is a Fernet token, never the password; the key opens it.
    with db_connection.cursor() as cur:
        cur.execute("SELECT settings_encrypted FROM pipelines_connection WHERE id IN (%s, %s)", [pg_id, my_id])
        raw = [row[0] for row in cur.fetchall()]
        cur.execute("SELECT warehouse_settings_encrypted FROM pipelines_workspace WHERE id = %s", [ws.id])
        raw.append(cur.fetchone()[0])
    for column in raw:
        assert all(p not in column for p in (pg_password, mysql_canary.settings["password"], wh_password))
        assert column.startswith("gAAAA")  # a Fernet token
    opened = [json.loads(Fernet(django_settings.KRENALIS_ENCRYPTION_KEY.encode()).decrypt(c.encode())) for c in raw]
    assert {o.get("password") for o in opened} == {pg_password, mysql_canary.settings["password"], wh_password}
    with pytest.raises(Exception):
        Fernet(Fernet.generate_key()).decrypt(raw[0].encode())  # without the key, the dump is noise

    # Pipelines that succeed and fail, through every endpoint that reads or reports.
    pg_pipeline = create_pipeline(ws, pg_id, query="SELECT id, firstname, updated_ts FROM customers",
                                  mapping=USERS_MAPPING)
    my_pipeline = create_pipeline(ws, my_id, query="SELECT id, firstname, updated_ts FROM customers",
                                  mapping=USERS_MAPPING, name="MariaDB")
    runs = [run_now(pg_pipeline), run_now(my_pipeline)]
    assert [r.error for r in runs] == ["", ""]
    conn = support._mysql()
    cur = conn.cursor()
    cur.execute(f"ALTER USER '{mysql_canary.settings['username']}'@'%' IDENTIFIED BY '{canary('changed')}'")
    conn.close()
    runs.append(run_now(my_pipeline))  # the stored password no longer works: the run fails
    assert "Access denied" in runs[-1].error
    Pipeline.objects.filter(id=pg_pipeline).update(query="SELECT nope FROM customers")
    runs.append(run_now(pg_pipeline))
    assert 'column "nope" does not exist' in runs[-1].error
    requests = [
        ("GET", "/v1/workspaces", None, api), ("GET", "/v1/workspaces/current", None, ws.api),
        ("GET", "/v1/connections", None, ws.api), ("GET", f"/v1/connections/{pg_id}", None, ws.api),
        ("GET", f"/v1/connections/{my_id}", None, ws.api), ("GET", "/v1/pipelines", None, ws.api),
        ("GET", f"/v1/pipelines/{pg_pipeline}", None, ws.api), ("GET", "/v1/pipelines/runs", None, ws.api),
        ("GET", f"/v1/connections/{pg_id}/identities", None, ws.api),
        ("POST", f"/v1/connections/{pg_id}/query", {"query": "SELECT * FROM customers", "limit": 5}, ws.api),
        ("POST", f"/v1/connections/{pg_id}/query", {"query": "SELECT current_setting('nope')", "limit": 1}, ws.api),
        ("POST", f"/v1/connections/{my_id}/query", {"query": "SELECT 1", "limit": 1}, ws.api),
        ("GET", "/v1/openapi.json", None, ws.api), ("GET", "/v1/profiles/schema", None, ws.api),
    ] + [("GET", f"/v1/pipelines/runs/{r.id}", None, ws.api) for r in runs] + \
        [("GET", f"/v1/pipelines/runs/{r.id}/errors", None, ws.api) for r in runs]
    for method, path, request_body, client in requests:
        seen.response(f"{method} {path}", client.request(method, path, request_body))

    # The admin: every page of every object, and its JSON helpers that reach the databases.
    admin = django_user_model.objects.create_superuser("root", "root@example.com", secrets.token_hex(8))
    browser = Client()
    browser.force_login(admin)
    pages = ["/admin/"]
    for model in (Workspace, APIKey, Connection, Pipeline, Run):
        name = f"admin:pipelines_{model._meta.model_name}"
        pages += [reverse(f"{name}_changelist"), reverse(f"{name}_add")]
        pages += [reverse(f"{name}_change", args=[pk]) for pk in model.objects.values_list("pk", flat=True)]
    for path in pages:
        resp = browser.get(path, follow=True)
        assert resp.status_code in (200, 403), path  # 403: runs are not added by hand
        seen.response(f"admin {path}", resp)
    for pipeline_id in (pg_pipeline, my_pipeline):
        resp = browser.post(reverse("admin:pipelines_pipeline_preview"),
                            {"pipeline_id": pipeline_id, "query": "SELECT * FROM customers"})
        seen.response("admin preview", resp)
    resp = browser.post(reverse("admin:pipelines_connection_test"),
                        {"connection_id": my_id, "connector": "mysql", **{k: v for k, v in wrong["settings"].items()}})
    seen.response("admin connection test", resp)

    # Logs (every logger, SQL included) and the process output.
    for record in captured_logs.records:
        seen.add(f"log {record.name}", record.getMessage())
        if record.exc_info:
            seen.add(f"log {record.name} traceback", logging.Formatter().formatException(record.exc_info))
    out, err = capfd.readouterr()
    seen.add("stdout", out)
    seen.add("stderr", err)
    assert len(captured_logs.records) > 20  # the SQL log was on
    for password in (pg_password, mysql_canary.settings["password"], wh_password, wrong_password):
        assert not seen.leaks(password), f"the password leaked in {seen.leaks(password)}"
    for run in Run.objects.all():
        assert all(p not in run.error for p in (pg_password, wh_password, wrong_password))


def dump_database() -> str:
    """What a leaked dump holds: every row of every table of the metadata database, as text."""
    with db_connection.cursor() as cur:
        cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        tables = [row[0] for row in cur.fetchall()]
        chunks = []
        for table in tables:
            cur.execute(f'SELECT row_to_json(t)::text FROM "{table}" t')
            chunks += [row[0] for row in cur.fetchall()]
    return "\n".join(chunks)


def test_api_keys_are_stored_as_hashes_and_a_dump_reveals_no_usable_key(api, warehouse_db):
    from pipelines.services.apikeys import api_key_create

    resp = api.post("/v1/workspaces", support.workspace_body("Keys", warehouse_db))
    workspace = Workspace.objects.get(id=resp.json()["id"])
    keys = [api_key_create(name="org")[1], api_key_create(name="restricted", workspace=workspace)[1]]
    for key in keys:
        record = APIKey.objects.get(digest=apikeys.digest(key))
        assert record.digest == hashlib.sha256(key.encode()).hexdigest()
        assert key not in (record.digest, record.hint, record.name)

    dump = dump_database()
    assert not re.findall(r"api_[A-Za-z0-9]{20,}", dump)  # no key-looking text in any column
    for key in keys:
        assert key not in dump and key[4:] not in dump and key[4:30] not in dump
    # Everything in the dump that could stand for a key is refused.
    candidates = set(re.findall(r"[0-9a-f]{64}", dump)) | set(re.findall(r"[A-Za-z0-9]{4}…[A-Za-z0-9]{6}", dump))
    assert len(candidates) >= 2
    for candidate in candidates:
        for token in (candidate, "api_" + candidate, "api_" + candidate[:49]):
            resp = support.Api(token).get("/v1/workspaces")
            assert resp.status_code in (400, 401), (token, resp.status_code)
    assert support.Api(keys[0]).get("/v1/workspaces").status_code == 200  # the real key works
