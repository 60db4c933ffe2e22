"""Pipelines: the seed's create/update/get, list, delete, status, schedule (every validation rule:
test_pipeline_validation.py)."""
import datetime as dt
import json
from pathlib import Path

import pytest

from pipelines.models import Pipeline
from tests.pipelines.api.pipeline_bodies import (IN_SCHEMA, JS_SOURCE, MAPPING, OUT_SCHEMA, QUERY, body, function,
                                                 in_schema, out_property, out_schema)
from tests.support import error_of

def test_create_get_list_delete(workspace, connection_id):
    pid = workspace.api.post("/v1/pipelines", body(connection_id)).json()["id"]
    got = workspace.api.get(f"/v1/pipelines/{pid}").json()
    assert list(got) == ["id", "name", "connector", "connectorType", "connection", "connectionRole", "target",
                         "enabled", "query", "userIDColumn", "updatedAtColumn", "updatedAtFormat", "incremental",
                         "transformation", "inSchema", "outSchema", "running", "scheduleStart", "schedulePeriod"]
    assert got["transformation"] == {"mapping": {"email": "email", "first_name": "firstname",
                                                 "last_name": "lastname"}, "function": None}
    assert (got["connector"], got["connection"], got["running"]) == ("postgresql", connection_id, False)
    assert (got["scheduleStart"], got["schedulePeriod"]) == (None, None)
    assert workspace.api.get("/v1/pipelines").json()["pipelines"] == [got]
    assert workspace.api.get(f"/v1/connections/{connection_id}").json()["pipelines"] == [got]
    assert workspace.api.delete(f"/v1/pipelines/{pid}").content == b""
    assert error_of(workspace.api.get(f"/v1/pipelines/{pid}")) == (404, "NotFound", f"pipeline {pid} does not exist")


SEED_EXAMPLES = Path(__file__).with_name("seed_examples.json")


def seed_examples() -> tuple[dict, dict, dict]:
    """The seed's create body, update body and get response, verbatim (copied from the seed into
    seed_examples.json, so that the tests need nothing outside the repository)."""
    examples = json.loads(SEED_EXAMPLES.read_text())
    return examples["create"], examples["update"], examples["get"]


def test_seed_create_example(workspace, connection_id):
    create, _, _ = seed_examples()
    create["connection"] = connection_id
    resp = workspace.api.post("/v1/pipelines", create)
    assert resp.status_code == 200, resp.content
    assert set(resp.json()) == {"id"} and 0 < resp.json()["id"] < 2**31


def test_seed_update_example(workspace, connection_id):
    create, update, _ = seed_examples()
    create["connection"] = connection_id
    pid = workspace.api.post("/v1/pipelines", dict(create, enabled=False, name="Before")).json()["id"]
    resp = workspace.api.put(f"/v1/pipelines/{pid}", update)
    assert (resp.status_code, resp.content) == (200, b"")
    got = workspace.api.get(f"/v1/pipelines/{pid}").json()
    assert (got["name"], got["enabled"], got["incremental"]) == (update["name"], True, True)
    assert got["transformation"] == {"mapping": update["transformation"]["mapping"], "function": None}
    assert got["inSchema"] == update["inSchema"] and got["outSchema"] == update["outSchema"]


def test_seed_get_example_shape(workspace, connection_id):
    """The seed's GET response, field by field, for a pipeline built like it (its function's
    source there is elided, so a working one is used)."""
    _, _, expected = seed_examples()
    function = dict(expected["transformation"]["function"],
                    source="const transform = (user) => ({email: user.email, first_name: user.firstname, "
                           "last_name: user.lastname});")
    create = {key: expected[key] for key in ("name", "enabled", "query", "userIDColumn", "updatedAtColumn",
                                             "updatedAtFormat", "incremental", "inSchema", "outSchema")}
    create.update(connection=connection_id, target="User", transformation={"function": function})
    pid = workspace.api.post("/v1/pipelines", create).json()["id"]
    workspace.api.put(f"/v1/pipelines/{pid}/schedule", {"period": expected["schedulePeriod"]})
    got = workspace.api.get(f"/v1/pipelines/{pid}").json()
    assert list(got) == list(expected)
    expected.update(id=pid, connection=connection_id, connector="postgresql", scheduleStart=got["scheduleStart"],
                    transformation={"mapping": None, "function": function})
    assert got == expected


def test_put_is_a_full_replacement_and_resets_the_cursor(workspace, connection_id):
    pid = workspace.api.post("/v1/pipelines", body(connection_id, incremental=True)).json()["id"]
    Pipeline.objects.filter(id=pid).update(cursor=dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc))
    new = body(connection_id, enabled=..., name="Renamed",
               transformation={"mapping": {"email": "email", "first_name": "firstname"}},
               outSchema={"kind": "object", "properties": OUT_SCHEMA["properties"][:2]},
               inSchema={"kind": "object", "properties": IN_SCHEMA["properties"][:2] + IN_SCHEMA["properties"][3:]})
    new.pop("connection"), new.pop("target")
    assert workspace.api.put(f"/v1/pipelines/{pid}", new).content == b""
    stored = Pipeline.objects.get(id=pid)
    assert (stored.name, stored.enabled, stored.cursor) == ("Renamed", False, None)
    assert stored.properties_to_unset == ["last_name"]


CURSOR = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
# An incremental pipeline whose function reads every column, so that the user ID and update time
# columns can move to another column without leaving one unused.
ALL_COLUMNS = ["email", "firstname", "lastname", "updated_at"]
INCREMENTAL = {"incremental": True, "transformation": function(inPaths=ALL_COLUMNS)}


def put_with_a_cursor(workspace, connection_id, **changes) -> Pipeline:
    """Creates the incremental pipeline, gives it a cursor (the API does not show it), PUTs the same
    body with `changes`, and returns the stored pipeline."""
    pid = workspace.api.post("/v1/pipelines", body(connection_id, **INCREMENTAL)).json()["id"]
    Pipeline.objects.filter(id=pid).update(cursor=CURSOR)
    resp = workspace.api.put(f"/v1/pipelines/{pid}", body(connection_id, **INCREMENTAL | changes))
    assert (resp.status_code, resp.content) == (200, b"")
    return Pipeline.objects.get(id=pid)


@pytest.mark.parametrize("changes", [
    {"query": QUERY + " ORDER BY email"},
    {"userIDColumn": "firstname"},
    {"updatedAtColumn": "lastname"},
    {"updatedAtFormat": "%Y-%m-%dT%H:%M:%SZ"},
    {"transformation": function(inPaths=ALL_COLUMNS, source=JS_SOURCE + "\n// v2")},
    {"transformation": function(inPaths=ALL_COLUMNS[:3])},
    {"transformation": {"mapping": MAPPING}},
    {"inSchema": in_schema(*ALL_COLUMNS, firstname={"type": {"kind": "string", "maxLength": 61}})},
    {"outSchema": out_schema(out_property("email", description="Email address"), "first_name", "last_name")},
    {"incremental": False},
], ids=["query", "user-id-column", "update-time-column", "update-time-format", "function-source",
        "function-in-paths", "function-to-mapping", "in-schema", "out-schema", "incremental-false"])
def test_put_that_changes_what_is_read_resets_the_cursor(workspace, connection_id, changes):
    """Reference §7.4: the next incremental run must start over, as the rows it read may differ."""
    assert put_with_a_cursor(workspace, connection_id, **changes).cursor is None


@pytest.mark.parametrize("changes", [
    {},
    {"name": "Renamed", "enabled": False},
    {"enabled": ...},
    {"inSchema": {"properties": IN_SCHEMA["properties"], "kind": "object"}},
], ids=["nothing", "name-and-enabled", "enabled-omitted", "same-schema-other-key-order"])
def test_put_that_changes_nothing_read_keeps_the_cursor(workspace, connection_id, changes):
    stored = put_with_a_cursor(workspace, connection_id, **changes)
    assert stored.cursor == CURSOR and stored.revision == 1


def test_status_and_schedule_keep_the_cursor(workspace, connection_id):
    pid = workspace.api.post("/v1/pipelines", body(connection_id, **INCREMENTAL)).json()["id"]
    Pipeline.objects.filter(id=pid).update(cursor=CURSOR)
    assert workspace.api.put(f"/v1/pipelines/{pid}/status", {"enabled": False}).content == b""
    assert workspace.api.put(f"/v1/pipelines/{pid}/schedule", {"period": "1h"}).content == b""
    assert Pipeline.objects.get(id=pid).cursor == CURSOR


def test_status_and_schedule(workspace, connection_id):
    pid = workspace.api.post("/v1/pipelines", body(connection_id)).json()["id"]
    assert workspace.api.put(f"/v1/pipelines/{pid}/status", {}).content == b""
    assert workspace.api.get(f"/v1/pipelines/{pid}").json()["enabled"] is False
    assert workspace.api.put(f"/v1/pipelines/{pid}/schedule", {"period": "1h"}).content == b""
    got = workspace.api.get(f"/v1/pipelines/{pid}").json()
    assert got["schedulePeriod"] == "1h" and 0 <= got["scheduleStart"] < 1440
    status, code, message = error_of(workspace.api.put(f"/v1/pipelines/{pid}/schedule", {"period": "10m"}))
    assert (status, code) == (400, "BadRequest") and '"5m", "15m"' in message


def test_unsupported_language_is_422(workspace, connection_id, settings):
    settings.KRENALIS = {**settings.KRENALIS, "TRANSFORMATION_LANGUAGES": ["JavaScript"]}
    function = {"function": {"source": "def transform(user):\n    return {}\n", "language": "Python",
                             "inPaths": ["email", "firstname", "lastname"],
                             "outPaths": ["email", "first_name", "last_name"]}}
    assert error_of(workspace.api.post("/v1/pipelines", body(connection_id, transformation=function))) == (
        422, "UnsupportedLanguage", "Python transformation language is not supported")
    assert workspace.api.get("/v1/system/transformations/languages").json() == {"languages": ["JavaScript"]}


@pytest.mark.parametrize("language,source,message", [
    ("JavaScript", "const transform = (user) => {\n  return {;\n};\n", "transformation function has a syntax error at line 2"),
    ("JavaScript", "const other = 1;\n", 'transformation function does not define "transform"'),
    ("Python", "def transform(user):\n    return {\n", "transformation function has a syntax error at line"),
    ("Python", "def other(user):\n    return {}\n", 'transformation function does not define "transform"'),
])
def test_function_that_does_not_compile_is_400(workspace, connection_id, language, source, message):
    function = {"function": {"source": source, "language": language, "inPaths": ["email", "firstname", "lastname"],
                             "outPaths": ["email", "first_name", "last_name"]}}
    status, code, text = error_of(workspace.api.post("/v1/pipelines", body(connection_id, transformation=function)))
    assert (status, code) == (400, "BadRequest") and text.startswith(message), text
    assert not Pipeline.objects.exists()


@pytest.mark.parametrize("clear", [{"period": None}, {}], ids=["null", "missing"])
def test_null_or_missing_period_turns_the_schedule_off(workspace, connection_id, clear):
    pid = workspace.api.post("/v1/pipelines", body(connection_id)).json()["id"]
    start = Pipeline.objects.get(id=pid).schedule_start
    assert workspace.api.put(f"/v1/pipelines/{pid}/schedule", {"period": "15m"}).content == b""
    assert workspace.api.put(f"/v1/pipelines/{pid}/schedule", clear).content == b""
    got = workspace.api.get(f"/v1/pipelines/{pid}").json()
    assert (got["scheduleStart"], got["schedulePeriod"]) == (None, None)
    assert workspace.api.put(f"/v1/pipelines/{pid}/schedule", {"period": "2h"}).content == b""
    got = workspace.api.get(f"/v1/pipelines/{pid}").json()
    assert (got["scheduleStart"], got["schedulePeriod"]) == (start, "2h")


def test_pipelines_of_one_connection_share_the_schedule_start(workspace, connection_id):
    """Reference §7.3: a new pipeline reuses the minute of the connection's existing pipeline."""
    first = workspace.api.post("/v1/pipelines", body(connection_id, name="First")).json()["id"]
    Pipeline.objects.filter(id=first).update(schedule_start=777)
    second = workspace.api.post("/v1/pipelines", body(connection_id, name="Second")).json()["id"]
    assert workspace.api.put(f"/v1/pipelines/{second}/schedule", {"period": "24h"}).content == b""
    assert workspace.api.get(f"/v1/pipelines/{second}").json()["scheduleStart"] == 777


def test_put_of_an_unknown_pipeline_is_404(workspace, connection_id):
    pid = workspace.api.post("/v1/pipelines", body(connection_id)).json()["id"]
    before = workspace.api.get("/v1/pipelines").json()
    missing = pid % (2**31 - 1) + 1
    resp = workspace.api.put(f"/v1/pipelines/{missing}", body(connection_id, name="Renamed"))
    assert error_of(resp) == (404, "NotFound", f"pipeline {missing} does not exist")
    assert workspace.api.get("/v1/pipelines").json() == before


def test_list_is_ordered_by_name_then_id(workspace, connection_id):
    """Spec README §1.7."""
    ids = {name: [] for name in ("alpha", "beta")}
    for name in ("beta", "alpha", "beta", "alpha"):
        ids[name].append(workspace.api.post("/v1/pipelines", body(connection_id, name=name)).json()["id"])
    listed = [(p["name"], p["id"]) for p in workspace.api.get("/v1/pipelines").json()["pipelines"]]
    assert listed == [(name, pid) for name in ("alpha", "beta") for pid in sorted(ids[name])]
