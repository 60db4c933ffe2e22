"""Every validation rule of POST and PUT /v1/pipelines as its own case (reference §7.3, §7.4, §7.8,
§9.2; spec README §1.3): a valid body with one change gets the exact status, code and message,
and nothing is created or changed."""
import json

import pytest

from tests import support
from tests.support import error_of

from tests.pipelines.api.pipeline_bodies import JS_SOURCE, MAPPING, QUERY, REVIEW, body, function, in_schema, out_property, out_schema

BR = "BadRequest"
ALIGN = "SchemaNotAligned"
PLACEHOLDER = "InvalidPlaceholder"
BASE_COLUMNS = ("email", "firstname", "lastname", "updated_at")
NO_UPDATE_TIME = {"updatedAtColumn": ..., "updatedAtFormat": ..., "inSchema": in_schema("email", "firstname", "lastname")}
SURROGATE = "\ud800"   # sent as the JSON escape \ud800: valid JSON, but not valid UTF-8 text


@pytest.fixture(scope="module")
def source():
    """One source database for the module: the rules never read it, a connection only tests it."""
    created = support.create_source("postgresql", customers=0)
    yield created
    support.drop_source(created)


@pytest.fixture
def workspace(api, settings, tmp_path):
    """A workspace whose warehouse is the embedded SQLite one: the rules never touch the warehouse,
    and this saves creating a PostgreSQL database per case."""
    settings.KRENALIS = {**settings.KRENALIS, "SQLITE_WAREHOUSE_DIR": str(tmp_path)}
    resp = api.post("/v1/workspaces", {"name": "Tests", "profileSchema": support.PROFILE_SCHEMA,
                                       "warehouse": {"platform": "SQLite"}})
    assert resp.status_code == 200, resp.content
    return support.WorkspaceRef(resp.json()["id"], "", api.scoped(resp.json()["id"]))


@pytest.fixture
def connection_id(workspace, source):
    resp = workspace.api.post("/v1/connections", support.connection_body(source))
    assert resp.status_code == 200, resp.content
    return resp.json()["id"]


def mapping(**changes) -> dict:
    m = dict(MAPPING)
    for key, value in changes.items():
        if value is ...:
            m.pop(key)
        else:
            m[key] = value
    return {"mapping": m}


def send(api, method: str, path: str, data: dict):
    """Sends `data` with non-ASCII escaped, so that a lone surrogate travels as valid JSON."""
    return api.request(method, path, raw=json.dumps(data).encode())


# The rules of the PipelineToSet body, shared by create and update, in the reference's order.
BODY_CASES = [
    # 1. format
    ("format", {"format": "CSV"}, 400, BR, "pipelines on Database connections cannot have a format"),
    ("format-not-a-string", {"format": 5}, 400, BR, '"format" must be a string'),
    # 2. name
    ("name-empty", {"name": ""}, 400, BR, "name is empty"),
    ("name-missing", {"name": ...}, 400, BR, "name is empty"),
    ("name-not-a-string", {"name": 42}, 400, BR, '"name" must be a string'),
    ("name-invalid-utf8", {"name": "Import " + SURROGATE}, 400, BR, "name contains invalid UTF-8 encoded characters"),
    ("name-nul", {"name": "Import\x00customers"}, 400, BR, "name contains the NUL byte"),
    ("name-61-runes", {"name": "é" * 61}, 400, BR, "name is longer than 60 runes"),
    # 3. shape of the schemas
    ("in-schema-invalid", {"inSchema": {"kind": "strin"}}, 400, BR, 'input schema is not valid: invalid kind "strin"'),
    ("out-schema-invalid", {"outSchema": {"kind": "strin"}}, 400, BR,
     'output schema is not valid: invalid kind "strin"'),
    ("in-schema-not-an-object", {"inSchema": {"kind": "string"}}, 400, BR,
     "input schema, if provided, must be an object"),
    ("out-schema-not-an-object", {"outSchema": {"kind": "string"}}, 400, BR,
     "out schema, if provided, must be an object"),
    # 4. filter, 5. required consents
    ("filter", {"filter": {"logical": "and", "conditions": [
        {"property": "email", "operator": "is", "values": ["a@b.c"]}]}}, 400, BR, "filters are not allowed"),
    ("required-consents", {"requiredConsents": {"operator": "and", "purposes": ["marketing"]}}, 400, BR,
     "required consents are not allowed"),
    # 6. transformation: its shape, then mapping, then function
    ("transformation-not-an-object", {"transformation": "email"}, 400, BR, '"transformation" must be an object'),
    ("mapping-and-function", {"transformation": {"mapping": MAPPING, "function": function()["function"]}}, 400, BR,
     "pipeline cannot have both transformation mapping and function"),
    ("mapping-not-an-object", {"transformation": {"mapping": "email"}}, 400, BR,
     '"transformation.mapping" must be an object with string values'),
    ("mapping-value-not-a-string", {"transformation": mapping(first_name=5)}, 400, BR,
     '"transformation.mapping" must be an object with string values'),
    ("mapping-empty", {"transformation": {"mapping": {}}}, 400, BR, "transformation mapping must have mapped properties"),
    ("mapping-without-in-schema", {"inSchema": ...}, 400, BR, "input schema is required by the mapping"),
    ("mapping-with-null-in-schema", {"inSchema": None}, 400, BR, "input schema is required by the mapping"),
    ("mapping-without-out-schema", {"outSchema": ...}, 400, BR, "output schema is required by the mapping"),
    ("mapping-unknown-input-property", {"transformation": mapping(first_name="nope")}, 400, BR,
     'invalid mapping: property "nope" does not exist'),
    ("mapping-unknown-output-path", {"transformation": mapping(nickname="firstname")}, 400, BR,
     'invalid mapping: property path "nickname" does not exist'),
    ("mapping-syntax-error", {"transformation": mapping(first_name="firstname +")}, 400, BR,
     "invalid mapping: unexpected character '+'"),
    ("transformation-empty", {"transformation": {}}, 400, BR,
     "pipeline cannot have a transformation without mapping and function."),
    ("transformation-both-null", {"transformation": {"mapping": None, "function": None}}, 400, BR,
     "pipeline cannot have a transformation without mapping and function."),
    ("function-not-an-object", {"transformation": {"function": "transform"}}, 400, BR,
     '"transformation.function" must be an object'),
    ("function-without-in-schema", {"transformation": function(), "inSchema": None}, 400, BR,
     "input schema is required by the transformation function"),
    ("function-without-out-schema", {"transformation": function(), "outSchema": ...}, 400, BR,
     "output schema is required by the transformation function"),
    ("function-source-not-a-string", {"transformation": function(source=5)}, 400, BR,
     '"transformation.function.source" must be a string'),
    ("function-source-empty", {"transformation": function(source="")}, 400, BR,
     "source of transformation function is empty"),
    ("function-source-invalid-utf8", {"transformation": function(source=JS_SOURCE + "//" + SURROGATE)}, 400, BR,
     "source of transformation function contains invalid UTF-8 encoded characters"),
    ("function-source-nul", {"transformation": function(source=JS_SOURCE + "//\x00")}, 400, BR,
     "source of transformation function contains the NUL byte"),
    ("function-source-50001-runes", {"transformation": function(source=JS_SOURCE.ljust(50001))}, 400, BR,
     "source of transformation function is longer than 50000 runes"),
    ("function-language-not-a-string", {"transformation": function(language=1)}, 400, BR,
     '"transformation.function.language" must be a string'),
    ("function-language-empty", {"transformation": function(language="")}, 400, BR, "transformation language is empty"),
    ("function-language-unknown", {"transformation": function(language="javascript")}, 400, BR,
     'transformation language "javascript" is not valid'),
    ("function-preserve-json-not-a-boolean", {"transformation": function(preserveJSON="yes")}, 400, BR,
     '"transformation.function.preserveJSON" must be a boolean'),
    ("function-in-paths-null", {"transformation": function(inPaths=None)}, 400, BR,
     "input properties of transformation function cannot be null"),
    ("function-out-paths-null", {"transformation": function(outPaths=None)}, 400, BR,
     "output properties of transformation function cannot be null"),
    ("function-in-paths-not-an-array", {"transformation": function(inPaths="email")}, 400, BR,
     '"inPaths" must be an array of strings'),
    ("function-out-paths-not-strings", {"transformation": function(outPaths=["email", 5])}, 400, BR,
     '"outPaths" must be an array of strings'),
    ("function-in-paths-empty", {"transformation": function(inPaths=[])}, 400, BR,
     "there are no input properties in transformation function"),
    ("function-out-paths-empty", {"transformation": function(outPaths=[])}, 400, BR,
     "there are no output properties in transformation function"),
    ("function-in-path-invalid", {"transformation": function(inPaths=["email", "first..name"])}, 400, BR,
     'transformation function input property path "first..name" is not valid'),
    ("function-out-path-invalid", {"transformation": function(outPaths=["email", "1st"])}, 400, BR,
     'transformation function output property path "1st" is not valid'),
    ("function-in-path-repeated", {"transformation": function(inPaths=["email", "firstname", "email"])}, 400, BR,
     'transformation function input property path "email" is repeated'),
    ("function-out-path-repeated", {"transformation": function(outPaths=["email", "first_name", "first_name"])},
     400, BR, 'transformation function output property path "first_name" is repeated'),
    ("function-in-paths-parent-and-child", {"transformation": function(inPaths=["email", "attrs", "attrs.plan"])},
     400, BR, 'transformation function input paths cannot contain both "attrs" and its sub-property path '
              '"attrs.plan"'),
    ("function-out-paths-parent-and-child", {"transformation": function(outPaths=["email.x", "email"])},
     400, BR, 'transformation function output paths cannot contain both "email" and its sub-property path '
              '"email.x"'),
    ("function-in-path-unknown", {"transformation": function(inPaths=["email", "firstname", "lastname", "phone"])},
     400, BR, 'input property "phone" of transformation function does not exist in schema'),
    ("function-out-path-unknown", {"transformation": function(outPaths=["email", "first_name", "age"])},
     400, BR, 'output property "age" of transformation function does not exist in schema'),
    ("function-does-not-compile", {"transformation": function(source="const other = 1;")}, 400, BR,
     'transformation function does not define "transform"'),
    # 7. path
    ("path-1025-runes", {"path": "p" * 1025}, 400, BR, "path is longer than 1024 runes"),
    ("path-placeholder", {"path": "exports/${today}.csv"}, 400, BR,
     "placeholders syntax is not supported by source pipelines"),
    ("path", {"path": "exports/users.csv"}, 400, BR, "Database pipelines cannot have a path"),
    ("path-not-a-string", {"path": ["users.csv"]}, 400, BR, '"path" must be a string'),
    # 8. table name
    ("table-name-invalid-utf8", {"tableName": "users" + SURROGATE}, 400, BR,
     "table name contains invalid UTF-8 encoded characters"),
    ("table-name-nul", {"tableName": "users\x00"}, 400, BR, "table name contains the NUL byte"),
    ("table-name-1025-runes", {"tableName": "t" * 1025}, 400, BR, "table name is longer than 1024 runes"),
    ("table-name", {"tableName": "users"}, 400, BR, "table name is not allowed"),
    # 9. sheet
    ("sheet-invalid", {"sheet": "a/b"}, 400, BR, "sheet name is not valid"),
    ("sheet-32-runes", {"sheet": "s" * 32}, 400, BR, "sheet name is not valid"),
    ("sheet", {"sheet": "Sheet1"}, 400, BR, "Database pipelines cannot have a sheet"),
    # 10. export mode
    ("export-mode-invalid", {"exportMode": "Upsert"}, 400, BR, 'export mode "Upsert" is not valid'),
    ("export-mode", {"exportMode": "CreateOnly"}, 400, BR, "export mode must be empty"),
    # 11. matching
    ("matching-out-only", {"matching": {"in": "", "out": "email"}}, 400, BR,
     "input matching property cannot be empty if output matching property is not empty"),
    ("matching-in-only", {"matching": {"in": "email", "out": ""}}, 400, BR,
     "output matching property cannot be empty if input matching property is not empty"),
    ("matching-without-export-mode", {"matching": {"in": "email", "out": "email"}}, 400, BR,
     "export mode cannot be empty if there are matching properties"),
    # 12. compression
    ("compression-invalid", {"compression": "Rar"}, 400, BR, 'compression "Rar" is not valid'),
    ("compression", {"compression": "Gzip"}, 400, BR, "database pipelines cannot have compression"),
    # 13. user ID column
    ("user-id-column-not-a-string", {"userIDColumn": 5}, 400, BR, '"userIDColumn" must be a string'),
    ("user-id-column-with-space", {"userIDColumn": "user id"}, 400, BR, "user ID column is not a valid property name"),
    ("user-id-column-leading-digit", {"userIDColumn": "1email"}, 400, BR,
     "user ID column is not a valid property name"),
    ("user-id-column-path", {"userIDColumn": "attrs.id"}, 400, BR, "user ID column is not a valid property name"),
    ("user-id-column-1025-runes", {"userIDColumn": "u" * 1025}, 400, BR, "user ID column is longer than 1024 runes"),
    # 14. update time column
    ("updated-at-column-with-space", {"updatedAtColumn": "updated at"}, 400, BR,
     "update time column is not a valid property name"),
    ("updated-at-column-1025-runes", {"updatedAtColumn": "u" * 1025}, 400, BR,
     "update time column is longer than 1024 runes"),
    # 15. update time format
    ("updated-at-format-lowercase-iso8601", {"updatedAtFormat": "iso8601"}, 400, BR,
     'update time format "iso8601" is not valid'),
    ("updated-at-format-without-percent", {"updatedAtFormat": "Y-m-d"}, 400, BR,
     'update time format "Y-m-d" is not valid'),
    ("updated-at-format-unknown-directive", {"updatedAtFormat": "%Y-%Q"}, 400, BR,
     'update time format "%Y-%Q" is not valid'),
    ("updated-at-format-invalid-utf8", {"updatedAtFormat": "%Y" + SURROGATE}, 400, BR,
     'update time format "%Y\\ud800" is not valid'),
    # Beyond reference §8.3 (where "%" passes and fails per row): the format is parsed early.
    ("updated-at-format-lone-percent", {"updatedAtFormat": "%"}, 400, BR, 'update time format "%" is not valid'),
    ("updated-at-format-nul", {"updatedAtFormat": "%Y\x00"}, 400, BR, "update time format contains the NUL byte"),
    ("updated-at-format-65-runes", {"updatedAtFormat": "%Y".ljust(65, "-")}, 400, BR,
     "update time format is longer than 64 runes"),
    # 16. order by (a valid one is refused with step 21's message)
    ("order-by-invalid-path", {"orderBy": "a..b"}, 400, BR, "the specified order by is not a valid property path"),
    ("order-by-1025-runes", {"orderBy": "o" * 1025}, 400, BR, "the specified order by is longer than 1024 runes"),
    ("order-by", {"orderBy": "email"}, 400, BR,
     "pipelines that do not export users to files cannot specify a order by property"),
    # 17. incremental
    ("incremental-without-update-time-column", {"incremental": True, **NO_UPDATE_TIME}, 400, BR,
     "incremental requires an update time column"),
    # 18. input schema (§9.2)
    ("in-property-prefilled", {"inSchema": in_schema(*BASE_COLUMNS, firstname={"prefilled": "Ada"})}, 400, BR,
     'input pipeline schema property "firstname" has a prefilled value, but pipeline schema properties cannot '
     'have prefilled values'),
    ("in-property-create-required", {"inSchema": in_schema(*BASE_COLUMNS, firstname={"createRequired": True})},
     400, BR, 'source pipeline schema property "firstname" cannot have CreateRequired set to true'),
    ("in-property-update-required", {"inSchema": in_schema(*BASE_COLUMNS, firstname={"updateRequired": True})},
     400, BR, 'input pipeline schema property "firstname" cannot have UpdateRequired set to true'),
    ("in-property-read-optional", {"inSchema": in_schema(*BASE_COLUMNS, firstname={"readOptional": True})},
     400, BR, 'input pipeline schema property "firstname" cannot have ReadOptional set to true'),
    # 18. output schema (§9.2)
    ("out-property-prefilled", {"outSchema": out_schema("email", out_property("first_name", prefilled="Ada"),
                                                        "last_name")}, 400, BR,
     'output pipeline schema property "first_name" has a prefilled value, but pipeline schema properties cannot '
     'have prefilled values'),
    ("out-property-meta", {"outSchema": out_schema(out_property("email", name="_email"), "first_name", "last_name"),
                           "transformation": mapping(email=..., _email="email")}, 400, BR,
     'output pipeline schema property "_email" is a meta property'),
    ("out-property-nested-meta", {"outSchema": out_schema("email", "first_name", "last_name", {
        "name": "address", "readOptional": True, "type": {"kind": "object", "properties": [
            {"name": "_street", "type": {"kind": "string"}, "readOptional": True}]}})}, 400, BR,
     'output pipeline schema property "address._street" is a meta property'),
    ("out-property-array-of-objects", {"outSchema": out_schema("email", "first_name", "last_name", {
        "name": "tags", "readOptional": True, "type": {"kind": "array", "elementType": {
            "kind": "object", "properties": [{"name": "tag", "type": {"kind": "string"}}]}}})}, 400, BR,
     'output pipeline schema property "tags" cannot have type array(object)'),
    ("out-property-map-of-maps", {"outSchema": out_schema("email", "first_name", "last_name", {
        "name": "scores", "readOptional": True, "type": {"kind": "map", "elementType": {
            "kind": "map", "elementType": {"kind": "int", "bitSize": 32}}}})}, 400, BR,
     'output pipeline schema property "scores" cannot have type map(map(int(32)))'),
    ("out-property-create-required", {"outSchema": out_schema("email", out_property("first_name", createRequired=True),
                                                              "last_name")}, 400, BR,
     'output pipeline schema property "first_name" cannot have CreateRequired set to true'),
    ("out-property-update-required", {"outSchema": out_schema("email", out_property("first_name", updateRequired=True),
                                                              "last_name")}, 400, BR,
     'output pipeline schema property "first_name" cannot have UpdateRequired set to true'),
    ("out-property-not-read-optional", {"outSchema": out_schema("email", out_property("first_name", readOptional=...),
                                                                "last_name")}, 400, BR,
     'output pipeline schema property "first_name" must have ReadOptional set to true'),
    ("out-property-nullable", {"outSchema": out_schema("email", out_property("first_name", nullable=True),
                                                       "last_name")}, 400, BR,
     'output pipeline schema property "first_name" cannot have Nullable set to true'),
    ("out-columns-clash-by-case", {"outSchema": out_schema("email", "first_name", "last_name",
                                                           out_property("email", name="EMAIL"))}, 400, BR,
     'two output pipeline schema properties would have the same column name "email" in the data warehouse, '
     'case-insensitively'),
    ("out-columns-clash-by-flattening", {"outSchema": out_schema("email", "first_name", "last_name", {
        "name": "first", "readOptional": True, "type": {"kind": "object", "properties": [
            {"name": "name", "type": {"kind": "string"}, "readOptional": True}]}})}, 400, BR,
     'two output pipeline schema properties would have the same column name "first_name" in the data warehouse, '
     'case-insensitively'),
    # 19. database-specific
    ("format-settings", {"formatSettings": {"separator": ","}}, 400, BR,
     "database pipelines cannot have source format settings"),
    ("query-empty", {"query": ""}, 400, BR, "query is empty"),
    ("query-missing", {"query": ...}, 400, BR, "query is empty"),
    ("query-not-a-string", {"query": 1}, 400, BR, '"query" must be a string'),
    ("query-invalid-utf8", {"query": QUERY + " -- " + SURROGATE}, 400, BR,
     "query contains invalid UTF-8 encoded characters"),
    ("query-nul", {"query": QUERY + "\x00"}, 400, BR, "query contains the NUL byte"),
    ("query-1001-runes", {"query": QUERY.ljust(1001)}, 400, BR, "query is longer than 1000 runes"),
    # 20. user ID and update time columns against the input schema
    ("in-schema-null-without-transformation", {"inSchema": None, "transformation": None}, 400, BR,
     "input schema must be valid"),
    ("user-id-column-missing", {"userIDColumn": ...}, 400, BR, "user ID column is mandatory"),
    ("user-id-column-empty", {"userIDColumn": ""}, 400, BR, "user ID column is mandatory"),
    ("user-id-column-not-in-in-schema", {"userIDColumn": "id"}, 400, BR,
     'user ID column "id" not found within input schema'),
    ("user-id-column-kind-datetime", {"userIDColumn": "updated_ts", "inSchema": in_schema(*BASE_COLUMNS, "updated_ts")},
     400, BR, 'user ID column "updated_ts" has kind datetime instead of int, uuid, json, or string'),
    ("user-id-column-kind-boolean", {"userIDColumn": "active", "inSchema": in_schema(*BASE_COLUMNS, "active")},
     400, BR, 'user ID column "active" has kind boolean instead of int, uuid, json, or string'),
    ("updated-at-column-not-in-in-schema", {"updatedAtColumn": "changed_at"}, 400, BR,
     'update time column "changed_at" not found within input schema'),
    ("updated-at-column-kind-int", {"updatedAtColumn": "age", "inSchema": in_schema("email", "firstname", "lastname",
                                                                                      "age")}, 400, BR,
     'update time column "age" has kind int instead of datetime, date, json, or string'),
    ("updated-at-column-kind-uuid", {"updatedAtColumn": "uid", "inSchema": in_schema("email", "firstname", "lastname",
                                                                                       "uid")}, 400, BR,
     'update time column "uid" has kind uuid instead of datetime, date, json, or string'),
    ("updated-at-format-with-datetime-column",
     {"updatedAtColumn": "updated_ts", "inSchema": in_schema("email", "firstname", "lastname", "updated_ts")},
     400, BR, "pipeline cannot specify an update time format"),
    ("updated-at-format-with-date-column",
     {"updatedAtColumn": "birthday", "inSchema": in_schema("email", "firstname", "lastname", "birthday")},
     400, BR, "pipeline cannot specify an update time format"),
    ("updated-at-format-without-column",
     {"updatedAtColumn": ..., "inSchema": in_schema("email", "firstname", "lastname")},
     400, BR, "pipeline cannot specify an update time format"),
    ("updated-at-format-missing-for-string-column", {"updatedAtFormat": ...}, 400, BR,
     "update time format is required"),
    ("updated-at-format-empty-for-string-column", {"updatedAtFormat": ""}, 400, BR, "update time format is required"),
    ("updated-at-format-missing-for-json-column",
     {"updatedAtColumn": "attrs", "updatedAtFormat": ..., "inSchema": in_schema("email", "firstname", "lastname",
                                                                                 "attrs")},
     400, BR, "update time format is required"),
    ("updated-at-format-excel", {"updatedAtFormat": "Excel"}, 400, BR,
     "update time format cannot be Excel for database pipelines"),
    # 21. fields of other pipeline types
    ("table-key", {"tableKey": "id"}, 400, BR, "table key is not allowed"),
    ("matching-with-export-mode", {"matching": {"in": "email", "out": "email"}, "exportMode": "CreateOnly"}, 400, BR,
     "export mode must be empty"),  # so "matching properties cannot be provided" cannot be reached here
    ("update-on-duplicates", {"updateOnDuplicates": True}, 400, BR, "update on duplicates is not allowed"),
    # 22. transformation required
    ("transformation-missing", {"transformation": ...}, 400, BR, "pipeline must have a transformation"),
    ("transformation-null", {"transformation": None}, 400, BR, "pipeline must have a transformation"),
    # 23. constants only
    ("mapping-constants-only", {**NO_UPDATE_TIME, "inSchema": in_schema("email"), "outSchema": out_schema("first_name"),
                                "transformation": {"mapping": {"first_name": "'Ada'"}}}, 400, BR,
     "transformation must map at least one property"),
    # 24. every property used
    ("in-property-unused", {"inSchema": in_schema(*BASE_COLUMNS, "age")}, 400, BR,
     "input schema contains an unused property: age"),
    ("out-property-unused", {"transformation": mapping(last_name=...),
                             "inSchema": in_schema("email", "firstname", "updated_at")}, 400, BR,
     "output schema contains an unused property: last_name"),
    ("function-in-property-unused", {"transformation": function(inPaths=["email", "firstname"])}, 400, BR,
     "input schema contains an unused property: lastname"),
    ("function-out-property-unused", {"transformation": function(outPaths=["email", "first_name"])}, 400, BR,
     "output schema contains an unused property: last_name"),
    # Early checks (spec README §1.3): placeholders, then alignment with the profile schema
    ("placeholder-not-closed", {"query": "SELECT * FROM customers WHERE updated_at >= ${updated_at"}, 422,
     PLACEHOLDER, "a placeholder is not closed"),
    ("placeholder-nested", {"query": "SELECT * FROM customers WHERE updated_at >= ${ ${updated_at}"}, 422,
     PLACEHOLDER, "a placeholder is not closed"),
    ("placeholder-unknown", {"query": "SELECT * FROM customers LIMIT ${limit} OFFSET ${offset}"}, 422,
     PLACEHOLDER, 'placeholder "offset" does not exist'),
    ("placeholder-case-sensitive", {"query": "SELECT * FROM customers LIMIT ${LIMIT}"}, 422,
     PLACEHOLDER, 'placeholder "LIMIT" does not exist'),
    ("out-schema-length-not-aligned", {"outSchema": out_schema(out_property("email", type={
        "kind": "string", "maxLength": 200}), "first_name", "last_name")}, 422, ALIGN,
     'in the output schema, character length of the "email" property\'s type has changed from 200 to 254' + REVIEW),
    ("out-schema-kind-not-aligned", {
        "outSchema": out_schema("email", "first_name", "last_name", out_property("age", type={
            "kind": "int", "bitSize": 64})),
        "inSchema": in_schema(*BASE_COLUMNS, "age"), "transformation": mapping(age="age")}, 422, ALIGN,
     'in the output schema, "age" property\'s type has changed from int(64) to int(32)' + REVIEW),
    ("out-property-not-in-profile", {
        "outSchema": out_schema("email", "first_name", "last_name", out_property("last_name", name="nickname")),
        "transformation": mapping(nickname="firstname")}, 422, ALIGN,
     'in the output schema, "nickname" property no longer exists' + REVIEW),
]

# The rules of create only: target, connection and event type come before the body (§7.3).
CREATE_CASES = [
    ("target-missing", {"target": ...}, 400, BR, "target is required"),
    ("target-null", {"target": None}, 400, BR, "target is required"),
    ("target-unknown", {"target": "Users"}, 400, BR, 'target must be "Event", "User", or "Group"'),
    ("target-group", {"target": "Group"}, 400, BR,
     "pipeline with target 'Group' not allowed for source Database connections"),
    ("target-event", {"target": "Event"}, 400, BR,
     "pipeline with target 'Event' not allowed for source Database connections"),
    ("connection-missing", {"connection": ...}, 400, BR, 'connection identifier "" is not valid'),
    ("connection-not-an-integer", {"connection": "abc"}, 400, BR, 'connection identifier "abc" is not valid'),
    ("connection-zero", {"connection": 0}, 400, BR, 'connection identifier "0" is not valid'),
    ("connection-boolean", {"connection": True}, 400, BR, 'connection identifier "true" is not valid'),
    ("connection-2-31", {"connection": 2**31}, 400, BR, 'connection identifier "2147483648" is not valid'),
    ("connection-unknown", {"connection": 99}, 422, "ConnectionNotExist", "connection 99 does not exist"),
    ("event-type", {"eventType": "signup"}, 400, BR,
     "pipelines with target 'User' on source database connections cannot specify an event type"),
]


def listed(api) -> list[dict]:
    return api.get("/v1/pipelines").json()["pipelines"]


@pytest.mark.parametrize("changes,status,code,message", [c[1:] for c in BODY_CASES + CREATE_CASES],
                         ids=[c[0] for c in BODY_CASES + CREATE_CASES])
def test_invalid_create_is_rejected_and_creates_nothing(workspace, connection_id, changes, status, code, message):
    before = listed(workspace.api)
    resp = send(workspace.api, "POST", "/v1/pipelines", body(connection_id, **changes))
    assert error_of(resp) == (status, code, message)
    assert listed(workspace.api) == before == []


@pytest.fixture
def pipeline_id(workspace, connection_id):
    resp = workspace.api.post("/v1/pipelines", body(connection_id))
    assert resp.status_code == 200, resp.content
    return resp.json()["id"]


def update_body(**changes) -> dict:
    """A PUT body: PipelineToSet, without the create-only keys."""
    return body(None, connection=..., target=..., **changes)


@pytest.mark.parametrize("changes,status,code,message", [c[1:] for c in BODY_CASES],
                         ids=[c[0] for c in BODY_CASES])
def test_invalid_update_is_rejected_and_changes_nothing(workspace, pipeline_id, changes, status, code, message):
    before = workspace.api.get(f"/v1/pipelines/{pipeline_id}").json()
    resp = send(workspace.api, "PUT", f"/v1/pipelines/{pipeline_id}", update_body(**changes))
    assert error_of(resp) == (status, code, message)
    assert workspace.api.get(f"/v1/pipelines/{pipeline_id}").json() == before


# Bodies at the edges of the rules, which must be accepted: they guard the tables above against a
# rule that refuses too much.
VALID_CASES = [
    ("name-60-runes", {"name": "é" * 60}),
    ("query-1000-runes", {"query": QUERY.ljust(1000)}),
    ("query-without-placeholders", {"query": "SELECT email, firstname, lastname, updated_at FROM customers"}),
    ("query-placeholders-with-spaces", {"query": "SELECT * FROM customers WHERE x >= ${ updated_at } LIMIT ${limit}"}),
    ("user-id-column-int", {"userIDColumn": "id", "inSchema": in_schema(*BASE_COLUMNS, "id")}),
    ("user-id-column-uuid", {"userIDColumn": "uid", "inSchema": in_schema(*BASE_COLUMNS, "uid")}),
    ("user-id-column-json", {"userIDColumn": "attrs", "inSchema": in_schema(*BASE_COLUMNS, "attrs")}),
    ("updated-at-column-datetime", {"updatedAtColumn": "updated_ts", "updatedAtFormat": ...,
                                    "inSchema": in_schema("email", "firstname", "lastname", "updated_ts")}),
    ("updated-at-column-date", {"updatedAtColumn": "birthday", "updatedAtFormat": None,
                                "inSchema": in_schema("email", "firstname", "lastname", "birthday")}),
    ("updated-at-column-json", {"updatedAtColumn": "attrs", "updatedAtFormat": "%Y-%m-%d",
                                "inSchema": in_schema("email", "firstname", "lastname", "attrs")}),
    ("without-update-time-column", NO_UPDATE_TIME),
    ("format-settings-null-on-create", {"formatSettings": None}),  # §7.4: absent on create (not on update)
    ("function", {"transformation": function()}),
    ("function-inputs-used-by-the-columns-only", {"transformation": function(inPaths=["firstname", "lastname"])}),
    ("other-types-fields-empty", {"format": "", "path": "", "sheet": "", "compression": "", "orderBy": "",
                                  "tableName": "", "tableKey": "", "exportMode": "", "filter": None,
                                  "requiredConsents": {"operator": "and", "purposes": []},
                                  "matching": {"in": "", "out": ""}, "updateOnDuplicates": False}),
]


@pytest.mark.parametrize("changes", [c[1] for c in VALID_CASES], ids=[c[0] for c in VALID_CASES])
def test_bodies_at_the_edges_of_the_rules_are_accepted(workspace, connection_id, changes):
    resp = send(workspace.api, "POST", "/v1/pipelines", body(connection_id, **changes))
    assert resp.status_code == 200, resp.content
    assert [p["id"] for p in listed(workspace.api)] == [resp.json()["id"]]


# Two errors in one body: the first rule in the reference's order wins (§7.3, §7.8; README §1.10).
ORDER_CASES = [
    ("target-before-connection", {"target": ..., "connection": 99}, "target is required"),
    ("connection-before-target-support", {"connection": 99, "target": "Group"}, "connection 99 does not exist"),
    ("connection-before-body", {"connection": 99, "name": ""}, "connection 99 does not exist"),
    ("target-support-before-event-type", {"target": "Group", "eventType": "signup"},
     "pipeline with target 'Group' not allowed for source Database connections"),
    ("event-type-before-body", {"eventType": "signup", "format": "CSV"},
     "pipelines with target 'User' on source database connections cannot specify an event type"),
    ("format-before-name", {"format": "CSV", "name": ""}, "pipelines on Database connections cannot have a format"),
    ("name-before-schemas", {"name": "", "inSchema": {"kind": "string"}}, "name is empty"),
    ("schemas-before-filter", {"inSchema": {"kind": "string"}, "filter": {"logical": "and", "conditions": []}},
     "input schema, if provided, must be an object"),
    ("filter-before-consents", {"filter": {"logical": "and", "conditions": []},
                                "requiredConsents": {"operator": "and", "purposes": ["marketing"]}},
     "filters are not allowed"),
    ("consents-before-transformation", {"requiredConsents": {"operator": "and", "purposes": ["marketing"]},
                                        "transformation": {"mapping": {}}}, "required consents are not allowed"),
    ("transformation-before-path", {"transformation": {"mapping": {}}, "path": "p" * 1025},
     "transformation mapping must have mapped properties"),
    ("path-before-export-mode", {"path": "p" * 1025, "exportMode": "Upsert"}, "path is longer than 1024 runes"),
    ("export-mode-before-compression", {"exportMode": "Upsert", "compression": "Rar"},
     'export mode "Upsert" is not valid'),
    ("compression-before-user-id-column", {"compression": "Rar", "userIDColumn": "user id"},
     'compression "Rar" is not valid'),
    ("user-id-column-before-update-time-column", {"userIDColumn": "user id", "updatedAtColumn": "updated at"},
     "user ID column is not a valid property name"),
    ("update-time-column-before-format", {"updatedAtColumn": "updated at", "updatedAtFormat": "Y-m-d"},
     "update time column is not a valid property name"),
    ("format-before-incremental", {"incremental": True, "updatedAtColumn": ..., "updatedAtFormat": "Y-m-d"},
     'update time format "Y-m-d" is not valid'),
    ("incremental-before-schema-rules", {"incremental": True, **NO_UPDATE_TIME,
                                         "outSchema": out_schema("email", out_property("first_name", nullable=True),
                                                                 "last_name")},
     "incremental requires an update time column"),
    ("schema-rules-before-query", {"inSchema": in_schema(*BASE_COLUMNS, email={"readOptional": True}), "query": ""},
     'input pipeline schema property "email" cannot have ReadOptional set to true'),
    ("query-before-columns", {"query": "", "userIDColumn": ""}, "query is empty"),
    ("columns-before-other-types-fields", {"userIDColumn": "id", "tableKey": "id"},
     'user ID column "id" not found within input schema'),
    ("other-types-fields-before-transformation", {"tableKey": "id", "transformation": None},
     "table key is not allowed"),
    ("unused-properties-before-placeholders", {"inSchema": in_schema(*BASE_COLUMNS, "age"),
                                              "query": "SELECT ${offset}"},
     "input schema contains an unused property: age"),
    ("placeholders-before-alignment", {"query": "SELECT ${offset}", "outSchema": out_schema(out_property(
        "email", type={"kind": "string", "maxLength": 200}), "first_name", "last_name")},
     'placeholder "offset" does not exist'),
]


@pytest.mark.parametrize("changes,message", [c[1:] for c in ORDER_CASES], ids=[c[0] for c in ORDER_CASES])
def test_the_first_rule_in_order_wins(workspace, connection_id, changes, message):
    assert error_of(workspace.api.post("/v1/pipelines", body(connection_id, **changes)))[2] == message
    assert listed(workspace.api) == []


@pytest.mark.parametrize("changes,cause", [
    ({"updatedAtColumn": "updated_ts", "inSchema": in_schema("email", "firstname", "lastname", "updated_ts")},
     'the update time column "updated_ts" is a datetime, which is read as a time already; a format is only for '
     'string and json columns'),
    ({"updatedAtColumn": "birthday", "inSchema": in_schema("email", "firstname", "lastname", "birthday")},
     'the update time column "birthday" is a date, which is read as a time already; a format is only for '
     'string and json columns'),
    ({"updatedAtColumn": ..., "inSchema": in_schema("email", "firstname", "lastname")},
     "there is no update time column; a format is only for a string or json update time column"),
], ids=["datetime", "date", "no-column"])
def test_a_format_that_is_not_needed_says_why(workspace, connection_id, changes, cause):
    """The message stays the reference's (the conformance suite checks it word for word); the error's
    cause says why the format is refused."""
    resp = send(workspace.api, "POST", "/v1/pipelines", body(connection_id, **changes))
    assert resp.status_code == 400
    assert json.loads(resp.content) == {"error": {"code": "BadRequest", "cause": cause,
                                                  "message": "pipeline cannot specify an update time format"}}
    assert listed(workspace.api) == []


def test_path_id_is_checked_before_the_body(workspace, pipeline_id):
    missing = pipeline_id % (2**31 - 1) + 1
    resp = workspace.api.put(f"/v1/pipelines/{missing}", update_body(name=""))
    assert error_of(resp) == (404, "NotFound", f"pipeline {missing} does not exist")
    resp = workspace.api.put("/v1/pipelines/abc", update_body(name=""))
    assert error_of(resp) == (400, BR, 'identifier "abc" is not a valid pipeline identifier')


def test_connection_of_another_workspace_does_not_exist(api, workspace, source):
    other = api.post("/v1/workspaces", {"name": "Other", "profileSchema": support.PROFILE_SCHEMA,
                                        "warehouse": {"platform": "SQLite"}}).json()["id"]
    foreign = api.scoped(other).post("/v1/connections", support.connection_body(source)).json()["id"]
    resp = workspace.api.post("/v1/pipelines", body(foreign))
    assert error_of(resp) == (422, "ConnectionNotExist", f"connection {foreign} does not exist")
    assert listed(workspace.api) == [] and listed(api.scoped(other)) == []


def test_update_ignores_connection_target_and_event_type(workspace, pipeline_id, connection_id):
    before = workspace.api.get(f"/v1/pipelines/{pipeline_id}").json()
    resp = workspace.api.put(f"/v1/pipelines/{pipeline_id}",
                             body(99, target="Group", eventType="signup", name="Renamed"))
    assert (resp.status_code, resp.content) == (200, b"")
    assert workspace.api.get(f"/v1/pipelines/{pipeline_id}").json() == dict(before, name="Renamed")


def test_update_refuses_null_format_settings(workspace, pipeline_id):
    """Reference §7.4: on update a null `formatSettings` counts as present."""
    before = workspace.api.get(f"/v1/pipelines/{pipeline_id}").json()
    resp = workspace.api.put(f"/v1/pipelines/{pipeline_id}", update_body(formatSettings=None))
    assert error_of(resp) == (400, BR, "database pipelines cannot have source format settings")
    assert workspace.api.get(f"/v1/pipelines/{pipeline_id}").json() == before


@pytest.mark.parametrize("language,code,message", [
    ("JavaScript", JS_SOURCE, "JavaScript function language is not supported"),
    ("Python", "def transform(user):\n    return {}\n", "Python transformation language is not supported"),
])
def test_update_to_a_language_switched_off_is_422(workspace, pipeline_id, settings, language, code, message):
    settings.KRENALIS = {**settings.KRENALIS, "TRANSFORMATION_LANGUAGES": []}
    before = workspace.api.get(f"/v1/pipelines/{pipeline_id}").json()
    resp = workspace.api.put(f"/v1/pipelines/{pipeline_id}",
                             update_body(transformation=function(language=language, source=code)))
    assert error_of(resp) == (422, "UnsupportedLanguage", message)
    assert workspace.api.get(f"/v1/pipelines/{pipeline_id}").json() == before


def test_update_of_a_function_pipeline_whose_language_was_switched_off_is_422(workspace, connection_id, settings):
    pid = workspace.api.post("/v1/pipelines", body(connection_id, transformation=function())).json()["id"]
    settings.KRENALIS = {**settings.KRENALIS, "TRANSFORMATION_LANGUAGES": ["Python"]}
    resp = workspace.api.put(f"/v1/pipelines/{pid}", update_body(name="Renamed", transformation=function()))
    assert error_of(resp) == (422, "UnsupportedLanguage", "JavaScript function language is not supported")
    assert workspace.api.get(f"/v1/pipelines/{pid}").json()["name"] == "Import customers"
