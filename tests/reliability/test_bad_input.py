"""Bad input never crashes the server.

1. schemathesis reads the served OpenAPI document and sends generated requests (valid and invalid)
   to every /v1 operation, with a fixed seed: no 5xx but the documented 503 (a database that
   cannot be reached or fails), and every response matches its documented status, content type
   and schema.
2. Hostile bodies: over 500 KiB, chunked, invalid UTF-8, NUL bytes, deeply nested JSON,
   50,000-character function sources, a Python function flooding its worker's pipe.
"""
import json
from collections import Counter

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.conf import settings as django_settings
from hypothesis import HealthCheck, Phase, example, given, seed, settings as hypothesis_settings, strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (content_type_conformance, negative_data_rejection,
                                               response_schema_conformance, status_code_conformance)

from pipelines.connectors import REGISTRY
from tests import support
from tests.pipelines.services import (RICH_PROFILE_SCHEMA, create_connection, create_pipeline, create_workspace,
                                      pipeline_body, run_now)

# Hypothesis keeps its caches under var/ (ignored by git), not in the work tree.
set_hypothesis_home_dir(str(django_settings.VAR_DIR / "hypothesis"))

EXAMPLES_PER_OPERATION = 75
SEED = 20_240_601  # of hypothesis: every run sends the same requests
MIN_REQUESTS = 1000
CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance, negative_data_rejection]
ORGANIZATION_PATHS = {"/v1/workspaces"}
PATH_IDS = {"connection_id": "connection", "pipeline_id": "pipeline", "run_id": "run", "kpid": "kpid"}
# The body of a valid request, by operation (none: no body). Generation alone rarely makes one (a
# whole pipeline, a query that runs, settings of a database that exists).
VALID_BODY = {
    "POST /v1/connections": lambda target: {"body": target["connection_create"]},
    "POST /v1/connections/test": lambda target: {"body": {key: target["connection_create"][key]
                                                          for key in ("connector", "settings")}},
    "POST /v1/pipelines": lambda target: {"body": target["pipeline_create"]},
    "PUT /v1/profiles/schema": lambda target: {"body": {"schema": RICH_PROFILE_SCHEMA}},
    "PUT /v1/profiles/schema/preview": lambda target: {"body": {"schema": RICH_PROFILE_SCHEMA}},
    "POST /v1/workspaces": lambda target: {"body": {"name": "Another", "profileSchema": support.PROFILE_SCHEMA,
                                                    "warehouse": {"platform": "SQLite",
                                                                  "settings": {"path": "another.sqlite3"}}}},
    "PUT /v1/connections/{connection_id}": lambda target: {"body": {"name": "Renamed"}},
    "POST /v1/connections/{connection_id}/query": lambda target: {
        "body": {"query": "SELECT id, firstname FROM customers", "limit": 5}},
    "PUT /v1/pipelines/{pipeline_id}": lambda target: {"body": target["pipeline_update"]},
    "POST /v1/pipelines/{pipeline_id}/runs": lambda target: {"body": {}},
    "PUT /v1/pipelines/{pipeline_id}/schedule": lambda target: {"body": {"period": "1h"}},
    "PUT /v1/pipelines/{pipeline_id}/status": lambda target: {"body": {"enabled": True}},
}


@pytest.fixture
def sandboxed(settings, monkeypatch, tmp_path):
    """Whatever the generated settings say, the server only reaches the databases on this machine
    (hosts and ports allowed: 127.0.0.1:5432 and 127.0.0.1:3306), and SQLite files stay in tmp_path."""
    (tmp_path / "sources").mkdir()
    settings.KRENALIS = {**settings.KRENALIS, "DATABASE_ALLOWED_HOSTS": ["127.0.0.1"],
                         "DATABASE_ALLOWED_PORTS": "5432,3306", "SQLITE_WAREHOUSE_DIR": str(tmp_path / "warehouses"),
                         "SOURCE_STATEMENT_TIMEOUT": 5, "CONNECT_TIMEOUT": 3, "FUNCTION_BATCH_TIMEOUT": 2}
    monkeypatch.setattr(REGISTRY["sqlite"], "allowed_root", str(tmp_path / "sources"))


@pytest.fixture
def fresh_target(api, org_key, pg_source, sandboxed):
    """fresh_target() creates the live objects one operation's requests use: a workspace (on a
    warehouse database of its own) with a connection, a pipeline, a finished run and a profile.
    Each operation gets its own, so that what an earlier one deleted or changed (the workspace, its
    mode, the profile schema) cannot turn its requests into 404s and 422s."""
    databases = []

    def create() -> dict:
        databases.append(support.create_pg_database("krenalis_test_wh"))
        ws = create_workspace(api, databases[-1])
        # No resolution after the import: it would stay "executing" (no worker here), and refuse
        # the resolution, settings and schema requests with 422.
        resp = ws.api.put("/v1/identity-resolution/settings", {"runOnBatchImport": False, "identifiers": []})
        assert resp.status_code == 200, resp.content
        connection_id = create_connection(ws, pg_source)
        pipeline_id = create_pipeline(ws, connection_id)
        run = run_now(pipeline_id)
        assert run.error == ""
        create = pipeline_body(ws, connection_id, name="Another")
        update = {k: v for k, v in create.items() if k not in ("connection", "target")}
        return {"key": org_key, "workspace": ws.id, "connection": connection_id, "pipeline": pipeline_id,
                "run": run.id, "kpid": a_profile(ws), "pipeline_create": create, "pipeline_update": update,
                "connection_create": support.connection_body(pg_source, "Another")}

    yield create
    for name in databases:
        support.drop_pg_database(name)


def a_profile(ws) -> str:
    """The KPID of a profile of the workspace, after an identity resolution."""
    from pipelines.models import Workspace
    from pipelines.services.identity_resolution import resolve_workspace

    assert resolve_workspace(Workspace.objects.get(id=ws.id)).profiles == 10
    conn = support.pg_connect(ws.warehouse_db)
    with conn.cursor() as cur:
        cur.execute("SELECT _kpid FROM krenalis_profiles LIMIT 1")
        row = cur.fetchone()
    conn.close()
    return str(row[0])


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(600, method="thread")
def test_generated_requests_get_no_server_error_and_match_the_schema(fresh_target, task_queue, record_property):
    schema = schemathesis.openapi.from_wsgi("/v1/openapi.json", WSGIHandler())
    operations = [result.ok() for result in schema.get_all_operations()]
    operations = [op for op in operations if "400" in op.definition.raw.get("responses", {})]  # documented ones
    assert len(operations) >= 27
    statuses, per_operation, successes, failures, started_runs = Counter(), Counter(), Counter(), [], []

    for operation in operations:
        target = fresh_target()
        headers = {"Authorization": f"Bearer {target['key']}"}
        if operation.path not in ORGANIZATION_PATHS:
            headers["Krenalis-Workspace"] = str(target["workspace"])
        strategies = [operation.as_strategy(GenerationMode.POSITIVE, headers=headers),
                      operation.as_strategy(GenerationMode.NEGATIVE, headers=headers)]
        real_ids = {name: target[kind] for name, kind in PATH_IDS.items() if "{" + name + "}" in operation.path}
        if real_ids:  # also the IDs of live objects, else nearly every request is a 404
            strategies.append(operation.as_strategy(GenerationMode.POSITIVE, headers=headers,
                                                    path_parameters=real_ids))

        def exercise(case):
            response = case.call(headers=headers)
            statuses[response.status_code] += 1
            per_operation[operation.label] += 1
            if 200 <= response.status_code < 300:
                successes[operation.label] += 1
                if operation.method.upper() == "POST" and operation.path == "/v1/pipelines/{pipeline_id}/runs":
                    started_runs.append(response.json()["id"])
            if response.status_code >= 500:
                body = response.text[:300]
                if response.status_code != 503 or json.loads(body)["error"]["code"] != "ServiceUnavailable":
                    failures.append(f"{operation.label}: {response.status_code} {body}\n  {case.as_curl_command()}")
                    return
            try:
                case.validate_response(response, checks=CHECKS, headers=headers)
            except (Exception, BaseExceptionGroup) as exc:  # every failure is collected, the generation goes on
                failures.append(f"{operation.label}: {response.status_code} {response.text[:300]}\n"
                                f"  {str(exc)[:1500]}\n  {case.as_curl_command()}")

        generated = given(case=st.one_of(strategies))(exercise)
        if real_ids or operation.label in VALID_BODY:  # first, a valid request (on the live objects)
            generated = example(case=operation.Case(path_parameters=real_ids, headers=headers,
                                                    **VALID_BODY.get(operation.label, lambda t: {})(target)))(generated)
        seed(SEED)(hypothesis_settings(
            max_examples=EXAMPLES_PER_OPERATION, database=None, deadline=None, phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck))(generated))()

    total = sum(statuses.values())
    record_property("schemathesis_requests", total)
    record_property("schemathesis_seed", SEED)
    print(f"\nschemathesis: seed {SEED}, {total} requests over {len(operations)} operations; "
          f"statuses {dict(sorted(statuses.items()))}; requests (2xx) per operation: "
          + ", ".join(f"{op.label} {per_operation[op.label]} ({successes[op.label]})" for op in operations))
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures[:25])
    assert total >= MIN_REQUESTS
    assert set(per_operation) == {op.label for op in operations}
    # Every operation (on live objects, for those with an ID) answered 2xx at least once: its
    # success response was checked against the schema too.
    assert [op.label for op in operations if not successes[op.label]] == []
    # The runs the requests started reached the broker (and no worker: nothing executed them).
    sent = task_queue.messages()
    assert {name for name, _, _ in sent} <= {"pipelines.tasks.execute_run_task", "pipelines.tasks.resolve_identities_task"}
    assert [args[0] for name, args, _ in sent if name == "pipelines.tasks.execute_run_task"] == started_runs


# ----------------------------------------------------------------------------------- hostile bodies


BAD_LENGTH = "request's content length must be in the range [1,512000]"
BODY_ENDPOINTS = [("POST", "/v1/pipelines"), ("PUT", "/v1/pipelines/{pipeline}"),
                  ("PUT", "/v1/pipelines/{pipeline}/status"), ("PUT", "/v1/pipelines/{pipeline}/schedule"),
                  ("POST", "/v1/pipelines/{pipeline}/runs"), ("POST", "/v1/connections"),
                  ("PUT", "/v1/connections/{connection}"), ("POST", "/v1/connections/{connection}/query"),
                  ("PUT", "/v1/workspaces/current")]


@pytest.fixture
def objects(api, warehouse_db, pg_source, sandboxed):
    ws = create_workspace(api, warehouse_db)
    connection_id = create_connection(ws, pg_source)
    return ws, {"connection": connection_id, "pipeline": create_pipeline(ws, connection_id)}


def assert_json_error(resp, status: int, message: str | None = None):
    assert resp.status_code == status, resp.content[:500]
    _, code, text = support.error_of(resp)
    if message is not None:
        assert text == message
    return text


def send_all(ws, ids, body: bytes, content_type="application/json"):
    for method, path in BODY_ENDPOINTS:
        yield method, path, ws.api.request(method, path.format(**ids), raw=body, content_type=content_type)


def test_bodies_over_500_kib_are_400_before_anything_is_read(objects):
    ws, ids = objects
    for size in (512_001, 1024 * 1024 + 1, 8 * 1024 * 1024):
        body = b'{"name": "' + b"x" * (size - 12) + b'"}'
        for method, path, resp in send_all(ws, ids, body):
            assert_json_error(resp, 400, BAD_LENGTH)
    assert ws.api.get(f"/v1/pipelines/{ids['pipeline']}").json()["name"] == "Customers"


def test_chunked_bodies_are_400(objects):
    ws, ids = objects
    for method, path in BODY_ENDPOINTS:
        resp = ws.api.client.generic(method, path.format(**ids), b"", content_type="application/json",
                                     HTTP_AUTHORIZATION=f"Bearer {ws.api.key}", HTTP_TRANSFER_ENCODING="chunked",
                                     HTTP_KRENALIS_WORKSPACE=str(ws.id))
        assert_json_error(resp, 400, BAD_LENGTH)
    resp = ws.api.client.get("/v1/pipelines", HTTP_AUTHORIZATION=f"Bearer {ws.api.key}",
                             HTTP_TRANSFER_ENCODING="chunked", HTTP_KRENALIS_WORKSPACE=str(ws.id))
    assert_json_error(resp, 400, "request body not allowed")


@pytest.mark.parametrize("body", [
    b'{"name": "\xff\xfe"}', b'{"name": "caf\xc3"}', b'\xed\xa0\x80', b'{"query": "\xc0\xaf"}',
], ids=["ff-fe", "truncated", "surrogate", "overlong"])
def test_invalid_utf8_is_400(objects, body):
    ws, ids = objects
    for method, path, resp in send_all(ws, ids, body):
        assert_json_error(resp, 400, "request body contains invalid UTF-8")


def test_nul_bytes_are_refused_everywhere(objects, pg_source, mysql_source):
    ws, ids = objects
    raw_nul = b'{"name": "a\x00b", "query": "SELECT 1\x00"}'
    for method, path, resp in send_all(ws, ids, raw_nul):
        assert_json_error(resp, 400)  # a raw control character is not JSON
    escaped = {"name": "a\u0000b", "query": "SELECT 1 AS one\u0000", "limit": 1, "enabled": True, "period": None}
    for method, path in BODY_ENDPOINTS:
        resp = ws.api.request(method, path.format(**ids), escaped)
        assert resp.status_code < 500, (method, path, resp.content)
    assert_json_error(ws.api.post(f"/v1/connections/{ids['connection']}/query",
                                  {"query": "SELECT 1\u0000", "limit": 1}), 400, "query contains the NUL byte")
    for source in (pg_source, mysql_source):
        for key in source.settings:
            if not isinstance(source.settings[key], str):
                continue
            body = support.connection_body(source)
            body["settings"][key] = "x\u0000y"
            resp = ws.api.post("/v1/connections", body)
            assert support.error_of(resp) == (422, "InvalidSettings", f"{key} cannot contain the NUL character")
    assert_json_error(ws.api.get("/v1/pipelines/runs?pipeline=1%00"), 400,
                      'identifier "1\x00" is not a valid pipeline identifier')


def nested(depth: int, leaf="1") -> str:
    return "[" * depth + leaf + "]" * depth


def nested_object(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


FIELDS = ["name", "query", "inSchema", "outSchema", "transformation", "connection", "settings", "profileSchema",
          "uiPreferences", "period", "enabled", "incremental", "limit", "userIDColumn", "warehouse"]


def test_deeply_nested_json_is_400_and_nesting_within_the_limit_crashes_nothing(objects, api):
    ws, ids = objects
    for depth in (201, 1000, 50_000):
        for body in (nested(depth), nested_object(depth), '{"inSchema":' + nested_object(depth) + "}"):
            for method, path, resp in send_all(ws, ids, body.encode()):
                assert "nested more than 200 levels" in assert_json_error(resp, 400)
    # 199 levels below each field of each endpoint: refused or accepted, never a crash
    for field in FIELDS:
        for value in (nested(198), nested_object(198)):
            body = ('{"' + field + '":' + value + "}").encode()
            for method, path, resp in send_all(ws, ids, body):
                assert resp.status_code < 500, (method, path, field, resp.content[:300])
            resp = api.request("POST", "/v1/workspaces", raw=body)
            assert resp.status_code < 500, (field, resp.content[:300])
    assert ws.api.get(f"/v1/pipelines/{ids['pipeline']}").status_code == 200


@pytest.mark.parametrize("language,source", [
    ("JavaScript", "const transform = (user) => { return {first_name: user.firstname} };\n"),
    ("Python", "def transform(user: dict) -> dict:\n    return {'first_name': user['firstname']}\n"),
])
def test_function_sources_of_50000_characters(objects, language, source):
    ws, ids = objects

    body = pipeline_body(ws, ids["connection"], mapping={"first_name": "firstname"},
                         query="SELECT id, firstname, updated_ts FROM customers")
    comment = "//" if language == "JavaScript" else "#"
    padding = (comment + " " + "y" * 96 + "\n") * 1000
    for size in (50_000, 50_001, 200_000):
        text = (source + padding)[:size - 1] + "\n"
        text = text if len(text) == size else text + " " * (size - len(text))
        body["transformation"] = {"mapping": None, "function": {
            "source": text, "language": language, "preserveJSON": False, "inPaths": ["firstname"],
            "outPaths": ["first_name"]}}
        resp = ws.api.post("/v1/pipelines", body)
        if size <= 50_000:
            assert resp.status_code in (200, 422), resp.content[:500]  # 422 UnsupportedLanguage when switched off
        else:
            assert_json_error(resp, 400)
    # a 50,000-character source of one single line, and one that does not compile
    for text in ("x" * 50_000, "(" * 50_000):
        body["transformation"]["function"]["source"] = text
        resp = ws.api.post("/v1/pipelines", body)
        assert resp.status_code in (400, 422), resp.content[:500]


def test_a_python_function_flooding_its_pipe_at_save_is_400_and_the_server_memory_stays(objects):
    """Top-level code that announces a 200 MiB reply on the worker's protocol pipe (and writes it):
    the save is refused with the bound in the message, and the web process never reads the frame."""
    from tests.pipelines.transformers.helpers import peak_rss_growth
    from tests.pipelines.transformers.test_replies import FLOOD

    ws, ids = objects
    body = pipeline_body(ws, ids["connection"], mapping={"first_name": "firstname"},
                         query="SELECT id, firstname, updated_ts FROM customers")
    body["transformation"] = {"mapping": None, "function": {
        "source": FLOOD + "flood(200 * 2**20)\ndef transform(user):\n    return {}\n", "language": "Python",
        "preserveJSON": False, "inPaths": ["firstname"], "outPaths": ["first_name"]}}
    resp, growth = peak_rss_growth(lambda: ws.api.post("/v1/pipelines", body))
    assert_json_error(resp, 400, "transformer has unexpectedly announced a response of 200 MiB, more than the "
                                 "64 KiB it may send when it loads the function")
    assert growth < 32 * 2**20, growth


def test_a_django_500_on_v1_is_a_json_error(objects, monkeypatch, client):
    from django.test import Client

    from pipelines.api import pipeline_views

    ws, ids = objects
    monkeypatch.setattr(pipeline_views, "pipelines_json", lambda pipelines: 1 / 0)
    resp = Client(raise_request_exception=False).get(
        "/v1/pipelines", HTTP_AUTHORIZATION=f"Bearer {ws.api.key}", HTTP_KRENALIS_WORKSPACE=str(ws.id))
    assert resp.status_code == 500
    assert json.loads(resp.content) == {"error": {"code": "InternalError", "message": "an internal error has occurred"}}
    assert resp["Content-Type"].startswith("application/json")
    # Django refusing a request before any view (a Host it does not serve) also answers JSON on /v1
    resp = Client().get("/v1/pipelines", HTTP_HOST="evil.example")
    assert resp.status_code == 400 and json.loads(resp.content)["error"]["code"] == "BadRequest"


def test_hostile_paths_query_strings_and_headers_get_4xx(objects):
    ws, ids = objects
    client = ws.api.client
    auth = {"HTTP_AUTHORIZATION": f"Bearer {ws.api.key}", "HTTP_KRENALIS_WORKSPACE": str(ws.id)}
    for path in ["/v1/pipelines/%ff", "/v1/pipelines/%00", "/v1/pipelines/" + "9" * 10_000, "/v1/pipelines/١٢٣",
                 "/v1/pipelines/runs?pipeline=%ff", "/v1/pipelines/runs?pipeline=" + "1" * 5000,
                 f"/v1/connections/{ids['connection']}/identities?first=%00",
                 f"/v1/connections/{ids['connection']}/identities?limit=1e3", "/v1/%ff%fe",
                 "/v1/pipelines/1/../../workspaces", "/v1/" + "a/" * 2000]:
        status = client.get(path, **auth).status_code
        assert 400 <= status < 500, (path[:80], status)
    for value in ["é", "1\x00", "1,2", "+1", "01", "1" * 1000, "-1", "0x10"]:
        resp = client.get("/v1/pipelines", HTTP_AUTHORIZATION=f"Bearer {ws.api.key}", HTTP_KRENALIS_WORKSPACE=value)
        assert_json_error(resp, 400)
    for value in ["Bearer é", "Bearer api_" + "é" * 49, "Bearer " + "a" * 100_000, "Bearer api_\x00", "\x00"]:
        resp = client.get("/v1/pipelines", HTTP_AUTHORIZATION=value, HTTP_KRENALIS_WORKSPACE=str(ws.id))
        assert resp.status_code in (400, 401), (value[:20], resp.content)
