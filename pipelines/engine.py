"""The import run: source rows in, warehouse batches out. A plain function over plain objects.

The Celery task, the `runpipeline` command and the admin all reach it through
`pipelines.services.runs.run_execute`, which builds a RunPlan from the models and a RunMonitor
that records progress. Nothing here imports Django.

Per row (reference engine §4.1): Receive (user ID, update time), InputValidation (each inSchema
property against its type), Transformation and OutputValidation (a mapping; or a function, in
runtime calls sized from the batch by the transformer), Finalize (written to the warehouse). A bad
row is a counted failure, never the end of the run. Reading and transforming overlap with
warehouse writes: writer threads take batches from short queues (upserting together those that
wait), so Python's work hides behind the warehouse's. A transformation function takes two batches
at once while the run reads the next one (its runtime works outside the GIL). A run whose pipeline
is deleted drops the rows it has not written yet (the writes under way end); the caller then
removes what they wrote.
"""
from __future__ import annotations

import collections
import datetime as dt
import gc
import itertools
import json
import operator
import queue
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Callable, Protocol

from .alignment import alignment_difference
from .connectors import ConnectorUnavailable, QueryControl, QueryInterrupted, QuerySchema
from .conf import DEFAULTS
from .errors import KrenalisError
from .lookback import read_from
from .placeholders import PlaceholderError, replace_placeholders, with_updated_at_hint
from .transformers import FatalTransformError
from .timeformats import TimeFormatError, format_updated_at, parse_updated_at
from .types import (
    NormalizeError, Property, RawJSON, Type, column_name, leaf_paths, leaf_values, make_normalizer, object_type,
)
from .types.normalize import column_check, column_normalizer
from .steps import FINALIZE, INPUT, OUTPUT, RECEIVE, STEP_NAMES, TRANSFORMATION

REVIEW = ". Please review and update the pipeline before attempting to import the users."
UNLIMITED = "9223372036854775807"
UNIDENTIFIED = "unimported records not deleted because at least one with errors could not be identified"


class RunStopped(Exception):
    """The run must end now with this message (cancelled, or a fatal error), at `step`."""

    def __init__(self, message: str, step: int = RECEIVE):
        super().__init__(message)
        self.message, self.step = message, step


class RecordFailure(Exception):
    """One record failed at `step` (a per-record failure, never fatal)."""

    def __init__(self, step: int, message: str, user_id: str | None = None):
        super().__init__(message)
        self.step, self.message, self.user_id = step, message, user_id


class Transformer(Protocol):
    def transform_rows(self, rows: list[tuple]) -> list:
        """rows: values in the input schema's order -> per row, the tuple of warehouse column
        values (the output schema's leaf paths, in order) or a failure (.step, str())."""
        ...

    def close(self) -> None:
        ...


class RowWriter(Protocol):
    """What a run needs of the writer of one warehouse connection: every method the engine calls
    (warehouse.writer.IdentityWriter, whose docstrings say what each does, is one)."""

    def write(self, rows: list[tuple[str, dt.datetime, tuple]]) -> int: ...
    def keep(self, identity_ids: list[str]) -> None: ...
    def unset(self, column_names: list[str]) -> None: ...
    def purge(self) -> int: ...
    def has_identities(self) -> bool: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...
    # A full run staged and applied at its end (IdentityWriter's default stages nothing).
    def stage_full_run(self) -> bool: ...
    def finish_full_run(self, *, purge: bool) -> int: ...


class RunMonitor(Protocol):
    def stop_reason(self) -> str | None:
        """A message when the run must stop (it was cancelled), else None. Called between batches
        (at most every STOP_CHECK_SECONDS), about twice a second while the run waits for the
        warehouse, and once after the last batch."""

    def drops_unwritten(self) -> bool:
        """Asked when the run stops: whether the rows read but not yet written are dropped rather
        than written (its pipeline was deleted, and nothing may reach the warehouse after that)."""

    def progress(self, passed: list[int], failed: list[int]) -> None:
        """Counters so far; also the run's heartbeat."""

    def record_error(self, step: int, user_id: str | None, message: str, row: dict | None = None) -> None:
        """`row`, for a row that failed without a user ID: {"position": its number in the query's
        result (from 1), "values": the values read, as text where JSON has no type for them}."""


@dataclass
class RunPlan:
    connector: object                 # pipelines.connectors.Connector
    connector_settings: dict
    query: str                        # with ${updated_at} and ${limit} placeholders
    statement_timeout: int
    incremental: bool                 # the run's effective mode
    cursor: dt.datetime | None        # the pipeline's cursor (None = zero)
    user_id_column: str
    updated_at_column: str            # "" when the pipeline has none
    updated_at_format: str
    in_schema: Type
    out_schema: Type
    profile_schema: Type
    make_transformer: Callable[[], Transformer]
    make_writer: Callable[[list[tuple[str, Type]]], RowWriter]
    columns_to_unset: list[str] = field(default_factory=list)
    batch_size: int = DEFAULTS["RUN_BATCH_SIZE"]
    writers: int = 1                  # warehouse connections writing in parallel
    source_refused: str = ""          # why the source may not be reached (nothing is read then)
    lookback_seconds: int | None = None  # incremental runs read from cursor - lookback (pipelines/lookback.py)


@dataclass
class RunResult:
    passed: list[int]
    failed: list[int]
    error: str = ""
    error_step: int | None = None
    cursor: dt.datetime | None = None     # greatest update time among rows that passed InputValidation
    purged: int = 0
    reread: int = 0                       # rows read only because of the look-back (below the cursor)
    in_flight: object = None              # the source's transactions in progress when it read (InFlight)
    in_flight_note: str = ""              # why the source could not show them


class MappingTransformer:
    """Adapts a compiled mapping to the batch interface of transformation functions."""

    def __init__(self, compiled, transform_error: type[Exception], in_schema: Type, out_schema: Type):
        self.apply, self.error_type, self.copies = compiled.apply, transform_error, compiled.copies
        self.in_names = [p.name for p in in_schema.properties]
        self.row_of = leaf_values(out_schema)

    def transform_rows(self, rows: list[tuple]) -> list:
        records = map(dict, map(zip, itertools.repeat(self.in_names), rows))
        row_of = self.row_of
        return [output if isinstance(output, RecordFailure) else row_of(output)
                for output in self.transform_batch(records)]

    def transform_batch(self, records) -> list:
        """records: value-model dicts -> the output dicts, or RecordFailure."""
        apply, error_type, results = self.apply, self.error_type, []
        for record in records:
            try:
                results.append(apply(record))
            except error_type as exc:
                results.append(RecordFailure(_step_of(exc), str(exc)))
        return results

    def close(self) -> None:
        pass


def updated_at_placeholder(plan: RunPlan, connector) -> str:
    """`${updated_at}`: NULL for full runs and a zero cursor, else the cursor (less the look-back) as a
    typed SQL literal."""
    if not (plan.incremental and plan.updated_at_column and plan.cursor is not None):
        return "NULL"
    start = read_from(plan.cursor, plan.lookback_seconds)
    column_type = next(p.type for p in plan.in_schema.properties if p.name == plan.updated_at_column)
    if column_type.kind == "datetime":
        return connector.sql_literal(start, column_type)
    if column_type.kind == "date":
        return connector.sql_literal(start.date(), column_type)
    text = format_updated_at(start, plan.updated_at_format)
    return connector.sql_literal(text, Type(kind="string"))


def _user_id(value) -> str:
    """The user ID as text, or RecordFailure at Receive (reference §11.3)."""
    if value is None:
        raise RecordFailure(RECEIVE, "user ID value is NULL")
    if isinstance(value, RawJSON):
        try:
            decoded = json.loads(value.text)
        except ValueError:
            raise RecordFailure(RECEIVE, "user ID value is not a JSON string or JSON integer number") from None
        if isinstance(decoded, str):
            value = decoded
        elif isinstance(decoded, int) and not isinstance(decoded, bool):
            value = str(decoded)
        else:
            raise RecordFailure(RECEIVE, "user ID value is not a JSON string or JSON integer number")
    elif isinstance(value, bool) or not isinstance(value, (str, int)):
        value = str(value)
    elif isinstance(value, int):
        value = str(value)
    if value == "":
        raise RecordFailure(RECEIVE, "user ID value is empty")
    return value


def _row_reader(plan: RunPlan, index: dict[str, int], now: dt.datetime, cursor: dt.datetime | None):
    """read(row) -> (user ID, update time, record): a source row through Receive (its user ID and
    update time) and InputValidation (each inSchema property against its type); None when it is
    older than `cursor` (not part of the run). A step that refuses the row raises RecordFailure
    with `.user_id` (None when the user ID itself is at fault). Runs and their dry run read rows
    with it one by one."""
    user_id_index = index[plan.user_id_column]
    updated_index = index[plan.updated_at_column] if plan.updated_at_column else None
    updated_kind = (next(p.type.kind for p in plan.in_schema.properties if p.name == plan.updated_at_column)
                    if updated_index is not None else None)
    fmt = plan.updated_at_format or None
    normalizers = [(index[p.name], make_normalizer(p, p.name)) for p in plan.in_schema.properties]

    def read(row):
        user_id = None
        try:
            user_id = _user_id(row[user_id_index])
            if updated_index is not None:
                try:
                    updated_at = parse_updated_at(row[updated_index], updated_kind, fmt, now=now)
                except TimeFormatError as exc:
                    raise RecordFailure(RECEIVE, str(exc)) from None
                if cursor is not None and updated_at < cursor:
                    return None
            else:
                updated_at = now
            try:
                record = tuple([normalize(row[i]) for i, normalize in normalizers])
            except NormalizeError as exc:
                raise RecordFailure(INPUT, str(exc)) from None
        except RecordFailure as failure:
            failure.user_id = user_id
            raise
        return user_id, updated_at, record

    return read


def _batch_builder(plan: RunPlan, index: dict[str, int], transformer, now: dt.datetime):
    """(build, direct): build(batch) -> [(user ID, update time, values)] for a batch whose rows all
    pass Receive and InputValidation, made column by column with C-level passes (see
    column_normalizer). `values` is the tuple of input values (the input schema's order) or, when
    `direct`, the row of warehouse column values: the mapping only copies input properties, so the
    output object would be built only to be taken apart.

    build raises whatever a row fails with: the caller then takes the batch row by row, which
    reports each failure. The caller also checks the batch's least and greatest update times
    (parse_updated_at's checks of a datetime are bounds), which build leaves unchecked when they
    are already datetimes in UTC.
    """
    user_id_position = index[plan.user_id_column]
    updated_position = index[plan.updated_at_column] if plan.updated_at_column else None
    kind = fmt = updated_fits = None
    if updated_position is not None:
        updated_type = next(p.type for p in plan.in_schema.properties if p.name == plan.updated_at_column)
        kind, fmt = updated_type.kind, plan.updated_at_format or None
        if kind == "datetime":  # parse_updated_at returns a datetime in UTC as it is
            updated_fits = column_check(updated_type, False)
    properties = [(p.name, index[p.name], column_normalizer(p)) for p in plan.in_schema.properties]
    names = [name for name, _, _ in properties]
    paths = [path for path, _ in leaf_paths(plan.out_schema)]
    copies = transformer.copies if isinstance(transformer, MappingTransformer) else None
    direct = copies is not None and all(path in paths and name in names for path, (name, _) in copies.items())

    # itemgetter rather than zip(*batch), which makes a (tracked, collectable) iterator per row
    getters = {position: operator.itemgetter(position)
               for position in {user_id_position, updated_position, *(position for _, position, _ in properties)}
               if position is not None}

    def build(batch: list) -> list:
        columns = {position: list(map(get, batch)) for position, get in getters.items()}
        user_ids = columns[user_id_position]
        kinds = set(map(type, user_ids))
        if kinds == {int}:
            user_ids = map(str, user_ids)
        elif kinds != {str} or "" in user_ids:
            user_ids = list(map(_user_id, user_ids))
        if updated_position is None:
            updated = itertools.repeat(now)
        else:
            updated = columns[updated_position]
            if updated_fits is None or not updated_fits(updated):
                updated = [parse_updated_at(value, kind, fmt, now=now) for value in updated]
        values = {name: normalize(columns[position]) for name, position, normalize in properties}
        if not direct:
            return list(zip(user_ids, updated, zip(*values.values())))
        out = []
        for path in paths:
            name, convert = copies.get(path, (None, None))
            if name is None:
                out.append(itertools.repeat(None))
            elif convert is None:
                out.append(values[name])
            else:
                out.append([None if value is None else convert(value) for value in values[name]])
        return list(zip(user_ids, updated, zip(*out)))

    return build, direct


_first, _second = operator.itemgetter(0), operator.itemgetter(1)


def _build_batch(build, batch: list, check_updated) -> list | None:
    """build(batch) with its update times checked, or None when a row of it fails."""
    try:
        rows = build(batch)
        if rows and check_updated is not None:
            check_updated(min(map(_second, rows)))
            check_updated(max(map(_second, rows)))
    except Exception:  # the batch is taken again row by row, which reports (or raises) it
        return None
    return rows


class _Lane:
    """One writer and the thread that feeds it.

    Batches that wait in the queue when the writer is free again go in one upsert with the next
    (up to COALESCED_ROWS): when the run waits for the warehouse, fewer and larger statements and
    commits cost it less (1M rows from PostgreSQL: 6.7 s → 5.8 s in the bench, see bench/results.md).
    """

    QUEUED_JOBS = 6
    COALESCED_ROWS = 15_000

    def __init__(self, writer: RowWriter, number: int):
        self.writer = writer
        self.jobs: queue.Queue = queue.Queue(maxsize=self.QUEUED_JOBS)
        self.written = 0
        self.error: BaseException | None = None
        self.dropping = False  # the jobs still queued are dropped, not done
        self._pending: list = []  # a job taken out of turn while coalescing, done next
        self.thread = threading.Thread(target=self._loop, name=f"krenalis-writer-{number}", daemon=True)
        self.thread.start()

    def _next_job(self):
        return self._pending.pop() if self._pending else self.jobs.get()

    def _waiting_rows(self, rows: list) -> list[list]:
        """`rows` and the write jobs queued right behind it, as long as they fit COALESCED_ROWS."""
        parts, size = [rows], len(rows)
        while size < self.COALESCED_ROWS:
            try:
                job = self.jobs.get_nowait()
            except queue.Empty:
                break
            if job is None or job[0] != "write":
                self._pending.append(job)
                break
            parts.append(job[1])
            size += len(job[1])
        return parts

    def _loop(self):
        while True:
            job = self._next_job()
            if job is None:
                return
            kind, payload = job
            parts = self._waiting_rows(payload) if kind == "write" else None
            if self.error is not None or self.dropping:
                continue
            try:
                if kind != "write":
                    self.writer.keep(payload)
                elif len(parts) == 1:
                    self.written += self.writer.write(payload)
                else:
                    self.writer.write([row for part in parts for row in part])
                    # Finalize counts the identities of each batch, as when written one by one.
                    self.written += sum(len(set(map(_first, part))) for part in parts)
            except Exception as exc:  # reported to the run by the main thread
                self.error = WriteFailed(_message(exc))


class _BackgroundWriter:
    """Runs warehouse writes on threads, one per writer (each its own connection), so that reading
    and transforming continue meanwhile and the warehouse upserts on several cores. Rows are split
    by user ID: every row of an identity goes, in order, to the same writer, so the last one still
    wins and no two transactions ever touch the same identity (no lock waits, no deadlocks).

    While the run's thread waits for the writers (a full queue, or the last writes), it asks
    `must_drop()` every WAIT_CHECK_SECONDS: when it answers True (the pipeline was deleted), the
    jobs not yet started are dropped, so that at most the writes under way then still end."""

    WAIT_CHECK_SECONDS = 0.5

    def __init__(self, writers: list[RowWriter], must_drop: Callable[[], bool] = lambda: False):
        self.lanes = [_Lane(writer, number) for number, writer in enumerate(writers)]
        self.must_drop = must_drop

    @property
    def written(self) -> int:
        return sum(lane.written for lane in self.lanes)

    def _raise_error(self) -> None:
        for lane in self.lanes:
            if lane.error is not None:
                raise lane.error

    def submit(self, kind: str, payload: list) -> None:
        """`payload`: rows (user ID first) to write, or user IDs to keep."""
        self._raise_error()
        lanes = self.lanes
        if len(lanes) == 1:
            self._put(lanes[0], (kind, payload))
            return
        parts = [[] for _ in lanes]
        if kind == "write":
            for row in payload:
                parts[hash(row[0]) % len(parts)].append(row)
        else:
            for user_id in payload:
                parts[hash(user_id) % len(parts)].append(user_id)
        for lane, part in zip(lanes, parts):
            if part:
                self._put(lane, (kind, part))

    def _put(self, lane: _Lane, job) -> None:
        while True:
            try:
                lane.jobs.put(job, timeout=self.WAIT_CHECK_SECONDS)
                return
            except queue.Full:
                self._check_drop()

    def _check_drop(self) -> None:
        if not self.lanes[0].dropping and self.must_drop():
            self.drop()

    def drop(self) -> None:
        """The jobs not yet started are dropped (a write in progress still ends); finish() as usual."""
        for lane in self.lanes:
            lane.dropping = True

    def finish(self) -> int:
        for lane in self.lanes:
            self._put(lane, None)
        for lane in self.lanes:
            while lane.thread.is_alive():
                lane.thread.join(self.WAIT_CHECK_SECONDS)
                if lane.thread.is_alive():
                    self._check_drop()
        self._raise_error()
        return self.written


IN_FLIGHT = 2  # batches in a transformation function at once
# How often the run asks its monitor whether to stop, between batches: the question is a query of the
# metadata database, which once per batch cost about a tenth of a 1M-row run's time on its thread.
STOP_CHECK_SECONDS = 0.2


class _TransformAhead:
    """Runs a transformation function's batches on threads of their own, two at a time: while the
    runtime (quickjs, or the Python worker process) works on one outside the GIL, the other is
    encoded or decoded, and the run reads and checks the next batch meanwhile. The run settles
    them in order. A mapping is plain Python: it runs in place, at once."""

    def __init__(self, transformer: Transformer):
        self.overlaps = not isinstance(transformer, MappingTransformer)
        self._transformer = transformer
        self._thread = (ThreadPoolExecutor(IN_FLIGHT, thread_name_prefix="krenalis-transform")
                        if self.overlaps else None)

    def transform(self, records: list[tuple]) -> Future:
        if self._thread is not None:
            return self._thread.submit(self._transformer.transform_rows, records)
        done = Future()
        done.set_result(self._transformer.transform_rows(records))
        return done

    def close(self) -> None:
        if self._thread is not None:
            self._thread.shutdown(wait=True)


def _check_query_schema(plan: RunPlan, schema) -> dict[str, int]:
    """Index of each inSchema property among the result columns, or RunStopped naming the column
    (and, when the query returns it with a type that is not supported, saying so)."""
    columns = schema.columns
    index = {c.name: i for i, c in enumerate(columns)}

    def why(name: str) -> str:
        issue = schema.left_out.get(name)
        return f" ({issue[0].lower()}{issue[1:].rstrip('.')})" if issue else ""

    if plan.user_id_column not in index:
        raise RunStopped(f'in the input schema, there is no user ID column "{plan.user_id_column}"'
                         f'{why(plan.user_id_column)}{REVIEW}', INPUT)
    if plan.updated_at_column and plan.updated_at_column not in index:
        raise RunStopped(f'in the input schema, there is no update time column "{plan.updated_at_column}"'
                         f'{why(plan.updated_at_column)}{REVIEW}', INPUT)
    query_schema = object_type(*(Property(name=c.name, type=c.type, nullable=c.nullable) for c in columns))
    difference = alignment_difference(plan.in_schema, query_schema, widening=True)
    if difference:
        missing = next((p.name for p in plan.in_schema.properties if p.name not in index), None)
        if missing is not None and difference == f'"{missing}" property no longer exists':
            difference += why(missing)
        raise RunStopped(f"in the input schema, {difference}{REVIEW}", INPUT)
    return index


class _CollectorTuning:
    """Tunes Python's cyclic garbage collector while runs execute in this process.

    A run allocates several short-lived containers per row (records, tuples, the dicts a function
    returns), which refcounting frees. With the default thresholds (700 allocations) the collector
    scans each batch several times, promotes it, and runs full collections over every object of the
    process (Django's included). Measured over 1M rows, the collector switched off took a run with a
    JavaScript function from 27.5 to 20.6 s of CPU and one with a mapping from 9.2 to 7.3 s. While any
    run executes, the objects from before are frozen (never scanned) and a collection starts every
    100,000 allocations; the last run to end restores both."""

    def __init__(self):
        self._lock = threading.Lock()
        self._runs = 0
        self._saved = gc.get_threshold()

    def __enter__(self):
        with self._lock:
            if self._runs == 0:
                self._saved = gc.get_threshold()
                gc.freeze()
                gc.set_threshold(100_000, 50, 100)
            self._runs += 1

    def __exit__(self, *exc_info):
        with self._lock:
            self._runs -= 1
            if self._runs == 0:
                gc.set_threshold(*self._saved)
                gc.unfreeze()
        return False


_collector_tuning = _CollectorTuning()


def execute_run(plan: RunPlan, monitor: RunMonitor, *, now: dt.datetime | None = None,
                control: QueryControl | None = None) -> RunResult:
    """Executes the run. `control` is the source query's: another thread interrupts it through it
    (a cancel, a passed deadline), and the run then ends with the reason given, at Receive."""
    with _collector_tuning:
        return _execute_run(plan, monitor, now=now, control=control)


def _execute_run(plan: RunPlan, monitor: RunMonitor, *, now: dt.datetime | None = None,
                 control: QueryControl | None = None) -> RunResult:
    run = _Run(plan, monitor, now or dt.datetime.now(dt.timezone.utc))
    sql = run.prepare()
    if sql is None:
        return run.result
    run.import_rows(sql, control)
    run.finalize()
    return run.result


class _Run:
    """One run's state and its stages, in order: `prepare` (the checks before the source is
    reached), `import_rows` (the query streams: `open_source`, then per batch the fast path
    `take_built` or the slow one `take_rows`, then `settle`, which hands the rows to the writers),
    and `finalize` (the staged rows applied, the purge, the run's end reported)."""

    def __init__(self, plan: RunPlan, monitor: RunMonitor, now: dt.datetime):
        self.plan, self.monitor, self.now = plan, monitor, now
        self.passed, self.failed = [0] * 7, [0] * 7
        self.result = RunResult(self.passed, self.failed)
        self.full_run = not plan.incremental or plan.cursor is None
        self.out_columns = [(column_name(path), prop.type) for path, prop in leaf_paths(plan.out_schema)]
        self.transformer = self.ahead = self.writer = self.background = None
        self.writers: list[RowWriter] = []
        self.first_import = self.staged = False
        self.greatest: dt.datetime | None = None     # the greatest update time among rows that passed
        self.unidentified_failure = False
        self.streaming = False  # a source failure before the rows stream (connect, SQL error) is InputValidation's
        self.window_end = plan.cursor if plan.incremental and plan.lookback_seconds else None
        self.pending = collections.deque()  # batches still in the function while the next ones are read
        self.read_before = 0                # rows of the query's result before the current batch
        self.last_report = self.last_stop_check = 0.0

    def end(self, message: str, step: int) -> None:
        self.result.error, self.result.error_step = message, step

    # ------------------------------------------------------------------ prepare

    def prepare(self) -> str | None:
        """The query to run, its placeholders replaced; None when the run ends before reaching the
        source (the output schema no longer aligns, the source is refused, a placeholder fails)."""
        plan = self.plan
        difference = alignment_difference(plan.out_schema, plan.profile_schema)
        if difference:
            return self._refuse(f"in the output schema, {difference}{REVIEW}", OUTPUT)
        if plan.source_refused:
            return self._refuse(plan.source_refused, INPUT)
        try:
            return replace_placeholders(plan.query, {"updated_at": updated_at_placeholder(plan, plan.connector),
                                                     "limit": UNLIMITED})
        except PlaceholderError as exc:
            return self._refuse(str(exc), INPUT)

    def _refuse(self, message: str, step: int) -> None:
        self.end(message, step)
        self.monitor.record_error(step, None, message)
        return None

    # ------------------------------------------------------------------ the rows

    def import_rows(self, sql: str, control: QueryControl | None) -> None:
        """Reads the query's rows batch by batch through the steps and hands them to the writers;
        whatever ends the run early becomes its error, at its step."""
        plan = self.plan
        # The look-back notes the source's transactions in progress before the query reads.
        observe = {"observe": True} if plan.lookback_seconds and plan.updated_at_column else {}
        try:
            with plan.connector.query(plan.connector_settings, sql, timeout_seconds=plan.statement_timeout,
                                      batch_size=plan.batch_size, control=control, **observe) as rows:
                self.open_source(rows)
                for batch in rows:
                    self.check_stop()
                    self.take(batch)
                while self.pending:
                    self.settle(*self.pending.popleft())
                if self.background is not None:
                    self.passed[FINALIZE] = self.background.finish()
                    self.background = None
        except RunStopped as stop:
            self.end(stop.message, stop.step)
        except QueryInterrupted as exc:
            self.end(str(exc), RECEIVE)
        except ConnectorUnavailable as exc:
            self.end(with_updated_at_hint(plan.query, exc), RECEIVE if self.streaming else INPUT)
        except FatalTransformError as exc:
            self.end(str(exc), TRANSFORMATION)
        except (WriteFailed, KrenalisError) as exc:
            self.end(_message(exc), FINALIZE)
        finally:
            self.release()

    def open_source(self, rows) -> None:
        """Once the query runs: its columns checked against the input schema, the transformer and
        the first writer made, the run's kind settled (a first import, a staged full run) and the
        readers of its rows built."""
        plan, now = self.plan, self.now
        self.streaming = True
        self.result.in_flight = getattr(rows, "in_flight", None)
        self.result.in_flight_note = getattr(rows, "in_flight_note", "")
        self.index = index = _check_query_schema(plan, rows.schema)
        self.transformer = transformer = plan.make_transformer()
        self.ahead = _TransformAhead(transformer)
        self.writer = writer = plan.make_writer(self.out_columns)
        self.writers.append(writer)
        if plan.columns_to_unset:
            writer.unset(plan.columns_to_unset)
        self.first_import = self.full_run and not writer.has_identities()
        # A full run into identities that exist writes them at its end, all at once (only what
        # changed); a first import into an empty warehouse loads a new table and swaps it in at its
        # end: both on one connection (the backend says whether it does either).
        self.staged = self.full_run and writer.stage_full_run()
        self.cursor = read_from(plan.cursor, plan.lookback_seconds) if plan.incremental else None
        self.read_row = _row_reader(plan, index, now, self.cursor)
        self.in_names = [p.name for p in plan.in_schema.properties]
        self.build, self.direct = _batch_builder(plan, index, transformer, now)
        self.check_updated = ((lambda moment: parse_updated_at(moment, "datetime", None, now=now))
                              if plan.updated_at_column else None)

    def check_stop(self) -> None:
        """Between batches (at most every STOP_CHECK_SECONDS): RunStopped when the monitor says so,
        the batches in the function settled first, or dropped with the unwritten rows."""
        moment = time.monotonic()
        if moment - self.last_stop_check < STOP_CHECK_SECONDS:
            return
        self.last_stop_check = moment
        reason = self.monitor.stop_reason()
        if not reason:
            return
        if self.monitor.drops_unwritten():
            if self.background is not None:
                self.background.drop()
            self.pending.clear()
        while self.pending:
            self.settle(*self.pending.popleft())
        raise RunStopped(reason)

    def must_drop(self) -> bool:
        return bool(self.monitor.stop_reason()) and self.monitor.drops_unwritten()

    def take(self, batch: list) -> None:
        """One batch of source rows: through Receive and InputValidation (all at once when it can,
        else row by row), to the transformer, and settled now or once the function returns it."""
        plan = self.plan
        if self.background is None:
            # More connections only when a full first batch says more rows follow: a short
            # (incremental) run does not pay for connections it would not use.
            if len(batch) >= plan.batch_size and not self.staged:
                self.writers.extend(plan.make_writer(self.out_columns) for _ in range(plan.writers - 1))
            self.background = _BackgroundWriter(self.writers, self.must_drop)
        built = _build_batch(self.build, batch, self.check_updated)
        if built is not None:
            identified, records, out_rows, kept = self.take_built(built)
        else:
            identified, records, out_rows, kept = self.take_rows(batch)
        self.read_before += len(batch)
        outputs = self.ahead.transform(records) if records else None
        if self.ahead.overlaps:
            self.pending.append((identified, outputs, out_rows, kept))
            if len(self.pending) > IN_FLIGHT:
                self.settle(*self.pending.popleft())
        else:
            self.settle(identified, outputs, out_rows, kept)

    def take_built(self, built: list) -> tuple[list, list, list, list]:
        """The fast path: a batch whose rows all passed Receive and InputValidation column by column
        (_batch_builder). Returns (identified, records, out_rows, kept) as take_rows does."""
        passed, cursor, window_end = self.passed, self.cursor, self.window_end
        identified, records, out_rows = [], [], []
        if cursor is not None:  # older than the cursor: not part of this run
            built = [row for row in built if row[1] >= cursor]
            if window_end is not None:
                self.result.reread += sum(1 for row in built if row[1] < window_end)
        count = len(built)
        passed[RECEIVE] += count
        passed[INPUT] += count
        if built:
            latest = max(map(_second, built))
            if self.greatest is None or latest > self.greatest:
                self.greatest = latest
        if self.direct:
            passed[TRANSFORMATION] += count
            passed[OUTPUT] += count
            out_rows = built
        else:
            identified = [(user_id, updated_at) for user_id, updated_at, _ in built]
            records = [record for _, _, record in built]
        return identified, records, out_rows, []

    def take_rows(self, batch: list) -> tuple[list, list, list, list]:
        """The slow path: the batch row by row, each failure counted and recorded. Returns
        (identified: [(user ID, update time)], records: the input values to transform, out_rows:
        rows ready to write, kept: the user IDs of failed rows, which a full run keeps)."""
        passed, failed, record_error = self.passed, self.failed, self.monitor.record_error
        read_row, window_end, greatest = self.read_row, self.window_end, self.greatest
        kept, identified, records = [], [], []
        for position, row in enumerate(batch, self.read_before + 1):
            try:
                read = read_row(row)
            except RecordFailure as failure:
                failed[failure.step] += 1
                if failure.step > RECEIVE:
                    passed[RECEIVE] += 1
                if failure.user_id is None:
                    self.unidentified_failure = True
                    record_error(failure.step, None, failure.message,
                                 row=shown_row(position, self.in_names, row, self.index))
                else:
                    record_error(failure.step, failure.user_id, failure.message)
                    kept.append(failure.user_id)
                continue
            if read is None:
                continue  # older than the cursor: not part of this run
            user_id, updated_at, record = read
            if window_end is not None and updated_at < window_end:
                self.result.reread += 1
            passed[RECEIVE] += 1
            passed[INPUT] += 1
            if greatest is None or updated_at > greatest:
                greatest = self.greatest = updated_at
            identified.append((user_id, updated_at))
            records.append(record)
        return identified, records, [], kept

    # ------------------------------------------------------------------ settle

    def output_failed(self, user_id, failure) -> None:
        """Counts and records a record that failed at Transformation or OutputValidation."""
        step = _step_of(failure)
        self.failed[step] += 1
        if step == OUTPUT:
            self.passed[TRANSFORMATION] += 1
        self.monitor.record_error(step, user_id, str(failure))

    def settle(self, identified, outputs, out_rows, kept) -> None:
        """Counts a batch's transformation results, records its failures, hands its rows to the
        writers and reports progress about once a second."""
        passed = self.passed
        if outputs is not None:
            try:
                outputs = outputs.result()
            except FatalTransformError as exc:
                # The records it failed before are counted, and those of a batch behind it that
                # failed the transformer while this one was in flight.
                for index, error in exc.record_errors:
                    self.output_failed(identified[index][0], error)
                for later, in_flight, _, _ in self.pending:
                    failure = in_flight.exception() if in_flight is not None else None
                    for index, error in getattr(failure, "record_errors", ()):
                        self.output_failed(later[index][0], error)
                raise
            if set(map(type, outputs)) == {tuple}:
                passed[TRANSFORMATION] += len(outputs)
                passed[OUTPUT] += len(outputs)
                out_rows = [(user_id, updated_at, output)
                            for (user_id, updated_at), output in zip(identified, outputs)]
                outputs = ()
            for (user_id, updated_at), output in zip(identified, outputs):
                if type(output) is tuple:
                    passed[TRANSFORMATION] += 1
                    passed[OUTPUT] += 1
                    out_rows.append((user_id, updated_at, output))
                    continue
                self.output_failed(user_id, output)
                kept.append(user_id)
        if out_rows:
            self.background.submit("write", out_rows)
        if kept and self.full_run:
            self.background.submit("keep", kept)
        moment = time.monotonic()
        if moment - self.last_report >= 1.0:
            self.last_report = moment
            passed[FINALIZE] = self.background.written
            self.monitor.progress(passed, self.failed)
            self.last_stop_check = 0.0  # and the next batch asks whether to stop (a report may find the run ended)

    def release(self) -> None:
        """After the rows, however the reading ended: the rows already read are written (never
        lost), and the transformer is closed."""
        if self.background is not None:
            try:
                self.passed[FINALIZE] = self.background.finish()
            except WriteFailed as exc:
                if not self.result.error:
                    self.end(str(exc), FINALIZE)
        if self.ahead is not None:
            self.ahead.close()
        if self.transformer is not None:
            self.transformer.close()

    # ------------------------------------------------------------------ finalize

    def finalize(self) -> None:
        """A cancel after the last batch still prevents the purge; a full run that ended well purges
        (or applies what it staged); what was written is flushed; the writers are closed and the
        run's error and counters reported."""
        result, monitor, passed, writer = self.result, self.monitor, self.passed, self.writer
        if not result.error:
            reason = monitor.stop_reason()
            if reason:
                self.end(reason, RECEIVE)
        try:
            purge = not result.error and self.full_run and not self.unidentified_failure
            if not result.error and self.full_run and self.unidentified_failure:
                monitor.record_error(FINALIZE, None, UNIDENTIFIED)
            if self.staged:
                if result.error and monitor.drops_unwritten():
                    passed[FINALIZE] = 0        # its pipeline was deleted: nothing staged is applied
                else:
                    # A failed or cancelled run's rows stay written too, without the purge.
                    try:
                        result.purged = writer.finish_full_run(purge=purge)
                    except Exception:
                        passed[FINALIZE] = 0
                        raise
            elif purge and not self.first_import:  # after a first import, every identity there is this run's
                result.purged = writer.purge()
            if writer is not None:
                # What the run wrote (on every connection: the warehouse's log is one) survives a
                # warehouse crash before the run's end is recorded.
                writer.flush()
        except Exception as exc:
            if not result.error:
                self.end(_message(exc), FINALIZE)
        finally:
            for each in self.writers:
                each.close()
        if result.error:
            monitor.record_error(result.error_step, None, result.error)
        result.cursor = self.greatest
        monitor.progress(passed, self.failed)


SHOWN_VALUE_CHARS = 200


def shown_row(position: int, names: list[str], row, index: dict[str, int]) -> dict:
    """A failed row as its error keeps it: its number in the query's result and the values read
    for the input schema's columns (long texts cut, bytes and times as text), so that a row
    without a user ID can still be found in the source."""
    values = {}
    for name in names:
        value = row[index[name]]
        if isinstance(value, float) and value != value:
            value = "NaN"
        elif isinstance(value, (bytes, bytearray, memoryview)):
            value = bytes(value)
            value = f"{len(value)} bytes: {value[:32].hex()}{'…' if len(value) > 32 else ''}"
        elif value is not None and not isinstance(value, (bool, int, float, str)):
            value = str(value)
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2 ** 53:
            value = str(value)
        if isinstance(value, str) and len(value) > SHOWN_VALUE_CHARS:
            value = value[:SHOWN_VALUE_CHARS] + "…"
        values[name] = value
    return {"position": position, "values": values}


@dataclass
class DryRunRow:
    """A row of a dry run: its output or the step and message a run records for it."""
    user_id: str | None
    step: int | None = None           # the step that refused the row; None when it passed them all
    message: str = ""
    values: tuple | None = None       # warehouse column values (the output schema's leaf paths, in order)


def dry_run(plan: RunPlan, limit: int, *, now: dt.datetime | None = None,
            read_source: Callable[[str, int], tuple[QuerySchema, list]] | None = None) -> list[DryRunRow]:
    """What a full run would do with the first `limit` rows of the query, through the same checks
    and per-row steps, writing nothing: the admin's "Test on preview rows". `read_source(sql,
    limit)` gives the query's schema and first rows (the caller bounds it as a preview); by
    default the plan's connector reads them.

    Raises RunStopped with the message a run would end with (the schemas, the query's columns,
    its placeholders, a fatal function error), and ConnectorUnavailable when the source fails.
    """
    now = now or dt.datetime.now(dt.timezone.utc)
    difference = alignment_difference(plan.out_schema, plan.profile_schema)
    if difference:
        raise RunStopped(f"in the output schema, {difference}{REVIEW}", OUTPUT)
    if plan.source_refused:
        raise RunStopped(plan.source_refused, INPUT)
    try:
        sql = replace_placeholders(plan.query, {"updated_at": updated_at_placeholder(plan, plan.connector),
                                                "limit": str(limit)})
    except PlaceholderError as exc:
        raise RunStopped(str(exc), INPUT) from None
    schema, fetched = (read_source or partial(_first_rows, plan))(sql, limit)
    index = _check_query_schema(plan, schema)
    read_row = _row_reader(plan, index, now, None)
    results, records, readable = [], [], []
    for row in fetched[:limit]:
        try:
            user_id, _, record = read_row(row)
        except RecordFailure as failure:
            results.append(DryRunRow(failure.user_id, failure.step, failure.message))
            continue
        results.append(DryRunRow(user_id))
        readable.append(results[-1])
        records.append(record)
    if records:
        transformer = plan.make_transformer()
        try:
            outputs = transformer.transform_rows(records)
        except FatalTransformError as exc:
            raise RunStopped(str(exc), TRANSFORMATION) from None
        finally:
            transformer.close()
        for result, output in zip(readable, outputs):
            if type(output) is tuple:
                result.values = output
            else:
                result.step, result.message = _step_of(output), str(output)
    return results


def _first_rows(plan: RunPlan, sql: str, limit: int) -> tuple[QuerySchema, list]:
    fetched: list = []
    with plan.connector.query(plan.connector_settings, sql, timeout_seconds=plan.statement_timeout,
                              batch_size=limit, max_rows=limit) as rows:
        for batch in rows:
            fetched.extend(batch)
            if len(fetched) >= limit:
                break
    return rows.schema, fetched[:limit]


class WriteFailed(Exception):
    """The warehouse refused a batch; the run ends at Finalize with this message."""


def _step_of(failure) -> int:
    step = getattr(failure, "step", TRANSFORMATION)
    return STEP_NAMES.index(step) if isinstance(step, str) else step


def _message(exc: Exception) -> str:
    return getattr(exc, "message", None) or str(exc) or exc.__class__.__name__
