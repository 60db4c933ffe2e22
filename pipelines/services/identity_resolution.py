"""Identity resolution: its settings, starting it (by hand or after an import), executing it.

One resolution at a time per workspace, and never during a profile schema change: starting one
sets `Workspace.ir_id` in a single conditional UPDATE. A resolution is incremental (it regroups
only the identities changed since the last one and those linked to them) unless the warehouse
says a full one is needed; `latest` reports which kind ran and how much it regrouped. The Celery task executes it while a
heartbeat thread keeps `ir_ping_time` fresh; a resolution whose worker stopped beating for
`DEAD_AFTER` is taken over by the next start. Automatic starts (after an import) that find one
already executing are not lost: they set `ir_rerun`, and the executing one starts another when
it ends, so identities imported meanwhile are resolved too.

The SQL and its exact semantics are in `warehouse.resolution`.
"""
import datetime as dt
import logging
import time as clock
import uuid

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from warehouse.backends import backend_for
from warehouse.columns import ProfileColumn, profile_columns
from warehouse.resolution import ResolutionBusy, ResolutionResult, ResolutionSpec

from ..errors import BadRequest, KrenalisError, ServiceUnavailable, Unprocessable
from ..models import Pipeline, Workspace
from . import queue
from .heartbeat import Heartbeat
from ..timeformats.rfc3339 import nullable_rfc3339
from ..types import Type, format_datetime, is_valid_property_path, parse_type, property_by_path
from ..types.paths import PathNotExistError

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5
DEAD_AFTER = dt.timedelta(seconds=60)
ALTER_DEAD_AFTER = dt.timedelta(minutes=10)
RETRY_DELAYS = (2, 10, 30)       # seconds between attempts when the warehouse is unavailable
INTERNAL = "an internal error has occurred"
IDENTIFIER_KINDS = "string, int, uuid, ip, or decimal with scale 0"


# --------------------------------------------------------------------------- settings

def suitable_as_identifier(t: Type) -> bool:
    return t.kind in ("string", "int", "uuid", "ip") or (t.kind == "decimal" and not t.scale)


def identity_resolution_settings(workspace: Workspace) -> dict:
    return {"runOnBatchImport": workspace.resolve_identities_on_batch_import,
            "identifiers": list(workspace.identifiers or [])}


def check_identifier_syntax(identifiers) -> list[str]:
    """400 checks that do not depend on the profile schema."""
    if identifiers is None:
        return []
    if not isinstance(identifiers, list):
        raise BadRequest('"identifiers" must be an array')
    seen: set[str] = set()
    for identifier in identifiers:
        if not isinstance(identifier, str) or not is_valid_property_path(identifier):
            raise BadRequest(f"identifier {_show(identifier)} is not a valid property path")
        if identifier in seen:
            raise BadRequest(f'identifier "{identifier}" is repeated')
        seen.add(identifier)
    return list(identifiers)


def check_identifiers(identifiers: list[str], schema: Type) -> None:
    """422 checks against the profile schema: the property exists and its kind is suitable."""
    for identifier in identifiers:
        try:
            prop = property_by_path(schema, identifier)
        except PathNotExistError:
            raise Unprocessable("PropertyNotExist",
                                f'identifier "{identifier}" does not exist in the profile schema') from None
        if not suitable_as_identifier(prop.type):
            raise Unprocessable("TypeNotAllowed", f'identifier "{identifier}" has type {prop.type}, but an '
                                                  f"identifier must be of type {IDENTIFIER_KINDS}")


def _show(value) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)


def identity_resolution_update_settings(*, workspace: Workspace, run_on_batch_import: bool, identifiers) -> None:
    paths = check_identifier_syntax(identifiers)
    with transaction.atomic():
        locked = Workspace.objects.select_for_update().get(id=workspace.id)
        check_not_executing(locked, ir_code="IdentityResolutionInExecution")
        check_identifiers(paths, parse_type(locked.profile_schema))
        locked.resolve_identities_on_batch_import = run_on_batch_import
        locked.identifiers = paths
        locked.save(update_fields=["resolve_identities_on_batch_import", "identifiers"])
    workspace.resolve_identities_on_batch_import, workspace.identifiers = run_on_batch_import, paths


def ir_executing(workspace: Workspace, now=None) -> bool:
    now = now or timezone.now()
    return workspace.ir_id is not None and (workspace.ir_ping_time is None
                                            or workspace.ir_ping_time >= now - DEAD_AFTER)


def alter_executing(workspace: Workspace, now=None) -> bool:
    now = now or timezone.now()
    return workspace.alter_schema_id is not None and (workspace.alter_schema_start_time is None or
                                                      workspace.alter_schema_start_time >= now - ALTER_DEAD_AFTER)


def check_not_executing(workspace: Workspace, *, ir_code: str) -> None:
    """422 while a resolution (`ir_code`) or a profile schema change (AlterSchemaInExecution) executes."""
    if ir_executing(workspace):
        message = ("identity resolution is already in execution" if ir_code == "OperationAlreadyExecuting"
                   else "identity resolution is in execution")
        raise Unprocessable(ir_code, message)
    if alter_executing(workspace):
        if ir_code == "OperationAlreadyExecuting":
            raise Unprocessable(ir_code, "the profile schema is being altered")
        raise Unprocessable("AlterSchemaInExecution", "the profile schema is being altered")


# --------------------------------------------------------------------------- starting

def _claim(workspace_id: int) -> uuid.UUID | None:
    """Marks a resolution as executing, taking over one whose worker died; None when busy."""
    now = timezone.now()
    operation = uuid.uuid4()
    no_alter = Q(alter_schema_id__isnull=True) | Q(alter_schema_start_time__lt=now - ALTER_DEAD_AFTER)
    free = Q(ir_id__isnull=True) | Q(ir_ping_time__lt=now - DEAD_AFTER)
    claimed = Workspace.objects.filter(Q(id=workspace_id) & no_alter & free).update(
        ir_id=operation, ir_start_time=now, ir_end_time=None, ir_ping_time=now, ir_error="", ir_rerun=False,
        ir_kind="", ir_identities=None, ir_profiles=None)
    return operation if claimed else None


def _queue(workspace_id: int, operation: uuid.UUID) -> None:
    transaction.on_commit(lambda: queue.enqueue_resolution(workspace_id, str(operation)))


def _check_mode(workspace: Workspace) -> None:
    if workspace.warehouse_mode == "Inspection":
        raise Unprocessable("InspectionMode", "data warehouse is in inspection mode")
    if workspace.warehouse_mode == "Maintenance":
        raise Unprocessable("MaintenanceMode", "data warehouse is in maintenance mode")


def identity_resolution_start(*, workspace: Workspace) -> uuid.UUID:
    """POST /identity-resolution/start: 422 in inspection/maintenance mode or when one executes."""
    _check_mode(workspace)
    operation = _claim(workspace.id)
    if operation is None:
        check_not_executing(Workspace.objects.get(id=workspace.id), ir_code="OperationAlreadyExecuting")
        raise Unprocessable("OperationAlreadyExecuting", "identity resolution is already in execution")
    _queue(workspace.id, operation)
    return operation


def resolution_after_import(workspace_id: int) -> None:
    """Called when an import ends: starts a resolution (asynchronously, on Celery) when the
    workspace resolves identities on batch imports; does nothing otherwise. When one is already
    executing, it runs again after it (never two at once, never lost)."""
    workspace = Workspace.objects.filter(id=workspace_id).only(
        "id", "resolve_identities_on_batch_import", "warehouse_mode").first()
    if workspace is None or not workspace.resolve_identities_on_batch_import or workspace.warehouse_mode != "Normal":
        return
    _start_or_request_rerun(workspace_id)


def start_resolution_now(workspace_id: int) -> uuid.UUID | None:
    """Claims a resolution for the caller to execute; when one is executing, asks it to run again
    once it ends and returns None. Whoever executes checks `ir_rerun` after releasing: either it
    sees the flag, or the second claim finds the workspace free."""
    operation = _claim(workspace_id)
    if operation is None:
        Workspace.objects.filter(id=workspace_id).update(ir_rerun=True)
        operation = _claim(workspace_id)
    return operation


def _start_or_request_rerun(workspace_id: int) -> None:
    operation = start_resolution_now(workspace_id)
    if operation is not None:
        _queue(workspace_id, operation)


def _start_pending(workspace_id: int) -> None:
    if Workspace.objects.filter(id=workspace_id, ir_rerun=True).exists():
        _start_or_request_rerun(workspace_id)


def identity_resolution_latest(workspace: Workspace) -> dict:
    """The reference's start and end times, and what it did once it ended without error: `kind`
    ("Full" or "Incremental"), the `identities` it regrouped and the `profiles` it wrote (all of
    them for a full one); null otherwise."""
    return {"startTime": rfc3339(workspace.ir_start_time), "endTime": rfc3339(workspace.ir_end_time),
            "kind": workspace.ir_kind or None, "identities": workspace.ir_identities,
            "profiles": workspace.ir_profiles}


def rfc3339(moment) -> str | None:
    """Identity resolution's and profiles' times as the API writes them: 0, 3 or 6 digits of fraction."""
    return nullable_rfc3339(moment, format_datetime)


# --------------------------------------------------------------------------- executing

def identity_resolution_execute(*, workspace_id: int, operation_id, full: bool = False) -> ResolutionResult | None:
    """Executes a started resolution to its end (the Celery task calls it); `full` asks for a full
    one even where an incremental one would do. A resolution that is not, or no longer, the
    workspace's current one is skipped."""
    operation = uuid.UUID(str(operation_id))
    if not Workspace.objects.filter(id=workspace_id, ir_id=operation).update(ir_ping_time=timezone.now()):
        return None
    result, error = None, ""
    try:
        beat = Workspace.objects.filter(id=workspace_id, ir_id=operation)
        with Heartbeat(lambda: beat.update(ir_ping_time=timezone.now()), lambda: HEARTBEAT_SECONDS,
                       f"ir-heartbeat-{workspace_id}"):
            result = _resolve_with_retries(workspace_id, full)
    except KrenalisError as exc:
        error = exc.message
    except Exception:
        log.exception("identity resolution of workspace %s failed", workspace_id)
        error = INTERNAL
    if error:
        log.warning("identity resolution of workspace %s failed: %s", workspace_id, error)
    done = {} if result is None else {"ir_kind": result.kind, "ir_identities": result.identities,
                                      "ir_profiles": result.profiles}
    Workspace.objects.filter(id=workspace_id, ir_id=operation).update(
        ir_id=None, ir_end_time=timezone.now(), ir_ping_time=None, ir_error=error, **done)
    _start_pending(workspace_id)
    return result


def _resolve_with_retries(workspace_id: int, full: bool) -> ResolutionResult:
    for attempt, delay in enumerate((*RETRY_DELAYS, None)):
        try:
            return resolve_workspace(Workspace.objects.get(id=workspace_id), full=full)
        except (ServiceUnavailable, ResolutionBusy) as exc:
            if delay is None:
                if isinstance(exc, ResolutionBusy):
                    raise ServiceUnavailable(str(exc)) from None
                raise
            log.info("identity resolution of workspace %s: attempt %d failed (%s); retrying in %ss",
                     workspace_id, attempt + 1, exc, delay)
            clock.sleep(delay)
    raise AssertionError("unreachable")


def resolve_workspace(workspace: Workspace, *, full: bool = False) -> ResolutionResult:
    """The resolution itself: clean up what deleted pipelines and unmapped properties left, then
    merge the identities changed since the last resolution into profiles (every identity when
    `full`, or when the warehouse needs it: see warehouse.resolution)."""
    if workspace.warehouse_mode != "Normal":
        _check_mode(workspace)
    backend = backend_for(workspace.warehouse_platform, workspace.warehouse_settings)
    schema = parse_type(workspace.profile_schema)
    columns = profile_columns(schema)
    remove_orphan_identities(workspace, backend)
    apply_properties_to_unset(workspace, backend, schema)
    known = {c.path: c for c in columns}
    identifiers = tuple(known[path].name for path in (workspace.identifiers or [])
                        if path in known and suitable_as_identifier(known[path].type))
    spec = ResolutionSpec(identifiers=identifiers, columns=tuple(columns),
                          primary_sources=primary_source_columns(workspace.primary_sources, schema))
    result = backend.resolve_identities(spec, full=full)
    log.info("identity resolution of workspace %s: %s%s, %d identities regrouped, %d profiles written, %s",
             workspace.id, result.kind, f" ({result.reason})" if result.reason else "", result.identities,
             result.profiles, result.seconds)
    return result


def remove_orphan_identities(workspace: Workspace, backend) -> None:
    """Deletes the identities of pipelines that no longer exist (their deletion could not reach
    the warehouse). The warehouse is read first: a pipeline with identities there existed before,
    so if the metadata database no longer has it, it was deleted."""
    in_warehouse = backend.identity_pipelines()
    if not in_warehouse:
        return
    existing = set(Pipeline.objects.filter(id__in=in_warehouse).values_list("id", flat=True))
    for pipeline_id in sorted(in_warehouse - existing):
        backend.delete_pipeline_identities(pipeline_id)


def leaf_columns(schema: Type, path: str) -> list[ProfileColumn]:
    """The warehouse columns of a property: itself, or every leaf under an object."""
    prefix = path + "."
    return [c for c in profile_columns(schema) if c.path == path or c.path.startswith(prefix)]


def apply_properties_to_unset(workspace: Workspace, backend, schema: Type) -> None:
    """Clears the columns a pipeline stopped writing for its identities now, rather than at its
    next run, so that the profiles stop showing them. The run still does it (idempotent) and
    empties the list."""
    for pipeline in Pipeline.objects.filter(workspace=workspace).exclude(properties_to_unset=[]):
        written = {c.name for path in pipeline.out_paths for c in leaf_columns(schema, path)}
        columns = sorted({c.name for path in pipeline.properties_to_unset for c in leaf_columns(schema, path)}
                         - written)
        if columns:
            backend.unset_identity_columns(pipeline.id, columns)


def primary_source_columns(primary_sources, schema: Type) -> dict[str, int]:
    """{column name: connection id} from the workspace's {property path: connection id}."""
    result: dict[str, int] = {}
    for path, connection_id in (primary_sources or {}).items():
        for column in leaf_columns(schema, path):
            result[column.name] = int(connection_id)
    return result
