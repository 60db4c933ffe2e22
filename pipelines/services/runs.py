"""Runs of pipelines: starting, executing, cancelling, reading, and ending those whose worker died.

One live run per pipeline is enforced by the database (a partial unique index), so the rule holds
across any number of workers. A live run's worker beats every few seconds; a run whose heartbeat
stops is ended as failed and the pipeline can run again.

A cancel, a dead-worker sweep and the statement timeout stop the query in the source, not just the
run: a watcher thread of the worker interrupts it (QueryControl) within a second of a cancel, and
the sweep ends the source session the run recorded, from whichever process sweeps.
"""
import datetime as dt
import logging

from django.db import IntegrityError, transaction
from django.db.models import Count, Max
from django.utils import timezone

from warehouse.backends import backend_for

from ..conf import knobs
from ..connectors import ConnectorUnavailable, QueryControl, get_connector
from ..engine import DryRunRow, MappingTransformer, RunPlan, dry_run, execute_run
from ..errors import KrenalisError, ServiceUnavailable, Unprocessable
from ..ids import random_id
from ..lookback import held_cursor, in_flight_record
from ..mapping import TransformError, compile_mapping
from ..models import Pipeline, Run, RunError
from ..steps import STEP_NAMES
from ..types import column_name, parse_type
from . import queue
from .connections import connection_source_settings
from .heartbeat import Heartbeat
from .identities import forget_deleted_pipeline
from .identity_resolution import resolution_after_import
from .preview import preview_source, sample_rows

log = logging.getLogger(__name__)

MAX_KEPT_ERRORS = 1000
CANCELLED = "run was cancelled"
DIED = "pipeline has been terminated because its worker stopped responding; it can be run again"
INTERNAL = "an internal error has occurred"
STATEMENT_TIMEOUT = ("the source query ran longer than the statement timeout of {} s "
                     "(KRENALIS_SOURCE_STATEMENT_TIMEOUT) and was interrupted")
# How often a worker looks for a cancel of its run (the run must end within 10 s of it).
WATCH_SECONDS = 1.0
# The source enforces the statement timeout itself; the worker interrupts a query this much later,
# should the source not (a PostgreSQL query can switch its own statement_timeout off).
STATEMENT_TIMEOUT_GRACE = 5.0
DELETED = "pipeline was deleted"


def run_start(*, pipeline: Pipeline, incremental: bool | None, enqueue: bool = True) -> Run:
    """Creates a live run (reference §11.1 checks, in order) and queues it for a worker.

    With `enqueue=False` no task is queued: the caller executes the run itself with `run_execute`
    (the `runpipeline` command, tests).
    """
    if incremental is True and not pipeline.updated_at_column:
        raise Unprocessable("CannotRunIncrementally", "incremental requires an update time column")
    if not pipeline.enabled:
        raise Unprocessable("PipelineDisabled", f"pipeline {pipeline.id} is disabled")
    sweep_dead_runs(pipeline_id=pipeline.id)
    mode = pipeline.workspace.warehouse_mode
    if Run.objects.filter(pipeline=pipeline, end_time__isnull=True).exists():
        raise Unprocessable("PipelineAlreadyRunning", f"pipeline {pipeline.id} is already running")
    if mode == "Inspection":
        raise Unprocessable("InspectionMode", "data warehouse is in inspection mode")
    if mode == "Maintenance":
        raise Unprocessable("MaintenanceMode", "data warehouse is in maintenance mode")
    effective = pipeline.incremental if incremental is None else incremental
    try:
        with transaction.atomic():
            run = Run.objects.create(id=random_id(), pipeline=pipeline, incremental=effective,
                                     start_cursor=pipeline.cursor if effective else None,
                                     lookback=pipeline.updated_at_lookback if pipeline.updated_at_column else None,
                                     start_time=timezone.now(), passed=[0] * 7, failed=[0] * 7)
    except IntegrityError:
        if Run.objects.filter(pipeline=pipeline, end_time__isnull=True).exists():
            raise Unprocessable("PipelineAlreadyRunning", f"pipeline {pipeline.id} is already running") from None
        raise
    if enqueue:
        transaction.on_commit(lambda: queue.enqueue_run(run.id))
    return run


def run_cancel(*, run: Run) -> None:
    """Asks the worker to stop; a run no worker has taken yet ends at once."""
    if run.end_time is not None:
        return
    Run.objects.filter(id=run.id, end_time__isnull=True).update(cancel_requested=True)
    with transaction.atomic():
        if Run.objects.filter(id=run.id, end_time__isnull=True, heartbeat_time__isnull=True).update(
                end_time=timezone.now(), error=CANCELLED, errors_total=1):
            RunError.objects.create(run_id=run.id, seq=1, step=0, message=CANCELLED)


def heartbeat_seconds() -> float:
    return float(knobs.HEARTBEAT_SECONDS)


def dead_after() -> dt.timedelta:
    """How long a live run's worker may stay silent before the run is ended as failed."""
    return dt.timedelta(seconds=float(knobs.RUN_DEAD_AFTER_SECONDS))


def sweep_dead_runs(*, pipeline_id: int | None = None) -> int:
    """Ends live runs whose worker stopped beating, so that the pipeline can run again."""
    stale = Run.objects.filter(end_time__isnull=True, heartbeat_time__lt=timezone.now() - dead_after())
    if pipeline_id is not None:
        stale = stale.filter(pipeline_id=pipeline_id)
    ended = 0
    for run_id in list(stale.values_list("id", flat=True)):
        with transaction.atomic():
            # The errors the dead worker flushed stay; the run's own error comes after them.
            kept = RunError.objects.filter(run_id=run_id).aggregate(seq=Max("seq"), count=Count("id"))
            if not Run.objects.filter(id=run_id, end_time__isnull=True,
                                      heartbeat_time__lt=timezone.now() - dead_after()).update(
                    end_time=timezone.now(), error=DIED, errors_total=kept["count"] + 1):
                continue
            if kept["count"] < MAX_KEPT_ERRORS:
                RunError.objects.create(run_id=run_id, seq=(kept["seq"] or 0) + 1, step=0, message=DIED)
        ended += 1
        log.warning("run %s ended: its worker stopped responding", run_id)
        end_source_session(run_id)
    return ended


def end_source_session(run_id: int) -> None:
    """Ends the source session of a run's query, when the run recorded one: a worker that died may
    leave its query running in the source (nothing reads the socket), one that hangs keeps it."""
    run = Run.objects.select_related("pipeline__connection").filter(id=run_id).first()
    if run is None or not run.source_session:
        return
    connection = run.pipeline.connection
    connector = get_connector(connection.connector)
    try:
        if connector is not None:
            if connector.end_session(connection_source_settings(connection), run.source_session,
                                     connect_timeout=knobs.CONNECT_TIMEOUT):
                log.warning("run %s: its source session was ended", run_id)
    except (ConnectorUnavailable, KrenalisError) as exc:  # unreachable, or no longer allowed
        log.warning("run %s: cannot end its source session: %s", run_id, exc)
    Run.objects.filter(id=run_id).update(source_session=None)


def requeue_waiting_runs() -> int:
    """Queues again the runs no worker has taken for a while: a lost message (a broker restart
    without persistence) must not leave a pipeline "already running" for ever. Taking a run is a
    conditional update, so a run queued twice still executes once."""
    waiting = list(Run.objects.filter(end_time__isnull=True, heartbeat_time__isnull=True,
                                      start_time__lt=timezone.now() - dead_after()).values_list("id", flat=True))
    for run_id in waiting:
        queue.enqueue_run(run_id)
    return len(waiting)


class DatabaseMonitor:
    """Records a run's progress and errors in the metadata database, and tells it to stop."""

    def __init__(self, run: Run, on_progress=None):
        self.run_id = run.id
        self.on_progress = on_progress
        self.kept: list[RunError] = []
        self.total = 0
        self.flushed = 0
        self.stopped_by: str | None = None

    def stop_reason(self) -> str | None:
        state = Run.objects.filter(id=self.run_id).values("cancel_requested", "end_time").first()
        if state is None:  # deleted with its pipeline (or connection, or workspace)
            self.stopped_by = DELETED
        else:
            self.stopped_by = _stop_reason(state) or self.stopped_by
        return self.stopped_by

    def drops_unwritten(self) -> bool:
        return self.stopped_by == DELETED

    def cancel_or_sweep(self) -> str | None:
        """Why the run must stop, as another thread sees it (the watcher's question): a cancel or the
        sweep. A run it cannot see is left to the run's own thread, which may see what is not
        committed yet (a deleted pipeline stops the run at its next batch)."""
        state = Run.objects.filter(id=self.run_id).values("cancel_requested", "end_time").first()
        return None if state is None else _stop_reason(state)

    def progress(self, passed, failed) -> None:
        Run.objects.filter(id=self.run_id, end_time__isnull=True).update(
            passed=list(passed), failed=list(failed), heartbeat_time=timezone.now())
        self.flush_errors()
        if self.on_progress is not None:
            self.on_progress(list(passed), list(failed))

    def record_error(self, step: int, user_id, message: str, row: dict | None = None) -> None:
        self.total += 1
        if len(self.kept) + self.flushed < MAX_KEPT_ERRORS:
            self.kept.append(RunError(run_id=self.run_id, seq=self.total, step=step, user_id=user_id,
                                      message=message, row=row))

    def flush_errors(self) -> None:
        if self.kept:
            RunError.objects.bulk_create(self.kept, ignore_conflicts=True)
            self.flushed += len(self.kept)
            self.kept = []


def _stop_reason(state: dict) -> str | None:
    if state["cancel_requested"]:
        return CANCELLED
    if state["end_time"] is not None:
        return DIED
    return None


def build_plan(run: Run) -> RunPlan:
    return pipeline_plan(run.pipeline, run_id=run.id, incremental=run.incremental, cursor=run.start_cursor,
                         lookback_seconds=run.lookback)


def pipeline_plan(pipeline: Pipeline, *, run_id: int | None = None, incremental: bool = False,
                  cursor: dt.datetime | None = None, lookback_seconds: int | None = None) -> RunPlan:
    """The plan of a run of `pipeline`; without `run_id`, of its dry run (the pipeline may be the
    admin editor's, unsaved: nothing is written)."""
    workspace, connection = pipeline.workspace, pipeline.connection
    in_schema, out_schema = parse_type(pipeline.in_schema), parse_type(pipeline.out_schema)
    backend = backend_for(workspace.warehouse_platform, workspace.warehouse_settings)
    out_columns = set(map(column_name, pipeline.out_paths))

    def make_transformer():
        if pipeline.has_function:
            from ..transformers import FunctionTransformer

            from .pipelines import function_limits

            return FunctionTransformer(language=pipeline.function_language, source=pipeline.function_source,
                                       in_schema=in_schema, out_schema=out_schema,
                                       in_paths=pipeline.function_in_paths, out_paths=pipeline.function_out_paths,
                                       preserve_json=pipeline.function_preserve_json, limits=function_limits())
        compiled = compile_mapping(pipeline.transformation_mapping, in_schema, out_schema)
        return MappingTransformer(compiled, TransformError, in_schema, out_schema)

    def make_writer(columns):
        if run_id is None:
            raise RuntimeError("a dry run writes nothing")
        return backend.identity_writer(pipeline_id=pipeline.id, connection_id=connection.id, run_id=run_id,
                                       columns=columns)

    try:
        source_settings, source_refused = connection_source_settings(connection), ""
    except KrenalisError as exc:  # refused (nothing is read, the run fails on it), or a host not found
        source_settings, source_refused = connection.settings, exc.message
    return RunPlan(
        connector=get_connector(connection.connector),
        connector_settings=source_settings,
        query=pipeline.query,
        statement_timeout=knobs.SOURCE_STATEMENT_TIMEOUT,
        incremental=incremental,
        cursor=cursor,
        user_id_column=pipeline.user_id_column,
        updated_at_column=pipeline.updated_at_column,
        updated_at_format=pipeline.updated_at_format,
        in_schema=in_schema,
        out_schema=out_schema,
        profile_schema=parse_type(workspace.profile_schema),
        make_transformer=make_transformer,
        make_writer=make_writer,
        batch_size=knobs.RUN_BATCH_SIZE,
        writers=knobs.WAREHOUSE_WRITE_CONNECTIONS if backend.concurrent_writers else 1,
        source_refused=source_refused,
        columns_to_unset=sorted(name for name in map(column_name, pipeline.properties_to_unset)
                                if name not in out_columns),
        lookback_seconds=lookback_seconds,
    )


def dry_run_pipeline(pipeline: Pipeline, limit: int) -> list[DryRunRow]:
    """A full run's checks and per-row steps over the first `limit` rows of `pipeline` (saved or
    not), writing nothing: the admin's "Test on preview rows". RunStopped carries the message a
    run would end with."""
    def read_preview(sql: str, max_rows: int):
        """The first rows within a preview's limits of time, bytes and number (the editor waits)."""
        with preview_source(pipeline.connection, sql, max_rows=max_rows, query=pipeline.query) as result:
            return result.schema, sample_rows(result, max_rows)

    try:
        return dry_run(pipeline_plan(pipeline), limit, read_source=read_preview)
    except ConnectorUnavailable as exc:
        raise ServiceUnavailable(str(exc)) from None


def run_execute(*, run_id: int, on_progress=None) -> Run | None:
    """Executes a queued run to its end. Safe to call twice: a run already taken or ended is skipped.

    `on_progress(passed, failed)`, when given, is called with the counters about once a second
    (the `runpipeline` command draws its progress bar with it).
    """
    taken = Run.objects.filter(id=run_id, end_time__isnull=True, heartbeat_time__isnull=True).update(
        heartbeat_time=timezone.now())
    if not taken:
        return None
    run = Run.objects.select_related("pipeline__workspace", "pipeline__connection").get(id=run_id)
    revision = run.pipeline.revision  # the definition this run reads
    monitor = DatabaseMonitor(run, on_progress)
    # The query's source session is recorded on the run for as long as it runs (see end_source_session).
    control = QueryControl(on_session=lambda session: Run.objects.filter(id=run_id).update(source_session=session))
    try:
        plan = build_plan(run)
        beat = Run.objects.filter(id=run_id, end_time__isnull=True)

        def watch():
            """A cancel or a sweep (read from the database), or a source call past the statement timeout,
            interrupts the query; once interrupted, again while a call blocks (see QueryControl)."""
            reason = control.reason or monitor.cancel_or_sweep()
            busy = control.busy_for()
            if reason is None and busy is not None and busy > plan.statement_timeout + STATEMENT_TIMEOUT_GRACE:
                reason = STATEMENT_TIMEOUT.format(plan.statement_timeout)
            if reason is not None:
                control.interrupt(reason)

        with Heartbeat(lambda: beat.update(heartbeat_time=timezone.now()), heartbeat_seconds, f"heartbeat-{run_id}"), \
                Heartbeat(watch, lambda: WATCH_SECONDS, f"watch-{run_id}"):
            result = execute_run(plan, monitor, control=control)
        error, cursor = result.error, result.cursor
        in_flight = _in_flight_record(run, result)
    except Exception:
        log.exception("run %s failed unexpectedly", run_id)
        error, cursor, result, in_flight = INTERNAL, None, None, None
        monitor.record_error(0, None, INTERNAL)
    if not Pipeline.objects.filter(id=run.pipeline_id).exists():
        # Deleted while the run wrote: what it wrote after the deletion removed the pipeline's
        # identities goes now that it writes no more.
        forget_deleted_pipeline(run.pipeline.workspace, run.pipeline_id)
        return None
    monitor.flush_errors()
    with transaction.atomic():
        live = Run.objects.select_for_update().filter(id=run_id, end_time__isnull=True).first()
        if live is None:
            return None  # ended meanwhile (dead-worker sweep) or deleted with its pipeline
        live.end_time = timezone.now()
        live.error = monitor.stopped_by or error
        if result is not None:
            live.passed, live.failed = result.passed, result.failed
            live.reread, live.in_flight_note = result.reread, result.in_flight_note
        live.in_flight = in_flight
        live.errors_total = monitor.total
        if not live.error:
            live.cursor_held = _commit_cursor(live, cursor, revision)
        live.save(update_fields=["end_time", "error", "passed", "failed", "errors_total", "reread", "in_flight",
                                 "in_flight_note", "cursor_held"])
        if not live.error or live.passed[6]:
            workspace_id = run.pipeline.workspace_id
            transaction.on_commit(lambda: resolution_after_import(workspace_id))
    return live


def _in_flight_record(run: Run, result) -> dict | None:
    """What the run saw of the source's transactions in progress, completed with what the
    pipeline's previous observation saw (pipelines/lookback.py)."""
    if result.in_flight is None:
        return None
    previous = (Run.objects.filter(pipeline_id=run.pipeline_id, in_flight__isnull=False).exclude(id=run.id)
                .order_by("-start_time", "-id").values_list("in_flight", flat=True).first())
    return in_flight_record(result.in_flight, previous)


def _commit_cursor(run: Run, cursor, revision: int) -> bool:
    """The cursor advances only with a successful run whose data is committed (it is, by now), and
    only when the pipeline was not changed meanwhile: a change may have reset the cursor or added
    columns to unset, which the next run must see. With the look-back, it is held below the
    transactions that were in progress when the run read (True when held)."""
    pipeline = Pipeline.objects.select_for_update().get(id=run.pipeline_id)
    if pipeline.revision != revision:
        return False
    fields, held = [], False
    if pipeline.properties_to_unset:
        pipeline.properties_to_unset = []
        fields.append("properties_to_unset")
    if pipeline.updated_at_column:
        start = run.start_cursor if run.incremental else None
        new = max(c for c in (start, cursor) if c is not None) if (start or cursor) else None
        new, held = held_cursor(new, start, run.in_flight)
        if new != pipeline.cursor:
            pipeline.cursor = new
            fields.append("cursor")
    if fields:
        pipeline.save(update_fields=fields)
    return held


def run_errors(*, run: Run) -> dict:
    errors = [{"step": STEP_NAMES[e.step], "userId": e.user_id, "message": e.message}
              for e in run.errors.order_by("seq")[:MAX_KEPT_ERRORS]]
    return {"errors": errors, "total": max(run.errors_total, len(errors))}
