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
services'. Query parameters: `Query` subclasses, read with `ApiView.validated_query(...)`.
"""
from rest_framework import serializers

from ..connectors import REGISTRY
from ..lookback import format_lookback
from ..models import Connection, Pipeline, Workspace
from ..services.pipelines import PipelineInput
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
    value is not empty); their value is not computed otherwise."""

    optional_fields: tuple[str, ...] = ()
    schema_description: str | None = None  # of its OpenAPI schema

    def to_representation(self, instance):
        try:
            readable = self._readable
        except AttributeError:  # once per serializer: a list's child serializer shapes every row
            readable = self._readable = [(field.field_name, field, field.field_name in self.optional_fields)
                                         for field in self._readable_fields]
        data = {}
        for name, field, optional in readable:
            if optional and not self.is_set(instance, name):
                continue
            value = field.get_attribute(instance)
            data[name] = None if value is None else field.to_representation(value)
        return data

    def is_set(self, instance, name: str) -> bool:
        return bool(self.fields[name].get_attribute(instance))


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
    wrong field in declaration order is the one reported, as the reference does)."""

    def __init__(self, read=fields.string, **kwargs):
        self.read = read
        super().__init__(required=False, **kwargs)

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
    return BodyField(fields.string, **kwargs)


def NullableString(**kwargs) -> BodyField:
    return BodyField(fields.nullable_string, **kwargs)


def Boolean(**kwargs) -> BodyField:
    return BodyField(fields.boolean, **kwargs)


def NullableBoolean(**kwargs) -> BodyField:
    return BodyField(fields.nullable_boolean, **kwargs)


def Object(**kwargs) -> BodyField:
    return BodyField(fields.obj, **kwargs)


def AnyValue(**kwargs) -> BodyField:
    """Any JSON value (or None when missing): the service validates it."""
    return BodyField(_any, **kwargs)


class Body(serializers.Serializer):
    """A request body (a JSON object, `ApiView.body()`); `validated_data` holds its fields under
    their `source` names, the keyword arguments of the service that takes them. Types only: the
    rules are the service's."""


class WarehouseBody(Body):
    platform = String()
    mode = BodyField(lambda body, key: fields.string(body, key, "Normal"))
    settings = Object(source="warehouse_settings")


def _warehouse(body: dict, key: str) -> dict:
    serializer = WarehouseBody(data=fields.obj(body, key) or {})
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class WorkspaceCreateBody(Body):
    """The warehouse's keys (platform, mode, settings) come out beside the others."""

    name = String()
    profileSchema = AnyValue(source="profile_schema")
    warehouse = BodyField(_warehouse)
    uiPreferences = Object(source="ui_preferences")

    def to_internal_value(self, body):
        fields.obj(body, "warehouse")  # an object: checked before the name, as ever
        data = super().to_internal_value(body)
        data.update(data.pop("warehouse"))
        return data

class WorkspaceUpdateBody(Body):
    name = String()
    uiPreferences = Object(source="ui_preferences")


class ConnectionCreateBody(Body):
    name = String()
    role = NullableString()
    connector = String()
    strategy = NullableString()
    sendingMode = NullableString(source="sending_mode")
    linkedConnections = BodyField(_optional_array, source="linked_connections")
    settings = Object()
    authToken = String(source="auth_token")


class ConnectionTestBody(Body):
    connector = String()
    settings = Object()


class ConnectionUpdateBody(Body):
    name = String()
    strategy = NullableString()
    sendingMode = NullableString(source="sending_mode")


class QueryBody(Body):
    query = String()
    limit = BodyField(lambda body, key: fields.integer(body, key, 0))


class PipelineStatusBody(Body):
    enabled = Boolean()


class PipelineScheduleBody(Body):
    period = AnyValue()


class RunStartBody(Body):
    incremental = NullableBoolean()


class IdentityResolutionSettingsBody(Body):
    runOnBatchImport = Boolean(source="run_on_batch_import")
    identifiers = AnyValue()


class ProfileSchemaChangeBody(Body):
    schema = AnyValue()
    primarySources = AnyValue(source="primary_sources")
    rePaths = AnyValue(source="re_paths")


class PipelineBody(Body):
    """PipelineToSet: a full replacement (omitted fields take their zero value); `extra` holds the
    keys a database pipeline must not have, for the service to refuse."""

    transformation = Object()
    name = String()
    enabled = Boolean()
    query = String()
    userIDColumn = String(source="user_id_column")
    updatedAtColumn = String(source="updated_at_column")
    updatedAtFormat = String(source="updated_at_format")
    incremental = Boolean()
    updatedAtLookback = NullableString(source="updated_at_lookback")
    inSchema = AnyValue(source="in_schema")
    outSchema = AnyValue(source="out_schema")

    null_is_absent: tuple[str, ...] = ()  # forbidden keys that count as absent when null

    def validate(self, data):
        body = self.initial_data
        data["extra"] = {key: body[key] for key in PipelineInput.FORBIDDEN_KEYS
                         if key in body and not (key in self.null_is_absent and body[key] is None)}
        return data


class PipelineTargetBody(Body):
    connection = AnyValue(source="connection_id")
    target = AnyValue()
    eventType = String(source="event_type")


class PipelineCreateBody(PipelineTargetBody, PipelineBody):
    """The connection, target and event type (read first), then PipelineToSet."""

    null_is_absent = ("formatSettings",)  # on create (only), null counts as absent (§7.4)


# --------------------------------------------------------------------------- query parameters

class Query(Body):
    """Query parameters (`request.query_params`), read as a body's fields, with ApiView.validated_query."""


def _first(params, key: str) -> int:
    return fields.query_int(params, key, 0, 0, MAX_ID)


def _limit(params, key: str) -> int:
    return fields.query_int(params, key, 100, 1, 1000)


def _pipeline_id(params, key: str) -> int | None:
    text = params.get(key)
    return None if text is None else path_id(text, 'identifier "{value}" is not a valid pipeline identifier')


class PagingQuery(Query):
    first = BodyField(_first)
    limit = BodyField(_limit)


class RunListQuery(Query):
    pipeline = BodyField(_pipeline_id, source="pipeline_id")


class ProfilesQuery(Query):
    properties = AnyValue()
    filter = AnyValue(source="filter_text")
    order = AnyValue()
    orderDesc = BodyField(fields.query_flag, source="order_desc")
    first = BodyField(_first)
    limit = BodyField(_limit)
