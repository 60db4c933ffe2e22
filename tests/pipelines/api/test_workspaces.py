"""Workspaces (reference §3) and their warehouses."""
import copy

import pytest

from pipelines.models import Workspace
from tests import support
from tests.support import error_of

FIELDS = {"id", "name", "profileSchema", "primarySources", "resolveIdentitiesOnBatchImport", "identifiers",
          "warehouseMode", "uiPreferences"}


def test_create_initializes_the_postgresql_warehouse(workspace):
    body = workspace.api.get("/v1/workspaces/current").json()
    assert set(body) == FIELDS and body["id"] == workspace.id
    assert body["warehouseMode"] == "Normal" and body["resolveIdentitiesOnBatchImport"] is True
    assert [p["name"] for p in body["profileSchema"]["properties"]] == ["email", "first_name", "last_name", "age"]
    columns = support.pg_connect(workspace.warehouse_db).cursor()
    columns.execute("SELECT column_name, data_type, character_maximum_length FROM information_schema.columns "
                    "WHERE table_name = 'krenalis_identities' ORDER BY ordinal_position")
    got = {name: (kind, length) for name, kind, length in columns.fetchall()}
    assert got["email"] == ("character varying", 254)
    assert got["age"] == ("integer", None)
    assert got["_updated_at"] == ("timestamp without time zone", None)
    assert {"_pipeline", "_identity_id", "_connection", "_run", "_kpid", "_is_anonymous"} <= set(got)


def test_the_warehouse_password_is_stored_encrypted(api, warehouse_db):
    body = support.workspace_body("Secret", warehouse_db)
    body["warehouse"]["settings"]["password"] = "canary-wh-password-1234"
    workspace_id = api.post("/v1/workspaces", body).json()["id"]
    stored = Workspace.objects.get(id=workspace_id)
    assert "canary-wh-password-1234" not in stored.warehouse_settings_encrypted
    assert stored.warehouse_settings["password"] == "canary-wh-password-1234"
    listing = api.get("/v1/workspaces").content
    assert b"canary-wh-password-1234" not in listing


def test_sqlite_warehouse_is_created_in_a_file_of_its_own(api, settings, tmp_path):
    settings.KRENALIS = {**settings.KRENALIS, "SQLITE_WAREHOUSE_DIR": str(tmp_path)}
    body = {"name": "Embedded", "profileSchema": support.PROFILE_SCHEMA, "warehouse": {"platform": "SQLite"}}
    workspace_id = api.post("/v1/workspaces", body).json()["id"]
    assert (tmp_path / f"workspace_{workspace_id}.sqlite3").exists()
    assert api.scoped(workspace_id).delete("/v1/workspaces/current").status_code == 200


def test_warehouse_that_is_not_empty_is_refused(api, warehouse_db):
    support.pg_connect(warehouse_db).cursor().execute("CREATE TABLE users (id int)")
    resp = api.post("/v1/workspaces", support.workspace_body("Busy", warehouse_db))
    status, code, _ = error_of(resp)
    assert (status, code) == (422, "WarehouseNotInitializable")
    assert not Workspace.objects.exists()


@pytest.mark.parametrize("change,status,code,message", [
    (lambda b: b.update(name=""), 400, "BadRequest", "name is empty"),
    (lambda b: b.update(name="n" * 101), 400, "BadRequest", "name is longer than 100 runes"),
    (lambda b: b.update(profileSchema=None), 400, "BadRequest", "profile schema is invalid"),
    (lambda b: b.update(profileSchema={"kind": "string"}), 400, "BadRequest", "profile schema is invalid"),
    (lambda b: b["profileSchema"]["properties"][0].pop("readOptional"), 400, "BadRequest",
     "profile schema properties must be optional"),  # the reference's own example
    (lambda b: b["profileSchema"]["properties"][0].update(name="_email"), 400, "BadRequest",
     "profile schema cannot have meta properties"),
    (lambda b: b["warehouse"].update(platform=""), 400, "BadRequest", "warehouse platform is empty"),
    (lambda b: b["warehouse"].update(platform="Snowflake"), 422, "WarehousePlatformNotExist",
     'warehouse platform "Snowflake" does not exist'),
    (lambda b: b["warehouse"]["settings"].update(port=0), 422, "InvalidWarehouseSettings",
     "data warehouse settings are not valid: port must be in range [1,65535]"),
], ids=["name-empty", "name-long", "schema-null", "schema-not-object", "not-optional", "meta", "platform-empty",
        "platform-unknown", "port"])
def test_invalid_workspace_creates_nothing(api, warehouse_db, change, status, code, message):
    body = copy.deepcopy(support.workspace_body("W", warehouse_db))
    change(body)
    assert error_of(api.post("/v1/workspaces", body)) == (status, code, message)
    assert not Workspace.objects.exists()


def prop(name, type_, **flags):
    """A profile schema property that breaks no rule unless `flags` make it."""
    return {"name": name, "type": type_, "readOptional": True, **flags}


STRING = {"kind": "string"}
INT = {"kind": "int", "bitSize": 32}
ADDRESS = {"kind": "object", "properties": [prop("street", STRING, nullable=True)]}


@pytest.mark.parametrize("properties,message", [
    ([prop("phone", STRING, prefilled="x")], "profile schema properties cannot have a prefilled value"),
    ([prop("phone", STRING, createRequired=True)], "profile schema properties cannot be required"),
    ([prop("phone", STRING, updateRequired=True)], "profile schema properties cannot be required"),
    ([prop("phone", STRING, nullable=True)], "profile schema properties cannot be nullable"),
    ([prop("address", ADDRESS)], "profile schema properties cannot be nullable"),
    ([prop("plan", {"kind": "string", "values": ["free", "pro"]})], "profile schema properties with type string cannot specify values"),
    ([prop("code", {"kind": "string", "pattern": "^[A-Z]+$"})], "profile schema properties with type string cannot specify a pattern"),
    ([prop("tags", {"kind": "array", "elementType": {"kind": "string", "values": ["a"]}})],
     "profile schema properties of type array(string) cannot specify values for their element type"),
    ([prop("attrs", {"kind": "map", "elementType": {"kind": "string", "pattern": "x"}})],
     "profile schema properties of type map(string) cannot specify a pattern for their element type"),
    ([prop("grid", {"kind": "array", "elementType": {"kind": "array", "elementType": INT}})],
     "profile schema properties cannot have type array(array(int(32)))"),
    ([prop("items", {"kind": "array", "elementType": {"kind": "map", "elementType": INT}})],
     "profile schema properties cannot have type array(map(int(32)))"),
    ([prop("attrs", {"kind": "map", "elementType": {"kind": "object", "properties": [prop("a", STRING)]}})],
     "profile schema properties cannot have type map(object)"),
    ([prop("tags", {"kind": "array", "elementType": STRING, "uniqueElements": True})],
     "profile schema properties with type array cannot specify unique elements"),
    ([prop("tags", {"kind": "array", "elementType": STRING, "minElements": 1})],
     "profile schema properties with type array cannot specify minimum elements count"),
    ([prop("tags", {"kind": "array", "elementType": STRING, "maxElements": 5})],
     "profile schema properties with type array cannot specify maximum elements count"),
    ([prop("EMAIL", STRING)], 'profile schema properties "email" and "EMAIL" would have the same column name '
                              '"email" in the data warehouse, case-insensitively'),
    ([prop("home_city", STRING), prop("Home", {"kind": "object", "properties": [prop("City", STRING)]})],
     'profile schema properties "home_city" and "Home.City" would have the same column name "home_city" in the '
     'data warehouse, case-insensitively'),
], ids=["prefilled", "create-required", "update-required", "nullable", "nested-nullable", "values", "pattern",
        "array-element-values", "map-element-pattern", "array-of-array", "array-of-map", "map-of-object",
        "unique-elements", "min-elements", "max-elements", "column-case", "column-flattened"])
def test_profile_schema_rules_create_nothing(api, warehouse_db, properties, message):
    body = copy.deepcopy(support.workspace_body("W", warehouse_db))
    body["profileSchema"]["properties"] += properties
    assert error_of(api.post("/v1/workspaces", body)) == (400, "BadRequest", message)
    assert not Workspace.objects.exists()
    tables = support.pg_connect(warehouse_db).cursor()
    tables.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
    assert tables.fetchall() == []


def test_a_profile_schema_that_does_not_parse_gives_the_cause(api, warehouse_db):
    body = copy.deepcopy(support.workspace_body("W", warehouse_db))
    body["profileSchema"]["properties"].append(prop("tags", {"kind": "array", "elements": STRING}))
    resp = api.post("/v1/workspaces", body)
    assert error_of(resp) == (400, "BadRequest", "profile schema is invalid")
    assert resp.json()["error"]["cause"] == 'unknown key "elements" (maybe "elementType"?)'
    assert not Workspace.objects.exists()


def test_unreachable_warehouse_is_503(api, warehouse_db):
    body = support.workspace_body("Down", warehouse_db)
    body["warehouse"]["settings"]["port"] = 1
    assert error_of(api.post("/v1/workspaces", body))[:2] == (503, "ServiceUnavailable")


def test_list_rename_delete(api, workspace):
    listed = api.get("/v1/workspaces").json()["workspaces"]
    assert [w["id"] for w in listed] == [workspace.id]
    assert workspace.api.put("/v1/workspaces/current", {"name": "Renamed"}).content == b""
    assert workspace.api.get("/v1/workspaces/current").json()["name"] == "Renamed"
    assert error_of(workspace.api.put("/v1/workspaces/current", {"name": ""})) == (400, "BadRequest", "name is empty")
    assert workspace.api.delete("/v1/workspaces/current").status_code == 200
    assert error_of(workspace.api.get("/v1/workspaces/current")) == (
        404, "NotFound", f"workspace {workspace.id} does not exist")


def test_profile_schema_endpoint(workspace):
    schema = workspace.api.get("/v1/profiles/schema").json()
    assert schema["kind"] == "object" and schema["properties"][0]["name"] == "email"
