"""The profiles, profile schema and identity resolution endpoints, end to end: real imports from
two PostgreSQL sources into a PostgreSQL warehouse, resolved and read back over the API.

Resolutions started over the API are queued for Celery after the commit: the tests that resolve
are transactional and a real Celery worker executes them (tests/conftest.py `celery_worker`)."""
import datetime as dt
import json
import uuid
from urllib.parse import quote

import pytest

from pipelines.models import Pipeline, Workspace
from pipelines.types import parse_type
from tests import support
from tests.pipelines.services import (
    RICH_PROFILE_SCHEMA, create_connection, create_pipeline, create_workspace, pipeline_body, run_now,
)
from tests.support import error_of
from warehouse.backends import backend_for
from warehouse.columns import profile_columns

FIRST = {"email": "email", "first_name": "firstname", "customer_id": "id"}
FIRST_QUERY = "SELECT id, firstname, email, updated_ts FROM customers"
SECOND = {"email": "email", "last_name": "lastname", "age": "age"}
SECOND_QUERY = "SELECT id, lastname, email, age, updated_ts FROM customers"


@pytest.fixture
def ws(api, warehouse_db):
    return create_workspace(api, warehouse_db)


@pytest.fixture
def second_source():
    source = support.create_source("postgresql")
    yield source
    support.drop_source(source)


@pytest.fixture
def imported(ws, pg_source, second_source, celery_worker):
    """Two connections whose customers share their emails; each pipeline imported once (no
    resolution after the imports: the tests start theirs)."""
    resp = ws.api.put("/v1/identity-resolution/settings", {"runOnBatchImport": False, "identifiers": []})
    assert resp.status_code == 200, resp.content
    first = create_pipeline(ws, create_connection(ws, pg_source), mapping=FIRST, query=FIRST_QUERY, name="CRM")
    second_connection = ws.api.post("/v1/connections", support.connection_body(second_source, "Shop")).json()["id"]
    second = create_pipeline(ws, second_connection, mapping=SECOND, query=SECOND_QUERY, name="Shop")
    second_source.execute("UPDATE customers SET lastname = 'Shop' || id, updated_ts = updated_ts + interval '1 day'")
    for pipeline_id in (first, second):
        assert run_now(pipeline_id).error == ""
    return first, second


def start(ws) -> None:
    """Starts an identity resolution over the API and waits (30 s at most) for the worker to end it."""
    resp = ws.api.post("/v1/identity-resolution/start")
    assert (resp.status_code, resp.content) == (200, b""), resp.content
    ended = support.wait_for(lambda: ws.api.get("/v1/identity-resolution/latest").json()["endTime"], timeout=30)
    assert ended, "no worker ended the identity resolution within 30 s"
    assert Workspace.objects.get(id=ws.id).ir_error == ""


def delete_and_wait(ws, path: str) -> None:
    """DELETE path (a pipeline or connection): with runOnBatchImport on, it queues a resolution, which
    the worker ends within 30 s."""
    before = Workspace.objects.get(id=ws.id).ir_end_time
    resp = ws.api.delete(path)
    assert (resp.status_code, resp.content) == (200, b""), resp.content
    ended = support.wait_for(lambda: Workspace.objects.filter(id=ws.id, ir_id__isnull=True)
                             .exclude(ir_end_time=before).exists(), timeout=30)
    assert ended, "no worker ended the identity resolution the delete queued within 30 s"
    assert Workspace.objects.get(id=ws.id).ir_error == ""


def profiles(ws, **params) -> dict:
    query = "&".join(f"{k}={quote(str(v))}" for k, v in params.items())
    resp = ws.api.get("/v1/profiles" + (f"?{query}" if query else ""))
    assert resp.status_code == 200, resp.content
    return resp.json()


# --------------------------------------------------------------------------- settings

def test_settings_round_trip(ws):
    assert ws.api.get("/v1/identity-resolution/settings").json() == {"runOnBatchImport": True, "identifiers": []}
    resp = ws.api.put("/v1/identity-resolution/settings", {"runOnBatchImport": False,
                                                           "identifiers": ["email", "customer_id"]})
    assert (resp.status_code, resp.content) == (200, b"")
    assert ws.api.get("/v1/identity-resolution/settings").json() == {
        "runOnBatchImport": False, "identifiers": ["email", "customer_id"]}
    current = ws.api.get("/v1/workspaces/current").json()
    assert (current["resolveIdentitiesOnBatchImport"], current["identifiers"]) == (False, ["email", "customer_id"])


@pytest.mark.parametrize("body, expected", [
    ({"runOnBatchImport": True, "identifiers": ["email", "email"]}, (400, "BadRequest", 'identifier "email" is repeated')),
    ({"identifiers": ["e mail"]}, (400, "BadRequest", 'identifier "e mail" is not a valid property path')),
    ({"identifiers": [3]}, (400, "BadRequest", "identifier 3 is not a valid property path")),
    ({"identifiers": "email"}, (400, "BadRequest", '"identifiers" must be an array')),
    ({"runOnBatchImport": "yes"}, (400, "BadRequest", '"runOnBatchImport" must be a boolean')),
    ({"identifiers": ["phone"]}, (422, "PropertyNotExist", 'identifier "phone" does not exist in the profile schema')),
    ({"identifiers": ["seen_at"]}, (422, "TypeNotAllowed", 'identifier "seen_at" has type datetime, but an '
                                                          "identifier must be of type string, int, uuid, ip, or "
                                                          "decimal with scale 0")),
])
def test_settings_validation(ws, body, expected):
    assert error_of(ws.api.put("/v1/identity-resolution/settings", body)) == expected
    assert ws.api.get("/v1/identity-resolution/settings").json()["identifiers"] == []


def test_settings_need_a_body(ws):
    assert error_of(ws.api.put("/v1/identity-resolution/settings")) == (400, "BadRequest", "request's body is missing")


# --------------------------------------------------------------------------- resolving and reading back

def test_two_pipelines_sharing_emails_merge(ws, imported):
    first, second = imported
    assert profiles(ws) == {"profiles": [], "schema": RICH_PROFILE_SCHEMA_JSON(ws), "total": 0}
    assert ws.api.get("/v1/identity-resolution/latest").json() == {
        "startTime": None, "endTime": None, "kind": None, "identities": None, "profiles": None}
    ws.api.put("/v1/identity-resolution/settings", {"runOnBatchImport": True, "identifiers": ["email"]})
    start(ws)
    latest = ws.api.get("/v1/identity-resolution/latest").json()
    assert latest["startTime"] <= latest["endTime"]
    assert (latest["kind"], latest["identities"], latest["profiles"]) == ("Full", 20, 10)   # the first one
    body = profiles(ws, order="customer_id")
    assert body["total"] == 10 and len(body["profiles"]) == 10
    one = body["profiles"][0]
    assert set(one) == {"kpid", "updatedAt", "attributes"}
    assert one["attributes"] == {"email": "user1@example.com", "first_name": "First1", "last_name": "Shop1",
                                 "age": 21, "customer_id": "1"}   # int64 as a JSON string
    assert one["updatedAt"] == "2024-01-02T00:01:00Z"              # the newest identity's
    identities = ws.api.get(f"/v1/profiles/{one['kpid']}/identities").json()
    assert identities["total"] == 2
    assert [(i["pipeline"], i["userId"]) for i in identities["identities"]] == [(second, "1"), (first, "1")]
    assert ws.api.get(f"/v1/profiles/{one['kpid']}/attributes").json() == {"attributes": one["attributes"]}

    # Deleting a pipeline removes its identities; the resolution it queues updates the profiles.
    delete_and_wait(ws, f"/v1/pipelines/{second}")
    latest = ws.api.get("/v1/identity-resolution/latest").json()
    # Only the profiles the deleted identities were in are regrouped (here all ten, of one identity each now).
    assert (latest["kind"], latest["identities"], latest["profiles"]) == ("Incremental", 10, 10)
    after = profiles(ws, order="customer_id")["profiles"][0]
    assert after["kpid"] == one["kpid"]
    assert after["attributes"] == {"email": "user1@example.com", "first_name": "First1", "customer_id": "1"}
    assert ws.api.get(f"/v1/profiles/{one['kpid']}/identities").json()["total"] == 1


def RICH_PROFILE_SCHEMA_JSON(ws):
    return ws.api.get("/v1/profiles/schema").json()


def test_without_identifiers_only_the_same_source_user_merges(ws, imported):
    start(ws)
    assert profiles(ws)["total"] == 20


def test_deleting_a_connection_and_resolving_again(ws, imported):
    ws.api.put("/v1/identity-resolution/settings", {"runOnBatchImport": False, "identifiers": ["email"]})
    start(ws)
    connection = Pipeline.objects.get(id=imported[0]).connection_id
    assert ws.api.delete(f"/v1/connections/{connection}").status_code == 200
    start(ws)
    body = profiles(ws, properties="first_name,last_name", order="last_name", limit=3)
    assert body["total"] == 10
    assert [p["attributes"] for p in body["profiles"]] == [{"last_name": "Shop1"}, {"last_name": "Shop10"},
                                                           {"last_name": "Shop2"}]
    assert body["schema"]["properties"] == [p for p in RICH_PROFILE_SCHEMA_JSON(ws)["properties"]
                                            if p["name"] in ("first_name", "last_name")]


def test_a_property_no_longer_mapped_leaves_the_profiles(ws, imported):
    first, _ = imported
    ws.api.put("/v1/identity-resolution/settings", {"runOnBatchImport": False, "identifiers": ["email"]})
    start(ws)
    assert profiles(ws, order="customer_id")["profiles"][0]["attributes"]["first_name"] == "First1"
    body = pipeline_body(ws, Pipeline.objects.get(id=first).connection_id, mapping={"email": "email", "customer_id": "id"},
                         query="SELECT id, email, updated_ts FROM customers", name="CRM")
    del body["connection"], body["target"]
    assert ws.api.put(f"/v1/pipelines/{first}", body).status_code == 200
    start(ws)  # before the pipeline runs again
    assert "first_name" not in profiles(ws, order="customer_id")["profiles"][0]["attributes"]


def test_profiles_paging_filter_and_order(ws, imported):
    ws.api.put("/v1/identity-resolution/settings", {"runOnBatchImport": False, "identifiers": ["email"]})
    start(ws)
    body = profiles(ws, order="age", orderDesc="true", first=1, limit=2, properties="age")
    assert body["total"] == 10 and [p["attributes"] for p in body["profiles"]] == [{"age": 29}, {"age": 28}]
    condition = {"logical": "and", "conditions": [
        {"property": "age", "operator": "is between", "values": ["22", "25"]},
        {"property": "last_name", "operator": "is not", "values": ["Shop3"]}]}
    body = profiles(ws, filter=json.dumps(condition), order="age", properties="age")
    assert body["total"] == 3 and [p["attributes"]["age"] for p in body["profiles"]] == [22, 24, 25]
    condition = {"logical": "or", "conditions": [
        {"property": "email", "operator": "starts with", "values": ["user10"]},
        {"property": "customer_id", "operator": "is one of", "values": ["2", "3"]}]}
    assert profiles(ws, filter=json.dumps(condition), order="customer_id",
                    properties="customer_id")["profiles"] == [
        {"kpid": p["kpid"], "updatedAt": p["updatedAt"], "attributes": {"customer_id": c}}
        for p, c in zip(profiles(ws, filter=json.dumps(condition), order="customer_id")["profiles"],
                        ["2", "3", "10"])]


@pytest.mark.parametrize("query, expected", [
    ("properties=nope", (422, "PropertyNotExist", 'property "nope" does not exist')),
    ("properties=a b", (400, "BadRequest", 'property "a b" is not a valid property path')),
    ("order=nope", (422, "OrderNotExist", 'order property "nope" does not exist')),
    ("order=attrs", (422, "OrderTypeNotSortable", 'order property "attrs" of type json is not sortable')),
    ("orderDesc=yes", (400, "BadRequest", "orderDesc is not valid")),
    ("limit=0", (400, "BadRequest", "limit 0 is not valid")),
    ("limit=1001", (400, "BadRequest", "limit 1001 is not valid")),
    ("first=x", (400, "BadRequest", "first is not valid")),
    ("filter=" + quote("{"), (400, "BadRequest", None)),
    ("filter=" + quote('{"logical":"xor","conditions":[]}'), (400, "BadRequest",
                                                               'filter is not valid: logical must be "and" or "or"')),
    ("filter=" + quote('{"logical":"and","conditions":[{"property":"phone","operator":"is","values":["1"]}]}'),
     (422, "PropertyNotExist", 'filter property "phone" does not exist')),
    ("filter=" + quote('{"logical":"and","conditions":[{"property":"age","operator":"contains","values":["1"]}]}'),
     (400, "BadRequest", "filter is not valid: operator 'contains' cannot be used with property \"age\" of type "
                         "int(32)")),
    ("filter=" + quote('{"logical":"and","conditions":[{"property":"age","operator":"is","values":[]}]}'),
     (400, "BadRequest", 'filter is not valid: operator "is" on "age" requires 1 value')),
    ("filter=" + quote('{"logical":"and","conditions":[{"property":"age","operator":"is","values":["x"]}]}'),
     (400, "BadRequest", 'filter is not valid: "x" is not a valid int(32) value for property "age"')),
])
def test_profiles_query_errors(ws, query, expected):
    status, code, message = error_of(ws.api.get(f"/v1/profiles?{query}"))
    assert (status, code) == expected[:2]
    if expected[2] is not None:
        assert message == expected[2]


def test_profile_by_kpid_errors(ws):
    assert error_of(ws.api.get("/v1/profiles/not-a-uuid/attributes")) == (
        400, "BadRequest", '"not-a-uuid" is not a valid KPID')
    kpid = str(uuid.uuid4())
    assert error_of(ws.api.get(f"/v1/profiles/{kpid}/attributes")) == (
        404, "NotFound", f'profile "{kpid}" does not exist')
    assert error_of(ws.api.get(f"/v1/profiles/{kpid}/identities")) == (
        404, "NotFound", f'profile "{kpid}" does not exist')
    assert error_of(ws.api.get(f"/v1/profiles/{kpid}/identities?limit=0")) == (
        400, "BadRequest", "limit 0 is not valid")


# --------------------------------------------------------------------------- one operation at a time

def test_one_operation_at_a_time(ws):
    resp = ws.api.post("/v1/identity-resolution/start")   # queued, never executed in this test
    assert resp.status_code == 200
    assert error_of(ws.api.post("/v1/identity-resolution/start")) == (
        422, "OperationAlreadyExecuting", "identity resolution is already in execution")
    assert error_of(ws.api.put("/v1/identity-resolution/settings", {"identifiers": ["email"]})) == (
        422, "IdentityResolutionInExecution", "identity resolution is in execution")
    assert error_of(ws.api.put("/v1/profiles/schema", {"schema": RICH_PROFILE_SCHEMA})) == (
        422, "IdentityResolutionInExecution", "identity resolution is in execution")
    assert ws.api.get("/v1/identity-resolution/latest").json()["endTime"] is None
    Workspace.objects.filter(id=ws.id).update(ir_id=None, alter_schema_id=uuid.uuid4(),
                                              alter_schema_start_time=Workspace.objects.get(id=ws.id).ir_start_time)
    assert error_of(ws.api.post("/v1/identity-resolution/start")) == (
        422, "OperationAlreadyExecuting", "the profile schema is being altered")
    assert error_of(ws.api.put("/v1/identity-resolution/settings", {"identifiers": ["email"]})) == (
        422, "AlterSchemaInExecution", "the profile schema is being altered")


def test_start_rules(ws):
    assert error_of(ws.api.post("/v1/identity-resolution/start", {})) == (400, "BadRequest", "request body not allowed")
    Workspace.objects.filter(id=ws.id).update(warehouse_mode="Maintenance")
    assert error_of(ws.api.post("/v1/identity-resolution/start")) == (
        422, "MaintenanceMode", "data warehouse is in maintenance mode")
    assert error_of(ws.api.get("/v1/profiles")) == (422, "MaintenanceMode", "data warehouse is in maintenance mode")
    Workspace.objects.filter(id=ws.id).update(warehouse_mode="Inspection")
    assert error_of(ws.api.post("/v1/identity-resolution/start")) == (
        422, "InspectionMode", "data warehouse is in inspection mode")
    assert profiles(ws)["total"] == 0   # reads are allowed in inspection mode


# --------------------------------------------------------------------------- profile schema changes

def test_profile_schema_change(ws, imported):
    first, second = imported
    ws.api.put("/v1/identity-resolution/settings", {"runOnBatchImport": False, "identifiers": ["email", "customer_id"]})
    start(ws)
    schema = json.loads(json.dumps(RICH_PROFILE_SCHEMA))
    properties = {p["name"]: p for p in schema["properties"]}
    properties["first_name"]["name"] = "given_name"                 # renamed
    del properties["age"]                                            # dropped
    properties["vip"] = {"name": "vip", "type": {"kind": "boolean"}, "readOptional": True}   # added
    properties["customer_id"]["type"] = {"kind": "int", "bitSize": 32}                       # type changed
    schema["properties"] = list(properties.values())
    change = {"schema": schema, "primarySources": None, "rePaths": {"given_name": "first_name"}}

    preview = ws.api.put("/v1/profiles/schema/preview", change).json()
    assert any('RENAME COLUMN "_krenalis_rename_0" TO "given_name"' in q for q in preview["queries"])
    assert [p["pipeline"] for p in preview["misalignedPipelines"]] == [first, second]
    assert ws.api.get("/v1/profiles/schema").json() == RICH_PROFILE_SCHEMA_JSON(ws)  # nothing changed yet

    resp = ws.api.put("/v1/profiles/schema", change)
    assert (resp.status_code, resp.content) == (200, b"")
    assert [p["name"] for p in ws.api.get("/v1/profiles/schema").json()["properties"]] == [
        "email", "given_name", "last_name", "customer_id", "updated_text", "seen_at", "attrs", "vip"]
    assert ws.api.get("/v1/identity-resolution/settings").json()["identifiers"] == ["email"]  # customer_id changed
    latest = ws.api.get("/v1/profiles/schema/latest-alter").json()
    assert latest["error"] is None and latest["startTime"] <= latest["endTime"]
    assert [(p["pipeline"], p["message"]) for p in latest["misalignedPipelines"]] == [
        (first, 'in the output schema, "first_name" property no longer exists. Please review and update the '
                "pipeline before attempting to import the users."),
        (second, 'in the output schema, "age" property no longer exists. Please review and update the pipeline '
                 "before attempting to import the users.")]
    # The renamed column kept its values; the profiles show it once resolved again.
    body = profiles(ws, order="given_name", limit=1)
    assert body["profiles"][0]["attributes"]["given_name"] == "First1"
    start(ws)
    assert profiles(ws, order="given_name", limit=1)["profiles"][0]["attributes"] == {
        "email": "user1@example.com", "given_name": "First1", "last_name": "Shop1"}
    # Misaligned pipelines are reported by their next run, not silently broken.
    run = run_now(second)
    assert run.error == ('in the output schema, "age" property no longer exists. Please review and update the '
                         "pipeline before attempting to import the users.")


@pytest.mark.parametrize("change, expected", [
    ({"schema": None}, (400, "BadRequest", "profile schema is invalid")),
    ({"schema": RICH_PROFILE_SCHEMA, "rePaths": {"email": "nope"}},
     (400, "BadRequest", 'rePaths value "nope" is not a property of the current profile schema')),
    ({"schema": RICH_PROFILE_SCHEMA, "rePaths": ["email"]}, (400, "BadRequest", '"rePaths" must be an object')),
    ({"schema": RICH_PROFILE_SCHEMA, "primarySources": {"email": 12345}},
     (422, "ConnectionNotExist", "connection 12345 does not exist")),
    ({"schema": RICH_PROFILE_SCHEMA, "primarySources": {"phone": 12345}},
     (422, "PropertyNotExist", 'primary source property "phone" does not exist in the profile schema')),
])
def test_profile_schema_change_validation(ws, change, expected):
    assert error_of(ws.api.put("/v1/profiles/schema", change)) == expected
    assert Workspace.objects.get(id=ws.id).alter_schema_id is None


def test_primary_sources_are_kept(ws, imported):
    connection = Pipeline.objects.get(id=imported[0]).connection_id
    resp = ws.api.put("/v1/profiles/schema", {"schema": RICH_PROFILE_SCHEMA, "primarySources": {"email": connection}})
    assert resp.status_code == 200, resp.content
    assert ws.api.get("/v1/workspaces/current").json()["primarySources"] == {"email": connection}
    assert ws.api.get("/v1/profiles/schema/latest-alter").json()["misalignedPipelines"] == []


# --------------------------------------------------------------------------- the SQLite warehouse

def test_the_same_on_a_sqlite_warehouse(api, tmp_path, pg_source, second_source, celery_worker, monkeypatch,
                                        settings):
    monkeypatch.setitem(settings.KRENALIS, "SQLITE_WAREHOUSE_DIR", str(tmp_path))
    resp = api.post("/v1/workspaces", {"name": "Embedded", "profileSchema": RICH_PROFILE_SCHEMA,
                                       "warehouse": {"platform": "SQLite", "settings": {"path": "wh.sqlite3"}}})
    assert resp.status_code == 200, resp.content
    ws = support.WorkspaceRef(resp.json()["id"], "", api.scoped(resp.json()["id"]))
    first = create_pipeline(ws, create_connection(ws, pg_source), mapping=FIRST, query=FIRST_QUERY, name="CRM")
    second_connection = ws.api.post("/v1/connections", support.connection_body(second_source, "Shop")).json()["id"]
    second = create_pipeline(ws, second_connection, mapping=SECOND, query=SECOND_QUERY, name="Shop")
    # Written with the warehouse's identity writer (what a run does, minus the source query).
    workspace = Workspace.objects.get(id=ws.id)
    backend = backend_for(workspace.warehouse_platform, workspace.warehouse_settings)
    types = {c.name: c.type for c in profile_columns(parse_type(RICH_PROFILE_SCHEMA))}
    moment = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    for pipeline_id, columns, day in ((first, ("email", "first_name", "customer_id"), 0),
                                      (second, ("email", "last_name", "age"), 1)):
        pipeline = Pipeline.objects.get(id=pipeline_id)
        with backend.identity_writer(pipeline_id=pipeline_id, connection_id=pipeline.connection_id, run_id=1,
                                     columns=[(c, types[c]) for c in columns]) as writer:
            writer.write([(str(i), moment + dt.timedelta(days=day, minutes=i),
                           (f"user{i}@example.com", *((f"First{i}", i) if day == 0 else (f"Shop{i}", 20 + i))))
                          for i in range(1, 11)])
    ws.api.put("/v1/identity-resolution/settings", {"runOnBatchImport": True, "identifiers": ["email"]})
    start(ws)
    body = profiles(ws, order="customer_id", limit=2)
    assert body["total"] == 10
    assert body["profiles"][0]["attributes"] == {"email": "user1@example.com", "first_name": "First1",
                                                 "last_name": "Shop1", "age": 21, "customer_id": "1"}
    assert body["profiles"][0]["updatedAt"] == "2024-01-02T00:01:00Z"
    kpid = body["profiles"][0]["kpid"]
    identities = ws.api.get(f"/v1/profiles/{kpid}/identities").json()
    assert [(i["pipeline"], i["userId"]) for i in identities["identities"]] == [(second, "1"), (first, "1")]
    delete_and_wait(ws, f"/v1/pipelines/{second}")
    after = profiles(ws, order="customer_id", limit=1)["profiles"][0]
    assert (after["kpid"], after["attributes"]) == (kpid, {"email": "user1@example.com", "first_name": "First1",
                                                           "customer_id": "1"})
