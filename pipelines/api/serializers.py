"""The API objects (reference §3, §4, §5.1) as DRF serializers, in the reference's key order; the
request bodies and query parameters.

Objects: `XSerializer(obj).data` is the object's JSON (a list: one serializer with many=True, not
one per row: a serializer is costly to build). The declared fields are also what
`openapi.py` builds the components of these objects from (names, order, types, bounds, nullability),
so a field added here is documented. Keys that appear only when set (beside the seed's object)
are listed in `optional_fields` and left out by `to_representation`.

Request bodies: `Body` subclasses, read with `ApiView.validated(...)`. Their fields read with
`fields` (a missing key or null is the zero value, a wrong JSON type a 400 naming the field, the
first one in declaration order); `source` is the service's keyword. Types only: rules are the
services'. Query parameters: `Query` subclasses, read with `ApiView.validated_query(...)`. What a
valid body or parameter is (required, bounds, choices, nullability, help_text) is declared on these
fields too, for `openapi.py`, which builds the request components and query parameters from them.
"""
import functools
import inspect
import operator
import types
from collections.abc import Mapping

from rest_framework import fields as drf_fields
from rest_framework import serializers

from ..connectors import REGISTRY
from ..lookback import format_lookback
from ..models import Connection, Pipeline, Workspace
from ..services.pipelines import MAX_QUERY_RUNES, PipelineInput
from ..services.preview import MAX_PREVIEW_ROWS
from ..steps import STEP_NAMES
from ..timeformats.rfc3339 import format_rfc3339
from . import fields
from .platform import path_id

SAMPLE_QUERY = "SELECT *\nFROM users\n"
MAX_ID = 2**31 - 1
LANGUAGES = ["JavaScript", "Python"]
PERIOD_NAMES = {minutes: name for name, minutes in Pipeline.SCHEDULE_PERIODS.items()}


# --------------------------------------------------------------------------- fields

def IdField(description: str, **kwargs) -> serializers.IntegerField:
    """A Krenalis identifier: a positive integer below 2^31."""
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text=description, **kwargs)


class ObjectField(serializers.JSONField):
    """Any JSON object, as stored."""


class TypeField(serializers.JSONField):
    """A type of krenalis-types (a profile schema, a pipeline's input or output schema), as stored."""


class StringMapField(serializers.JSONField):
    """An object whose values are strings (a mapping: output path -> expression)."""


class ConstantField(serializers.Field):
    """The same value for every object (what Krenalis has and this product has one of)."""

    def __init__(self, value, choices=None, **kwargs):
        self.value, self.choices = value, choices
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, instance):
        return self.value


class BlankAsNullField(serializers.CharField):
    """A string that is null when empty."""

    def to_representation(self, value):
        return value or None


class TimeField(serializers.DateTimeField):
    """An RFC 3339 time with 0 or 6 fractional digits, as the reference writes them."""

    def to_representation(self, value):
        return format_rfc3339(value)


class PeriodField(serializers.ChoiceField):
    """A schedule period in minutes, shown by its name (1h)."""

    def to_representation(self, value):
        return PERIOD_NAMES.get(value)


class LookbackField(serializers.CharField):
    """A look-back window in seconds, shown as 1d2h3m4s."""

    def to_representation(self, value):
        return format_lookback(value)


class RunningField(serializers.BooleanField):
    """Whether the pipeline has a live run: one of the ids in the context's `running`."""

    def __init__(self, **kwargs):
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, pipeline):
        return pipeline.id in self.context["running"]


class Output(serializers.Serializer):
    """A read-only API object. `optional_fields` are shown only when `is_set` (by default: when their
    value is not empty); their value is not computed otherwise.

    Rows are shaped by a plan made once per serializer and type of row (`_plan`): each value is what
    the field's own `get_attribute` and `to_representation` give, but DRF's generic steps (a Mapping
    check and a signature read per value, str(s) of a str, a list rebuilt item by item) are skipped
    where they cannot change it; anything unusual goes through the field itself.
    bench/experiments/api_lists.py measures what that saves (RESULTS.md)."""

    optional_fields: tuple[str, ...] = ()
    schema_description: str | None = None  # of its OpenAPI schema

    def to_representation(self, instance):
        kind = type(instance)
        plans = self.__dict__.setdefault("_plans", {})  # this serializer's: they hold its bound fields
        plan = plans.get(kind)
        if plan is None:
            plan = plans[kind] = self._plan(kind)
        data = {}
        for name, field, get, keep, convert, optional in plan:
            if optional and not self.is_set(instance, name):
                continue
            if get is None:
                value = instance
            else:
                try:
                    value = get(instance)
                except Exception:  # DRF's path decides: None, a default, SkipField or the error
                    value = field.get_attribute(instance)
                else:
                    if callable(value):  # DRF calls it or not
                        value = field.get_attribute(instance)
            if value is None:
                data[name] = None
            elif keep is _ANY or type(value) is keep:
                data[name] = value
            elif type(keep) is frozenset and type(value) is list and keep.issuperset(map(type, value)):
                data[name] = list(value)  # a list of kept values: a copy, as DRF's ListField makes
            else:
                data[name] = convert(value)
        return data

    def _plan(self, kind: type) -> list[tuple]:
        """(name, field, getter or None for the row itself, type whose values are kept as they are,
        its to_representation, optional) per readable field, for rows of type `kind`."""
        by_key = issubclass(kind, Mapping)
        plan = []
        for field in self._readable_fields:
            attrs = field.source_attrs
            if not attrs:
                get = None
            elif len(attrs) == 1:
                get = (operator.itemgetter if by_key else operator.attrgetter)(attrs[0])
            else:
                get = functools.partial(_attribute_path, attrs)
            plan.append((field.field_name, field, get, _kept(field), field.to_representation,
                         field.field_name in self.optional_fields))
        return plan

    def is_set(self, instance, name: str) -> bool:
        return bool(self.fields[name].get_attribute(instance))


_ANY = object()
# Fields whose to_representation gives back a value of this exact type unchanged (str(s), int(i),
# True for True); JSONField's, any value (when not binary).
_IDENTITY_TYPES = {serializers.CharField: str, serializers.IntegerField: int, serializers.BooleanField: bool}


def _kept(field) -> object:
    """The type of the values `field` gives back unchanged, _ANY, a frozenset of that type for a list
    whose items are (a copy of the list is its value), or None."""
    method = type(field).to_representation
    for field_class, value_type in _IDENTITY_TYPES.items():
        if method is field_class.to_representation:
            return value_type
    if method is serializers.JSONField.to_representation and not field.binary:
        return _ANY
    if method is serializers.ListField.to_representation:
        item_type = _kept(field.child)
        if isinstance(item_type, type):
            return frozenset([item_type])
    return None


_calls: dict = {}  # function of a bound method -> whether DRF calls it (fields.is_simple_callable)


def _attribute_path(attrs, instance):
    """DRF's fields.get_attribute for a dotted source, with its verdict on a method's signature kept
    per function; what it would not call is not called, and anything else unusual raises, for DRF's
    own path to decide."""
    for attr in attrs:
        instance = instance[attr] if isinstance(instance, Mapping) else getattr(instance, attr)
        if not callable(instance):
            continue
        if isinstance(instance, types.MethodType):
            calls = _calls.get(instance.__func__)
            if calls is None:
                calls = _calls[instance.__func__] = drf_fields.is_simple_callable(instance)
            if calls:
                instance = instance()
        elif inspect.isfunction(instance) or inspect.isbuiltin(instance) or isinstance(instance, functools.partial):
            raise LookupError(attr)
    return instance


# --------------------------------------------------------------------------- objects

class WorkspaceSerializer(Output):
    id = IdField("workspace identifier")
    name = serializers.CharField()
    profileSchema = TypeField(source="profile_schema")
    primarySources = ObjectField(source="primary_sources", allow_null=True)
    resolveIdentitiesOnBatchImport = serializers.BooleanField(source="resolve_identities_on_batch_import")
    identifiers = serializers.ListField(child=serializers.CharField(), allow_null=True)
    warehouseMode = serializers.ChoiceField(Workspace.MODES, source="warehouse_mode")
    uiPreferences = ObjectField(source="ui_preferences")


class AsSourceSerializer(Output):
    targets = ConstantField(["User"])
    hasSettings = ConstantField(True)
    sampleQuery = ConstantField(SAMPLE_QUERY)
    webhooksPer = ConstantField("None")
    summary = serializers.SerializerMethodField()

    def get_summary(self, connector) -> str:
        return f"Import users from a {connector.label} database"


class ConnectorSerializer(Output):
    code = serializers.CharField()
    label = serializers.CharField()
    type = ConstantField("Database")
    categories = ConstantField(["Database"])
    asSource = AsSourceSerializer(source="*", allow_null=True)
    asDestination = ConstantField(None)
    hasSheets = ConstantField(False)
    fileExtension = ConstantField("")
    oauth = ConstantField(False)
    strategies = ConstantField(False)


class FunctionSerializer(Output):
    source = serializers.CharField(source="function_source")
    language = serializers.ChoiceField(LANGUAGES, source="function_language")
    preserveJSON = serializers.BooleanField(source="function_preserve_json")
    inPaths = serializers.ListField(child=serializers.CharField(), source="function_in_paths", allow_null=True)
    outPaths = serializers.ListField(child=serializers.CharField(), source="function_out_paths", allow_null=True)


class TransformationSerializer(Output):
    # A mapping or a function: the other one is null.
    mapping = StringMapField(source="transformation_mapping", allow_null=True)
    function = FunctionSerializer(source="*", allow_null=True)

    def to_representation(self, pipeline):
        if pipeline.has_function:
            return {"mapping": None, "function": self.fields["function"].to_representation(pipeline)}
        return {"mapping": pipeline.transformation_mapping, "function": None}


class PipelineSerializer(Output):
    """The seed's GET /v1/pipelines/:id object (and the look-back when set). The context's `running`
    holds the ids of the pipelines with a live run."""

    optional_fields = ("updatedAtLookback",)

    id = IdField("pipeline identifier")
    name = serializers.CharField()
    connector = serializers.CharField(source="connection.connector")
    connectorType = ConstantField(Connection.CONNECTOR_TYPE, choices=[Connection.CONNECTOR_TYPE])
    connection = IdField("connection identifier", source="connection_id")
    connectionRole = serializers.ChoiceField(["Source", "Destination"], source="connection.role")
    target = serializers.ChoiceField(["User"])
    enabled = serializers.BooleanField()
    query = serializers.CharField()
    userIDColumn = serializers.CharField(source="user_id_column")
    updatedAtColumn = BlankAsNullField(source="updated_at_column", allow_null=True)
    updatedAtFormat = BlankAsNullField(source="updated_at_format", allow_null=True)
    incremental = serializers.BooleanField()
    transformation = TransformationSerializer(source="*")
    inSchema = TypeField(source="in_schema")
    outSchema = TypeField(source="out_schema")
    running = RunningField()
    scheduleStart = serializers.IntegerField(source="schedule_start", min_value=0, max_value=1439, allow_null=True)
    schedulePeriod = PeriodField(list(Pipeline.SCHEDULE_PERIODS), source="schedule_period", allow_null=True)
    updatedAtLookback = LookbackField(source="updated_at_lookback")

    def to_representation(self, pipeline):
        data = super().to_representation(pipeline)
        if pipeline.schedule_period == 0:  # not scheduled
            data["scheduleStart"] = data["schedulePeriod"] = None
        return data


class ConnectionSerializer(Output):
    """A connection with its pipelines (`pipelines.all()`); its settings are never part of it."""

    schema_description = "A connection; its settings are never returned."

    id = IdField("connection identifier")
    name = serializers.CharField()
    connector = serializers.CharField()
    connectorType = ConstantField(Connection.CONNECTOR_TYPE, choices=[Connection.CONNECTOR_TYPE])
    role = serializers.ChoiceField(["Source", "Destination"])
    strategy = ConstantField(None, allow_null=True)
    sendingMode = ConstantField(None, allow_null=True)
    pipelines = PipelineSerializer(source="pipelines.all", many=True)


class RunLookbackSerializer(Output):
    schema_description = "Only for a run of a pipeline with updatedAtLookback; counts are zeros while it is live."

    window = LookbackField(source="lookback")
    reread = serializers.IntegerField(min_value=0, help_text="rows read again because of the window (update "
                                                             "time below the run's start cursor)")
    cursorHeld = serializers.BooleanField(source="cursor_held", help_text=(
        "the cursor was held below the greatest update time read: a transaction of the source was in progress "
        "when the run read"))
    note = serializers.CharField(source="in_flight_note", help_text=(
        "why the source showed no transactions in progress (empty when it did)"))

    def to_representation(self, run):
        data = super().to_representation(run)
        if run.end_time is None:
            data["reread"], data["cursorHeld"] = 0, False
        return data


def StepCountsField() -> serializers.ListField:
    """Rows per step (Receive ... Finalize)."""
    return serializers.ListField(child=serializers.IntegerField(min_value=0), min_length=len(STEP_NAMES),
                                 max_length=len(STEP_NAMES))


class RunSerializer(Output):
    schema_description = ("passed/failed count rows per step: Receive, InputValidation, Filter, Consent, "
                          "Transformation, OutputValidation, Finalize. While the run is live they are zeros and "
                          "endTime is null.")

    optional_fields = ("lookback",)

    id = IdField("run identifier")
    pipeline = IdField("pipeline identifier", source="pipeline_id")
    incremental = serializers.BooleanField()
    startTime = TimeField(source="start_time")
    endTime = TimeField(source="end_time", allow_null=True)
    passed = StepCountsField()
    failed = StepCountsField()
    error = serializers.CharField()
    lookback = RunLookbackSerializer(source="*")

    def to_representation(self, run):
        data = super().to_representation(run)
        if run.end_time is None:
            data["passed"] = data["failed"] = [0] * len(STEP_NAMES)
        return data

    def is_set(self, run, name: str) -> bool:
        return bool(run.lookback)


class IdentitySerializer(Output):
    """An identity read from the warehouse (a dict)."""

    userId = serializers.CharField()
    connection = IdField("connection")
    pipeline = IdField("pipeline")
    updatedAt = TimeField()


def connectors_json() -> list[dict]:
    return ConnectorSerializer([REGISTRY[code] for code in sorted(REGISTRY)], many=True).data


# --------------------------------------------------------------------------- request bodies

class BodyField(serializers.Field):
    """A field of a request body, read by a `fields` reader: a missing key or null is the reader's
    default, a value of the wrong JSON type a 400 that names the field (raised at once, so the first
    wrong field in declaration order is the one reported, as the reference does).

    The other arguments describe a valid value, for the OpenAPI document (openapi.py builds the request
    components and query parameters from them), and check nothing: the services do, with their own
    messages. `json_type`: "string", "boolean", "integer", "object", "array" (of strings), "type" (a
    krenalis type), "lookback" (1d2h3m4s), or a `Body` class (an object of its fields); `choices`, the
    bounds `min_length`/`max_length` and `min_value`/`max_value`; DRF's `required`, `allow_null`, `help_text`."""

    def __init__(self, read, json_type, *, required=False, choices=None, min_length=None, max_length=None,
                 min_value=None, max_value=None, **kwargs):
        self.read, self.json_type, self.choices = read, json_type, choices
        self.min_length, self.max_length, self.min_value, self.max_value = min_length, max_length, min_value, max_value
        super().__init__(required=required, **kwargs)

    def get_value(self, body):
        return body

    def validate_empty_values(self, body):
        return False, body

    def to_internal_value(self, body):
        return self.read(body, self.field_name)


def _any(body: dict, key: str):
    return body.get(key)


def _optional_array(body: dict, key: str):
    return fields.array(body, key) if key in body else None


def String(**kwargs) -> BodyField:
    return BodyField(fields.string, "string", **kwargs)


def Name(max_length: int = 100) -> BodyField:
    """An object's name: not empty, at most `max_length` characters."""
    return String(required=True, min_length=1, max_length=max_length)


def NullableString(**kwargs) -> BodyField:
    return BodyField(fields.nullable_string, "string", **{"allow_null": True, **kwargs})


def Boolean(**kwargs) -> BodyField:
    return BodyField(fields.boolean, "boolean", **kwargs)


def NullableBoolean(**kwargs) -> BodyField:
    return BodyField(fields.nullable_boolean, "boolean", **{"allow_null": True, **kwargs})


def Object(**kwargs) -> BodyField:
    return BodyField(fields.obj, "object", **kwargs)


def AnyValue(json_type, **kwargs) -> BodyField:
    """Any JSON value (or None when missing): the service validates it; `json_type` is that of a valid one."""
    return BodyField(_any, json_type, **kwargs)


class Body(serializers.Serializer):
    """A request body (a JSON object, `ApiView.body()`); `validated_data` holds its fields under
    their `source` names, the keyword arguments of the service that takes them. Types only: the
    rules are the service's."""

    schema_description: str | None = None  # of its OpenAPI schema


class WarehouseBody(Body):
    platform = String(required=True, choices=Workspace.PLATFORMS)
    mode = BodyField(lambda body, key: fields.string(body, key, "Normal"), "string", choices=Workspace.MODES)
    settings = Object(source="warehouse_settings", allow_null=True, help_text=(
        "PostgreSQL: host, port, username, password, database, schema. SQLite: {} or {path}."))


def _warehouse(body: dict, key: str) -> dict:
    serializer = WarehouseBody(data=fields.obj(body, key) or {})
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class WorkspaceCreateBody(Body):
    """The warehouse's keys (platform, mode, settings) come out beside the others."""

    name = Name()
    profileSchema = AnyValue("type", source="profile_schema", required=True)
    warehouse = BodyField(_warehouse, WarehouseBody, required=True)
    uiPreferences = Object(source="ui_preferences", allow_null=True)

    def to_internal_value(self, body):
        fields.obj(body, "warehouse")  # an object: checked before the name, as ever
        data = super().to_internal_value(body)
        data.update(data.pop("warehouse"))
        return data

class WorkspaceUpdateBody(Body):
    name = Name()
    uiPreferences = Object(source="ui_preferences", allow_null=True)


class ConnectionCreateBody(Body):
    name = Name()
    role = NullableString(required=True, allow_null=False, choices=[Connection.ROLE_SOURCE])
    connector = String(required=True, choices=list(REGISTRY))
    strategy = NullableString()
    sendingMode = NullableString(source="sending_mode")
    linkedConnections = BodyField(_optional_array, "array", source="linked_connections")
    settings = Object(required=True, help_text=(
        "postgresql: host, port, username, password, database, schema, and optionally sslmode (default prefer) "
        "and sslrootcert (the PEM text of the CA certificate); mysql: host, port, username, password, database, "
        "and optionally ssl {mode (default PREFERRED), ca}; sqlite: path. The host must be allowed "
        "(KRENALIS_DATABASE_ALLOWED_HOSTS) and the database none of the product's own. Tested by connecting "
        "before the connection is saved."))
    authToken = String(source="auth_token")


class ConnectionTestBody(Body):
    connector = String(required=True, choices=list(REGISTRY))
    settings = Object(required=True, help_text="As in ConnectionCreate.")


class ConnectionUpdateBody(Body):
    name = Name()
    strategy = NullableString()
    sendingMode = NullableString(source="sending_mode")


class QueryBody(Body):
    query = String(required=True, min_length=1)
    limit = BodyField(lambda body, key: fields.integer(body, key, 0), "integer", min_value=0,
                      max_value=MAX_PREVIEW_ROWS)


class PipelineStatusBody(Body):
    enabled = Boolean()


class PipelineScheduleBody(Body):
    period = AnyValue("string", choices=list(Pipeline.SCHEDULE_PERIODS), allow_null=True)


class RunStartBody(Body):
    incremental = NullableBoolean()


class IdentityResolutionSettingsBody(Body):
    runOnBatchImport = Boolean(source="run_on_batch_import", allow_null=True, help_text="null is false")
    identifiers = AnyValue("array", allow_null=True)


class ProfileSchemaChangeBody(Body):
    schema = AnyValue("type", required=True)
    primarySources = AnyValue("object", source="primary_sources", allow_null=True)
    rePaths = AnyValue("object", source="re_paths", allow_null=True)


class PipelineBody(Body):
    """PipelineToSet: a full replacement (omitted fields take their zero value); `extra` holds the
    keys a database pipeline must not have, for the service to refuse."""

    schema_description = "A full replacement: omitted fields take their zero value (an omitted enabled disables)."

    transformation = Object(required=True)
    name = Name(60)
    enabled = Boolean()
    query = String(required=True, min_length=1, max_length=MAX_QUERY_RUNES)
    userIDColumn = String(source="user_id_column", required=True)
    updatedAtColumn = String(source="updated_at_column")
    updatedAtFormat = String(source="updated_at_format")
    incremental = Boolean()
    updatedAtLookback = BodyField(fields.nullable_string, "lookback", source="updated_at_lookback", allow_null=True)
    inSchema = AnyValue("type", source="in_schema", required=True)
    outSchema = AnyValue("type", source="out_schema", required=True)

    null_is_absent: tuple[str, ...] = ()  # forbidden keys that count as absent when null

    def validate(self, data):
        body = self.initial_data
        data["extra"] = {key: body[key] for key in PipelineInput.FORBIDDEN_KEYS
                         if key in body and not (key in self.null_is_absent and body[key] is None)}
        return data


class PipelineTargetBody(Body):
    connection = AnyValue("integer", source="connection_id", required=True, min_value=1, max_value=MAX_ID,
                          help_text="the source connection")
    target = AnyValue("string", required=True, choices=["User"])
    eventType = String(source="event_type")


class PipelineCreateBody(PipelineTargetBody, PipelineBody):
    """The connection, target and event type (read first), then PipelineToSet."""

    schema_description = "A new pipeline importing users from a database connection."

    null_is_absent = ("formatSettings",)  # on create (only), null counts as absent (§7.4)


# --------------------------------------------------------------------------- query parameters

class Query(Body):
    """Query parameters (`request.query_params`), read as a body's fields, with ApiView.validated_query."""


def QueryInt(default: int, low: int, high: int, **kwargs) -> BodyField:
    """An integer parameter, `default` when absent, a 400 unless in [low, high]."""
    return BodyField(lambda params, key: fields.query_int(params, key, default, low, high), "integer",
                     min_value=low, max_value=high, **kwargs)


def First() -> BodyField:
    return QueryInt(0, 0, MAX_ID, help_text="how many to skip")


def Limit() -> BodyField:
    return QueryInt(100, 1, 1000, help_text="how many to return (default 100)")


def _pipeline_id(params, key: str) -> int | None:
    text = params.get(key)
    return None if text is None else path_id(text, 'identifier "{value}" is not a valid pipeline identifier')


class PagingQuery(Query):
    first = First()
    limit = Limit()


class RunListQuery(Query):
    pipeline = BodyField(_pipeline_id, "integer", source="pipeline_id", min_value=1, max_value=MAX_ID,
                         help_text="only the runs of this pipeline")


class ProfilesQuery(Query):
    properties = AnyValue("string", help_text="comma-separated property paths to return (default: all)")
    filter = AnyValue("string", source="filter_text", help_text=(
        'JSON {"logical": "and"|"or", "conditions": [{"property", "operator", "values"}]}'))
    order = AnyValue("string", help_text="property to order by (default: the update time)")
    orderDesc = BodyField(fields.query_flag, "string", source="order_desc", choices=["true", "false", ""],
                          help_text="descending order (empty: as when absent)")
    first = First()
    limit = Limit()
