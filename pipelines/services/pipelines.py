"""Creating and changing pipelines, with every rule of the seed and reference §7.8, in order.

The checks run in the reference's order and the first failure wins; then our early checks
(spec README §1.3): placeholders in the query, and outSchema aligned with the profile schema;
and last, that the connector would send the query (one read-only statement, connectors/querycheck.py).
"""
import json
import secrets
from dataclasses import dataclass, field

from django.db import transaction

from ..alignment import alignment_difference
from ..conf import knobs
from ..connectors import get_connector
from ..connectors.querycheck import QueryNotAllowed
from ..errors import BadRequest, NotFound, Unprocessable
from ..ids import create_with_random_id
from .identities import remove_identities
from ..lookback import LookbackError, parse_lookback
from ..mapping import MappingError, compile_mapping
from ..models import Connection, Pipeline, Workspace
from ..placeholders import PlaceholderError, check_placeholders, replace_placeholders
from ..timeformats import check_updated_at_format
from ..transformers import FunctionCompileError, Limits, check_function
from ..transformers.python import python_sandbox_status
from ..types import (PathNotExistError, SchemaError, Type, column_name, is_valid_property_name,
                     is_valid_property_path, leaf_paths, parse_type, property_by_path, type_to_json,
                     unused_leaf_paths)
from ..validation import check_text

MAX_QUERY_RUNES = 1000
MAX_COLUMN_RUNES = 1024
MAX_FUNCTION_SOURCE_RUNES = 50000
LANGUAGES = ("JavaScript", "Python")
USER_ID_KINDS = ("string", "int", "uuid", "json")
UPDATED_AT_KINDS = ("string", "datetime", "date", "json")
REVIEW = ". Please review and update the pipeline before attempting to import the users."


@dataclass
class PipelineInput:
    """The PipelineToSet fields of a create or update request, already type-checked."""

    FORBIDDEN_KEYS = ("format", "path", "sheet", "compression", "orderBy", "tableName", "tableKey", "exportMode",
                      "formatSettings", "matching", "updateOnDuplicates", "filter", "requiredConsents")

    name: str = ""
    enabled: bool = False
    query: str = ""
    user_id_column: str = ""
    updated_at_column: str = ""
    updated_at_format: str = ""
    incremental: bool = False
    updated_at_lookback: str | None = None   # "5m"; None = off
    transformation: dict | None = None
    in_schema: object = None     # schema JSON as received
    out_schema: object = None
    extra: dict = field(default_factory=dict)   # keys of other pipeline types, which databases refuse


@dataclass
class ValidPipeline:
    """What validation produces: parsed schemas and the normalized transformation."""

    in_schema: Type
    out_schema: Type
    mapping: dict | None
    function: dict | None
    lookback_seconds: int | None = None


def _parse_schema(data, what: str) -> Type | None:
    if data is None:
        return None
    try:
        return parse_type(data)
    except SchemaError as exc:
        raise BadRequest(f"{what} is not valid: {exc}") from None


def _string_option(extra: dict, key: str) -> str:
    value = extra.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadRequest(f'"{key}" must be a string')
    return value


def _check_column_name(column: str, what: str) -> None:
    """A column the pipeline names, if any: a property name of at most 1024 runes."""
    if column:
        if not is_valid_property_name(column):
            raise BadRequest(f"{what} is not a valid property name")
        if len(column) > MAX_COLUMN_RUNES:
            raise BadRequest(f"{what} is longer than 1024 runes")


def _is_valid_sheet_name(name: str) -> bool:
    """A spreadsheet's sheet name: 1 to 31 characters, none of : \\ / ? * [ ], not quoted."""
    return (len(name) <= 31 and not any(c in name for c in ':\\/?*[]')
            and not name.startswith("'") and not name.endswith("'"))


def _check_function_paths(paths, schema: Type, direction: str) -> list[str]:
    if paths is None:
        raise BadRequest(f"{direction} properties of transformation function cannot be null")
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise BadRequest(f'"{"inPaths" if direction == "input" else "outPaths"}" must be an array of strings')
    if not paths:
        raise BadRequest(f"there are no {direction} properties in transformation function")
    seen = set()
    for path in paths:
        if not is_valid_property_path(path):
            raise BadRequest(f'transformation function {direction} property path "{path}" is not valid')
        if path in seen:
            raise BadRequest(f'transformation function {direction} property path "{path}" is repeated')
        seen.add(path)
    for path in paths:
        for other in paths:
            if other.startswith(path + "."):
                raise BadRequest(f'transformation function {direction} paths cannot contain both "{path}" '
                                 f'and its sub-property path "{other}"')
    for path in paths:
        try:
            property_by_path(schema, path)
        except PathNotExistError:
            raise BadRequest(f'{direction} property "{path}" of transformation function does not exist in schema') \
                from None
    return sorted(paths)


def _check_function(function, in_schema: Type | None, out_schema: Type | None) -> dict:
    if not isinstance(function, dict):
        raise BadRequest('"transformation.function" must be an object')
    if in_schema is None:
        raise BadRequest("input schema is required by the transformation function")
    if out_schema is None:
        raise BadRequest("output schema is required by the transformation function")
    source = function.get("source")
    if source is None:
        source = ""
    if not isinstance(source, str):
        raise BadRequest('"transformation.function.source" must be a string')
    check_text(source, "source of transformation function", MAX_FUNCTION_SOURCE_RUNES)
    language = function.get("language")
    if language is None:
        language = ""
    if not isinstance(language, str):
        raise BadRequest('"transformation.function.language" must be a string')
    if language == "":
        raise BadRequest("transformation language is empty")
    if language not in LANGUAGES:
        raise BadRequest(f'transformation language "{language}" is not valid')
    if language not in enabled_languages():
        if language == "JavaScript":
            raise Unprocessable("UnsupportedLanguage", "JavaScript function language is not supported")
        raise Unprocessable("UnsupportedLanguage", "Python transformation language is not supported")
    preserve_json = function.get("preserveJSON")
    if preserve_json is not None and not isinstance(preserve_json, bool):
        raise BadRequest('"transformation.function.preserveJSON" must be a boolean')
    checked = {
        "source": source,
        "language": language,
        "preserveJSON": bool(preserve_json),
        "inPaths": _check_function_paths(function.get("inPaths"), in_schema, "input"),
        "outPaths": _check_function_paths(function.get("outPaths"), out_schema, "output"),
    }
    try:
        check_function(language, source, function_limits())
    except FunctionCompileError as exc:
        raise BadRequest(str(exc)) from None
    return checked


def function_limits() -> Limits:
    return Limits(batch_timeout_seconds=knobs.FUNCTION_BATCH_TIMEOUT,
                  memory_bytes=knobs.FUNCTION_MEMORY_MB * 2**20)


def enabled_languages() -> list[str]:
    """Languages switched on in settings; Python also needs its sandbox to work on this machine."""
    enabled = knobs.TRANSFORMATION_LANGUAGES
    languages = [lang for lang in LANGUAGES if lang in enabled]
    if "Python" in languages and not python_sandbox_status()["available"]:
        languages.remove("Python")
    return languages


def _walk(properties, prefix=""):
    for prop in properties:
        path = prefix + prop.name
        yield path, prop
        t = prop.type
        while t.kind in ("array", "map"):
            t = t.element_type
        if t.kind == "object":
            yield from _walk(t.properties, path + ".")


def _check_input_schema(schema: Type) -> None:
    for path, prop in _walk(schema.properties):
        if prop.prefilled:
            raise BadRequest(f'input pipeline schema property "{path}" has a prefilled value, but pipeline schema '
                             f'properties cannot have prefilled values')
        if prop.create_required:
            raise BadRequest(f'source pipeline schema property "{path}" cannot have CreateRequired set to true')
        if prop.update_required:
            raise BadRequest(f'input pipeline schema property "{path}" cannot have UpdateRequired set to true')
        if prop.read_optional:
            raise BadRequest(f'input pipeline schema property "{path}" cannot have ReadOptional set to true')


def _check_output_schema(schema: Type) -> None:
    for path, prop in _walk(schema.properties):
        if prop.prefilled:
            raise BadRequest(f'output pipeline schema property "{path}" has a prefilled value, but pipeline schema '
                             f'properties cannot have prefilled values')
        if path.startswith("_") or prop.name.startswith("_"):
            raise BadRequest(f'output pipeline schema property "{path}" is a meta property')
        t = prop.type
        if t.kind in ("array", "map") and t.element_type.kind in ("array", "object", "map"):
            raise BadRequest(f'output pipeline schema property "{path}" cannot have type {t}')
        if prop.create_required:
            raise BadRequest(f'output pipeline schema property "{path}" cannot have CreateRequired set to true')
        if prop.update_required:
            raise BadRequest(f'output pipeline schema property "{path}" cannot have UpdateRequired set to true')
        if not prop.read_optional:
            raise BadRequest(f'output pipeline schema property "{path}" must have ReadOptional set to true')
        if prop.nullable:
            raise BadRequest(f'output pipeline schema property "{path}" cannot have Nullable set to true')
    seen = set()
    for path, _ in leaf_paths(schema):
        column = column_name(path).lower()
        if column in seen:
            raise BadRequest(f'two output pipeline schema properties would have the same column name "{column}" '
                             f'in the data warehouse, case-insensitively')
        seen.add(column)


def _top_level(schema: Type, name: str):
    return next((p for p in schema.properties if p.name == name), None)


def validate_pipeline(data: PipelineInput, workspace: Workspace) -> ValidPipeline:
    """Every create/update rule, in the reference's order (§7.8), then our early checks."""
    extra = data.extra
    if _string_option(extra, "format"):                                                        # 1
        raise BadRequest("pipelines on Database connections cannot have a format")
    check_text(data.name, "name", 60)                                                           # 2
    in_schema = _parse_schema(data.in_schema, "input schema")                                   # 3
    out_schema = _parse_schema(data.out_schema, "output schema")
    if in_schema is not None and in_schema.kind != "object":
        raise BadRequest("input schema, if provided, must be an object")
    if out_schema is not None and out_schema.kind != "object":
        raise BadRequest("out schema, if provided, must be an object")
    if extra.get("filter") is not None:                                                         # 4
        raise BadRequest("filters are not allowed")
    consents = extra.get("requiredConsents")                                                    # 5
    if isinstance(consents, dict) and consents.get("purposes"):
        raise BadRequest("required consents are not allowed")
    mapping = function = compiled = None
    transformation = data.transformation                                                        # 6
    if transformation is not None:
        mapping, function = transformation.get("mapping"), transformation.get("function")
        if mapping is not None and function is not None:
            raise BadRequest("pipeline cannot have both transformation mapping and function")
        if mapping is not None:
            if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
                raise BadRequest('"transformation.mapping" must be an object with string values')
            if not mapping:
                raise BadRequest("transformation mapping must have mapped properties")
            if in_schema is None:
                raise BadRequest("input schema is required by the mapping")
            if out_schema is None:
                raise BadRequest("output schema is required by the mapping")
            try:
                compiled = compile_mapping(mapping, in_schema, out_schema)
            except MappingError as exc:
                raise BadRequest(f"invalid mapping: {exc}") from None
        elif function is not None:
            function = _check_function(function, in_schema, out_schema)
        else:
            raise BadRequest("pipeline cannot have a transformation without mapping and function.")
    path = _string_option(extra, "path")                                                        # 7
    if path:
        if len(path) > 1024:
            raise BadRequest("path is longer than 1024 runes")
        if "${" in path:
            raise BadRequest("placeholders syntax is not supported by source pipelines")
    table_name = _string_option(extra, "tableName")                                             # 8
    if table_name:
        check_text(table_name, "table name", 1024)
    sheet = _string_option(extra, "sheet")                                                      # 9
    if sheet and not _is_valid_sheet_name(sheet):
        raise BadRequest("sheet name is not valid")
    export_mode = _string_option(extra, "exportMode")                                           # 10
    if export_mode and export_mode not in ("CreateOnly", "UpdateOnly", "CreateOrUpdate"):
        raise BadRequest(f'export mode "{export_mode}" is not valid')
    matching = extra.get("matching")                                                            # 11
    match_in, match_out = ((matching.get("in") or "", matching.get("out") or "") if isinstance(matching, dict)
                           else ("", ""))
    if match_out and not match_in:
        raise BadRequest("input matching property cannot be empty if output matching property is not empty")
    if match_in and not match_out:
        raise BadRequest("output matching property cannot be empty if input matching property is not empty")
    if match_in and not export_mode:
        raise BadRequest("export mode cannot be empty if there are matching properties")
    compression = _string_option(extra, "compression")                                          # 12
    if compression not in ("", "Zip", "Gzip", "Snappy"):
        raise BadRequest(f'compression "{compression}" is not valid')
    user_id_column = data.user_id_column                                                        # 13
    _check_column_name(user_id_column, "user ID column")
    updated_at_column = data.updated_at_column                                                  # 14
    _check_column_name(updated_at_column, "update time column")
    updated_at_format = data.updated_at_format                                                  # 15
    if updated_at_format:
        message = check_updated_at_format(updated_at_format)
        if message:
            raise BadRequest(message)
    order_by = _string_option(extra, "orderBy")                                                 # 16
    if order_by:
        if not is_valid_property_path(order_by):
            raise BadRequest("the specified order by is not a valid property path")
        if len(order_by) > MAX_COLUMN_RUNES:
            raise BadRequest("the specified order by is longer than 1024 runes")
    if data.incremental and not updated_at_column:                                              # 17
        raise BadRequest("incremental requires an update time column")
    lookback_seconds = None                                                                     # 17, ours
    if data.updated_at_lookback:  # "" is off, as null
        if not updated_at_column:
            raise BadRequest("update time look-back requires an update time column")
        try:
            lookback_seconds = parse_lookback(data.updated_at_lookback)
        except LookbackError as exc:
            raise BadRequest(str(exc)) from None
    if in_schema is not None:                                                                   # 18
        _check_input_schema(in_schema)
    if out_schema is not None:
        _check_output_schema(out_schema)
    if "formatSettings" in extra:                                                               # 19
        raise BadRequest("database pipelines cannot have source format settings")
    if compression:
        raise BadRequest("database pipelines cannot have compression")
    check_text(data.query, "query", MAX_QUERY_RUNES)
    if path:
        raise BadRequest("Database pipelines cannot have a path")
    if sheet:
        raise BadRequest("Database pipelines cannot have a sheet")
    if in_schema is None:                                                                       # 20
        raise BadRequest("input schema must be valid")
    if not user_id_column:
        raise BadRequest("user ID column is mandatory")
    user_id_property = _top_level(in_schema, user_id_column)
    if user_id_property is None:
        raise BadRequest(f'user ID column "{user_id_column}" not found within input schema')
    if user_id_property.type.kind not in USER_ID_KINDS:
        raise BadRequest(f'user ID column "{user_id_column}" has kind {user_id_property.type.kind} '
                         f'instead of int, uuid, json, or string')
    format_needed, kind = False, None
    if updated_at_column:
        updated_at_property = _top_level(in_schema, updated_at_column)
        if updated_at_property is None:
            raise BadRequest(f'update time column "{updated_at_column}" not found within input schema')
        kind = updated_at_property.type.kind
        if kind not in UPDATED_AT_KINDS:
            raise BadRequest(f'update time column "{updated_at_column}" has kind {kind} '
                             f'instead of datetime, date, json, or string')
        format_needed = kind in ("string", "json")
    if updated_at_format and not format_needed:
        # The reference's message, which the conformance suite checks word for word; the cause says why.
        raise BadRequest("pipeline cannot specify an update time format", cause=(
            f'the update time column "{updated_at_column}" is a {kind}, which is read as a time already; '
            f"a format is only for string and json columns" if updated_at_column else
            "there is no update time column; a format is only for a string or json update time column"))
    if format_needed and not updated_at_format:
        raise BadRequest("update time format is required")
    if updated_at_format == "Excel":
        raise BadRequest("update time format cannot be Excel for database pipelines")
    if order_by:                                                                                # 21
        raise BadRequest("pipelines that do not export users to files cannot specify a order by property")
    if table_name:
        raise BadRequest("table name is not allowed")
    if _string_option(extra, "tableKey"):
        raise BadRequest("table key is not allowed")
    if export_mode:
        raise BadRequest("export mode must be empty")
    if match_in:
        raise BadRequest("matching properties cannot be provided")
    if extra.get("updateOnDuplicates") is True:
        raise BadRequest("update on duplicates is not allowed")
    if transformation is None:                                                                  # 22
        raise BadRequest("pipeline must have a transformation")
    if compiled is not None:                                                                    # 23
        if not compiled.in_paths:
            raise BadRequest("transformation must map at least one property")
        in_paths, out_paths = compiled.in_paths, compiled.out_paths
    else:
        in_paths, out_paths = function["inPaths"], function["outPaths"]
    used_inputs = set(in_paths) | {user_id_column} | ({updated_at_column} if updated_at_column else set())
    unused = unused_leaf_paths(in_schema, used_inputs)                                          # 24
    if unused:
        raise BadRequest(f"input schema contains an unused property: {unused[0]}")
    unused = unused_leaf_paths(out_schema, out_paths)
    if unused:
        raise BadRequest(f"output schema contains an unused property: {unused[0]}")
    try:                                                                                        # early checks
        check_placeholders(data.query)
    except PlaceholderError as exc:
        raise Unprocessable("InvalidPlaceholder", str(exc)) from None
    difference = alignment_difference(out_schema, parse_type(workspace.profile_schema))
    if difference:
        raise Unprocessable("SchemaNotAligned", f"in the output schema, {difference}{REVIEW}")
    return ValidPipeline(in_schema=in_schema, out_schema=out_schema, mapping=mapping, function=function,
                         lookback_seconds=lookback_seconds)


def check_source_query(connection: Connection, query: str) -> None:
    """A query its connector would refuse to send (a 400 with the connector's message): refused when
    saved rather than at every run. Runs and previews check again the text they send."""
    try:
        get_connector(connection.connector).check_query(
            replace_placeholders(query, {"updated_at": "NULL", "limit": "0"}))
    except QueryNotAllowed as exc:
        raise BadRequest(str(exc)) from None


def _apply(pipeline: Pipeline, data: PipelineInput, valid: ValidPipeline) -> None:
    pipeline.name = data.name
    pipeline.enabled = data.enabled
    pipeline.query = data.query
    pipeline.user_id_column = data.user_id_column
    pipeline.updated_at_column = data.updated_at_column
    pipeline.updated_at_format = data.updated_at_format
    pipeline.incremental = data.incremental
    pipeline.updated_at_lookback = valid.lookback_seconds
    pipeline.transformation_mapping = valid.mapping
    function = valid.function or {}
    pipeline.function_language = function.get("language", "")
    pipeline.function_source = function.get("source", "")
    pipeline.function_preserve_json = function.get("preserveJSON", False)
    pipeline.function_in_paths = function.get("inPaths")
    pipeline.function_out_paths = function.get("outPaths")
    pipeline.in_schema = type_to_json(valid.in_schema)
    pipeline.out_schema = type_to_json(valid.out_schema)


def _definition(pipeline: Pipeline) -> tuple:
    """The fields whose change makes the next incremental run start over (reference §7.4)."""
    return (pipeline.query, pipeline.user_id_column, pipeline.updated_at_column, pipeline.updated_at_format,
            pipeline.transformation_mapping, pipeline.function_language, pipeline.function_source,
            pipeline.function_preserve_json, pipeline.function_in_paths, pipeline.function_out_paths,
            pipeline.in_schema, pipeline.out_schema)


@transaction.atomic
def pipeline_create(*, workspace: Workspace, connection_id, target, event_type: str,
                    data: PipelineInput) -> Pipeline:
    if target is None:
        raise BadRequest("target is required")
    if target not in ("Event", "User", "Group"):
        raise BadRequest('target must be "Event", "User", or "Group"')
    if type(connection_id) is not int or not 0 < connection_id < 2**31:
        shown = "" if connection_id is None else json.dumps(connection_id) if type(connection_id) is bool else connection_id
        raise BadRequest(f'connection identifier "{shown}" is not valid')
    connection = Connection.objects.select_for_update().filter(id=connection_id, workspace=workspace).first()
    if connection is None:
        raise Unprocessable("ConnectionNotExist", f"connection {connection_id} does not exist")
    if target != Pipeline.TARGET_USER:
        raise BadRequest(f"pipeline with target '{target}' not allowed for source Database connections")
    if event_type:
        raise BadRequest("pipelines with target 'User' on source database connections cannot specify an event type")
    valid = validate_pipeline(data, workspace)
    check_source_query(connection, data.query)
    sibling = connection.pipelines.order_by("created_at").first()
    schedule_start = sibling.schedule_start if sibling else secrets.randbelow(1440)
    pipeline = Pipeline(workspace=workspace, connection=connection, target=target, schedule_start=schedule_start)
    _apply(pipeline, data, valid)
    fields = {f.attname: getattr(pipeline, f.attname) for f in Pipeline._meta.concrete_fields
              if f.attname not in ("id", "created_at")}
    return create_with_random_id(Pipeline, **fields)


@transaction.atomic
def pipeline_update(*, pipeline: Pipeline, data: PipelineInput) -> None:
    """A full replacement: omitted fields take their zero value (an omitted `enabled` disables)."""
    valid = validate_pipeline(data, pipeline.workspace)
    check_source_query(pipeline.connection, data.query)
    locked = Pipeline.objects.select_for_update().get(id=pipeline.id)
    before, old_out_paths = _definition(locked), set(locked.out_paths)
    _apply(locked, data, valid)
    if not locked.incremental or _definition(locked) != before:
        locked.cursor = None
    dropped = old_out_paths - set(locked.out_paths)
    if dropped:
        locked.properties_to_unset = sorted(set(locked.properties_to_unset) | dropped)
    locked.revision += 1
    locked.save()


def pipeline_delete(*, pipeline: Pipeline) -> None:
    """Deletes the pipeline (a live run stops at its next batch, writing nothing more) and then
    its identities (see services.identities)."""
    workspace = pipeline.workspace
    deleted, _ = Pipeline.objects.filter(id=pipeline.id).delete()
    if not deleted:
        raise NotFound(f"pipeline {pipeline.id} does not exist")
    remove_identities(workspace, pipeline_ids=[pipeline.id])


def pipeline_set_status(*, pipeline: Pipeline, enabled: bool) -> None:
    Pipeline.objects.filter(id=pipeline.id).update(enabled=enabled)


PERIOD_MESSAGE = 'schedule period can be "5m", "15m", "30m", "1h", "2h", "3h", "6h", "8h", "12h", or "24h"'


def pipeline_set_schedule(*, pipeline: Pipeline, period) -> None:
    if period is None:
        minutes = 0
    elif isinstance(period, str) and period in Pipeline.SCHEDULE_PERIODS:
        minutes = Pipeline.SCHEDULE_PERIODS[period]
    else:
        raise BadRequest(f"invalid schedule period {json.dumps(period)}: {PERIOD_MESSAGE}")
    Pipeline.objects.filter(id=pipeline.id).update(schedule_period=minutes)
