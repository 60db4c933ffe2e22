"""The OpenAPI description of /v1: component schemas, the error body, and `operation(...)`, the
`extend_schema` decorator every view method carries.

drf-spectacular builds the document from the viewsets (`GET /v1/openapi.json`, UI at `/v1/docs`);
their decorators name the components defined here, and `postprocess` (a drf-spectacular
post-processing hook, see settings) adds the components, the Bearer security scheme, and marks
request bodies required. The components of the API objects (Workspace, Connector, Connection,
Function, Pipeline, Run, Identity) are built from the output serializers' fields
(`_serializer_schema`: names, order, types, bounds, choices, help_text, nullability), with
`OVERRIDES` for what a field cannot say; the request bodies from the `serializers.Body` that reads
each (`body_schema`, with `BODY_OBJECT_KEYS`), the query parameters from the `serializers.Query`
(`operation(query=...)`); the list envelopes and the other results are written here.
Response schemas are exact (they are what the API returns, checked by
tests/reliability/test_bad_input.py with schemathesis); request schemas describe valid bodies,
while the server also answers any other body with a documented 400.
"""
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers

from ..connectors.mysql import SSL_MODES as MYSQL_SSL_MODES
from ..connectors.postgresql import SSL_MODES as PG_SSL_MODES
from ..steps import STEP_NAMES
from . import serializers as api_serializers

MAX_ID = api_serializers.MAX_ID
KINDS = ["string", "boolean", "int", "float", "decimal", "datetime", "date", "time", "year", "uuid", "json", "ip",
         "array", "object", "map"]
STEPS = list(STEP_NAMES)
LANGUAGE = {"type": "string", "enum": api_serializers.LANGUAGES}

LOOKBACK = {"type": "string", "pattern": "^([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?$", "example": "5m",
            "description": "Look-back window of incremental runs, 1s to 7d (null or empty: off): a run reads the rows "
                           "updated since its cursor less the window, so that rows committed late are imported; "
                           "it also holds the cursor below the source's transactions in progress where the source "
                           "shows them (PostgreSQL; MySQL/MariaDB with the PROCESS privilege). Needs "
                           "updatedAtColumn."}

# Scopes of an endpoint (reference §2.2), for the errors it documents.
WORKSPACE, ORGANIZATION, OPTIONAL = "workspace", "organization", "optional"

ERROR_DESCRIPTIONS = {
    400: "BadRequest: the body, a header, a path identifier or a field is not valid",
    401: "Unauthorized: the API key is missing or unknown, or an organization request names a workspace",
    403: "Forbidden: the endpoint needs a workspace (Krenalis-Workspace header or a restricted key)",
    404: "NotFound: the workspace, or the object, does not exist in the selected workspace",
    422: "A valid request that conflicts with the current state; `code` tells which (reference §1.5)",
    429: "TooManyRequests: too many requests of this kind run at once; retry after Retry-After seconds",
    503: "ServiceUnavailable: a source database or the warehouse cannot be reached or failed",
}


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _id(description: str) -> dict:
    return {"type": "integer", "minimum": 1, "maximum": MAX_ID, "description": description}


def _nullable(schema: dict) -> dict:
    return {**schema, "nullable": True}


def _array(items: dict) -> dict:
    return {"type": "array", "items": items}


def _object(properties: dict, required=(), *, extra: bool = False, description: str = "") -> dict:
    schema = {"type": "object", "properties": properties, "additionalProperties": extra}
    if required:
        schema["required"] = list(required)
    if description:
        schema["description"] = description
    return schema


STRING = {"type": "string"}
BOOLEAN = {"type": "boolean"}
INTEGER = {"type": "integer"}
ANY_OBJECT = {"type": "object", "additionalProperties": True}
DATE_TIME = {"type": "string", "format": "date-time"}


# --------------------------------------------------------------------------- schemas of the serializers

def _field_schema(field) -> dict:
    """The JSON schema of a serializer field (of an output or a request body): from its class (a body
    field's json_type), choices, bounds, help_text, allow_null."""
    if isinstance(field, (serializers.ListSerializer, serializers.ListField)):
        schema = _array(_field_schema(field.child))
    elif isinstance(field, serializers.Serializer):
        name = COMPONENTS.get(type(field))
        schema = ref(name) if name else _serializer_schema(type(field))
    elif isinstance(field, api_serializers.BodyField):
        kind, keys = field.json_type, BODY_OBJECT_KEYS.get((type(field.parent), field.field_name))
        schema = (_object(keys, extra=True) if keys else body_schema(kind) if isinstance(kind, type)
                  else BODY_TYPES[kind])
    elif isinstance(field, api_serializers.ConstantField):
        value = field.value
        schema = (_array(STRING) if isinstance(value, list) else BOOLEAN if isinstance(value, bool) else STRING)
    elif isinstance(field, serializers.SerializerMethodField):
        method = getattr(field.parent, field.method_name)
        schema = {str: STRING, bool: BOOLEAN, int: INTEGER}[method.__annotations__["return"]]
    else:
        schema = next(schema for kind, schema in FIELD_SCHEMAS if isinstance(field, kind))
    if getattr(field, "choices", None):
        schema = {**schema, "enum": list(field.choices)}
    lengths = ("minItems", "maxItems") if schema.get("type") == "array" else ("minLength", "maxLength")
    for key, attr in zip((*lengths, "minimum", "maximum"), ("min_length", "max_length", "min_value", "max_value")):
        if getattr(field, attr, None) is not None:
            schema = {**schema, key: getattr(field, attr)}
    if field.help_text:
        schema = {**schema, "description": str(field.help_text)}
    if field.allow_null:
        schema = _nullable(schema)
    return schema


def _serializer_schema(serializer_class, overrides=None) -> dict:
    """The object schema of an output serializer: its fields in order, required unless optional."""
    fields = serializer_class().fields
    properties = {name: (overrides or {}).get(name) or _field_schema(field) for name, field in fields.items()}
    required = [name for name in fields if name not in serializer_class.optional_fields]
    return _object(properties, required, description=serializer_class.schema_description or "")


def body_schema(body_class) -> dict:
    """The object schema of a request body (`serializers.Body`): its fields in reading order, those with
    `required` required, other keys allowed (the server ignores them)."""
    fields = {name: field for name, field in body_class().fields.items() if (body_class, name) not in UNDOCUMENTED}
    return _object({name: _field_schema(field) for name, field in fields.items()},
                   [name for name, field in fields.items() if field.required], extra=True,
                   description=body_class.schema_description or "")


FIELD_SCHEMAS = [  # the field classes whose schema is always the same, most specific first
    (api_serializers.TypeField, ref("Type")),
    (api_serializers.StringMapField, {"type": "object", "additionalProperties": STRING}),
    (api_serializers.ObjectField, ANY_OBJECT),
    (api_serializers.LookbackField, LOOKBACK),
    (api_serializers.TimeField, DATE_TIME),
    (serializers.BooleanField, BOOLEAN),
    (serializers.IntegerField, INTEGER),
    (serializers.ChoiceField, STRING),
    (serializers.CharField, STRING),
]
BODY_TYPES = {"string": STRING, "boolean": BOOLEAN, "integer": INTEGER, "object": ANY_OBJECT, "array": _array(STRING),
              "type": ref("TypeInput"), "lookback": LOOKBACK}  # of a body field's json_type
# The serializers documented as components of their own (elsewhere they are a $ref).
COMPONENTS = {
    api_serializers.WorkspaceSerializer: "Workspace",
    api_serializers.ConnectorSerializer: "Connector",
    api_serializers.ConnectionSerializer: "Connection",
    api_serializers.FunctionSerializer: "Function",
    api_serializers.PipelineSerializer: "Pipeline",
    api_serializers.RunSerializer: "Run",
    api_serializers.IdentitySerializer: "Identity",
}
# What the fields alone cannot say.
OVERRIDES = {
    "Connector": {"asSource": _nullable(_object({"targets": _array(STRING), "hasSettings": BOOLEAN,
                                                 "sampleQuery": STRING, "webhooksPer": STRING, "summary": STRING},
                                                extra=True)),
                  "asDestination": _nullable(ANY_OBJECT)},
    "Connection": {"strategy": _nullable(STRING), "sendingMode": _nullable(STRING)},
    "Pipeline": {"updatedAtLookback": {**LOOKBACK, "description": "Only when set: " + LOOKBACK["description"]}},
}
# What a body field cannot say: the keys of an object that a connector or a service reads.
SETTINGS = {"host": STRING, "port": INTEGER, "username": STRING, "password": STRING, "database": STRING,
            "schema": STRING, "path": STRING}
TRANSFORMATION = {"mapping": _nullable({"type": "object", "additionalProperties": STRING}),
                  "function": _nullable(_object({"source": STRING, "language": LANGUAGE, "preserveJSON": BOOLEAN,
                                                 "inPaths": _array(STRING), "outPaths": _array(STRING)}, extra=True))}
BODY_OBJECT_KEYS = {
    (api_serializers.WarehouseBody, "settings"): SETTINGS,
    (api_serializers.ConnectionCreateBody, "settings"): {
        **SETTINGS, "sslmode": {"type": "string", "enum": list(PG_SSL_MODES)}, "sslrootcert": STRING,
        "ssl": _object({"mode": {"type": "string", "enum": list(MYSQL_SSL_MODES)}, "ca": STRING})},
    (api_serializers.ConnectionTestBody, "settings"): SETTINGS,
    (api_serializers.PipelineBody, "transformation"): TRANSFORMATION,
    (api_serializers.PipelineCreateBody, "transformation"): TRANSFORMATION,
}
UNDOCUMENTED = {(api_serializers.ConnectionCreateBody, "linkedConnections")}  # read to refuse it (event connectors')


def _component(name: str) -> dict:
    serializer_class = next(cls for cls, component in COMPONENTS.items() if component == name)
    return _serializer_schema(serializer_class, OVERRIDES.get(name))


SCHEMAS = {
    "Error": _object({"error": _object({
        "code": {"type": "string", "description": "BadRequest, Unauthorized, Forbidden, NotFound, MethodNotAllowed, "
                                                  "ServiceUnavailable, or a 422 code such as SchemaNotAligned"},
        "message": STRING,
        "cause": {"type": "string", "description": "present when the error wraps another one"},
    }, ["code", "message"])}, ["error"], description='Every error: {"error": {"code", "message"[, "cause"]}}.'),
    "Created": _object({"id": _id("identifier of the new object")}, ["id"]),
    # --- types (krenalis-types-transform.md); responses are checked recursively
    "Type": {
        "type": "object", "required": ["kind"], "additionalProperties": True,
        "description": "A type: its kind and the keys of that kind (maxLength, bitSize, precision, ...).",
        "properties": {
            "kind": {"type": "string", "enum": KINDS},
            "properties": _array(ref("Property")),
            "elementType": ref("Type"),
        },
    },
    "Property": {
        "type": "object", "required": ["name", "type"], "additionalProperties": True,
        "properties": {"name": STRING, "type": ref("Type"), "readOptional": BOOLEAN, "nullable": BOOLEAN,
                       "description": STRING},
    },
    # Request bodies describe a schema without recursion (generators cannot expand recursive schemas).
    "TypeInput": {
        "type": "object", "required": ["kind"], "additionalProperties": True,
        "properties": {
            "kind": {"type": "string", "enum": KINDS},
            "properties": _array({"type": "object", "required": ["name", "type"], "additionalProperties": True,
                                  "properties": {"name": STRING, "type": ANY_OBJECT, "readOptional": BOOLEAN,
                                                 "nullable": BOOLEAN, "description": STRING}}),
        },
    },
    # --- workspaces
    "Workspace": _component("Workspace"),
    "WorkspaceList": _object({"workspaces": _array(ref("Workspace"))}, ["workspaces"]),
    "WorkspaceCreate": body_schema(api_serializers.WorkspaceCreateBody),
    "WorkspaceUpdate": body_schema(api_serializers.WorkspaceUpdateBody),
    # --- connectors and connections
    "Connector": _component("Connector"),
    "ConnectorList": _object({"connectors": _array(ref("Connector"))}, ["connectors"]),
    "Languages": _object({"languages": _array(LANGUAGE)}, ["languages"]),
    "Connection": _component("Connection"),
    "ConnectionList": _object({"connections": _array(ref("Connection"))}, ["connections"]),
    "ConnectionCreate": body_schema(api_serializers.ConnectionCreateBody),
    "ConnectionTest": body_schema(api_serializers.ConnectionTestBody),
    "ConnectionTestResult": _object({"warnings": _array(STRING)}, ["warnings"], description=(
        "What the login can do beyond reading: it is a superuser (PostgreSQL), has SUPER, FILE or ALL PRIVILEGES "
        "(MySQL), or can write tables of the connection's schema or database. Empty when it can only read.")),
    "ConnectionUpdate": body_schema(api_serializers.ConnectionUpdateBody),
    "QueryRequest": body_schema(api_serializers.QueryBody),
    "QueryResult": _object({
        "rows": _array(ANY_OBJECT),
        "schema": _nullable(ref("Type")),
        "issues": _nullable(_array(STRING)),
    }, ["rows", "schema", "issues"], description=(
        "A value longer than KRENALIS_PREVIEW_MAX_VALUE_BYTES (64 KiB) is cut and ends with \"…[truncated]\" "
        "(a json value becomes a string then); rows stop before they hold more than KRENALIS_PREVIEW_MAX_BYTES "
        "(4 MiB). An issue says so in either case.")),
    "Identity": _component("Identity"),
    "Identities": _object({"identities": _array(ref("Identity")), "total": {"type": "integer", "minimum": 0}},
                          ["identities", "total"]),
    # --- pipelines
    "Function": _component("Function"),
    "Pipeline": _component("Pipeline"),
    "PipelineList": _object({"pipelines": _array(ref("Pipeline"))}, ["pipelines"]),
    "PipelineCreate": body_schema(api_serializers.PipelineCreateBody),
    "PipelineUpdate": body_schema(api_serializers.PipelineBody),
    "PipelineStatus": body_schema(api_serializers.PipelineStatusBody),
    "PipelineSchedule": body_schema(api_serializers.PipelineScheduleBody),
    # --- runs
    "RunStart": body_schema(api_serializers.RunStartBody),
    "Run": _component("Run"),
    "RunList": _object({"runs": _array(ref("Run"))}, ["runs"]),
    "RunErrors": _object({
        "errors": _array(_object({"step": {"type": "string", "enum": STEPS}, "userId": _nullable(STRING),
                                  "message": STRING}, ["step", "userId", "message"])),
        "total": {"type": "integer", "minimum": 0},
    }, ["errors", "total"]),
}
WORKSPACE_HEADER = OpenApiParameter(
    "Krenalis-Workspace", OpenApiTypes.INT, OpenApiParameter.HEADER, required=False,
    description="The workspace the request acts on, for an organization-wide key (a restricted key selects "
                "its own and must not send it).")


def path_id(name: str, what: str) -> OpenApiParameter:
    return OpenApiParameter(name, {"type": "integer", "minimum": 1, "maximum": MAX_ID}, OpenApiParameter.PATH,
                            description=f"{what} identifier: a positive integer below 2^31 (anything else is a 400)")


def query_parameters(query_class) -> list[OpenApiParameter]:
    """The parameters a `serializers.Query` reads, described by its fields."""
    return [OpenApiParameter(name, {key: value for key, value in _field_schema(field).items() if key != "description"},
                             OpenApiParameter.QUERY, required=field.required, description=str(field.help_text or ""))
            for name, field in query_class().fields.items()]


def operation(operation_id: str, summary: str, *, tag: str, scope: str = WORKSPACE, request: str | None = None,
              ok: str | None = None, ok_description: str = "", errors=(), parameters=(), query=None,
              description: str = ""):
    """The extend_schema of one /v1 operation. `errors` lists the statuses beyond those of
    authentication and workspace selection, which follow from `scope`; `query` is the
    `serializers.Query` that reads its query parameters."""
    statuses = {400, 401}
    if scope == WORKSPACE:
        statuses |= {403, 404}
    elif scope == OPTIONAL:
        statuses |= {404}
    statuses |= set(errors)
    responses = {200: OpenApiResponse(response=ref(ok) if ok else None,
                                      description=ok_description or ("the object" if ok else "an empty body"))}
    for status in sorted(statuses):
        responses[status] = OpenApiResponse(response=ref("Error"), description=ERROR_DESCRIPTIONS[status])
    params = [*parameters, *(query_parameters(query) if query else ())]
    if scope != ORGANIZATION:
        params.append(WORKSPACE_HEADER)
    return extend_schema(
        operation_id=operation_id, summary=summary, description=description or f"{summary}.", tags=[tag],
        parameters=params,
        request={"application/json": ref(request)} if request else None,
        responses=responses,
    )


exclude = extend_schema(exclude=True)


def postprocess(result, generator, request, public):
    """drf-spectacular hook: adds the components and the Bearer scheme, marks request bodies required."""
    components = result.setdefault("components", {})
    components.setdefault("schemas", {}).update(SCHEMAS)
    components["securitySchemes"] = {"bearerAuth": {
        "type": "http", "scheme": "bearer",
        "description": "An API key (`api_...`), minted by `python manage.py createapikey`."}}
    result["security"] = [{"bearerAuth": []}]
    for path, item in result.get("paths", {}).items():
        for method, op in item.items():
            if not isinstance(op, dict):
                continue
            op["security"] = [{"bearerAuth": []}]
            if "requestBody" in op:
                op["requestBody"]["required"] = True
    return result
