"""The embedded SQLite warehouse: one file per workspace, no server needed."""
import json
import sqlite3
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from pipelines.errors import ServiceUnavailable, Unprocessable
from pipelines.types import Type

from .. import changes
from ..columns import profile_columns, quote_identifier, sqlite_type
from ..writer import IdentityWriter, check_column_name, dedupe, sqlite_row_encoder
from .base import HOSTING, WarehouseBackend, identity_item, invalid_settings


class SQLiteWarehouse(WarehouseBackend):
    platform = "SQLite"

    @classmethod
    def validate_settings(cls, settings) -> dict:
        """`{}` (a file managed by the product) or `{"path": "<file>"}`."""
        if settings is None:
            return {}
        if not isinstance(settings, dict):
            raise invalid_settings("settings must be a JSON object")
        unknown = set(settings) - {"path"}
        if unknown:
            raise invalid_settings(f'unknown setting "{sorted(unknown)[0]}"')
        path = settings.get("path")
        if path is None:
            return {}
        if not isinstance(path, str) or not 1 <= len(path) <= 1024 or "\x00" in path:
            raise invalid_settings("path must be a file path of 1 to 1024 characters")
        return {"path": path}

    @staticmethod
    def managed_path(workspace_id: int) -> str:
        return str(Path(HOSTING.sqlite_dir()) / f"workspace_{workspace_id}.sqlite3")

    @property
    def path(self) -> str:
        return self.settings["path"]

    def open_connection(self) -> sqlite3.Connection:
        """A new connection in autocommit mode (transactions are explicit), WAL journal; the caller
        closes it."""
        try:
            # A run's writer works on its own thread; its calls never overlap, so the connection
            # may move between threads.
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise ServiceUnavailable(f"data warehouse is unavailable: {exc}") from None
        try:
            conn.execute("PRAGMA journal_mode=WAL")
        except sqlite3.Error as exc:
            conn.close()
            raise ServiceUnavailable(f"data warehouse is unavailable: {exc}") from None
        return conn

    @contextmanager
    def connect(self):
        conn = self.open_connection()
        try:
            yield conn
        finally:
            conn.close()

    def initialize(self, profile_schema: Type) -> None:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        with self.connect() as conn:
            try:
                existing = conn.execute("SELECT count(*) FROM sqlite_master WHERE type IN ('table', 'view')").fetchone()[0]
                if existing:
                    raise Unprocessable("WarehouseNotInitializable",
                                        f'data warehouse cannot be initialized: "{self.path}" is not empty')
                conn.execute("BEGIN")
                for statement in create_statements(profile_schema) + changes.create_statements(self.platform):
                    conn.execute(statement)
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise ServiceUnavailable(f"data warehouse is unavailable: {exc}") from None

    # ----------------------------------------------------------------- identities

    def identity_writer(self, *, pipeline_id: int, connection_id: int, run_id: int,
                        columns: list[tuple[str, Type]]) -> "SQLiteIdentityWriter":
        return SQLiteIdentityWriter(self, pipeline_id=pipeline_id, connection_id=connection_id,
                                    run_id=run_id, columns=columns)

    def list_identities(self, *, connection_id: int | None = None, pipeline_ids: list[int] | None = None,
                        first: int = 0, limit: int = 100) -> tuple[list[dict], int]:
        conditions, params = [], []
        if connection_id is not None:
            conditions.append("_connection = ?")
            params.append(int(connection_id))
        if pipeline_ids is not None:
            if not pipeline_ids:
                return [], 0
            ids = [int(p) for p in pipeline_ids]
            conditions.append(f"_pipeline IN ({', '.join('?' * len(ids))})")
            params.extend(ids)
        where = " WHERE " + " AND ".join(conditions) if conditions else ""
        with self.connect() as conn:
            try:
                conn.execute("BEGIN")
                try:
                    total = conn.execute(f"SELECT count(*) FROM krenalis_identities{where}", params).fetchone()[0]
                    rows = []
                    if total > first:
                        rows = conn.execute("SELECT _identity_id, _connection, _pipeline, _updated_at "
                                            f"FROM krenalis_identities{where} ORDER BY _updated_at DESC, _pk "
                                            "LIMIT ? OFFSET ?", [*params, int(limit), int(first)]).fetchall()
                finally:
                    conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise ServiceUnavailable(f"data warehouse is unavailable: {exc}") from None
        return [identity_item(i, c, p, datetime.fromisoformat(u)) for i, c, p, u in rows], total

    def _write(self, work):
        """work(conn) in one write transaction, on a warehouse whose change log exists."""
        with self.connect() as conn:
            try:
                ensure_change_log(conn)
                conn.execute("BEGIN IMMEDIATE")
                try:
                    result = work(conn)
                    conn.execute("COMMIT")
                    return result
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise ServiceUnavailable(f"data warehouse is unavailable: {exc}") from None

    def _delete_identities(self, column: str, value: int) -> int:
        def work(conn):
            return [conn.execute(statement, (int(value),)).rowcount
                    for statement in changes.delete_statements(self.platform, f"{column} = ?")][-1]

        return self._write(work)

    def delete_pipeline_identities(self, pipeline_id: int) -> int:
        return self._delete_identities("_pipeline", pipeline_id)

    def delete_connection_identities(self, connection_id: int) -> int:
        return self._delete_identities("_connection", connection_id)

    # ----------------------------------------------------------------- identity resolution, profiles

    def _read(self, work):
        """work(conn) in one read transaction; sqlite3 errors -> ServiceUnavailable."""
        with self.connect() as conn:
            try:
                conn.execute("BEGIN")
                try:
                    return work(conn)
                finally:
                    conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise ServiceUnavailable(f"data warehouse is unavailable: {exc}") from None

    def identity_pipelines(self) -> set[int]:
        return self._read(lambda conn: {row[0] for row in conn.execute(
            "SELECT DISTINCT _pipeline FROM krenalis_identities").fetchall()})

    def unset_identity_columns(self, pipeline_id: int, column_names: list[str]) -> int:
        names = [quote_identifier(check_column_name(name)) for name in dict.fromkeys(column_names)]
        if not names:
            return 0
        return self._write(lambda conn: unset(conn, names, int(pipeline_id)))

    def resolve_identities(self, spec, *, full: bool = False):
        from ..resolution import SQLiteResolution

        with self.connect() as conn:
            try:
                ensure_change_log(conn)
                return SQLiteResolution(conn, spec).run(full=full)
            except sqlite3.Error as exc:
                raise ServiceUnavailable(f"data warehouse is unavailable: {exc}") from None

    def alter_profile_schema(self, statements: list[str]) -> None:
        if not statements:
            return

        def work(conn):
            for statement in statements:
                conn.execute(statement)
            conn.execute(changes.RECORD_ANYTHING)   # the next resolution is a full one

        self._write(work)

    def query_profiles(self, query) -> tuple[list[dict], int]:
        from ..profile_queries import order_sql, where_sql

        where, params = where_sql(query, self.platform)
        select = "".join(", " + quote_identifier(c.name) for c in query.columns)

        def work(conn):
            total = conn.execute(f"SELECT count(*) FROM profiles{where}", params).fetchone()[0]
            if total <= query.first:
                return [], total
            rows = conn.execute(f"SELECT _kpid, _updated_at{select} FROM profiles{where}"
                                f"{order_sql(query, self.platform)} LIMIT ? OFFSET ?",
                                [*params, int(query.limit), int(query.first)]).fetchall()
            return [self._profile_item(row, query.columns) for row in rows], total

        return self._read(work)

    def get_profile(self, kpid: str, columns) -> dict | None:
        select = "".join(", " + quote_identifier(c.name) for c in columns)

        def work(conn):
            row = conn.execute(f"SELECT _kpid, _updated_at{select} FROM profiles WHERE _kpid = ?", (kpid,)).fetchone()
            return None if row is None else self._profile_item(row, columns)

        return self._read(work)

    @staticmethod
    def _profile_item(row, columns) -> dict:
        from ..profile_queries import sqlite_value

        return {"kpid": row[0], "updatedAt": datetime.fromisoformat(row[1]).replace(tzinfo=timezone.utc),
                "values": {c.name: sqlite_value(v, c.type) for c, v in zip(columns, row[2:])}}

    def profile_identities(self, kpid: str, *, pipeline_ids: list[int], first: int = 0,
                           limit: int = 100) -> tuple[list[dict], int] | None:
        def work(conn):
            row = conn.execute("SELECT _identities FROM krenalis_profiles WHERE _kpid = ?", (kpid,)).fetchone()
            if row is None:
                return None
            ids = [int(p) for p in pipeline_ids]
            condition = (f"_pk IN (SELECT value FROM json_each(?)) AND _pipeline IN ({', '.join('?' * len(ids))})"
                         if ids else "0")
            params = [row[0], *ids] if ids else []
            total = conn.execute(f"SELECT count(*) FROM krenalis_identities WHERE {condition}", params).fetchone()[0]
            items = []
            if total > first:
                items = [identity_item(i, c, p, datetime.fromisoformat(u)) for i, c, p, u in conn.execute(
                    "SELECT _identity_id, _connection, _pipeline, _updated_at FROM krenalis_identities "
                    f"WHERE {condition} ORDER BY _updated_at DESC, _pk LIMIT ? OFFSET ?",
                    [*params, int(limit), int(first)]).fetchall()]
            return items, total

        return self._read(work)

    def destroy(self) -> None:
        if self.settings.get("managed"):
            for suffix in ("", "-wal", "-shm"):
                Path(self.path + suffix).unlink(missing_ok=True)


def ensure_change_log(conn: sqlite3.Connection) -> None:
    """Creates the change log of a warehouse made before it existed (nothing otherwise)."""
    present = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN (?, ?)",
                           (changes.CHANGES, changes.STATE)).fetchone()[0]
    if present == 2:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in changes.create_statements("SQLite"):
            conn.execute(statement)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def unset(conn: sqlite3.Connection, quoted_names: list[str], pipeline_id: int) -> int:
    """Sets these columns to NULL for the pipeline's identities (in the caller's write transaction),
    recording that anything may have changed when a row did; how many did."""
    changed = conn.execute(f"UPDATE krenalis_identities SET {', '.join(f'{n} = NULL' for n in quoted_names)} "
                           f"WHERE _pipeline = ? AND ({' OR '.join(f'{n} IS NOT NULL' for n in quoted_names)})",
                           (pipeline_id,)).rowcount
    if changed:
        conn.execute(changes.RECORD_ANYTHING)
    return changed


class SQLiteIdentityWriter(IdentityWriter):
    """One connection per writer; every call is one `BEGIN IMMEDIATE` ... `COMMIT` transaction,
    which records what it wrote in the change log (one by one up to the writer's budget,
    `changes.incremental_limit`; past it, "anything changed").

    Storage forms: datetimes 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC), dates 'YYYY-MM-DD', times
    'HH:MM:SS.ffffff', decimals, uuids and ips as text, booleans 0/1, json as its text, arrays and
    maps as JSON text. Two exceptions where SQLite has no exact storage: NaN floats are the text
    'NaN', and ints beyond int64 (uint64) are their decimal digits as a BLOB.
    """

    def __init__(self, backend: SQLiteWarehouse, **kwargs):
        super().__init__(**kwargs)
        names = [quote_identifier(name) for name, _ in self.columns]
        self._encode = sqlite_row_encoder([t for _, t in self.columns])
        self._insert_sql = (
            "INSERT INTO krenalis_identities (_pipeline, _is_anonymous, _identity_id, _connection, _updated_at, "
            f"_run{''.join(', ' + name for name in names)}) VALUES ({self.pipeline_id}, 0, ?, {self.connection_id}, "
            f"?, {self.run_id}{', ?' * len(names)}) "
            "ON CONFLICT (_pipeline, _identity_id, _is_anonymous) DO UPDATE SET "
            f"_updated_at = excluded._updated_at, _run = excluded._run"
            f"{''.join(f', {name} = excluded.{name}' for name in names)}")
        self._log_sql = (f"INSERT INTO {changes.CHANGES} (pk) SELECT _pk FROM krenalis_identities "
                         f"WHERE _pipeline = {self.pipeline_id} AND _is_anonymous = 0 "
                         "AND _identity_id IN (SELECT value FROM json_each(?))")
        self._conn = backend.open_connection()
        try:
            ensure_change_log(self._conn)
            row = self._conn.execute(f"SELECT identities FROM {changes.STATE}").fetchone()
        except sqlite3.Error as exc:
            self._conn.close()
            raise ServiceUnavailable(f"data warehouse is unavailable: {exc}") from None
        self._log_budget = changes.incremental_limit(row[0] if row else 0)

    def _transaction(self, work):
        if self.closed:
            raise RuntimeError("the identity writer is closed")
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = work(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return result
        except sqlite3.Error as exc:
            raise ServiceUnavailable(f"data warehouse is unavailable: {exc}") from None

    def write(self, rows: list[tuple]) -> int:
        rows = dedupe(rows)
        if not rows:
            return 0
        params = list(map(self._encode, rows))
        one_by_one = len(rows) <= self._log_budget

        def work(conn):
            conn.executemany(self._insert_sql, params)
            if one_by_one:
                conn.execute(self._log_sql, (json.dumps([row[0] for row in rows]),))
            else:
                conn.execute(changes.RECORD_ANYTHING)

        self._transaction(work)
        self._log_budget = self._log_budget - len(rows) if one_by_one else 0
        return len(rows)

    def keep(self, identity_ids: list[str]) -> None:
        ids = list(dict.fromkeys(identity_ids))
        if not ids:
            return
        self._transaction(lambda conn: conn.executemany(
            "UPDATE krenalis_identities SET _run = ? WHERE _pipeline = ? AND _is_anonymous = 0 "
            "AND _identity_id = ? AND _run IS NOT ?",
            [(self.run_id, self.pipeline_id, identity_id, self.run_id) for identity_id in ids]))

    def unset(self, column_names: list[str]) -> None:
        names = [quote_identifier(check_column_name(name)) for name in dict.fromkeys(column_names)]
        if not names:
            return
        self._transaction(lambda conn: unset(conn, names, self.pipeline_id))

    def purge(self) -> int:
        def work(conn):
            return [conn.execute(statement, (self.pipeline_id, self.run_id)).rowcount for statement in
                    changes.delete_statements("SQLite", "_pipeline = ? AND _run IS NOT ?")][-1]

        return self._transaction(work)

    def has_identities(self) -> bool:
        return self._transaction(lambda conn: conn.execute(
            "SELECT EXISTS (SELECT 1 FROM krenalis_identities WHERE _pipeline = ?)", (self.pipeline_id,)).fetchone()[0] == 1)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._conn.close()


def create_statements(profile_schema: Type) -> list[str]:
    columns = [(c.name, sqlite_type(c.type)) for c in profile_columns(profile_schema)]
    profile_ddl = "".join(f', "{name}" {sql_type}' for name, sql_type in columns)
    profile_names = "".join(f', "{name}"' for name, _ in columns)
    return [
        "CREATE TABLE krenalis_identities ("
        "_pk INTEGER PRIMARY KEY AUTOINCREMENT, "
        "_pipeline INTEGER NOT NULL, "
        "_is_anonymous INTEGER NOT NULL DEFAULT 0, "
        "_identity_id TEXT NOT NULL, "
        "_connection INTEGER NOT NULL, "
        "_anonymous_ids TEXT, "
        "_updated_at TEXT NOT NULL, "
        "_run INTEGER, "
        "_kpid TEXT, "
        f"_cluster INTEGER{profile_ddl})",
        "CREATE UNIQUE INDEX krenalis_identities_key ON krenalis_identities (_pipeline, _identity_id, _is_anonymous)",
        "CREATE INDEX krenalis_identities_updated_at ON krenalis_identities (_updated_at)",
        "CREATE INDEX krenalis_identities_connection ON krenalis_identities (_connection)",
        f"CREATE TABLE krenalis_profiles (_kpid TEXT PRIMARY KEY, _identities TEXT NOT NULL, "
        f"_updated_at TEXT NOT NULL{profile_ddl})",
        f"CREATE VIEW profiles AS SELECT _kpid, _updated_at{profile_names} FROM krenalis_profiles",
    ]
