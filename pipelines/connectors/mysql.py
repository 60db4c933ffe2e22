"""MySQL / MariaDB source connector (mysqlclient).

- Settings: host, port, username, password (required), database, and TLS: ``ssl`` = {"mode", "ca"},
  mode one of DISABLED, PREFERRED (the default: TLS when the server offers it), REQUIRED,
  VERIFY_CA, VERIFY_IDENTITY (MySQL's --ssl-mode), ca the PEM text of the CA certificates that verify
  the server (required by the VERIFY modes; with REQUIRED it verifies the chain, as MySQL clients do).
- The connection goes to the checked address, except with VERIFY_IDENTITY and a host name: then to
  the name, whose certificate the server must present (the client library verifies the name it
  connects to, so a name that resolves elsewhere meanwhile reaches no server that can prove it).
- The client library is MariaDB Connector/C, which encrypts but does not insist when asked for TLS
  without verification: REQUIRED and VERIFY_CA read the server's greeting first and refuse a
  server that offers no TLS before any credential is sent, then check that the session is encrypted.
  (The server counts that first look as an aborted connection, toward max_connect_errors; the
  login that follows clears the count. A REQUIRED connection to a server without TLS keeps failing
  and counting: fix its mode.)
- Queries run with ``SET SESSION TRANSACTION READ ONLY`` and inside ``START TRANSACTION READ ONLY``,
  one statement only (multi-statements are disabled on the connection), with a statement timeout
  (MariaDB ``max_statement_time``, MySQL ``max_execution_time``), streamed with an ``SSCursor``.
  With an SSCursor the statement runs until its last row is read, so the timeout bounds the
  whole read, not a single batch.
- The query is checked before connecting (``querycheck.check_mysql_query``): one statement that
  starts with SELECT, WITH, VALUES, TABLE or ``(``, with no INTO, no locking read, no executable
  comment and no LOAD_FILE. Compound statements (``BEGIN NOT ATOMIC ... END``) and procedures
  (``CALL``) could commit and write, read-only transaction or not.
- A QueryControl interrupts the statement with ``KILL QUERY`` on a second connection (the only way
  from outside; a user may kill its own sessions); end_session sends ``KILL CONNECTION``.
- The session uses ``time_zone = '+00:00'`` (DATETIME and TIMESTAMP values are read as UTC, and
  ``${updated_at}`` literals are compared in UTC), the utf8mb4 character set, and an sql_mode
  without NO_BACKSLASH_ESCAPES (so that sql_literal's backslash escapes are right) nor ANSI_QUOTES
  (so that the server reads strings as the query check does).

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
import ipaddress
import re
import socket
from contextlib import contextmanager

import MySQLdb
import MySQLdb.converters
import MySQLdb.cursors
from MySQLdb.constants import FIELD_TYPE as FT
from MySQLdb.constants import FLAG
from MySQLdb.times import DateTime_or_None

from pipelines.types import Type

from .base import (READ_ONLY_ADVICE, UNSUPPORTED_TYPE_ISSUE, ConnectorUnavailable, Connector, InFlight,
                   InvalidSettings, QueryControl, QueryFailed, QueryResult, build_schema, bytes_to_str, certificate_file, check_bytes,
                   check_certificates, check_port, check_runes, connect_address, float32_value, get_int, get_string,
                   make_batch_transform, one_line, require_object, scrub_secrets, to_raw_json)
from .querycheck import check_mysql_query

__all__ = ["MySQLConnector", "SSL_MODES"]

SSL_MODES = ("DISABLED", "PREFERRED", "REQUIRED", "VERIFY_CA", "VERIFY_IDENTITY")
DEFAULT_SSL_MODE = "PREFERRED"
_CLIENT_SSL = 0x0800  # the server's capability flag: it offers TLS
# mysqlclient's ssl_mode on MariaDB Connector/C: "REQUIRED" asks for TLS when the server offers it, without
# verification; "VERIFY_IDENTITY" insists on TLS and verifies the chain and the name connected to; a CA
# file alone makes it verify the chain.
_DRIVER_SSL_MODE = {"DISABLED": "DISABLED", "PREFERRED": "REQUIRED", "REQUIRED": "REQUIRED",
                    "VERIFY_CA": "REQUIRED", "VERIFY_IDENTITY": "VERIFY_IDENTITY"}

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


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _offers_tls(address: str, port: int, timeout: float) -> bool | None:
    """Whether the server's greeting (the first packet of the protocol, before any credential)
    offers TLS; None when it cannot be read (the driver then reports why it cannot connect)."""
    try:
        with socket.create_connection((address, port), timeout=timeout) as sock:
            header = _receive(sock, 4)
            payload = _receive(sock, int.from_bytes(header[:3], "little"))
    except (OSError, ValueError):
        return None
    if not payload or payload[0] != 10:  # protocol 10; 0xFF is an error packet
        return None
    end = payload.find(b"\0", 1)
    flags = payload[end + 14:end + 16] if end > 0 else b""  # after the version: id (4), salt (8), filler (1)
    return None if len(flags) < 2 else bool(int.from_bytes(flags, "little") & _CLIENT_SSL)


def _receive(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ValueError("the server closed the connection")
        data += chunk
    return data


def _time(value):
    if isinstance(value, _dt.timedelta):
        total = value.days * 86400 + value.seconds
        if 0 <= total < 86400:
            return _dt.time(total // 3600, total % 3600 // 60, total % 60, value.microseconds)
    return value  # negative or >= 24h: not a time of day


# Modes that change how the server reads strings: backslashes are escapes and "..." is a string
# for the query check and for sql_literal. ANSI, DB2, MAXDB, MSSQL, ORACLE and POSTGRESQL set
# ANSI_QUOTES again when the list is set back.
_QUOTING_MODES = frozenset(("NO_BACKSLASH_ESCAPES", "ANSI_QUOTES", "ANSI", "DB2", "MAXDB", "MSSQL", "ORACLE",
                            "POSTGRESQL"))


def session_sql_mode(mode: str) -> str:
    """The server's sql_mode without the modes that change how strings are read."""
    return ",".join(m for m in (mode or "").split(",") if m and m.upper() not in _QUOTING_MODES)


# --------------------------------------------------------------------------- Test connection's warnings

_NAME = r"`(?:[^`]|``)*`|\*|[^\s.`]+"
_GRANT = re.compile(rf"GRANT (?P<privileges>.+?) ON (?:(?:PROCEDURE|FUNCTION|PACKAGE BODY|PACKAGE|TABLE) )?"
                    rf"(?P<database>{_NAME})(?:\.(?P<table>{_NAME}))? TO ", re.DOTALL)
# The privileges that change data or tables, in the order the warning lists them.
_WRITE_PRIVILEGES = ("ALL PRIVILEGES", "INSERT", "UPDATE", "DELETE", "DELETE HISTORY", "CREATE", "DROP", "ALTER",
                     "INDEX", "CREATE VIEW", "CREATE ROUTINE", "ALTER ROUTINE", "TRIGGER", "EVENT")


def _privileges(text: str) -> set[str]:
    """The privileges of a GRANT line's list, column lists removed: {"SELECT", "UPDATE", ...}."""
    names, depth, current = set(), 0, []
    for ch in text + ",":
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            names.add(" ".join("".join(current).split()).upper())
            current = []
        elif depth == 0:
            current.append(ch)
    return {"ALL PRIVILEGES" if name == "ALL" else name for name in names}


def _database_matches(pattern: str, database: str, *, wildcards: bool) -> bool:
    """Whether the database of a grant (a name, or a LIKE pattern for database-wide grants) names
    the connection's database."""
    if pattern.startswith("`"):
        pattern = pattern[1:-1].replace("``", "`")
    if not wildcards:
        return pattern.lower() == (database or "").lower()
    regex, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            regex.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        regex.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.fullmatch("".join(regex), database or "", re.IGNORECASE | re.DOTALL) is not None


def grant_warnings(user: str, database: str, grants: list[str]) -> list[str]:
    """Test connection's warnings from the lines of SHOW GRANTS: SUPER, FILE or ALL PRIVILEGES on every
    database, or privileges that write the connection's database (on it, or on tables of it)."""
    everywhere, here = set(), set()
    for line in grants:
        match = _GRANT.match(line)
        if not match:
            continue  # a role granted, PROXY
        privileges, target = _privileges(match.group("privileges")), match.group("database")
        if target == "*":
            everywhere |= privileges
        elif _database_matches(target, database, wildcards=match.group("table") in (None, "*")):
            here |= privileges
    if "ALL PRIVILEGES" in everywhere:
        return [f'user "{user}" has ALL PRIVILEGES on every database: {READ_ONLY_ADVICE}']
    warnings = []
    admin = [p for p in ("SUPER", "FILE") if p in everywhere]
    if admin:
        warnings.append(f'user "{user}" has the {" and ".join(admin)} privilege{"s" if len(admin) > 1 else ""}: '
                        f'{READ_ONLY_ADVICE}')
    writes = [p for p in _WRITE_PRIVILEGES if p in everywhere | here]
    if writes:
        warnings.append(f'user "{user}" can write database "{database}" ({", ".join(writes)}): {READ_ONLY_ADVICE}')
    return warnings


class MySQLConnector(Connector):
    code = "mysql"
    label = "MySQL"
    settings_keys = ("host", "port", "username", "password", "database", "ssl")

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
        return {"host": host, "port": port, "username": username, "password": password, "database": database,
                "ssl": self._validate_ssl(settings.get("ssl"))}

    @staticmethod
    def _validate_ssl(ssl) -> dict:
        if ssl is None:
            ssl = {}
        if not isinstance(ssl, dict):
            raise InvalidSettings('ssl must be an object: '
                                  '{"mode": "VERIFY_IDENTITY", "ca": "-----BEGIN CERTIFICATE..."}')
        unknown = sorted(set(ssl) - {"mode", "ca"})
        if unknown:
            raise InvalidSettings(f'ssl has an unknown key "{unknown[0]}": it takes mode and ca')
        for key in ("mode", "ca"):
            if ssl.get(key) is not None and not isinstance(ssl[key], str):
                raise InvalidSettings(f"ssl.{key} must be a string")
        mode = (ssl.get("mode") or DEFAULT_SSL_MODE).upper()
        if mode not in SSL_MODES:
            raise InvalidSettings(f"ssl.mode must be one of {', '.join(SSL_MODES)}")
        ca = ssl.get("ca") or ""
        if ca:
            check_certificates(ca, "ssl.ca")
        elif mode.startswith("VERIFY_"):
            raise InvalidSettings(f"ssl.ca (the CA certificate) is required when ssl.mode is {mode}")
        return {"mode": mode, "ca": ca}

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
        address, port = connect_address(settings), settings.get("port")
        ssl = settings.get("ssl") or {}
        mode = ssl.get("mode") or DEFAULT_SSL_MODE
        host = address
        if mode == "VERIFY_IDENTITY" and not _is_ip(settings["host"]) and settings["host"].lower() != "localhost":
            host = settings["host"]  # the name the certificate must hold ("localhost" would be the socket)
        connect_timeout = max(int(connect_timeout), 1)
        if mode in ("REQUIRED", "VERIFY_CA") and _offers_tls(address, port, connect_timeout) is False:
            raise ConnectorUnavailable(f"the server at {settings['host']}:{port} does not offer TLS, which ssl.mode "
                                       f"{mode} requires (nothing was sent to it)")
        try:
            with certificate_file(ssl.get("ca")) as ca_file:
                tls = {"ssl_mode": _DRIVER_SSL_MODE[mode]}
                if ca_file and mode != "PREFERRED":
                    tls["ssl"] = {"ca": ca_file}
                conn = MySQLdb.connect(host=host, port=port, user=settings.get("username"),
                                       password=settings.get("password") or "", database=settings.get("database"),
                                       connect_timeout=connect_timeout, charset="utf8mb4", use_unicode=True,
                                       multi_statements=False, autocommit=False, local_infile=False,
                                       cursorclass=MySQLdb.cursors.SSCursor, conv=_CONVERSIONS, **tls)
        except Exception as error:
            raise self._error(error, settings) from None
        try:
            mariadb = "mariadb" in conn.get_server_info().lower()
            cur = conn.cursor(MySQLdb.cursors.Cursor)
            try:
                if mode in ("REQUIRED", "VERIFY_CA"):
                    cur.execute("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
                    row = cur.fetchone()
                    if not row or not row[1]:
                        raise ConnectorUnavailable(f"the connection to {settings['host']}:{port} is not encrypted, "
                                                   f"which ssl.mode {mode} requires")
                cur.execute("SET SESSION time_zone = '+00:00'")
                cur.execute("SELECT @@SESSION.sql_mode")
                cur.execute("SET SESSION sql_mode = %s", (session_sql_mode(cur.fetchone()[0]),))
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

    def test_connection(self, settings: dict, *, connect_timeout: int | None = None) -> list[str]:
        timeout = self._timeout(connect_timeout)
        conn = self._connect(settings, timeout_seconds=timeout, connect_timeout=timeout)
        try:
            conn.ping()
            cur = conn.cursor(MySQLdb.cursors.Cursor)
            try:
                cur.execute("SHOW GRANTS")
                grants = [row[0] for row in cur.fetchall()]
            finally:
                cur.close()
        except Exception as error:
            raise self._error(error, settings) from None
        finally:
            conn.close()
        return grant_warnings(settings.get("username"), settings.get("database"), grants)

    def check_query(self, sql: str) -> str:
        return check_mysql_query(sql)

    @contextmanager
    def query(self, settings: dict, sql: str, *, timeout_seconds: int, batch_size: int = 10_000,
              max_rows: int | None = None, connect_timeout: int | None = None,
              control: QueryControl | None = None, observe: bool = False):
        if batch_size < 1:
            raise ValueError("batch_size must be positive")
        sql = self.check_query(sql)
        control = control or QueryControl()
        connect_timeout = self._timeout(connect_timeout)
        in_flight, note = None, ""
        conn = self._connect(settings, timeout_seconds=timeout_seconds, connect_timeout=connect_timeout)
        thread_id = conn.thread_id()
        result = None
        cur = None
        try:
            try:
                control.attach(lambda: self._kill(settings, thread_id, "QUERY", connect_timeout),
                               {"id": thread_id} if control.wants_session else None)
                if observe:
                    in_flight, note = control.call(self._in_flight, conn, settings)
                conn.query("START TRANSACTION READ ONLY")
                cur = conn.cursor()  # SSCursor: rows stay on the server until fetched
                control.call(cur.execute, sql)
                description = cur.description or ()
                flags = cur.description_flags or ()
                typed = [self._type_column(d, f) for d, f in zip(description, flags)]
            except ConnectorUnavailable:
                raise
            except Exception as error:
                raise control.wrap_error(lambda e: self._error(e, settings, statement=True))(error) from None
            schema, positions, converters = build_schema(typed)
            if description:
                fetch = cur.fetchmany
            else:  # a statement without a result set: no columns, no rows
                def fetch(size):
                    return ()
            result = QueryResult(schema, fetch, make_batch_transform(len(typed), positions, converters),
                                 batch_size=batch_size, max_rows=max_rows,
                                 wrap_error=lambda error: self._error(error, settings, statement=True),
                                 control=control)
            result.in_flight, result.in_flight_note = in_flight, note
            yield result
        finally:
            control.detach(had_session=control.wants_session)
            # Closing an SSCursor reads every remaining row; when the result was not read to the
            # end, close the connection instead: the server stops and the transaction is rolled back.
            if cur is not None and (not cur.description or (result is not None and result.exhausted)):
                try:
                    cur.close()
                except Exception:
                    pass
            conn.close()

    @staticmethod
    def _in_flight(conn, settings: dict) -> tuple[InFlight | None, str]:
        """InnoDB's transactions in progress (information_schema.INNODB_TRX, which needs the PROCESS
        privilege), other than ours, before the query's transaction starts (its snapshot is taken at
        its first read). `trx_started` is in the server's system time zone and in whole seconds, and
        a statement's NOW() may be a moment earlier than the transaction it starts: a second of
        margin. Every transaction of the server counts (one may write any database)."""
        cur = conn.cursor(MySQLdb.cursors.Cursor)
        try:
            cur.execute("SET SESSION time_zone = 'SYSTEM'")
            cur.execute("SELECT UNIX_TIMESTAMP(NOW(6))")
            (at,) = cur.fetchone()
            try:
                cur.execute("SELECT trx_id, UNIX_TIMESTAMP(trx_started) FROM information_schema.INNODB_TRX "
                            "WHERE trx_mysql_thread_id <> CONNECTION_ID()")
                rows = cur.fetchall()
            except MySQLdb.OperationalError as error:
                if error.args and error.args[0] == 1227:  # access denied: PROCESS is needed
                    return None, (f"MySQL shows its transactions in progress (information_schema.INNODB_TRX) only "
                                  f"to a user with the PROCESS privilege, which {settings.get('username')!r} lacks "
                                  f"(GRANT PROCESS ON *.* TO ...): only the look-back window covers late commits")
                raise
            finally:
                cur.execute("SET SESSION time_zone = '+00:00'")
        finally:
            cur.close()

        def utc(seconds) -> _dt.datetime:
            return _dt.datetime.fromtimestamp(float(seconds), _dt.timezone.utc)

        return InFlight(source="mysql", at=utc(at), margin=_dt.timedelta(seconds=1),
                        transactions={str(trx_id): utc(started) for trx_id, started in rows}), ""

    def _kill(self, settings: dict, thread_id: int, what: str, connect_timeout: int) -> bool:
        """KILL QUERY (the statement) or KILL CONNECTION (the session) `thread_id`, on a connection of
        its own: the only way to stop a MySQL statement from outside, and a user may kill its own
        sessions without any privilege. Only a session of the same user is killed."""
        conn = self._connect(settings, timeout_seconds=connect_timeout, connect_timeout=connect_timeout)
        try:
            cur = conn.cursor(MySQLdb.cursors.Cursor)
            cur.execute("SELECT ID FROM information_schema.PROCESSLIST WHERE ID = %s AND USER = %s",
                        (int(thread_id), settings.get("username")))
            if not cur.fetchall():
                return False
            cur.execute(f"KILL {what} {int(thread_id)}")
            return True
        except MySQLdb.OperationalError as error:
            if error.args and error.args[0] == 1094:  # Unknown thread id: it ended meanwhile
                return False
            raise self._error(error, settings) from None
        except Exception as error:
            raise self._error(error, settings) from None
        finally:
            conn.close()

    def end_session(self, settings: dict, session, *, connect_timeout: int | None = None) -> bool:
        """KILL CONNECTION on the recorded connection id, if it is still a session of this user."""
        if not isinstance(session, dict) or not isinstance(session.get("id"), int):
            return False
        return self._kill(settings, session["id"], "CONNECTION", self._timeout(connect_timeout))

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
