"""Profiles: reading them back (list, filter, order, one profile, its identities) and changing the
profile schema, which adds, drops and renames warehouse columns.

Reads work in the Normal and Inspection warehouse modes. A schema change is applied synchronously
(ALTER TABLE only touches the catalog) but is still an operation of its own: it excludes, and is
excluded by, an identity resolution. Pipelines whose outSchema no longer aligns with the new
schema are not changed; they are listed in the change's report (`latest-alter`, and the preview),
and their next run fails at OutputValidation saying why.
"""
import datetime as dt
import ipaddress
import re
import uuid

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from warehouse.alter_schema import SchemaChangeError, alter_statements, plan_schema_change
from warehouse.backends import backend_for
from warehouse.columns import ProfileColumn, profile_columns
from warehouse.profile_queries import Condition, ProfileQuery

from ..alignment import alignment_difference
from .. import jsoncodec
from ..errors import BadRequest, KrenalisError, NotFound, Unprocessable
from ..models import Connection, Pipeline, Workspace
from ..types import (
    Type, encode_value, is_valid_property_path, natural_bounds, parse_iso8601, parse_time_of_day,
    parse_type, property_by_path, prune, store_value, type_to_json,
)
from ..types.paths import PathNotExistError
from .identity_resolution import (
    ALTER_DEAD_AFTER, DEAD_AFTER, _start_pending, ir_executing, leaf_columns, rfc3339, suitable_as_identifier,
)
from .workspaces import parse_profile_schema

REVIEW = ". Please review and update the pipeline before attempting to import the users."
NOT_SORTABLE = ("json", "array", "object", "map")

ANY_KIND = ("is null", "is not null", "exists", "does not exist")
EQUALITY = ("is", "is not", "is one of", "is not one of")
ORDERING = ("is less than", "is less than or equal to", "is greater than", "is greater than or equal to",
            "is between", "is not between")
TEMPORAL = ("is before", "is on or before", "is after", "is on or after")
TEXT = ("contains", "does not contain", "starts with", "ends with", "is empty", "is not empty")
OPERATORS = {
    "string": EQUALITY + ORDERING + TEXT,
    "int": EQUALITY + ORDERING, "float": EQUALITY + ORDERING, "decimal": EQUALITY + ORDERING,
    "year": EQUALITY + ORDERING,
    "datetime": EQUALITY + ORDERING + TEMPORAL, "date": EQUALITY + ORDERING + TEMPORAL,
    "time": EQUALITY + ORDERING + TEMPORAL,
    "boolean": ("is", "is not", "is true", "is false"),
    "uuid": EQUALITY, "ip": EQUALITY, "json": (),
    "array": ("contains", "does not contain", "is empty", "is not empty"),
    "map": ("is empty", "is not empty"),
}
NO_VALUES = ANY_KIND + ("is true", "is false", "is empty", "is not empty")
TWO_VALUES = ("is between", "is not between")
MANY_VALUES = ("is one of", "is not one of")
_INTEGER = re.compile(r"[+-]?[0-9]+")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _backend(workspace: Workspace):
    return backend_for(workspace.warehouse_platform, workspace.warehouse_settings)


def _check_readable(workspace: Workspace) -> None:
    if workspace.warehouse_mode == "Maintenance":
        raise Unprocessable("MaintenanceMode", "data warehouse is in maintenance mode")


def attributes_of(values: dict, columns) -> dict:
    """Leaf column values -> the nested attributes object; NULLs are left out (properties are
    optional for reading)."""
    attributes: dict = {}
    for column in columns:
        value = values.get(column.name)
        if value is not None:
            store_value(attributes, column.path, encode_value(value, column.type))
    return attributes


# --------------------------------------------------------------------------- GET /profiles

def parse_properties(text: str | None, schema: Type) -> tuple[list[ProfileColumn], Type]:
    if text is None or text == "":
        return profile_columns(schema), schema
    paths = text.split(",")
    for path in paths:
        if not is_valid_property_path(path):
            raise BadRequest(f'property "{path}" is not a valid property path')
        try:
            property_by_path(schema, path)
        except PathNotExistError:
            raise Unprocessable("PropertyNotExist", f'property "{path}" does not exist') from None
    wanted = set(paths)
    columns = [c for c in profile_columns(schema)
               if c.path in wanted or any(c.path.startswith(p + ".") for p in wanted)]
    return columns, prune(schema, paths)


def parse_order(order: str | None, schema: Type) -> ProfileColumn | None:
    if order is None or order == "":
        return None
    try:
        prop = property_by_path(schema, order) if is_valid_property_path(order) else None
    except PathNotExistError:
        prop = None
    if prop is None:
        raise Unprocessable("OrderNotExist", f'order property "{order}" does not exist')
    if prop.type.kind in NOT_SORTABLE:
        raise Unprocessable("OrderTypeNotSortable", f'order property "{order}" of type {prop.type} is not sortable')
    return leaf_columns(schema, order)[0]


def _invalid_filter(message: str) -> BadRequest:
    return BadRequest(f"filter is not valid: {message}")


def parse_filter(text: str | None, schema: Type) -> tuple[str, tuple[Condition, ...]]:
    """`{"logical": "and"|"or", "conditions": [{"property", "operator", "values": [strings]}]}`."""
    if text is None or text == "":
        return "and", ()
    try:
        data = jsoncodec.loads(text.encode("utf-8"))
    except jsoncodec.JSONDecodeError as exc:
        raise _invalid_filter(str(exc)) from None
    if not isinstance(data, dict):
        raise _invalid_filter("it must be a JSON object")
    logical = data.get("logical")
    if logical not in ("and", "or"):
        raise _invalid_filter('logical must be "and" or "or"')
    conditions = data.get("conditions")
    if not isinstance(conditions, list) or not conditions:
        raise _invalid_filter("conditions must be a non-empty array")
    return logical, tuple(_parse_condition(c, schema) for c in conditions)


def _parse_condition(data, schema: Type) -> Condition:
    if not isinstance(data, dict):
        raise _invalid_filter("a condition must be a JSON object")
    path, operator, values = data.get("property"), data.get("operator"), data.get("values")
    if not isinstance(path, str) or not is_valid_property_path(path):
        raise _invalid_filter(f"condition property {path!r} is not a valid property path")
    try:
        prop = property_by_path(schema, path)
    except PathNotExistError:
        raise Unprocessable("PropertyNotExist", f'filter property "{path}" does not exist') from None
    t = prop.type
    if t.kind == "object":
        raise _invalid_filter(f'property "{path}" is an object and cannot be used in a condition')
    if not isinstance(operator, str) or operator not in ANY_KIND + OPERATORS[t.kind]:
        raise _invalid_filter(f'operator {operator!r} cannot be used with property "{path}" of type {t}')
    if values is None:
        values = []
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise _invalid_filter(f'values of the condition on "{path}" must be an array of strings')
    expected = 0 if operator in NO_VALUES else 2 if operator in TWO_VALUES else None if operator in MANY_VALUES else 1
    if (expected is None and not values) or (expected is not None and len(values) != expected):
        wanted = "at least one value" if expected is None else f"{expected} value{'s' if expected != 1 else ''}"
        raise _invalid_filter(f'operator "{operator}" on "{path}" requires {wanted}')
    value_type = t.element_type if t.kind == "array" else t
    parsed = tuple(_parse_value(v, value_type, path) for v in values)
    return Condition(leaf_columns(schema, path)[0], operator, parsed)


def _parse_value(text: str, t: Type, path: str):
    kind = t.kind
    try:
        if kind == "string":
            return text
        if kind in ("int", "year"):
            if not _INTEGER.fullmatch(text):
                raise ValueError
            value = int(text)
            low, high = natural_bounds(t)
            if not low <= value <= high:
                raise ValueError
            return value
        if kind == "float":
            value = float(text)
            if value != value or value in (float("inf"), float("-inf")):
                raise ValueError
            return value
        if kind == "decimal":
            from decimal import Decimal, InvalidOperation

            try:
                value = Decimal(text)
            except InvalidOperation:
                raise ValueError from None
            if not value.is_finite():
                raise ValueError
            return value
        if kind == "boolean":
            return {"true": True, "false": False}[text]
        if kind == "datetime":
            return parse_iso8601(text)
        if kind == "date":
            if not _DATE.fullmatch(text):
                raise ValueError
            return dt.date.fromisoformat(text)
        if kind == "time":
            return parse_time_of_day(text)
        if kind == "uuid":
            return str(uuid.UUID(text))
        if kind == "ip":
            return str(ipaddress.ip_address(text))
    except (ValueError, KeyError, OverflowError):
        pass
    raise _invalid_filter(f'"{text}" is not a valid {t} value for property "{path}"')


def profiles_list(*, workspace: Workspace, properties: str | None = None, filter_text: str | None = None,
                  order: str | None = None, order_desc: bool = False, first: int = 0, limit: int = 100) -> dict:
    schema = parse_type(workspace.profile_schema)
    columns, selected_schema = parse_properties(properties, schema)
    logical, conditions = parse_filter(filter_text, schema)
    order_column = parse_order(order, schema)
    _check_readable(workspace)
    query = ProfileQuery(columns=tuple(columns), conditions=conditions, logical=logical, order=order_column,
                         descending=order_desc, first=first, limit=limit)
    items, total = _backend(workspace).query_profiles(query)
    profiles = [{"kpid": item["kpid"], "updatedAt": rfc3339(item["updatedAt"]),
                 "attributes": attributes_of(item["values"], columns)} for item in items]
    return {"profiles": profiles, "schema": type_to_json(selected_schema), "total": max(total, len(profiles))}


def parse_kpid(text: str) -> str:
    try:
        value = uuid.UUID(text)
    except (ValueError, TypeError):
        raise BadRequest(f'"{text}" is not a valid KPID') from None
    if str(value) != text.lower():
        raise BadRequest(f'"{text}" is not a valid KPID')
    return str(value)


def profile_attributes(*, workspace: Workspace, kpid: str) -> dict:
    kpid = parse_kpid(kpid)
    _check_readable(workspace)
    columns = profile_columns(parse_type(workspace.profile_schema))
    item = _backend(workspace).get_profile(kpid, columns)
    if item is None:
        raise NotFound(f'profile "{kpid}" does not exist')
    return {"attributes": attributes_of(item["values"], columns)}


def profile_identities(*, workspace: Workspace, kpid: str, first: int = 0, limit: int = 100) -> tuple[list[dict], int]:
    """The identities merged into a profile whose pipeline still exists, newest first, and their
    total (items as `warehouse.identities.list_identities` gives them)."""
    kpid = parse_kpid(kpid)
    _check_readable(workspace)
    pipeline_ids = list(Pipeline.objects.filter(workspace=workspace).values_list("id", flat=True))
    found = _backend(workspace).profile_identities(kpid, pipeline_ids=pipeline_ids, first=first, limit=limit)
    if found is None:
        raise NotFound(f'profile "{kpid}" does not exist')
    items, total = found
    return items, max(total, len(items))


# --------------------------------------------------------------------------- PUT /profiles/schema

def check_primary_sources(workspace: Workspace, primary_sources, schema: Type) -> dict | None:
    """{property path: source connection id} of the new schema, or None."""
    if primary_sources is None:
        return None
    if not isinstance(primary_sources, dict):
        raise BadRequest('"primarySources" must be an object')
    for path, connection_id in primary_sources.items():
        if not is_valid_property_path(path):
            raise BadRequest(f'primary source property "{path}" is not a valid property path')
        if type(connection_id) is not int or connection_id <= 0:
            raise BadRequest(f'primary source of property "{path}" is not a valid connection identifier')
        try:
            property_by_path(schema, path)
        except PathNotExistError:
            raise Unprocessable("PropertyNotExist",
                                f'primary source property "{path}" does not exist in the profile schema') from None
    ids = set(primary_sources.values())
    existing = set(Connection.objects.filter(workspace=workspace, id__in=ids, role="Source")
                   .values_list("id", flat=True))
    for connection_id in sorted(ids - existing):
        raise Unprocessable("ConnectionNotExist", f"connection {connection_id} does not exist")
    return dict(primary_sources) or None


def misaligned_pipelines(workspace: Workspace, schema: Type) -> list[dict]:
    report = []
    for pipeline in Pipeline.objects.filter(workspace=workspace).order_by("name", "id"):
        difference = alignment_difference(parse_type(pipeline.out_schema), schema)
        if difference:
            report.append({"pipeline": pipeline.id, "name": pipeline.name,
                           "message": f"in the output schema, {difference}{REVIEW}"})
    return report


def _plan(workspace: Workspace, schema_data, primary_sources, re_paths):
    new_schema = parse_profile_schema(schema_data)
    if re_paths is not None and not isinstance(re_paths, dict):
        raise BadRequest('"rePaths" must be an object')
    try:
        change = plan_schema_change(parse_type(workspace.profile_schema), new_schema, re_paths)
    except SchemaChangeError as exc:
        raise BadRequest(str(exc)) from None
    sources = check_primary_sources(workspace, primary_sources, new_schema)
    return new_schema, change, sources


def profile_schema_preview(*, workspace: Workspace, schema, primary_sources=None, re_paths=None) -> dict:
    new_schema, change, _ = _plan(workspace, schema, primary_sources, re_paths)
    return {"queries": alter_statements(workspace.warehouse_platform, change, new_schema),
            "misalignedPipelines": misaligned_pipelines(workspace, new_schema)}


def _claim_alter(workspace: Workspace) -> uuid.UUID:
    now = timezone.now()
    operation = uuid.uuid4()
    free_ir = Q(ir_id__isnull=True) | Q(ir_ping_time__lt=now - DEAD_AFTER)
    free_alter = Q(alter_schema_id__isnull=True) | Q(alter_schema_start_time__lt=now - ALTER_DEAD_AFTER)
    if Workspace.objects.filter(Q(id=workspace.id) & free_ir & free_alter).update(
            alter_schema_id=operation, alter_schema_start_time=now, alter_schema_end_time=None, alter_schema_error=""):
        return operation
    if ir_executing(Workspace.objects.get(id=workspace.id)):
        raise Unprocessable("IdentityResolutionInExecution", "identity resolution is in execution")
    raise Unprocessable("AlterSchemaInExecution", "the profile schema is being altered")


def profile_schema_update(*, workspace: Workspace, schema, primary_sources=None, re_paths=None) -> None:
    """Alters the warehouse columns, then the workspace (schema, primary sources, identifiers) and
    the pipelines' pending unsets follow the renames and drops."""
    new_schema, change, sources = _plan(workspace, schema, primary_sources, re_paths)
    if workspace.warehouse_mode == "Inspection":
        raise Unprocessable("InspectionMode", "data warehouse is in inspection mode")
    if workspace.warehouse_mode == "Maintenance":
        raise Unprocessable("MaintenanceMode", "data warehouse is in maintenance mode")
    operation = _claim_alter(workspace)
    error = ""
    try:
        _backend(workspace).alter_profile_schema(alter_statements(workspace.warehouse_platform, change, new_schema))
        _apply_to_metadata(workspace, new_schema, change, sources)
    except KrenalisError as exc:
        error = exc.message
        raise
    except Exception:
        error = "an internal error has occurred"
        raise
    finally:
        Workspace.objects.filter(id=workspace.id, alter_schema_id=operation).update(
            alter_schema_id=None, alter_schema_end_time=timezone.now(), alter_schema_error=error)
        _start_pending(workspace.id)


@transaction.atomic
def _apply_to_metadata(workspace: Workspace, new_schema: Type, change, sources) -> None:
    locked = Workspace.objects.select_for_update().get(id=workspace.id)
    known = {c.path: c for c in profile_columns(new_schema)}
    identifiers = []
    for path in locked.identifiers or []:
        moved = change.new_path(path)
        if moved in known and suitable_as_identifier(known[moved].type):
            identifiers.append(moved)
    locked.profile_schema = type_to_json(new_schema)
    locked.primary_sources = sources
    locked.identifiers = identifiers if locked.identifiers is not None else None
    locked.alter_schema_misaligned = misaligned_pipelines(locked, new_schema)
    locked.save(update_fields=["profile_schema", "primary_sources", "identifiers", "alter_schema_misaligned"])
    for pipeline in Pipeline.objects.select_for_update().filter(workspace=locked).exclude(properties_to_unset=[]):
        moved = sorted({m for m in (change.new_path(p) for p in pipeline.properties_to_unset) if m is not None})
        if moved != sorted(pipeline.properties_to_unset):
            pipeline.properties_to_unset = moved
            pipeline.save(update_fields=["properties_to_unset"])
    for field in ("profile_schema", "primary_sources", "identifiers", "alter_schema_misaligned"):
        setattr(workspace, field, getattr(locked, field))


def profile_schema_latest_alter(workspace: Workspace) -> dict:
    return {"startTime": rfc3339(workspace.alter_schema_start_time),
            "endTime": rfc3339(workspace.alter_schema_end_time),
            "error": workspace.alter_schema_error or None,
            "misalignedPipelines": list(workspace.alter_schema_misaligned or [])}
