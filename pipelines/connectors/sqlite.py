"""SQLite source connector: embedded, for demos.

- Settings: ``{"path": "/path/to/file.db"}``, an existing SQLite file. When the connector has an
  ``allowed_root`` (constructor argument, or the ``KRENALIS_SQLITE_ROOT`` environment variable),
  the path must resolve inside that directory: without it, any SQLite file the server can read
  (including its own metadata database) could be read through a connection.
- The file is opened with ``mode=ro``; the user statement runs under an authorizer that only
  allows reading (no ATTACH, no writes, no pragma assignments) and ``PRAGMA query_only``.
  Only one statement is accepted. The statement timeout is enforced with a progress handler and
  applies to each batch read (as PostgreSQL's statement_timeout applies to each FETCH). A
  QueryControl interrupts it with sqlite3's interrupt() (and the same progress handler).
- Column types come from the declared types of the result columns (through a temporary view and
  ``PRAGMA table_info``): INTEGER-like → int(64), REAL/FLOAT/DOUBLE → float(64), NUMERIC/DECIMAL(p,s)
  → decimal(p,s) (decimal(76,37) without precision), BOOLEAN → boolean, DATETIME/TIMESTAMP →
  datetime (ISO 8601 text, naive is UTC, or an integer Unix time), DATE → date, TIME → time,
  JSON → json, anything else (TEXT, VARCHAR(n), BLOB, expressions without a declared type) →
  string. SQLite does not enforce VARCHAR(n), so no maxLength is reported. Every column is nullable.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import secrets
import sqlite3
import time
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from urllib.parse import quote

from pipelines.types import Type

from .base import (ConnectorUnavailable, Connector, InvalidSettings, QueryControl, QueryFailed, QueryResult, build_schema,
                   bytes_to_str, get_string, make_batch_transform, one_line, require_object, to_raw_json)

IN_FLIGHT_NOTE = ("SQLite does not show its transactions in progress to another process: only the look-back "
                  "window covers late commits")

__all__ = ["SQLiteConnector"]

UTC = _dt.timezone.utc

_ALLOWED_ACTIONS = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION,
                    getattr(sqlite3, "SQLITE_RECURSIVE", 33)}


# SQLite's primary result codes of errors the statement itself causes: SQL error (syntax, unknown
# table...), write to a read-only database, too big, constraint, type mismatch, not authorized, range.
_QUERY_ERROR_CODES = frozenset({1, 8, 18, 19, 20, 23, 25})


def _query_at_fault(error: BaseException) -> bool:
    if isinstance(error, (sqlite3.ProgrammingError, sqlite3.Warning)):  # e.g. two statements
        return True
    code = getattr(error, "sqlite_errorcode", None)
    return isinstance(error, sqlite3.Error) and code is not None and code & 0xFF in _QUERY_ERROR_CODES


def _authorizer(action, arg1, arg2, database, trigger):
    if action in _ALLOWED_ACTIONS:
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_PRAGMA and arg2 is None:  # reading a pragma (pragma_table_info(...))
        return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


# --------------------------------------------------------------------------- value conversion


def _parse_datetime(value):
    if isinstance(value, str):
        try:
            parsed = _dt.datetime.fromisoformat(value.strip())
        except ValueError:
            return value
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return _dt.datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            return value
    return bytes_to_str(value)


def _parse_date(value):
    if isinstance(value, str):
        text = value.strip()
        try:
            return _dt.date.fromisoformat(text)
        except ValueError:
            parsed = _parse_datetime(text)
            return parsed.date() if isinstance(parsed, _dt.datetime) else value
    return bytes_to_str(value)


def _parse_time(value):
    if isinstance(value, str):
        try:
            parsed = _dt.time.fromisoformat(value.strip())
        except ValueError:
            return value
        if parsed.tzinfo is not None:
            offset = parsed.utcoffset() or _dt.timedelta(0)
            parsed = (_dt.datetime.combine(_dt.date(2000, 1, 2), parsed.replace(tzinfo=None)) - offset).time()
        return parsed
    return bytes_to_str(value)


def _to_float(value):
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _to_decimal(value):
    if isinstance(value, (int, str)) and not isinstance(value, bool):
        try:
            return Decimal(value.strip() if isinstance(value, str) else value)
        except InvalidOperation:
            return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return value


def _to_bool(value):
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


def _to_string(value):
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes_to_str(value)
    return str(value)


_DECIMAL_ARGS = re.compile(r"\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)")
_INTEGERS = {"INTEGER", "INT", "BIGINT", "SMALLINT", "TINYINT", "MEDIUMINT", "INT2", "INT4", "INT8",
             "UNSIGNED BIG INT"}


def column_type(declared: str | None):
    """(Type, converter) for a declared column type."""
    decl = (declared or "").strip().upper()
    base = decl.split("(", 1)[0].strip()
    if base in _INTEGERS:
        return Type(kind="int", bit_size=64), None
    if base in ("REAL", "FLOAT", "DOUBLE", "DOUBLE PRECISION"):
        return Type(kind="float", bit_size=64), _to_float
    if base in ("NUMERIC", "DECIMAL"):
        match = _DECIMAL_ARGS.search(decl)
        if match:
            precision, scale = int(match.group(1)), int(match.group(2) or 0)
            if 1 <= precision <= 76 and scale <= min(precision, 37):
                return Type(kind="decimal", precision=precision, scale=scale), _to_decimal
        return Type(kind="decimal", precision=76, scale=37), _to_decimal
    if base in ("BOOLEAN", "BOOL"):
        return Type(kind="boolean"), _to_bool
    if base in ("DATETIME", "TIMESTAMP"):
        return Type(kind="datetime"), _parse_datetime
    if base == "DATE":
        return Type(kind="date"), _parse_date
    if base == "TIME":
        return Type(kind="time"), _parse_time
    if base == "JSON":
        return Type(kind="json"), to_raw_json
    if "INT" in base:  # SQLite's own rule for INTEGER affinity
        return Type(kind="int", bit_size=64), None
    return Type(kind="string"), _to_string


class SQLiteConnector(Connector):
    code = "sqlite"
    label = "SQLite"
    settings_keys = ("path",)

    def __init__(self, allowed_root: str | None = None):
        self.allowed_root = allowed_root if allowed_root is not None else os.environ.get("KRENALIS_SQLITE_ROOT")

    def validate_settings(self, settings: dict) -> dict:
        settings = require_object(settings)
        path = get_string(settings, "path")
        if not 1 <= len(path) <= 1024:
            raise InvalidSettings("path length must be in range [1,1024]")
        if "\x00" in path:
            raise InvalidSettings("path cannot contain the NUL character")
        if self.allowed_root:
            root = os.path.realpath(self.allowed_root)
            resolved = os.path.realpath(os.path.join(root, path))
            if os.path.commonpath([root, resolved]) != root:
                raise InvalidSettings(f"path must be inside the directory of the SQLite databases, {root} "
                                      f"(a relative path is read from there)")
        return {"path": path}

    # -- connections ------------------------------------------------------------------------

    def _resolve(self, path: str) -> str:
        if self.allowed_root:
            root = os.path.realpath(self.allowed_root)
            resolved = os.path.realpath(os.path.join(root, path))
            if os.path.commonpath([root, resolved]) != root:
                raise ConnectorUnavailable(f"path must be inside the directory of the SQLite databases, {root}")
            return resolved
        return os.path.realpath(path)

    @staticmethod
    def _error(error: BaseException) -> ConnectorUnavailable:
        if isinstance(error, ConnectorUnavailable):
            return error
        return ConnectorUnavailable(one_line(str(error) or error.__class__.__name__))

    def _connect(self, settings: dict, connect_timeout: int):
        path = self._resolve(settings.get("path") or "")
        if not os.path.isfile(path):
            raise ConnectorUnavailable(f'database file "{settings.get("path")}" does not exist')
        try:
            conn = sqlite3.connect(f"file:{quote(path)}?mode=ro", uri=True, timeout=connect_timeout,
                                   check_same_thread=False, isolation_level=None)
        except Exception as error:
            raise self._error(error) from None
        return conn

    def test_connection(self, settings: dict, *, connect_timeout: int | None = None) -> list[str]:
        conn = self._connect(settings, self._timeout(connect_timeout))
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchall()
        except Exception as error:
            raise self._error(error) from None
        finally:
            conn.close()
        return []  # the file is opened read-only

    @contextmanager
    def query(self, settings: dict, sql: str, *, timeout_seconds: int, batch_size: int = 10_000,
              max_rows: int | None = None, connect_timeout: int | None = None,
              control: QueryControl | None = None, observe: bool = False):
        if batch_size < 1:
            raise ValueError("batch_size must be positive")
        control = control or QueryControl()
        conn = self._connect(settings, self._timeout(connect_timeout))
        deadline = [0.0]
        timed_out = [False]

        def progress():
            if control.reason is not None:  # interrupted: no statement starts after the reason is set
                return 1
            if time.monotonic() > deadline[0]:
                timed_out[0] = True
                return 1
            return 0

        def restart_clock():
            deadline[0] = time.monotonic() + timeout_seconds
            timed_out[0] = False

        def plain_error(exc: BaseException) -> ConnectorUnavailable:
            if timed_out[0]:
                return ConnectorUnavailable(f"canceling statement due to statement timeout ({timeout_seconds} s)")
            failure = self._error(exc)
            if _query_at_fault(exc):
                return QueryFailed(str(failure))
            return failure

        error = control.wrap_error(plain_error)
        try:
            conn.set_progress_handler(progress, 1000)
            try:
                control.attach(conn.interrupt)  # sqlite3's interrupt is safe from any thread
                restart_clock()
                declared = control.call(self._declared_types, conn, sql)
                conn.execute("PRAGMA query_only = ON")
                conn.set_authorizer(_authorizer)
                restart_clock()
                cur = control.call(conn.execute, sql)
            except ConnectorUnavailable:
                raise
            except Exception as exc:
                raise error(exc) from None
            description = cur.description or ()
            typed = []
            for index, d in enumerate(description):
                decl = declared[index] if declared is not None and index < len(declared) else None
                type_, converter = column_type(decl)
                typed.append((d[0], type_, True, None, converter))
            schema, positions, converters = build_schema(typed)

            def fetch(size):
                restart_clock()
                return cur.fetchmany(size)

            result = QueryResult(schema, fetch if description else (lambda size: ()),
                                 make_batch_transform(len(typed), positions, converters),
                                 batch_size=batch_size, max_rows=max_rows, wrap_error=plain_error, control=control)
            if observe:
                result.in_flight_note = IN_FLIGHT_NOTE
            yield result
        finally:
            control.detach()
            conn.close()

    @staticmethod
    def _declared_types(conn, sql: str) -> list[str] | None:
        """The declared types of the result columns, through a temporary view (None if impossible)."""
        view = f"krenalis_query_{secrets.token_hex(8)}"
        body = sql.rstrip().rstrip(";")
        try:
            conn.execute(f'CREATE TEMP VIEW "{view}" AS {body}\n')
        except sqlite3.ProgrammingError:
            raise  # e.g. more than one statement
        except sqlite3.Error:
            return None
        try:
            rows = conn.execute(f'PRAGMA temp.table_info("{view}")').fetchall()
            return [row[2] for row in rows]
        finally:
            conn.execute(f'DROP VIEW temp."{view}"')

    # -- literals ---------------------------------------------------------------------------

    def quote_string(self, text: str) -> str:
        return "'" + text.replace("\x00", "").replace("'", "''") + "'"
