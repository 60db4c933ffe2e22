"""The PostgreSQL warehouse (production)."""
import queue
import re
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timezone

import psycopg2
import psycopg2.errors
from psycopg2 import sql

from pipelines.connectors import ConnectorUnavailable, InvalidSettings
from pipelines.connectors.base import NO_FILE
from pipelines.connectors.network import pin_address
from pipelines.errors import ServiceUnavailable, Unprocessable
from pipelines.types import Type

from .. import changes
from ..columns import postgres_type, profile_columns, quote_identifier
from ..writer import CopyEncoder, IdentityWriter, check_column_name, copy_escape, dedupe
from .base import HOSTING, WarehouseBackend, identity_item, invalid_settings

_SCHEMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _text(settings: dict, key: str, low: int, high: int, *, unit: str = "bytes") -> str:
    value = settings.get(key)
    if not isinstance(value, str):
        raise invalid_settings(f"{key} must be a string")
    size = len(value.encode()) if unit == "bytes" else len(value)
    if not low <= size <= high:
        if unit == "bytes":
            raise invalid_settings(f"{key} length in bytes must be in range [{low},{high}]")
        raise invalid_settings(f"{key} must be no longer than {high} characters")
    return value


class PostgreSQLWarehouse(WarehouseBackend):
    platform = "PostgreSQL"
    concurrent_writers = True

    @classmethod
    def validate_settings(cls, settings) -> dict:
        if not isinstance(settings, dict):
            raise invalid_settings("settings must be a JSON object")
        port = settings.get("port")
        if type(port) is not int:
            raise invalid_settings("port must be an integer")
        if not 1 <= port <= 65535:
            raise invalid_settings("port must be in range [1,65535]")
        schema = _text(settings, "schema", 1, 63)
        if not _SCHEMA_NAME.fullmatch(schema) or schema.lower().startswith("pg_"):
            raise invalid_settings(f'schema "{schema}" is not a valid schema name')
        return {
            "host": _text(settings, "host", 1, 253),
            "port": port,
            "username": _text(settings, "username", 1, 63),
            "password": _text(settings, "password", 0, 100, unit="runes"),
            "database": _text(settings, "database", 1, 63),
            "schema": schema,
        }

    def open_connection(self):
        """A new psycopg2 connection (autocommit off) whose search_path is the warehouse schema;
        the caller closes it. ServiceUnavailable, without the password, when it fails. It goes to
        the host's address checked against the allowed hosts (never the metadata database), and
        reads no ~/.pgpass."""
        if HOSTING.address_policy is None:
            raise RuntimeError("the warehouse has no address policy: the pipelines app sets it when it starts")
        s = self.settings
        try:
            address = pin_address(s["host"], s["port"], s["database"], HOSTING.address_policy())
        except InvalidSettings as exc:
            raise invalid_settings(str(exc)) from None
        except ConnectorUnavailable as exc:
            raise ServiceUnavailable(str(exc)) from None
        try:
            return psycopg2.connect(host=s["host"], hostaddr=address, port=s["port"], user=s["username"],
                                    password=s["password"], dbname=s["database"], passfile=NO_FILE,
                                    options=f"-c search_path={s['schema']}",
                                    connect_timeout=HOSTING.connect_timeout(),
                                    application_name="krenalis-warehouse")
        except psycopg2.Error as exc:
            raise ServiceUnavailable(_safe_message(exc, s["password"])) from None

    @contextmanager
    def connect(self):
        conn = self.open_connection()
        try:
            yield conn
        finally:
            conn.close()

    def initialize(self, profile_schema: Type) -> None:
        schema = self.settings["schema"]
        with self.connect() as conn:
            try:
                with conn, conn.cursor() as cur:
                    cur.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s", (schema,))
                    if cur.fetchone()[0] == 0:
                        cur.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
                    cur.execute("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                                "WHERE n.nspname = %s AND c.relkind IN ('r', 'v', 'm', 'p', 'f')", (schema,))
                    if cur.fetchone()[0]:
                        raise Unprocessable("WarehouseNotInitializable",
                                            f'data warehouse cannot be initialized: schema "{schema}" '
                                            f'of database "{self.settings["database"]}" is not empty')
                    for statement in create_statements(profile_schema) + changes.create_statements(self.platform):
                        cur.execute(statement)
            except psycopg2.Error as exc:
                raise ServiceUnavailable(_safe_message(exc, self.settings["password"])) from None

    # ----------------------------------------------------------------- identities

    def identity_writer(self, *, pipeline_id: int, connection_id: int, run_id: int,
                        columns: list[tuple[str, Type]]) -> "PostgreSQLIdentityWriter":
        return PostgreSQLIdentityWriter(self, pipeline_id=pipeline_id, connection_id=connection_id,
                                        run_id=run_id, columns=columns)

    def _run(self, work, *, readonly: bool = False):
        """work(cursor) in one transaction on a new connection; psycopg2 errors -> ServiceUnavailable."""
        with self.connect() as conn:
            try:
                if readonly:
                    conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
                with conn, conn.cursor() as cur:
                    return work(cur)
            except psycopg2.Error as exc:
                raise ServiceUnavailable(_safe_message(exc, self.settings["password"])) from None

    def list_identities(self, *, connection_id: int | None = None, pipeline_ids: list[int] | None = None,
                        first: int = 0, limit: int = 100) -> tuple[list[dict], int]:
        conditions, params = [], []
        if connection_id is not None:
            conditions.append("_connection = %s")
            params.append(int(connection_id))
        if pipeline_ids is not None:
            if not pipeline_ids:
                return [], 0
            conditions.append("_pipeline = ANY(%s)")
            params.append([int(p) for p in pipeline_ids])
        where = " WHERE " + " AND ".join(conditions) if conditions else ""

        def work(cur):
            cur.execute(f"SELECT count(*) FROM krenalis_identities{where}", params)
            total = cur.fetchone()[0]
            items = []
            if total > first:
                cur.execute("SELECT _identity_id, _connection, _pipeline, _updated_at FROM krenalis_identities"
                            f"{where} ORDER BY _updated_at DESC, _pk LIMIT %s OFFSET %s",
                            [*params, int(limit), int(first)])
                items = [identity_item(*row) for row in cur.fetchall()]
            return items, total

        return self._run(work, readonly=True)

    def _run_logged(self, work):
        """`_run` on a warehouse whose change log exists (made before it existed: created first)."""
        with self.connect() as conn:
            try:
                ensure_change_log(conn)
                with conn, conn.cursor() as cur:
                    return work(cur)
            except psycopg2.Error as exc:
                raise ServiceUnavailable(_safe_message(exc, self.settings["password"])) from None

    def _delete_identities(self, column: str, value: int) -> int:
        def work(cur):
            cur.execute(changes.delete_statements(self.platform, f"{column} = %s")[0], (int(value),))
            return cur.rowcount

        return self._run_logged(work)

    def delete_pipeline_identities(self, pipeline_id: int) -> int:
        return self._delete_identities("_pipeline", pipeline_id)

    def delete_connection_identities(self, connection_id: int) -> int:
        return self._delete_identities("_connection", connection_id)

    # ----------------------------------------------------------------- identity resolution, profiles

    def identity_pipelines(self) -> set[int]:
        def work(cur):
            # A loose index scan over krenalis_identities_key: one index probe per pipeline.
            cur.execute("WITH RECURSIVE p AS (SELECT min(_pipeline) AS v FROM krenalis_identities UNION ALL "
                        "SELECT (SELECT min(_pipeline) FROM krenalis_identities WHERE _pipeline > p.v) FROM p "
                        "WHERE p.v IS NOT NULL) SELECT v FROM p WHERE v IS NOT NULL")
            return {row[0] for row in cur.fetchall()}

        return self._run(work, readonly=True)

    def unset_identity_columns(self, pipeline_id: int, column_names: list[str]) -> int:
        names = [quote_identifier(check_column_name(name)) for name in dict.fromkeys(column_names)]
        if not names:
            return 0

        def work(cur):
            cur.execute(unset_sql(names), (int(pipeline_id),))
            return cur.fetchone()[0]

        return self._run_logged(work)

    def resolve_identities(self, spec, *, full: bool = False):
        from ..resolution import PostgreSQLResolution

        with self.connect() as conn:
            try:
                ensure_change_log(conn)
                return PostgreSQLResolution(conn, spec).run(full=full)
            except psycopg2.Error as exc:
                raise ServiceUnavailable(_safe_message(exc, self.settings["password"])) from None

    def alter_profile_schema(self, statements: list[str]) -> None:
        def work(cur):
            cur.execute("SET LOCAL lock_timeout = '60s'")
            cur.execute(changes.RECORD_ANYTHING)    # the next resolution is a full one
            for statement in statements:
                cur.execute(statement)

        if statements:
            self._run_logged(work)

    def query_profiles(self, query) -> tuple[list[dict], int]:
        from ..profile_queries import order_sql, postgresql_select, where_sql

        where, params = where_sql(query, self.platform)
        select = "".join(", " + postgresql_select(c) for c in query.columns)

        def work(cur):
            cur.execute(f"SELECT count(*) FROM profiles{where}", params)
            total = cur.fetchone()[0]
            if total <= query.first:
                return [], total
            cur.execute(f"SELECT _kpid, _updated_at{select} FROM profiles{where}{order_sql(query, self.platform)} "
                        "LIMIT %s OFFSET %s", [*params, int(query.limit), int(query.first)])
            return [self._profile_item(row, query.columns) for row in cur.fetchall()], total

        return self._run(work, readonly=True)

    def get_profile(self, kpid: str, columns) -> dict | None:
        from ..profile_queries import postgresql_select

        select = "".join(", " + postgresql_select(c) for c in columns)

        def work(cur):
            cur.execute(f"SELECT _kpid, _updated_at{select} FROM profiles WHERE _kpid = %s", (kpid,))
            row = cur.fetchone()
            return None if row is None else self._profile_item(row, columns)

        return self._run(work, readonly=True)

    @staticmethod
    def _profile_item(row, columns) -> dict:
        from ..profile_queries import postgresql_value

        return {"kpid": str(row[0]), "updatedAt": row[1].replace(tzinfo=timezone.utc),
                "values": {c.name: postgresql_value(v, c.type) for c, v in zip(columns, row[2:])}}

    def profile_identities(self, kpid: str, *, pipeline_ids: list[int], first: int = 0,
                           limit: int = 100) -> tuple[list[dict], int] | None:
        def work(cur):
            cur.execute("SELECT _identities FROM krenalis_profiles WHERE _kpid = %s", (kpid,))
            row = cur.fetchone()
            if row is None:
                return None
            condition = "_pk = ANY(%s) AND _pipeline = ANY(%s)"
            params = [row[0], [int(p) for p in pipeline_ids]]
            cur.execute(f"SELECT count(*) FROM krenalis_identities WHERE {condition}", params)
            total = cur.fetchone()[0]
            items = []
            if total > first:
                cur.execute("SELECT _identity_id, _connection, _pipeline, _updated_at FROM krenalis_identities "
                            f"WHERE {condition} ORDER BY _updated_at DESC, _pk LIMIT %s OFFSET %s",
                            [*params, int(limit), int(first)])
                items = [identity_item(*r) for r in cur.fetchall()]
            return items, total

        return self._run(work, readonly=True)


class _Payload:
    """A file for copy_expert that hands the whole payload over in one read."""

    def __init__(self, data: bytes):
        self.data = data

    def read(self, size: int = -1) -> bytes:
        data, self.data = self.data, b""
        return data


def _timestamp_of(expression: str) -> str:
    """SQL turning epoch microseconds (bigint) into an exact timestamp (no float rounding)."""
    return (f"(timestamp '1970-01-01' + (({expression} / 1000000) * interval '1 second' "
            f"+ ({expression} % 1000000) * interval '1 microsecond'))")


_BATCH_TABLE = "pg_temp.krenalis_identities_batch"
_KEEP_CHUNK = 10000
# A staged full run (stage_full_run): its rows, the user IDs it keeps, and at the end the difference.
_STAGE_TABLE = "pg_temp.krenalis_identities_stage"
_KEPT_TABLE = "pg_temp.krenalis_identities_kept"
_DIFF_TABLE = "pg_temp.krenalis_identities_diff"
# A first import into an empty warehouse (_begin_load): its table, + the run's ID.
_LOAD_PREFIX = "krenalis_identities_load_"
_LOAD_SEQUENCE = "pg_temp.krenalis_identities_load_pk"
# A load moves its batches from the batch table into its table this many rows at a time: each move
# (an INSERT and a TRUNCATE, which inside the load's transaction keeps every file it drops) costs
# about 9 ms, 1.8 s of a 1M-row first import in batches of 5,000 (staged_full_run.py). 40,000 rows
# still fit in the session's temp_buffers (8 MB by default).
_LOAD_MOVE_ROWS = 40_000


@dataclass(frozen=True)
class _Shape:
    """What a loaded table must share with krenalis_identities to replace it."""
    columns: tuple      # (name, type, not null, default, identity) in order
    options: tuple      # reloptions (fillfactor)
    indexes: tuple      # (name, definition, constraint name, constraint kind) by name


def _table_shape(cur) -> _Shape:
    """krenalis_identities as the catalog describes it (no lock taken); a column's type names its
    collation when it is not its type's default (the user IDs' bytewise "C")."""
    cur.execute("SELECT a.attname, format_type(a.atttypid, a.atttypmod) || coalesce((SELECT ' COLLATE ' "
                "|| quote_ident(n.nspname) || '.' || quote_ident(c.collname) FROM pg_collation c JOIN pg_namespace n "
                "ON n.oid = c.collnamespace JOIN pg_type t ON t.oid = a.atttypid WHERE c.oid = a.attcollation "
                "AND a.attcollation <> t.typcollation), ''), a.attnotnull, "
                "CASE WHEN a.attidentity = '' THEN pg_get_expr(d.adbin, d.adrelid) END, a.attidentity "
                "FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
                "WHERE a.attrelid = 'krenalis_identities'::regclass AND a.attnum > 0 AND NOT a.attisdropped "
                "ORDER BY a.attnum")
    columns = tuple(cur.fetchall())
    cur.execute("SELECT coalesce(reloptions, '{}') FROM pg_class WHERE oid = 'krenalis_identities'::regclass")
    options = tuple(cur.fetchone()[0])
    cur.execute("SELECT c.relname, pg_get_indexdef(i.indexrelid), con.conname, con.contype FROM pg_index i "
                "JOIN pg_class c ON c.oid = i.indexrelid LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid "
                "AND con.conrelid = i.indrelid WHERE i.indrelid = 'krenalis_identities'::regclass ORDER BY c.relname")
    return _Shape(columns, options, tuple(cur.fetchall()))


@dataclass
class _Load:
    table: str
    shape: _Shape
    sequence: str       # of krenalis_identities._pk
    position: tuple     # its (last_value, is_called) before the load
    insert_sql: str
    rows: int = 0       # loaded: moved into the table, or waiting in the batch table
    waiting: int = 0    # of them, in the batch table
    lost: bool = False

    def move(self, cur) -> None:
        """The rows waiting in the batch table go into the load's table (in the order they came,
        so that the last row of a user ID gets the greatest key), and the batch table is emptied."""
        if self.waiting:
            cur.execute(self.insert_sql)
            cur.execute(f"TRUNCATE {_BATCH_TABLE}")
            self.waiting = 0


class _Behind:
    """The SQL of a full run's batches on a thread of its own, one batch at a time and in order, so
    that the caller encodes the next batch while the warehouse takes this one (1M rows: the
    writer's thread spent a fifth of its time encoding while the warehouse waited). A job's error
    is raised by the next `submit` or by `wait`, and the jobs after it are skipped."""

    def __init__(self):
        self._jobs: queue.Queue = queue.Queue(maxsize=1)
        self._error: BaseException | None = None
        self.thread = threading.Thread(target=self._loop, name="krenalis-writer-sql", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                if job is None:
                    return
                if self._error is None:
                    job()
            except BaseException as exc:  # noqa: B036 - handed to the caller's thread
                self._error = exc
            finally:
                self._jobs.task_done()

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def submit(self, job) -> None:
        self._raise()
        self._jobs.put(job)

    def wait(self) -> None:
        """Returns once every job submitted has ended; raises the first error among them."""
        self._jobs.join()
        self._raise()

    def stop(self) -> None:
        """Ends the thread once the jobs submitted have ended (their errors are dropped)."""
        self._jobs.join()
        self._jobs.put(None)
        self.thread.join()


class PostgreSQLIdentityWriter(IdentityWriter):
    """One connection per writer. A write is a COPY into a temporary table (created once per
    connection, emptied at each commit) and one INSERT ... ON CONFLICT DO UPDATE, then COMMIT.
    The same statement records the identities it wrote in the change log, up to the writer's
    budget (`changes.incremental_limit`); past it, each write records "anything changed" instead.

    Batches commit without waiting for the WAL to reach the disk (synchronous_commit off: a crash
    of the server can lose the last fraction of a second, never corrupt); `flush` then commits a
    transaction that wrote WAL (a logical message) synchronously, which waits for all the WAL
    before it, so a run ends on durable data. Where that function may not be executed, every
    commit stays synchronous.

    After a connection failure the next call reconnects (and recreates the temporary table),
    so a caller may simply retry; except during a staged full run, whose rows were in the lost
    session: that run fails, and the identities stay as they were.

    A full run into a pipeline that has identities is staged (`stage_full_run`): its batches are
    only COPYed into a temporary table of the writer's session (no index, no WAL), and
    `finish_full_run` compares it with the pipeline's identities in one join and writes only the
    difference, in one transaction: readers see the old identities or the new ones, never a mix;
    a worker killed before leaves them untouched, its temporary tables gone with its session.

    A full run into a warehouse whose `krenalis_identities` is empty (a first import) is loaded
    instead (`_load`): one transaction, open from `stage_full_run` to `finish_full_run`, creates a
    new table like krenalis_identities (no index), inserts the batches into it (`_LOAD_MOVE_ROWS` at
    a time; a full run's batches are written behind, `_Behind`), builds its indexes
    at the end (sorting once is several times cheaper than maintaining them row by row: 1M rows,
    3.8 s against 9.5 s for the same INSERT into the indexed table), and then swaps it in for the
    empty one. Nobody sees the new table before that commit, and a worker killed before leaves
    nothing: the transaction and its table die with the session. If the table is no longer empty
    at the swap (another import meanwhile), or cannot be locked, the loaded rows are upserted into
    it instead, in the same transaction.
    """

    def __init__(self, backend: PostgreSQLWarehouse, **kwargs):
        super().__init__(**kwargs)
        self._backend = backend
        self._encoder = CopyEncoder([t for _, t in self.columns])
        names = [quote_identifier(name) for name, _ in self.columns]
        kinds = [t.kind for _, t in self.columns]
        temp_columns = "".join(
            f", {name} {'bigint' if t.kind == 'datetime' else 'text' if t.kind == 'string' else postgres_type(t)}"
            for name, (_, t) in zip(names, self.columns))
        self._create_sql = (f"CREATE TEMPORARY TABLE IF NOT EXISTS {_BATCH_TABLE} (_identity_id text NOT NULL, "
                            f"_updated_at bigint NOT NULL{temp_columns}) ON COMMIT DELETE ROWS")
        self._copy_sql = f"COPY {_BATCH_TABLE} FROM STDIN"
        selected = "".join(f", {_timestamp_of(name) if kind == 'datetime' else name}"
                           for name, kind in zip(names, kinds))
        updates = "".join(f", {name} = EXCLUDED.{name}" for name in names)
        self._insert_sql = (
            "INSERT INTO krenalis_identities (_pipeline, _is_anonymous, _identity_id, _connection, _updated_at, "
            f"_run{''.join(', ' + name for name in names)}) "
            f"SELECT {self.pipeline_id}, false, _identity_id, {self.connection_id}, "
            f"{_timestamp_of('_updated_at')}, {self.run_id}{selected} FROM {_BATCH_TABLE} "
            "ON CONFLICT (_pipeline, _identity_id, _is_anonymous) DO UPDATE SET "
            f"_updated_at = EXCLUDED._updated_at, _run = EXCLUDED._run{updates}")
        self._logged_insert_sql = (f"WITH w AS ({self._insert_sql} RETURNING _pk, ctid) "
                                   f"INSERT INTO {changes.CHANGES} (pk, tid) SELECT _pk, ctid FROM w")
        self._names, self._kinds = names, kinds
        # A staged run's rows are COPYed as they come (as in the batch table: datetimes in epoch
        # microseconds), numbered so that the last of a user ID wins; converted in the join.
        self._stage_create_sql = (f"CREATE TEMPORARY TABLE {_STAGE_TABLE} (_n bigint GENERATED ALWAYS AS IDENTITY, "
                                  f"_identity_id text NOT NULL, _updated_at bigint NOT NULL{temp_columns})")
        self._stage_copy_sql = (f"COPY {_STAGE_TABLE} (_identity_id, _updated_at{''.join(', ' + n for n in names)}) "
                                "FROM STDIN")
        self._stage_values = (f"_identity_id, {_timestamp_of('_updated_at')} AS _updated_at"
                              + "".join(f", {_timestamp_of(name)} AS {name}" if kind == "datetime" else f", {name}"
                                        for name, kind in zip(names, kinds)))
        self._staged = False
        self._load = None           # a first import into an empty warehouse: _Load
        self._behind: _Behind | None = None     # a full run's batches being written
        self._insert_columns = ("_pipeline, _is_anonymous, _identity_id, _connection, _updated_at, "
                                f"_run{''.join(', ' + name for name in names)}")
        self._load_select = (f"{self.pipeline_id}, false, _identity_id, {self.connection_id}, "
                             f"{_timestamp_of('_updated_at')}, {self.run_id}{selected}")
        self._updates = updates
        self._conn = None
        self._deferred_commits = False
        self._log_budget = None     # identities this writer may still record one by one
        self._connection()

    def _connection(self):
        if self.closed:
            raise RuntimeError("the identity writer is closed")
        if self._behind is not None and threading.current_thread() is not self._behind.thread:
            self._behind.wait()     # the batches still behind first (their error raised here)
        if self._load is not None and self._load.lost:
            raise ServiceUnavailable("data warehouse is unavailable: the connection was lost during a full run, "
                                     "whose loaded rows went with it")
        if self._conn is None and self._staged:
            raise ServiceUnavailable("data warehouse is unavailable: the connection was lost during a full run, "
                                     "whose staged rows went with it")
        if self._conn is None:
            conn = self._backend.open_connection()
            try:
                conn.set_client_encoding("UTF8")
                with conn.cursor() as cur:
                    # JIT compilation only slows down these short, wide statements.
                    cur.execute("SET jit = off")
                    cur.execute("SELECT has_function_privilege('pg_logical_emit_message(boolean, text, text)', "
                                "'EXECUTE')")
                    self._deferred_commits = cur.fetchone()[0]
                    if self._deferred_commits:
                        cur.execute("SET synchronous_commit = off")
                    cur.execute(self._create_sql)
                conn.commit()
                ensure_change_log(conn)
                if self._log_budget is None:
                    with conn.cursor() as cur:
                        cur.execute(f"SELECT identities FROM {changes.STATE}")
                        row = cur.fetchone()
                    self._log_budget = changes.incremental_limit(row[0] if row else 0)
                conn.commit()
            except psycopg2.Error as exc:
                conn.close()
                raise ServiceUnavailable(_safe_message(exc, self._backend.settings["password"])) from None
            self._conn = conn
        return self._conn

    def _transaction(self, work):
        if self._load is not None:
            return self._in_load(work)
        conn = self._connection()
        try:
            with conn.cursor() as cur:
                result = work(cur)
            conn.commit()
            return result
        except BaseException as exc:
            self._abort(conn)
            if isinstance(exc, psycopg2.Error):
                raise ServiceUnavailable(_safe_message(exc, self._backend.settings["password"])) from None
            raise

    def _in_load(self, work):
        """work(cursor) inside the load's transaction, not committed; an error ends the load (the
        transaction is rolled back, its table gone) and the run with it."""
        conn = self._connection()
        try:
            with conn.cursor() as cur:
                return work(cur)
        except BaseException as exc:
            self._load.lost = True
            self._abort(conn)
            if isinstance(exc, psycopg2.Error):
                raise ServiceUnavailable(_safe_message(exc, self._backend.settings["password"])) from None
            raise

    def _begin_load(self, sequence: str, position: tuple) -> None:
        """Opens the load's transaction and creates its table: the columns of krenalis_identities
        (read from the catalog, which locks nothing: a load holds no lock on it until the swap) and
        no index; `_pk` drawn from a sequence of the session that continues krenalis_identities'
        one (at `position`: its last value, and whether it was used), so that no key repeats one
        used before. If that one moved by the swap, the rows are added to the table instead."""
        conn = self._connection()
        table = f"{_LOAD_PREFIX}{self.run_id}"
        last_value, is_called = position
        try:
            with conn.cursor() as cur:
                shape = _table_shape(cur)
                cur.execute(f"CREATE TEMPORARY SEQUENCE {_LOAD_SEQUENCE} AS integer "
                            f"START WITH {int(last_value) + 1 if is_called else int(last_value)}")
                columns = ", ".join(f"{quote_identifier(name)} {sql_type}{' NOT NULL' if not_null else ''}"
                                    + (f" DEFAULT {default}" if default is not None else "")
                                    for name, sql_type, not_null, default, _ in shape.columns)
                options = f" WITH ({', '.join(shape.options)})" if shape.options else ""
                cur.execute(f"CREATE TABLE {table} ({columns}){options}")
        except BaseException as exc:
            self._abort(conn)
            if isinstance(exc, psycopg2.Error):
                raise ServiceUnavailable(_safe_message(exc, self._backend.settings["password"])) from None
            raise
        self._load = _Load(table=table, shape=shape, sequence=sequence, position=tuple(position),
                           insert_sql=f"INSERT INTO {table} (_pk, {self._insert_columns}) "
                                      f"SELECT nextval('{_LOAD_SEQUENCE}'), {self._load_select} FROM {_BATCH_TABLE}")

    def _finish_load(self) -> None:
        """Builds the loaded table's indexes (those of krenalis_identities), then, under an
        exclusive lock of krenalis_identities, swaps it in if it is still empty and shaped the
        same; otherwise (or if it cannot be locked soon) upserts the loaded rows into it. Then
        commits: readers see the empty table or every loaded identity."""
        load = self._load
        if load.lost:
            self._connection()  # raises
        table = load.table

        def build(cur):
            load.move(cur)
            cur.execute("SET LOCAL maintenance_work_mem = '256MB'")
            cur.execute(f"ALTER TABLE {table} ALTER COLUMN _pk ADD GENERATED ALWAYS AS IDENTITY")
            cur.execute("SAVEPOINT krenalis_indexes")
            try:
                renames = self._load_indexes(cur, load)
            except psycopg2.errors.UniqueViolation:
                # The same user ID in two batches: the later row (the greater _pk) wins.
                cur.execute("ROLLBACK TO SAVEPOINT krenalis_indexes")
                cur.execute(f"DELETE FROM {table} l USING (SELECT _identity_id, max(_pk) AS last FROM {table} "
                            "GROUP BY _identity_id HAVING count(*) > 1) d "
                            "WHERE l._identity_id = d._identity_id AND l._pk < d.last")
                load.rows -= cur.rowcount
                renames = self._load_indexes(cur, load)
            written = load.rows
            # The change log first, as every writer locks it before any identity.
            cur.execute("SAVEPOINT krenalis_swap")
            try:
                cur.execute("SET LOCAL lock_timeout = '30s'")
                cur.execute(f"LOCK TABLE {changes.CHANGES} IN ROW EXCLUSIVE MODE")
                cur.execute("LOCK TABLE krenalis_identities IN ACCESS EXCLUSIVE MODE")
                cur.execute("SELECT EXISTS (SELECT 1 FROM krenalis_identities), "
                            "pg_get_serial_sequence('krenalis_identities', '_pk')")
                filled, sequence = cur.fetchone()
                position = None
                if not filled and sequence == load.sequence:
                    cur.execute(f"SELECT last_value, is_called FROM {sequence}")
                    position = cur.fetchone()
                if position == load.position and _table_shape(cur) == load.shape:
                    cur.execute(f"SELECT last_value, is_called FROM {_LOAD_SEQUENCE}")
                    last_value, is_called = cur.fetchone()
                    cur.execute(f"SELECT pg_get_serial_sequence('{table}', '_pk')")
                    new_sequence = cur.fetchone()[0]
                    if is_called:
                        cur.execute("SELECT setval(%s, %s, true)", (new_sequence, last_value))
                    else:   # nothing loaded: the sequence goes on where it was
                        cur.execute("SELECT setval(%s, %s, %s)", (new_sequence, *load.position))
                    cur.execute("DROP TABLE krenalis_identities")
                    cur.execute(f"ALTER TABLE {table} RENAME TO krenalis_identities")
                    cur.execute(f"ALTER SEQUENCE {new_sequence} RENAME TO {sequence.rpartition('.')[2]}")
                    for statement in renames:
                        cur.execute(statement)
                    if written <= self._log_budget:
                        cur.execute(f"INSERT INTO {changes.CHANGES} (pk, tid) "
                                    "SELECT _pk, ctid FROM krenalis_identities")
                    else:
                        cur.execute(changes.RECORD_ANYTHING)
                    cur.execute(f"DROP SEQUENCE {_LOAD_SEQUENCE}")
                    return written
            except (psycopg2.errors.LockNotAvailable, psycopg2.errors.DeadlockDetected):
                pass
            cur.execute("ROLLBACK TO SAVEPOINT krenalis_swap")
            cur.execute(f"LOCK TABLE {changes.CHANGES} IN ROW EXCLUSIVE MODE")
            names = self._insert_columns
            upsert = (f"INSERT INTO krenalis_identities ({names}) SELECT {names} FROM {table} "
                      "ON CONFLICT (_pipeline, _identity_id, _is_anonymous) DO UPDATE SET "
                      f"_updated_at = EXCLUDED._updated_at, _run = EXCLUDED._run{self._updates}")
            if written <= self._log_budget:
                cur.execute(f"WITH w AS ({upsert} RETURNING _pk, ctid) "
                            f"INSERT INTO {changes.CHANGES} (pk, tid) SELECT _pk, ctid FROM w")
            else:
                cur.execute(changes.RECORD_ANYTHING)
                cur.execute(upsert)
            cur.execute(f"DROP TABLE {table}")
            cur.execute(f"DROP SEQUENCE {_LOAD_SEQUENCE}")
            return written

        written = self._in_load(build)
        conn = self._conn
        try:
            conn.commit()
        except BaseException as exc:
            load.lost = True
            self._abort(conn)
            if isinstance(exc, psycopg2.Error):
                raise ServiceUnavailable(_safe_message(exc, self._backend.settings["password"])) from None
            raise
        self._load = None
        self._log_budget = self._log_budget - written if written <= self._log_budget else 0

    def _load_indexes(self, cur, load: "_Load") -> list[str]:
        """Creates on the load's table the indexes (and key constraints) krenalis_identities has;
        returns the statements that give them their names once it is krenalis_identities."""
        table, suffix = load.table, f"_l{self.run_id}"
        renames = []
        for name, definition, constraint, kind in load.shape.indexes:
            temporary = name[:63 - len(suffix)] + suffix
            definition = re.sub(rf"^CREATE (UNIQUE )?INDEX {re.escape(name)} ON (ONLY )?(\S+\.)?krenalis_identities ",
                                rf"CREATE \g<1>INDEX {temporary} ON {table} ", definition)
            cur.execute(definition)
            if constraint and kind in ("p", "u"):
                key = "PRIMARY KEY" if kind == "p" else "UNIQUE"
                temporary_constraint = constraint[:63 - len(suffix)] + suffix
                cur.execute(f"ALTER TABLE {table} ADD CONSTRAINT {temporary_constraint} {key} USING INDEX {temporary}")
                renames.append(f"ALTER TABLE krenalis_identities RENAME CONSTRAINT {temporary_constraint} "
                               f"TO {constraint}")
                if constraint != name:
                    renames.append(f"ALTER INDEX {constraint} RENAME TO {name}")
            else:
                renames.append(f"ALTER INDEX {temporary} RENAME TO {name}")
        return renames

    def _behind_submit(self, job) -> None:
        if self._behind is None:
            self._behind = _Behind()
        self._behind.submit(job)

    def _abort(self, conn) -> None:
        try:
            conn.rollback()
        except psycopg2.Error:
            pass
        if conn.closed:
            self._conn = None

    def write(self, rows: list[tuple]) -> int:
        """Writes `rows`; during a full run (a load or a staged run) the batch's SQL runs behind
        (`_Behind`), its error raised by the next call."""
        rows = dedupe(rows)
        if not rows:
            return 0
        payload = _Payload(self._encoder.encode(rows))
        if self._load is not None:
            load = self._load

            def load_batch(cur):
                cur.copy_expert(self._copy_sql, payload, size=1 << 20)
                load.rows += len(rows)
                load.waiting += len(rows)
                if load.waiting >= _LOAD_MOVE_ROWS:
                    load.move(cur)

            self._behind_submit(lambda: self._in_load(load_batch))
            return len(rows)
        if self._staged:
            self._behind_submit(lambda: self._transaction(
                lambda cur: cur.copy_expert(self._stage_copy_sql, payload, size=1 << 20)))
            return len(rows)
        one_by_one = len(rows) <= self._log_budget

        def work(cur):
            cur.copy_expert(self._copy_sql, payload, size=1 << 20)
            if one_by_one:
                cur.execute(self._logged_insert_sql)
            else:
                cur.execute(changes.RECORD_ANYTHING)    # first: the change log is locked before any identity
                cur.execute(self._insert_sql)

        self._transaction(work)
        self._log_budget = self._log_budget - len(rows) if one_by_one else 0
        return len(rows)

    def keep(self, identity_ids: list[str]) -> None:
        ids = list(dict.fromkeys(identity_ids))
        if not ids or self._load is not None:   # a load: the pipeline has no identity to keep
            return
        if self._staged:
            payload = _Payload("".join(copy_escape(i) + "\n" for i in ids).encode("utf-8"))
            self._transaction(lambda cur: cur.copy_expert(f"COPY {_KEPT_TABLE} FROM STDIN", payload))
            return

        def work(cur):
            for start in range(0, len(ids), _KEEP_CHUNK):
                cur.execute("UPDATE krenalis_identities SET _run = %s WHERE _pipeline = %s AND _is_anonymous = false "
                            "AND _identity_id = ANY(%s) AND _run IS DISTINCT FROM %s",
                            (self.run_id, self.pipeline_id, ids[start:start + _KEEP_CHUNK], self.run_id))

        self._transaction(work)

    def unset(self, column_names: list[str]) -> None:
        names = [quote_identifier(check_column_name(name)) for name in dict.fromkeys(column_names)]
        if not names:
            return
        self._transaction(lambda cur: cur.execute(unset_sql(names), (self.pipeline_id,)))

    def purge(self) -> int:
        def work(cur):
            cur.execute(changes.delete_statements("PostgreSQL", "_pipeline = %s AND _run IS DISTINCT FROM %s")[0],
                        (self.pipeline_id, self.run_id))
            return cur.rowcount

        return self._transaction(work)

    def has_identities(self) -> bool:
        def work(cur):
            cur.execute("SELECT EXISTS (SELECT 1 FROM krenalis_identities WHERE _pipeline = %s)", (self.pipeline_id,))
            return cur.fetchone()[0]

        return self._transaction(work)

    def stage_full_run(self) -> bool:
        def probe(cur):
            cur.execute("SELECT EXISTS (SELECT 1 FROM krenalis_identities WHERE _pipeline = %s), "
                        "EXISTS (SELECT 1 FROM krenalis_identities), "
                        "pg_get_serial_sequence('krenalis_identities', '_pk')", (self.pipeline_id,))
            mine, any_identity, sequence = cur.fetchone()
            if mine or any_identity:
                return mine, any_identity, sequence, None
            # Read here, not in the load's transaction: a sequence once read stays locked until the
            # transaction ends, and the load must not hold krenalis_identities' own.
            cur.execute(f"SELECT last_value, is_called FROM {sequence}")
            return mine, any_identity, sequence, cur.fetchone()

        mine, any_identity, sequence, position = self._transaction(probe)
        if not mine:
            if any_identity:
                return False    # a first import beside other pipelines' identities: written directly
            self._begin_load(sequence, position)
            return True

        def work(cur):
            cur.execute(f"DROP TABLE IF EXISTS {_STAGE_TABLE}, {_KEPT_TABLE}")
            cur.execute(self._stage_create_sql)
            cur.execute(f"CREATE TEMPORARY TABLE {_KEPT_TABLE} (_identity_id text NOT NULL)")

        self._transaction(work)
        self._staged = True
        return True

    def finish_full_run(self, *, purge: bool) -> int:
        if self._load is not None:
            self._finish_load()
            return 0
        if not self._staged:
            raise RuntimeError("finish_full_run without stage_full_run")
        names = self._names
        old = ", ".join(["i._updated_at"] + [f"i.{n}" for n in names])
        new = ", ".join(["s._updated_at"] + [f"s.{n}" for n in names])
        # One join of the staged rows with the pipeline's identities: what differs (so the writes
        # below read this small table only).
        diff_sql = (
            f"CREATE TEMPORARY TABLE {_DIFF_TABLE} ON COMMIT DROP AS SELECT i._pk AS _old_pk, "
            f"i._identity_id AS _old_id, s._identity_id, s._updated_at{''.join(', s.' + n for n in names)}"
            f" FROM (SELECT * FROM krenalis_identities WHERE _pipeline = {self.pipeline_id} AND NOT _is_anonymous) i "
            f"FULL JOIN (SELECT {self._stage_values} FROM {_STAGE_TABLE}) s ON s._identity_id = i._identity_id "
            f"WHERE i._pk IS NULL OR s._identity_id IS NULL OR ROW({old}) IS DISTINCT FROM ROW({new})")
        update_sql = (f"UPDATE krenalis_identities i SET _updated_at = d._updated_at, _run = {self.run_id}"
                      + "".join(f", {n} = d.{n}" for n in names)
                      + f" FROM {_DIFF_TABLE} d WHERE d._old_pk IS NOT NULL AND d._identity_id IS NOT NULL "
                      "AND i._pk = d._old_pk RETURNING i._pk, i.ctid")
        insert_sql = ("INSERT INTO krenalis_identities (_pipeline, _is_anonymous, _identity_id, _connection, "
                      f"_updated_at, _run{''.join(', ' + n for n in names)}) "
                      f"SELECT {self.pipeline_id}, false, _identity_id, {self.connection_id}, _updated_at, "
                      f"{self.run_id}{''.join(', ' + n for n in names)} FROM {_DIFF_TABLE} "
                      "WHERE _old_pk IS NULL RETURNING _pk, ctid")
        purge_where = (f"_pk IN (SELECT d._old_pk FROM {_DIFF_TABLE} d WHERE d._identity_id IS NULL AND NOT EXISTS "
                       f"(SELECT FROM {_KEPT_TABLE} k WHERE k._identity_id = d._old_id))")

        def work(cur):
            # Hashes of the whole pipeline in memory, not in batches on disk.
            cur.execute("SET LOCAL work_mem = '256MB'")
            # A user ID staged twice (in two batches): its last row wins. A unique index (bytewise:
            # only equality matters) finds out fastest: 1M rows, 0.5 s against 0.9 s for a hash.
            cur.execute("SAVEPOINT krenalis_unique")
            try:
                cur.execute(f'CREATE UNIQUE INDEX ON {_STAGE_TABLE} (_identity_id COLLATE "C")')
            except psycopg2.errors.UniqueViolation:
                cur.execute("ROLLBACK TO SAVEPOINT krenalis_unique")
                cur.execute(f"DELETE FROM {_STAGE_TABLE} s USING (SELECT _identity_id, max(_n) AS last FROM "
                            f"{_STAGE_TABLE} GROUP BY _identity_id HAVING count(*) > 1) d "
                            "WHERE s._identity_id = d._identity_id AND s._n < d.last")
            # The change log is locked before any identity, as by every writer (no deadlock with a
            # resolution publishing).
            cur.execute(f"LOCK TABLE {changes.CHANGES} IN ROW EXCLUSIVE MODE")
            cur.execute(diff_sql)
            cur.execute(f"SELECT count(*) FROM {_DIFF_TABLE} WHERE _identity_id IS NOT NULL")
            written = cur.fetchone()[0]
            if written <= self._log_budget:
                for statement in (update_sql, insert_sql):
                    cur.execute(f"WITH w AS ({statement}) INSERT INTO {changes.CHANGES} (pk, tid) SELECT _pk, ctid FROM w")
            else:
                cur.execute(changes.RECORD_ANYTHING)
                cur.execute(update_sql)
                cur.execute(insert_sql)
            purged = 0
            if purge:
                cur.execute(changes.delete_statements("PostgreSQL", purge_where)[0])
                purged = cur.rowcount
            cur.execute(f"DROP TABLE {_STAGE_TABLE}, {_KEPT_TABLE}")
            return written, purged

        written, purged = self._transaction(work)
        self._staged = False
        self._log_budget = self._log_budget - written if written <= self._log_budget else 0
        return purged

    def flush(self) -> None:
        def work(cur):
            if self._deferred_commits:
                # A commit waits for the disk only when its transaction wrote WAL: this message does.
                cur.execute("SET LOCAL synchronous_commit = on")
                cur.execute("SELECT pg_logical_emit_message(true, 'krenalis', 'flush')")

        self._transaction(work)

    def close(self) -> None:
        if self._behind is not None:
            behind, self._behind = self._behind, None
            behind.stop()           # a batch being written ends first; its error no longer matters
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None
        self.closed = True


def create_statements(profile_schema: Type) -> list[str]:
    columns = [(c.name, postgres_type(c.type)) for c in profile_columns(profile_schema)]
    profile_ddl = "".join(f', "{name}" {sql_type}' for name, sql_type in columns)
    profile_names = "".join(f', "{name}"' for name, _ in columns)
    return [
        # fillfactor 70: room on each page for HOT updates, so that a run writing again the identities
        # of the previous one adds no index entries when no indexed column changes. User IDs compare
        # bytewise ("C", as SQLite's BINARY): the key is only ever matched for equality, and building
        # it after a load takes a third less than under a locale's collation.
        "CREATE TABLE krenalis_identities ("
        "_pk integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
        "_pipeline integer NOT NULL, "
        "_is_anonymous boolean NOT NULL DEFAULT false, "
        "_identity_id text COLLATE \"C\" NOT NULL, "
        "_connection integer NOT NULL, "
        "_anonymous_ids text[], "
        "_updated_at timestamp NOT NULL, "
        "_run integer, "
        "_kpid uuid, "
        f"_cluster integer{profile_ddl}) WITH (fillfactor = 70)",
        "CREATE UNIQUE INDEX krenalis_identities_key ON krenalis_identities (_pipeline, _identity_id, _is_anonymous)",
        "CREATE INDEX krenalis_identities_updated_at ON krenalis_identities (_updated_at)",
        "CREATE INDEX krenalis_identities_connection ON krenalis_identities (_connection)",
        f"CREATE TABLE krenalis_profiles (_kpid uuid PRIMARY KEY, _identities integer[] NOT NULL, "
        f"_updated_at timestamp NOT NULL{profile_ddl})",
        f"CREATE VIEW profiles AS SELECT _kpid, _updated_at{profile_names} FROM krenalis_profiles",
    ]


def ensure_change_log(conn) -> None:
    """Creates the change log of a warehouse made before it existed, or adds the `tid` column to one
    made before that (nothing otherwise); leaves
    the connection's transaction open when there was nothing to do."""
    with conn.cursor() as cur:
        cur.execute(f"SELECT to_regclass('{changes.STATE}') IS NOT NULL AND EXISTS (SELECT 1 FROM pg_attribute "
                    f"WHERE attrelid = to_regclass('{changes.CHANGES}') AND attname = 'tid' AND NOT attisdropped)")
        if cur.fetchone()[0]:
            return
    try:
        with conn.cursor() as cur:
            for statement in changes.create_statements("PostgreSQL"):
                cur.execute(statement)
        conn.commit()
    except psycopg2.IntegrityError:  # another session created them at the same moment
        conn.rollback()


def unset_sql(quoted_names: list[str]) -> str:
    """Sets these columns to NULL for the identities of a pipeline (the parameter), recording that
    anything may have changed when a row did; selects how many did. One statement, so that it
    locks the change log before any identity (as every writer does: no deadlock with a
    resolution publishing)."""
    assignments = ", ".join(f"{name} = NULL" for name in quoted_names)
    any_set = " OR ".join(f"{name} IS NOT NULL" for name in quoted_names)
    return (f"WITH u AS (UPDATE krenalis_identities SET {assignments} WHERE _pipeline = %s AND ({any_set}) "
            f"RETURNING 1), r AS (INSERT INTO {changes.CHANGES} (pk) SELECT NULL WHERE EXISTS (SELECT 1 FROM u)) "
            "SELECT count(*) FROM u")


def _safe_message(exc: Exception, password: str) -> str:
    """The driver's message on one line (libpq spreads it over several), without the password."""
    from pipelines.connectors.base import scrub_secrets

    message = " ".join(str(exc).split()) or exc.__class__.__name__
    return f"data warehouse is unavailable: {scrub_secrets(message, [password])}"
