"""MySQL / MariaDB source connector (mysqlclient).

- Settings: host, port, username, password (required), database.
- Queries run with ``SET SESSION TRANSACTION READ ONLY`` and inside ``START TRANSACTION READ ONLY``,
  one statement only (multi-statements are disabled on the connection), with a statement timeout
  (MariaDB ``max_statement_time``, MySQL ``max_execution_time``), streamed with an ``SSCursor``.
  With an SSCursor the statement runs until its last row is read, so the timeout bounds the
  whole read, not a single batch.
- The session uses ``time_zone = '+00:00'`` (DATETIME and TIMESTAMP values are read as UTC, and
  ``${updated_at}`` literals are compared in UTC), the utf8mb4 character set, and an sql_mode
  without NO_BACKSLASH_ESCAPES (so that sql_literal's backslash escapes are right).

Column typing follows krenalis-types-transform.md §5.3, from ``cursor.description`` and
``cursor.description_flags`` (UNSIGNED, NOT NULL; unknown nullability counts as nullable).
CHAR/VARCHAR: MySQL reports the length in bytes of the utf8mb4 result (4 per character), so the
type is ``string`` with ``maxLength = length // 4``; when the column has the BINARY flag
(VARBINARY/BINARY, but also any ``*_bin`` collation — the protocol flag cannot tell them apart)
the type is a plain ``string``. MariaDB's JSON is an alias of LONGTEXT and is reported as a
string (the driver cannot see it is JSON); MySQL's native JSON is ``json``. DATE, DATETIME and
TIMESTAMP columns are nullable whatever their NOT NULL: they may hold the zero date 0000-00-00,
which is read as NULL. A TIME outside one day (838:59:59) stays a duration, which the run rejects.
"""

from __future__ import annotations

import datetime as _dt
from contextlib import contextmanager

import MySQLdb
import MySQLdb.converters
import MySQLdb.cursors
from MySQLdb.constants import FIELD_TYPE as FT
from MySQLdb.constants import FLAG
from MySQLdb.times import DateTime_or_None

from pipelines.types import Type

from .base import (UNSUPPORTED_TYPE_ISSUE, ConnectorUnavailable, Connector, QueryFailed, QueryResult, build_schema,
                   bytes_to_str, check_bytes, check_port, check_runes, float32_value, get_int, get_string,
                   make_batch_transform, one_line, require_object, scrub_secrets, to_raw_json)

__all__ = ["MySQLConnector"]

UTC = _dt.timezone.utc

_INT_BITS = {FT.TINY: 8, FT.SHORT: 16, FT.INT24: 24, FT.LONG: 32, FT.LONGLONG: 64}
_BLOBS = (FT.TINY_BLOB, FT.MEDIUM_BLOB, FT.LONG_BLOB, FT.BLOB)
_STRINGS = (FT.VARCHAR, FT.VAR_STRING, FT.STRING)
_NAMES = {FT.BIT: "BIT", FT.GEOMETRY: "GEOMETRY", FT.NULL: "NULL", FT.SET: "SET", FT.ENUM: "ENUM"}

# Server errors that are not the query's fault: out of memory or disk, too many connections, the
# server shutting down, aborted connections and packets, lock waits and deadlocks, an interrupted
# query, a killed connection, the statement timeout (MariaDB 1969, MySQL 3024).
_NOT_THE_QUERY = frozenset({1021, 1037, 1038, 1040, 1041, 1053, 1152, 1153, 1154, 1155, 1156, 1157, 1158, 1159,
                            1160, 1161, 1184, 1203, 1205, 1213, 1317, 1927, 1969, 3024})


# --------------------------------------------------------------------------- value conversion


_FROM_ISO = _dt.datetime.fromisoformat
_DATE_FROM_ISO = _dt.date.fromisoformat


def _is_zero_date(text: str) -> bool:
    """MySQL's zero date (0000-00-00, 0000-00-00 00:00:00[.000000]), its "no date": read as NULL,
    as the driver reads it; the schema says such columns are nullable (_type_column)."""
    return not text.strip("0-: .")


def _utc_datetime(text: str):
    """The driver's converter of DATETIME and TIMESTAMP text (UTC: the session's time zone): the
    usual 'YYYY-MM-DD HH:MM:SS[.ffffff]' in one C call, about 15x faster than the driver's own
    parsing; the zero date is NULL; anything else as the driver's own converter reads it, and what
    it cannot read (2024-02-30, allowed by some sql_modes) stays text: that row alone fails."""
    try:
        return _FROM_ISO(text + "+00:00")
    except ValueError:
        if _is_zero_date(text):
            return None
        value = DateTime_or_None(text)
        if type(value) is _dt.datetime:
            return value.replace(tzinfo=UTC)
        return text


def _date(text: str):
    """DATE text: a date, NULL for the zero date, and the text for a date no calendar has."""
    try:
        return _DATE_FROM_ISO(text)
    except ValueError:
        return None if _is_zero_date(text) else text


_CONVERSIONS = {**MySQLdb.converters.conversions, FT.DATETIME: _utc_datetime, FT.TIMESTAMP: _utc_datetime,
                FT.DATE: _date}


def _time(value):
    if isinstance(value, _dt.timedelta):
        total = value.days * 86400 + value.seconds
        if 0 <= total < 86400:
            return _dt.time(total // 3600, total % 3600 // 60, total % 60, value.microseconds)
    return value  # negative or >= 24h: not a time of day


class MySQLConnector(Connector):
    code = "mysql"
    label = "MySQL"
    settings_keys = ("host", "port", "username", "password", "database")

    def validate_settings(self, settings: dict) -> dict:
        settings = require_object(settings)
        host = get_string(settings, "host")
        port = get_int(settings, "port")
        username = get_string(settings, "username")
        password = get_string(settings, "password")
        database = get_string(settings, "database")
        check_bytes(host, 1, 253, "host length in bytes must be in range [1,253]")
        check_port(port)
        check_runes(username, 1, 16, "username length must be in range [1,16]")
        check_runes(password, 1, 200, "password length must be in range [1,200]")
        check_runes(database, 1, 64, "database length must be in range [1,64]")
        return {"host": host, "port": port, "username": username, "password": password, "database": database}

    # -- connections ------------------------------------------------------------------------

    def _error(self, error: BaseException, settings: dict, *, statement: bool = False) -> ConnectorUnavailable:
        """The error as ConnectorUnavailable; QueryFailed when the server refused the user's statement
        (`statement`): a server error (codes below 2000 and from 3000; the client's are 2000-2999)
        other than those about the connection, the server or the statement timeout."""
        if isinstance(error, ConnectorUnavailable):
            return error
        args = getattr(error, "args", ())
        code = None
        if isinstance(error, MySQLdb.Error) and len(args) == 2 and isinstance(args[0], int):
            code = args[0]
            message = f"Error {code}: {args[1]}"
        else:
            message = str(error) or error.__class__.__name__
        message = scrub_secrets(one_line(message), [settings.get("password")])
        if statement and code is not None and not 2000 <= code < 3000 and code not in _NOT_THE_QUERY:
            return QueryFailed(message)
        return ConnectorUnavailable(message)

    def _connect(self, settings: dict, *, timeout_seconds: float, connect_timeout: int):
        try:
            conn = MySQLdb.connect(host=settings.get("host"), port=settings.get("port"),
                                   user=settings.get("username"), password=settings.get("password") or "",
                                   database=settings.get("database"), connect_timeout=max(int(connect_timeout), 1),
                                   charset="utf8mb4", use_unicode=True, multi_statements=False, autocommit=False,
                                   local_infile=False, cursorclass=MySQLdb.cursors.SSCursor, conv=_CONVERSIONS)
        except Exception as error:
            raise self._error(error, settings) from None
        try:
            mariadb = "mariadb" in conn.get_server_info().lower()
            cur = conn.cursor(MySQLdb.cursors.Cursor)
            try:
                cur.execute("SET SESSION time_zone = '+00:00'")
                cur.execute("SET SESSION sql_mode = REPLACE(@@SESSION.sql_mode, 'NO_BACKSLASH_ESCAPES', '')")
                if mariadb:
                    cur.execute("SET SESSION max_statement_time = %s", (float(timeout_seconds),))
                else:
                    cur.execute("SET SESSION max_execution_time = %s", (max(int(timeout_seconds * 1000), 1),))
                cur.execute("SET SESSION TRANSACTION READ ONLY")
            finally:
                cur.close()
        except Exception as error:
            conn.close()
            raise self._error(error, settings) from None
        return conn

    def test_connection(self, settings: dict, *, connect_timeout: int | None = None) -> None:
        timeout = self._timeout(connect_timeout)
        conn = self._connect(settings, timeout_seconds=timeout, connect_timeout=timeout)
        try:
            conn.ping()
        except Exception as error:
            raise self._error(error, settings) from None
        finally:
            conn.close()

    @contextmanager
    def query(self, settings: dict, sql: str, *, timeout_seconds: int, batch_size: int = 10_000,
              max_rows: int | None = None, connect_timeout: int | None = None):
        if batch_size < 1:
            raise ValueError("batch_size must be positive")
        conn = self._connect(settings, timeout_seconds=timeout_seconds, connect_timeout=self._timeout(connect_timeout))
        result = None
        cur = None
        try:
            try:
                conn.query("START TRANSACTION READ ONLY")
                cur = conn.cursor()  # SSCursor: rows stay on the server until fetched
                cur.execute(sql)
                description = cur.description or ()
                flags = cur.description_flags or ()
                typed = [self._type_column(d, f) for d, f in zip(description, flags)]
            except ConnectorUnavailable:
                raise
            except Exception as error:
                raise self._error(error, settings, statement=True) from None
            schema, positions, converters = build_schema(typed)
            if description:
                fetch = cur.fetchmany
            else:  # a statement without a result set: no columns, no rows
                def fetch(size):
                    return ()
            result = QueryResult(schema, fetch, make_batch_transform(len(typed), positions, converters),
                                 batch_size=batch_size, max_rows=max_rows,
                                 wrap_error=lambda error: self._error(error, settings, statement=True))
            yield result
        finally:
            # Closing an SSCursor reads every remaining row; when the result was not read to the
            # end, close the connection instead: the server stops and the transaction is rolled back.
            if cur is not None and (not cur.description or (result is not None and result.exhausted)):
                try:
                    cur.close()
                except Exception:
                    pass
            conn.close()

    # -- column typing ----------------------------------------------------------------------

    @staticmethod
    def _type_column(description, flags: int):
        name, code, _display, length, _precision, scale, _null_ok = description
        nullable = not (flags & FLAG.NOT_NULL)
        unsigned = bool(flags & FLAG.UNSIGNED)
        type_, converter, issue = None, None, None
        if code in _INT_BITS:
            type_ = Type(kind="int", bit_size=_INT_BITS[code], unsigned=unsigned)
        elif code == FT.FLOAT:
            type_, converter = Type(kind="float", bit_size=32), float32_value
        elif code == FT.DOUBLE:
            type_ = Type(kind="float", bit_size=64)
        elif code in (FT.DECIMAL, FT.NEWDECIMAL):
            scale = max(scale or 0, 0)
            # The length counts the digits, the point (when scale > 0) and the sign (when signed).
            precision = (length or 0) - (1 if scale > 0 else 0) - (0 if unsigned else 1)
            precision = min(max(precision, scale, 1), 76)
            type_ = Type(kind="decimal", precision=precision, scale=min(scale, 37))
        elif code in (FT.DATE, 14):  # 14 is NEWDATE
            type_, nullable = Type(kind="date"), True  # NOT NULL columns hold the zero date, read as NULL
        elif code in (FT.DATETIME, FT.TIMESTAMP):
            type_, nullable = Type(kind="datetime"), True  # made aware by _utc_datetime; zero dates as DATE
        elif code == FT.TIME:
            type_, converter = Type(kind="time"), _time
        elif code == FT.YEAR:
            type_ = Type(kind="year")
        elif code == FT.JSON:
            type_, converter = Type(kind="json"), to_raw_json
        elif code in _STRINGS:
            if flags & FLAG.SET:
                issue = UNSUPPORTED_TYPE_ISSUE.format(name, "SET")
            elif flags & FLAG.ENUM:
                type_ = Type(kind="string")
            elif flags & FLAG.BINARY:
                type_, converter = Type(kind="string"), bytes_to_str
            else:
                chars = (length or 0) // 4  # bytes of utf8mb4, 4 per character
                type_ = Type(kind="string", max_length=chars) if chars >= 1 else Type(kind="string")
        elif code in _BLOBS:
            type_, converter = Type(kind="string"), bytes_to_str
        else:
            issue = UNSUPPORTED_TYPE_ISSUE.format(name, _NAMES.get(code, str(code)))
        return name, type_, nullable, issue, converter

    # -- literals ---------------------------------------------------------------------------

    _ESCAPES = {"\\": "\\\\", "'": "\\'", '"': '\\"', "\x00": "\\0", "\n": "\\n", "\r": "\\r", "\x1a": "\\Z"}
    _ESCAPE_TABLE = str.maketrans(_ESCAPES)

    def quote_string(self, text: str) -> str:
        """A backslash-escaped string literal (the session's sql_mode has no NO_BACKSLASH_ESCAPES)."""
        return "'" + text.translate(self._ESCAPE_TABLE) + "'"
