"""PostgreSQL source connector (psycopg2).

- Settings: host, port, username, password (may be empty), database, schema (the search_path), and
  TLS: sslmode (libpq's: disable, allow, prefer (the default), require, verify-ca, verify-full) and
  sslrootcert, the PEM text of the CA certificates that verify the server (required by verify-ca and
  verify-full; with require it makes libpq verify the chain, as verify-ca).
- libpq connects to the checked address (``hostaddr``) and verifies the certificate against the
  host name (``host``); it reads no file of the server's user (~/.pgpass, ~/.postgresql/*): the CA
  certificate goes to a 0600 temporary file removed once connected.
- Queries run in a READ ONLY transaction (also ``default_transaction_read_only=on``), with
  ``statement_timeout`` (it applies to each FETCH), in a named server-side cursor read in batches.
- A QueryControl interrupts the query with libpq's cancel request (from any thread); end_session
  ends a recorded session with pg_terminate_backend (same role, or pg_signal_backend).
- The query must be one statement: a second statement after a ``;`` fails with PostgreSQL's own
  message for that case, so that nothing like ``SELECT 1; COMMIT; DROP ...`` can run. It is read
  through a cursor, which PostgreSQL declares only over a query; and it may not call the functions
  that reach outside the read-only transaction (dblink, the server's files, other sessions...).
  Both are checked before connecting, by ``querycheck.check_postgresql_query``.
- The session runs with TimeZone=UTC, DateStyle=ISO and standard_conforming_strings=on.
- Values are converted by typecasters registered on our connection only (json/jsonb stay raw
  text, uuid/inet become canonical strings, timestamps become aware UTC datetimes, bytea becomes
  text; real arrives as its shortest text, i.e. already in the float(32) value model), so rows need no further per-value work.

Column typing follows krenalis-types-transform.md §5.1: by type OID; every column is nullable;
``numeric(p,s)`` → decimal(p,s) (negative scales and scales above the precision are widened to
an equivalent decimal); unconstrained ``numeric`` → decimal(76,37) (our spec README §1.8);
``timetz`` values are converted to UTC; enum types are strings (their labels; the reference
leaves them out); unsupported types are reported by their upper-cased ``pg_catalog`` name,
``array`` for arrays, and the OID for other user-defined types. Dates, timestamps and times no
Python value stands for (±infinity, BC, years beyond 9999, 24:00:00) stay text: the run rejects
that row with a message that says why, instead of reading another value or failing the query.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import re
from contextlib import contextmanager

import psycopg2
import psycopg2.extensions as _ext

from pipelines.types import RawJSON, Type

from .base import (NO_FILE, PRECISION_ISSUE, READ_ONLY_ADVICE, SCALE_ISSUE, UNSUPPORTED_TYPE_ISSUE, WRITABLE_SHOWN,
                   ConnectorUnavailable, Connector, InFlight, InvalidSettings, QueryControl, QueryFailed, QueryResult,
                   build_schema, certificate_file, check_bytes, check_certificates, check_port, check_runes,
                   connect_address, get_int, get_string, make_batch_transform, one_line, require_object,
                   scrub_secrets, writable_tables)
from .querycheck import check_postgresql_query

__all__ = ["PostgreSQLConnector", "canonical_ip", "SSL_MODES"]

SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
DEFAULT_SSL_MODE = "prefer"  # libpq's

UTC = _dt.timezone.utc

# OIDs
BOOL, BYTEA, INT8, INT2, INT4, TEXT, JSON, FLOAT4, FLOAT8 = 16, 17, 20, 21, 23, 25, 114, 700, 701
INET, BPCHAR, VARCHAR, DATE, TIME, TIMESTAMP, TIMESTAMPTZ = 869, 1042, 1043, 1082, 1083, 1114, 1184
TIMETZ, NUMERIC, UUID, JSONB = 1266, 1700, 2950, 3802

_SIMPLE_TYPES = {
    BOOL: Type(kind="boolean"),
    INT2: Type(kind="int", bit_size=16),
    INT4: Type(kind="int", bit_size=32),
    INT8: Type(kind="int", bit_size=64),
    FLOAT4: Type(kind="float", bit_size=32),
    FLOAT8: Type(kind="float", bit_size=64),
    TIMESTAMP: Type(kind="datetime"),
    TIMESTAMPTZ: Type(kind="datetime"),
    DATE: Type(kind="date"),
    TIME: Type(kind="time"),
    TIMETZ: Type(kind="time"),
    UUID: Type(kind="uuid"),
    JSON: Type(kind="json"),
    JSONB: Type(kind="json"),
    INET: Type(kind="ip"),
    TEXT: Type(kind="string"),
    BYTEA: Type(kind="string"),
}
_UNCONSTRAINED_NUMERIC = Type(kind="decimal", precision=76, scale=37)
_ENUM = object()  # _type_names' mark of an enum type


# --------------------------------------------------------------------------- value conversion


def canonical_ip(text: str) -> str:
    """Canonical text of an address: prefix and zone removed, IPv4-mapped IPv6 as ::ffff:a.b.c.d."""
    address = text.split("/", 1)[0].split("%", 1)[0]
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return text
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return f"::ffff:{ip.ipv4_mapped}"
    return str(ip)


def _caster(oid: int, name: str, base, convert):
    """A typecaster that applies `convert` to the value of the default typecaster `base`."""
    if base is None:
        def cast(value, cursor):
            return None if value is None else convert(value)
    else:
        def cast(value, cursor):
            if value is None:
                return None
            return convert(base(value, cursor))
    return _ext.new_type((oid,), name, cast)


def _bytea_text(value):
    data = bytes(value)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data


def _timetz_utc(value):
    if isinstance(value, _dt.time) and value.tzinfo is not None:
        offset = value.utcoffset() or _dt.timedelta(0)
        moment = _dt.datetime.combine(_dt.date(2000, 1, 2), value.replace(tzinfo=None)) - offset
        return moment.time()
    return value


def _as_utc(value):
    if isinstance(value, _dt.datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


def _beyond_python(text: str) -> bool:
    """PostgreSQL dates and timestamps no Python date stands for: ±infinity (psycopg2 would read them
    as 9999-12-31 and 0001-01-01), BC dates and years beyond 9999 (psycopg2 fails the whole query)."""
    return text.endswith(("infinity", " BC")) or len(text.partition("-")[0]) > 4


def _timestamp_caster(oid: int, name: str, zone: str):
    """A typecaster of timestamps into aware UTC datetimes; `zone` completes the text ("+00:00" for
    timestamps without time zone, which are UTC).

    The session's ISO text is parsed by datetime.fromisoformat, one C call ten times cheaper than the
    default typecaster followed by replace(); the texts it rejects take the default typecaster's path,
    except those of no Python datetime (infinity, BC, years beyond 9999): they stay text, which the
    run rejects for that row alone and the preview reports.
    """
    base, parse = _ext.string_types[oid], _dt.datetime.fromisoformat

    def cast(value, cursor):
        if value is None:
            return None
        try:
            moment = parse(value + zone)
        except ValueError:
            if _beyond_python(value):
                return value
            try:
                return _as_utc(base(value, cursor))
            except (ValueError, OverflowError):
                return value
        return moment if moment.tzinfo is UTC else moment.astimezone(UTC)

    return _ext.new_type((oid,), name, cast)


def _iso_caster(oid: int, name: str, parse):
    """A typecaster of ISO text by `parse`; a text it rejects stays text, which the run rejects for
    that row: dates of no Python date (infinity, BC, years beyond 9999), and PostgreSQL's time
    24:00:00 (psycopg2 reads it as 00:00:00, another time)."""
    def cast(value, cursor):
        if value is None:
            return None
        try:
            return parse(value)
        except ValueError:
            return value

    return _ext.new_type((oid,), name, cast)


def _timetz_caster():
    """Times with a zone as UTC times of day; 24:00:00+zz stays text (psycopg2 reads 00:00:00+zz)."""
    base = _ext.string_types[TIMETZ]

    def cast(value, cursor):
        if value is None:
            return None
        if value.startswith("24:"):
            return value
        return _timetz_utc(base(value, cursor))

    return _ext.new_type((TIMETZ,), "KRENALIS_TIMETZ", cast)


def _typecasters():
    return [
        _caster(JSON, "KRENALIS_JSON", None, RawJSON),
        _caster(JSONB, "KRENALIS_JSONB", None, RawJSON),
        _caster(UUID, "KRENALIS_UUID", None, str.lower),
        _caster(INET, "KRENALIS_INET", None, canonical_ip),
        _caster(BYTEA, "KRENALIS_BYTEA", psycopg2.BINARY, _bytea_text),
        _timestamp_caster(TIMESTAMP, "KRENALIS_TIMESTAMP", "+00:00"),
        _timestamp_caster(TIMESTAMPTZ, "KRENALIS_TIMESTAMPTZ", ""),
        _timetz_caster(),
        _iso_caster(DATE, "KRENALIS_DATE", _dt.date.fromisoformat),
        _iso_caster(TIME, "KRENALIS_TIME", _dt.time.fromisoformat),
    ]


_TYPECASTERS = _typecasters()


# --------------------------------------------------------------------------- non-queries

# Commands that are not queries: a cursor cannot be declared over them.
_NON_QUERY_COMMANDS = frozenset(
    "ABORT ALTER ANALYZE BEGIN CALL CHECKPOINT CLUSTER COMMENT COMMIT COPY CREATE DEALLOCATE DELETE DISCARD DO "
    "DROP END EXECUTE GRANT IMPORT INSERT LISTEN LOAD LOCK MERGE MOVE NOTIFY PREPARE REASSIGN REFRESH REINDEX "
    "RELEASE RESET REVOKE ROLLBACK SAVEPOINT SECURITY SET START TRUNCATE UNLISTEN UPDATE VACUUM".split())
_LEADING = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*([A-Za-z]+)", re.DOTALL)


def _non_query_command(sql: str, message: str | None) -> str | None:
    """The command (INSERT, CREATE, ...) that starts `sql` when `message` is the syntax error a cursor
    declared over it gives, else None."""
    match = _LEADING.match(sql)
    if not match or match.group(1).upper() not in _NON_QUERY_COMMANDS:
        return None
    if (message or "").lower() != f'syntax error at or near "{match.group(1).lower()}"':
        return None
    return match.group(1).upper()


# SQLSTATE classes of errors that are not the query's fault: connection, transaction rollback
# (deadlock, serialization), insufficient resources, object in use, operator intervention (statement
# timeout, cancel, shutdown), system and internal errors.
_NOT_THE_QUERY = frozenset({"08", "40", "53", "55", "57", "58", "F0", "XX"})


# --------------------------------------------------------------------------- connector


class PostgreSQLConnector(Connector):
    code = "postgresql"
    label = "PostgreSQL"
    settings_keys = ("host", "port", "username", "password", "database", "schema", "sslmode", "sslrootcert")

    def validate_settings(self, settings: dict) -> dict:
        settings = require_object(settings)
        host = get_string(settings, "host")
        port = get_int(settings, "port")
        username = get_string(settings, "username")
        password = get_string(settings, "password")
        database = get_string(settings, "database")
        schema = get_string(settings, "schema")
        check_bytes(host, 1, 253, "host length in bytes must be in range [1,253]")
        check_port(port)
        check_bytes(username, 1, 63, "username length in bytes must be in range [1,63]")
        check_runes(password, 0, 100, "password must be no longer than 100 characters")
        check_bytes(database, 1, 63, "database length in bytes must be in range [1,63]")
        check_bytes(schema, 1, 63, "schema length in bytes must be in range [1,63]")
        sslmode = get_string(settings, "sslmode") or DEFAULT_SSL_MODE
        if sslmode not in SSL_MODES:
            raise InvalidSettings(f"sslmode must be one of {', '.join(SSL_MODES)}")
        sslrootcert = get_string(settings, "sslrootcert")
        if sslrootcert:
            check_certificates(sslrootcert, "sslrootcert")
        elif sslmode.startswith("verify-"):
            raise InvalidSettings(f"sslrootcert (the CA certificate) is required when sslmode is {sslmode}")
        return {"host": host, "port": port, "username": username, "password": password, "database": database,
                "schema": schema, "sslmode": sslmode, "sslrootcert": sslrootcert}

    def check_query(self, sql: str) -> str:
        return check_postgresql_query(sql)

    # -- connections ------------------------------------------------------------------------

    def _error(self, error: BaseException, settings: dict, sql: str | None = None, *,
               statement: bool = False) -> ConnectorUnavailable:
        """The error as ConnectorUnavailable; QueryFailed when the user's statement (`statement`) is
        what PostgreSQL refused, by the class of its SQLSTATE."""
        if isinstance(error, ConnectorUnavailable):
            return error
        diag = getattr(error, "diag", None)
        primary = getattr(diag, "message_primary", None) if diag is not None else None
        code = getattr(error, "pgcode", None)
        command = _non_query_command(sql, primary) if sql is not None and code == "42601" else None
        if command:
            # The query is read through a cursor, which PostgreSQL declares only for queries: an
            # INSERT, a DDL statement... is a syntax error there. Say what really stops it.
            return QueryFailed(f"cannot execute {command} in a read-only transaction; the query must be a SELECT",
                               sqlstate=code)
        if primary:
            message = f"{primary} (SQLSTATE {code})" if code else primary
        else:
            message = str(error) or error.__class__.__name__
        message = scrub_secrets(one_line(message), [settings.get("password")])
        if statement and code and code[:2] not in _NOT_THE_QUERY:
            return QueryFailed(message, sqlstate=code)
        return ConnectorUnavailable(message)

    def _connect(self, settings: dict, *, statement_timeout_ms: int, connect_timeout: int):
        options = (f"-c statement_timeout={int(statement_timeout_ms)} -c TimeZone=UTC -c DateStyle=ISO "
                   "-c standard_conforming_strings=on -c default_transaction_read_only=on -c extra_float_digits=1 "
                   "-c idle_in_transaction_session_timeout=0")
        address = connect_address(settings)
        try:
            with certificate_file(settings.get("sslrootcert")) as ca_file:
                conn = psycopg2.connect(host=settings.get("host"), hostaddr=address, port=settings.get("port"),
                                        user=settings.get("username"), password=settings.get("password") or "",
                                        dbname=settings.get("database"), connect_timeout=max(int(connect_timeout), 1),
                                        options=options, application_name="krenalis", client_encoding="UTF8",
                                        sslmode=settings.get("sslmode") or DEFAULT_SSL_MODE,
                                        sslrootcert=ca_file or NO_FILE, sslcert=NO_FILE, sslkey=NO_FILE,
                                        sslcrl=NO_FILE, sslcrldir=NO_FILE, passfile=NO_FILE, gssencmode="disable",
                                        # a source that vanishes without closing the connection (host down,
                                        # network cut) is noticed in about a minute instead of never
                                        keepalives=1, keepalives_idle=30, keepalives_interval=10,
                                        keepalives_count=3)
        except Exception as error:
            raise self._error(error, settings) from None
        try:
            # READ COMMITTED whatever the server's default: the query's snapshot is taken when it is
            # declared, after the look-back's observation of the transactions in progress (observe).
            conn.set_session(readonly=True, autocommit=False, isolation_level="READ COMMITTED")
            for caster in _TYPECASTERS:
                _ext.register_type(caster, conn)
            with conn.cursor() as cur:
                # As the DSN parameter search_path=<schema> of the reference: the raw setting value.
                cur.execute("SELECT set_config('search_path', %s, false)", (settings.get("schema") or "public",))
        except Exception as error:
            conn.close()
            raise self._error(error, settings) from None
        return conn

    def test_connection(self, settings: dict, *, connect_timeout: int | None = None) -> list[str]:
        timeout = self._timeout(connect_timeout)
        conn = self._connect(settings, statement_timeout_ms=timeout * 1000, connect_timeout=timeout)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1")
                cur.fetchall()
                return self._login_warnings(cur)
        except Exception as error:
            raise self._error(error, settings) from None
        finally:
            conn.close()

    @staticmethod
    def _login_warnings(cur) -> list[str]:
        """A superuser, or a login that may INSERT, UPDATE, DELETE or TRUNCATE tables (or views) of the
        connection's schema (its search_path)."""
        cur.execute("SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user")
        user, superuser = cur.fetchone() or (None, False)
        if superuser:
            return [f'user "{user}" is a superuser: {READ_ONLY_ADVICE}']
        cur.execute("SELECT c.relname, count(*) OVER () FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = ANY (current_schemas(false)) AND c.relkind IN ('r', 'p', 'v', 'f') "
                    "AND (has_any_column_privilege(c.oid, 'INSERT, UPDATE') OR has_table_privilege(c.oid, "
                    "'DELETE, TRUNCATE')) ORDER BY c.relname LIMIT %s", (WRITABLE_SHOWN,))
        rows = cur.fetchall()
        if not rows:
            return []
        return [f'user "{user}" can write {writable_tables(rows[0][1], [name for name, _ in rows])}: '
                f'{READ_ONLY_ADVICE}']

    @contextmanager
    def query(self, settings: dict, sql: str, *, timeout_seconds: int, batch_size: int = 10_000,
              max_rows: int | None = None, connect_timeout: int | None = None,
              control: QueryControl | None = None, observe: bool = False):
        if batch_size < 1:
            raise ValueError("batch_size must be positive")
        sql = self.check_query(sql)
        control = control or QueryControl()
        in_flight = None
        conn = self._connect(settings, statement_timeout_ms=max(int(timeout_seconds * 1000), 1),
                             connect_timeout=self._timeout(connect_timeout))
        session = None
        try:
            wrap_error = control.wrap_error(lambda error: self._error(error, settings, sql, statement=True))
            try:
                if control.wants_session:
                    session = self._session(conn)
                # libpq's cancel request, safe from any thread: the FETCH in progress ends at once
                control.attach(conn.cancel, session)
                if observe:
                    in_flight = control.call(self._in_flight, conn)
                cur = conn.cursor(name="krenalis_query")
                control.call(cur.execute, sql)  # DECLARE ... CURSOR FOR <sql>
                first_size = batch_size if max_rows is None else min(batch_size, max_rows)
                first = control.call(cur.fetchmany, first_size)  # the description is known only after a FETCH
                typed = self._type_columns(conn, cur.description or ())
            except ConnectorUnavailable:
                raise
            except Exception as error:
                raise wrap_error(error) from None
            schema, positions, converters = build_schema(typed)
            result = QueryResult(schema, cur.fetchmany, make_batch_transform(len(typed), positions, converters),
                                 batch_size=batch_size, max_rows=max_rows, first_batch=first, first_size=first_size,
                                 wrap_error=lambda error: self._error(error, settings, statement=True),
                                 control=control)
            result.in_flight = in_flight
            yield result
        finally:
            control.detach(had_session=session is not None)
            conn.close()  # the transaction is rolled back; nothing was written

    @staticmethod
    def _in_flight(conn) -> InFlight:
        """The transactions of this database in progress, other than ours: every transaction holds the
        lock of its virtual transaction id until it ends, and pg_locks shows them to any user;
        pg_stat_activity shows their start only to the same role or pg_read_all_stats (else None).
        Read before the query is declared (READ COMMITTED: its snapshot is taken then), the clock
        first: a transaction that starts later started after `at`."""
        with conn.cursor() as cur:
            cur.execute("SELECT clock_timestamp(), pg_postmaster_start_time()::text || ' ' || oid::text "
                        "FROM pg_database WHERE datname = current_database()")
            at, source = cur.fetchone()
            cur.execute("SELECT l.pid, l.virtualxid, a.xact_start FROM pg_locks l "
                        "JOIN pg_stat_activity a ON a.pid = l.pid "
                        "WHERE l.locktype = 'virtualxid' AND l.mode = 'ExclusiveLock' AND l.granted "
                        "AND l.pid <> pg_backend_pid() AND a.datid = (SELECT oid FROM pg_database "
                        "WHERE datname = current_database()) "
                        "AND a.usesysid IS NOT NULL "  # autovacuum has no role (writes no user rows)
                        "AND coalesce(a.backend_type, '') NOT IN ('autovacuum worker', 'parallel worker')")
            rows = cur.fetchall()
        return InFlight(source=f"postgresql {source}", at=at,
                        transactions={f"{pid} {vxid}": start for pid, vxid, start in rows})

    @staticmethod
    def _session(conn) -> dict:
        """The session's id for end_session: the backend's pid and start time (a pid is reused)."""
        with conn.cursor() as cur:
            cur.execute("SELECT pid, backend_start::text FROM pg_stat_activity WHERE pid = pg_backend_pid()")
            pid, start = cur.fetchone()
        return {"pid": pid, "backendStart": start}

    def end_session(self, settings: dict, session, *, connect_timeout: int | None = None) -> bool:
        """pg_terminate_backend on the recorded backend, if it is still the same session."""
        if not isinstance(session, dict) or not isinstance(session.get("pid"), int):
            return False
        timeout = self._timeout(connect_timeout)
        conn = self._connect(settings, statement_timeout_ms=timeout * 1000, connect_timeout=timeout)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE pid = %s AND backend_start = %s::timestamptz",
                            (session["pid"], str(session.get("backendStart"))))
                row = cur.fetchone()
            return bool(row and row[0])
        except Exception as error:
            raise self._error(error, settings) from None
        finally:
            conn.close()

    # -- column typing ----------------------------------------------------------------------

    def _type_columns(self, conn, description) -> list:
        unknown = sorted({d.type_code for d in description
                          if d.type_code not in _SIMPLE_TYPES and d.type_code not in (BPCHAR, VARCHAR, NUMERIC)})
        names = self._type_names(conn, unknown) if unknown else {}
        typed = []
        for d in description:
            oid = d.type_code
            type_, issue = None, None
            if oid in _SIMPLE_TYPES:
                type_ = _SIMPLE_TYPES[oid]
            elif names.get(oid) is _ENUM:
                type_ = Type(kind="string")  # its labels, as text (MySQL's ENUM is a string too)
            elif oid in (BPCHAR, VARCHAR):
                size = d.internal_size
                type_ = Type(kind="string", max_length=size) if size and size > 0 else Type(kind="string")
            elif oid == NUMERIC:
                type_, issue = _numeric_type(d.name, d.precision, d.scale)
            else:
                issue = UNSUPPORTED_TYPE_ISSUE.format(d.name, names.get(oid, str(oid)))
            typed.append((d.name, type_, True, issue, None))
        return typed

    @staticmethod
    def _type_names(conn, oids: list[int]) -> dict[int, object]:
        """The names of unsupported types: "array", the upper-cased pg_catalog name, or the OID;
        _ENUM for enum types, which are supported."""
        with conn.cursor() as cur:
            cur.execute("SELECT t.oid, t.typname, t.typcategory, n.nspname FROM pg_type t "
                        "JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.oid = ANY(%s)", (oids,))
            rows = cur.fetchall()
        names = {}
        for oid, typname, category, namespace in rows:
            if category == "E":
                names[oid] = _ENUM
            elif category == "A":
                names[oid] = "array"
            elif namespace == "pg_catalog":
                names[oid] = typname.upper()
            else:
                names[oid] = str(oid)
        return names

    # -- literals ---------------------------------------------------------------------------

    def quote_string(self, text: str) -> str:
        """A standard string literal (the session has standard_conforming_strings on); NUL is dropped."""
        return "'" + text.replace("\x00", "").replace("'", "''") + "'"


def _numeric_type(name: str, precision, scale):
    """(type, issue) of a numeric column from the precision and scale psycopg2 decodes from the typmod."""
    if precision is None or precision in (65535, -1) or scale is None:
        return _UNCONSTRAINED_NUMERIC, None
    if scale > 1023:  # the scale is an 11-bit signed number (PostgreSQL 15 allows negative scales)
        scale -= 2048
    if scale < 0:  # numeric(5,-2) holds integers of up to 7 digits
        precision, scale = precision - scale, 0
    elif scale > precision:  # numeric(2,5) holds 0.00099 at most
        precision = scale
    if precision > 76:
        return None, PRECISION_ISSUE.format(name, precision)
    if scale > 37:
        return None, SCALE_ISSUE.format(name, scale)
    return Type(kind="decimal", precision=precision, scale=scale), None
