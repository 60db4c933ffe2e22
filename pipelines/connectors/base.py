"""Database source connectors: the shared part.

Pure Python (no Django). A connector has three verbs:

- ``validate_settings(settings) -> dict``: checks the settings a user sends (exact messages of
  reference krenalis-api.md §5.6) and returns them normalized. Raises InvalidSettings (→ 422).
- ``test_connection(settings) -> list[str]``: connects and pings, and returns warnings about the
  login (it can do more than read). Raises ConnectorUnavailable (→ 503).
- ``check_query(sql) -> str``: refuses a query that may do more than read (QueryNotAllowed, a
  ConnectorUnavailable), before anything connects; ``query`` calls it (see querycheck.py).
- ``query(settings, sql, *, timeout_seconds, batch_size, max_rows, control, observe)``: a context manager that
  runs one SQL statement read-only, with a statement timeout, and yields a QueryResult: its ``schema``
  (the supported columns typed as Krenalis types, plus "issues" for the columns left out) and,
  when iterated, **batches** (lists of tuples) of values already in the Krenalis value model,
  read in constant memory. Raises ConnectorUnavailable on any database failure. ``control``, a
  QueryControl, lets another thread interrupt the query in the source at any moment (QueryInterrupted).
  With ``observe``, the connector first notes the source's transactions in progress, before the
  query's snapshot: ``result.in_flight`` (an InFlight), or None and ``result.in_flight_note`` saying
  why it cannot (the look-back of incremental runs, see pipelines/lookback.py).

Plus ``sql_literal(value, type)`` to render the ``${updated_at}`` placeholder, and
``end_session(settings, session)`` to end, from another process, the source session a QueryControl
recorded (a run whose worker died).

The network connectors connect only to the address their settings are pinned to
(``network.pin_settings``: the host resolved once and checked against the address policy); settings
that are not pinned are a programming error.

Values a driver returns that cannot be represented in the value model (e.g. bytes that are not
UTF-8, a MySQL TIME of 30 hours) are passed through unchanged, so that the engine's per-row
validation rejects that row instead of failing the whole query.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import json
import os
import re
import struct
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from pipelines.types import Property, RawJSON, Type, is_valid_property_name, object_type

__all__ = [
    "InvalidSettings", "ConnectorUnavailable", "QueryFailed", "QueryInterrupted", "QueryControl", "Column",
    "QuerySchema", "QueryResult", "Connector", "INVALID_NAME_ISSUE", "UNSUPPORTED_TYPE_ISSUE", "ordinal",
    "scrub_secrets", "InFlight", "ADDRESS", "connect_address", "check_certificates", "certificate_file", "NO_FILE",
]

UTC = _dt.timezone.utc
_INF = float("inf")

INVALID_NAME_ISSUE = ('Column "{}" does not have a valid property name. Valid names start with a letter or '
                      'underscore, followed by only letters, numbers, or underscores.')
UNSUPPORTED_TYPE_ISSUE = 'Column "{}" has an unsupported type "{}".'
PRECISION_ISSUE = 'Column "{}" has a precision of {}, which exceeds the maximum supported precision of 76.'
SCALE_ISSUE = 'Column "{}" has a scale of {}, which exceeds the maximum supported scale of 37.'

# Test connection's warnings about a login that can do more than read (the queries are checked too,
# but a user that can only read is the real defence).
READ_ONLY_ADVICE = "a user that can only read the source tables is safer"
WRITABLE_SHOWN = 5


def writable_tables(count: int, names: Sequence[str]) -> str:
    """'2 tables (a, b)', '7 tables (a, b, c, d, e, and 2 more)'."""
    shown = ", ".join(names[:WRITABLE_SHOWN])
    if count > WRITABLE_SHOWN:
        shown += f", and {count - WRITABLE_SHOWN} more"
    return f"{count} {'table' if count == 1 else 'tables'} ({shown})"


MAX_DECIMAL_PRECISION = 76
MAX_DECIMAL_SCALE = 37


class InvalidSettings(Exception):
    """Settings that break a rule of the connector; str() is the message (422 InvalidSettings)."""


class ConnectorUnavailable(Exception):
    """The database cannot be used: cannot connect, SQL error, timeout (503 ServiceUnavailable).

    The message is the driver's text; it never contains the connection password.
    """


class QueryInterrupted(ConnectorUnavailable):
    """The query was interrupted on purpose (QueryControl.interrupt); str() is the reason given."""


class QueryControl:
    """A handle on one source query for other threads: ``interrupt(reason)`` stops it in the source
    (PostgreSQL's cancel request, MySQL's KILL QUERY on a second connection, SQLite's interrupt) at
    any moment: before it is sent, while the driver blocks, between two batches. The query then
    raises QueryInterrupted(reason). ``busy_for()`` tells how long the driver call in progress has
    been blocking (a watcher ends calls that outlive the statement timeout), and ``on_session``
    receives the source's id of the query's session (None once the query is over), so that another
    process can end it with Connector.end_session.

    A cancel can reach the server just before the statement it should stop; a watcher calls
    ``interrupt`` again while ``busy_for()`` is not None, which catches that statement too.
    """

    def __init__(self, on_session: Callable[[Any], None] | None = None):
        self._lock = threading.Lock()
        self._interrupt: Callable[[], None] | None = None
        self._since: float | None = None  # when the driver call in progress started
        self._on_session = on_session
        self.reason: str | None = None

    @property
    def wants_session(self) -> bool:
        return self._on_session is not None

    def attach(self, interrupt: Callable[[], None], session: Any = None) -> None:
        """Called by the connector once connected, with its way to stop the query; an interrupt that
        came before stops the query here."""
        with self._lock:
            self._interrupt = interrupt
        if session is not None and self._on_session is not None:
            self._on_session(session)
        self.check()

    def detach(self, *, had_session: bool = False) -> None:
        """Called by the connector before it closes the connection."""
        with self._lock:
            self._interrupt = None
        if had_session and self._on_session is not None:
            self._on_session(None)

    def check(self) -> None:
        """Raises QueryInterrupted once the query was interrupted."""
        if self.reason is not None:
            raise QueryInterrupted(self.reason)

    def call(self, function: Callable, *args):
        """A blocking driver call, timed for busy_for() and refused once interrupted."""
        with self._lock:
            self.check()
            self._since = time.monotonic()
        try:
            return function(*args)
        finally:
            with self._lock:
                self._since = None

    def busy_for(self) -> float | None:
        """Seconds the driver call in progress has been blocking; None between calls."""
        since = self._since
        return None if since is None else time.monotonic() - since

    def interrupt(self, reason: str) -> None:
        """Stops the query with `reason` (the first one given stays). From any thread, any number of
        times; it reaches the source only while a driver call is in progress (a later call is
        refused before it starts)."""
        with self._lock:
            if self.reason is None:
                self.reason = reason
            interrupt = self._interrupt if self._since is not None else None
        if interrupt is not None:
            try:
                interrupt()
            except Exception:  # the query ended meanwhile, or the source is gone: nothing to stop
                pass

    def wrap_error(self, wrap: Callable[[BaseException], Exception]) -> Callable[[BaseException], Exception]:
        """`wrap` (driver error → ConnectorUnavailable), except that the error of an interrupted query
        is QueryInterrupted with the reason, not the driver's "canceling statement due to user request"."""
        def wrapped(error: BaseException) -> Exception:
            if self.reason is not None and not isinstance(error, QueryInterrupted):
                return QueryInterrupted(self.reason)
            return wrap(error)
        return wrapped


@dataclass
class InFlight:
    """The source's transactions in progress (other than the query's own) just before the query's
    snapshot was taken: whatever they commit later, the query cannot have read."""

    source: str                                      # which server and database (keys mean nothing elsewhere)
    at: _dt.datetime                                 # the source's clock when it looked
    transactions: dict[str, _dt.datetime | None]     # transaction key -> its start (None: not shown)
    margin: _dt.timedelta = _dt.timedelta(0)         # how much earlier than its start a transaction may stamp


class QueryFailed(ConnectorUnavailable):
    """The database refused or failed the query itself (a syntax error, an unknown table, a write in
    the read-only transaction, a division by zero...): still 503 as in the reference, but the message
    starts with "query failed: " so that nobody takes it for an outage. `sqlstate` is PostgreSQL's
    code of the error, when there is one."""

    PREFIX = "query failed: "

    def __init__(self, message: str, *, sqlstate: str | None = None):
        super().__init__(self.PREFIX + message)
        self.sqlstate = sqlstate


# --------------------------------------------------------------------------- schema


@dataclass
class Column:
    """A result column. `type` is None only for columns that are not supported."""

    name: str
    type: Type | None
    nullable: bool


@dataclass
class QuerySchema:
    """The supported result columns, in query order, and the issues about the others
    (`left_out`: the issue of each column left out, by name)."""

    columns: list[Column] = field(default_factory=list)
    issues: list[str] = field(default_factory=list)
    left_out: dict[str, str] = field(default_factory=dict)

    def properties(self) -> list[Property]:
        return [Property(name=c.name, type=c.type, nullable=c.nullable) for c in self.columns]

    def object_type(self) -> Type | None:
        """The schema as an object type, or None when no column is supported (preview's null)."""
        if not self.columns:
            return None
        return object_type(*self.properties())


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, ..., 11th, 12th, 13th, ..., 21st."""
    if 10 <= n % 100 <= 20:
        suffix = "th"
    else:
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def check_duplicate_names(names: Sequence[str]) -> None:
    """Two result columns with the same name make the query fail."""
    seen: dict[str, int] = {}
    for index, name in enumerate(names):
        if name in seen:
            raise ConnectorUnavailable(
                f'the names of the {ordinal(seen[name] + 1)} and {ordinal(index + 1)} columns are the same: "{name}"')
        seen[name] = index


# A column as a connector types it: (name, type or None, nullable, issue or None, converter or None).
# The converter turns a non-NULL driver value into the value model; None means "already fits".
TypedColumn = tuple[str, "Type | None", bool, "str | None", "Callable[[Any], Any] | None"]


def build_schema(typed: Sequence[TypedColumn]) -> tuple[QuerySchema, list[int], list]:
    """Returns the schema, the result positions of the supported columns and their converters."""
    check_duplicate_names([c[0] for c in typed])
    schema = QuerySchema()
    positions: list[int] = []
    converters: list = []
    for position, (name, type_, nullable, issue, converter) in enumerate(typed):
        if not is_valid_property_name(name):
            schema.issues.append(INVALID_NAME_ISSUE.format(name))
            continue
        if type_ is None:
            schema.issues.append(issue or UNSUPPORTED_TYPE_ISSUE.format(name, "unknown"))
            schema.left_out[name] = schema.issues[-1]
            continue
        schema.columns.append(Column(name=name, type=type_, nullable=nullable))
        positions.append(position)
        converters.append(converter)
    return schema, positions, converters


def make_batch_transform(width: int, positions: Sequence[int], converters: Sequence) -> Callable[[list], list]:
    """A function that turns a batch of driver rows into rows of the supported, converted values.

    Built once per query as a single generated comprehension, so the per-row cost is one tuple
    build plus one call per column that needs a conversion.
    """
    if list(positions) == list(range(width)) and not any(converters):
        return list
    env: dict[str, Any] = {}
    parts = []
    for k, (position, converter) in enumerate(zip(positions, converters)):
        if converter is None:
            parts.append(f"r[{position}]")
        else:
            env[f"c{k}"] = converter
            parts.append(f"(None if r[{position}] is None else c{k}(r[{position}]))")
    source = f"lambda rows: [({', '.join(parts)},) for r in rows]" if parts else "lambda rows: [() for r in rows]"
    return eval(source, env)  # noqa: S307 - the source is built from integers and our own names only


# --------------------------------------------------------------------------- streaming


class QueryResult:
    """The result of Connector.query: ``schema`` plus iteration over batches of rows.

    Each batch is a list of tuples, one value per column of ``schema.columns``. At most
    ``max_rows`` rows are produced in total when it is given. Iterate only once (or take batches
    of the sizes you choose with ``next_batch``). When no column is supported, there are no rows.
    Every fetch goes through ``control`` (QueryControl): an interrupted query fetches no more.
    """

    def __init__(self, schema: QuerySchema, fetch: Callable[[int], Sequence], transform: Callable[[list], list],
                 *, batch_size: int, max_rows: int | None, wrap_error: Callable[[BaseException], Exception],
                 first_batch: Sequence | None = None, first_size: int | None = None,
                 control: QueryControl | None = None):
        self.schema = schema
        self.control = control or QueryControl()
        self._fetch = fetch
        self._transform = transform
        self._batch_size = batch_size
        self._remaining = max_rows
        self._wrap_error = self.control.wrap_error(wrap_error)
        self._first = first_batch
        self._first_size = first_size
        self.exhausted = False  # True once the driver reported the end of the rows
        self.rows_read = 0
        self.in_flight: InFlight | None = None  # with query(observe=True), see InFlight
        self.in_flight_note = ""                # why there is no observation

    @property
    def columns(self) -> list[Column]:
        return self.schema.columns

    def _take(self, rows: Sequence, requested: int) -> list:
        rows = list(rows)
        if len(rows) < requested:
            self.exhausted = True
        self.rows_read += len(rows)
        if self._remaining is not None:
            self._remaining -= len(rows)
        return self._transform(rows)

    def next_batch(self, size: int | None = None) -> list | None:
        """The next batch, of at most `size` rows (default: the query's batch size), or None after
        the last. The first batch of a connector that reads it ahead has the size it was read with."""
        if not self.schema.columns:  # nothing supported: no rows (the preview's "rows": [])
            return None
        try:
            if self._first is not None:
                first, self._first = self._first, None
                if first:
                    return self._take(first, self._first_size)
                if self._first_size:
                    self.exhausted = True
            if self.exhausted or (self._remaining is not None and self._remaining <= 0):
                return None
            size = size or self._batch_size
            if self._remaining is not None:
                size = min(size, self._remaining)
            rows = self.control.call(self._fetch, size)
            if not rows:
                self.exhausted = True
                return None
            return self._take(rows, size)
        except ConnectorUnavailable:
            raise
        except Exception as error:  # driver errors, and conversion errors raised while fetching
            raise self._wrap_error(error) from error

    def __iter__(self) -> Iterator[list[tuple]]:
        while True:
            batch = self.next_batch()
            if batch is None:
                return
            yield batch

    def rows(self) -> Iterator[tuple]:
        """The rows one by one (still read in batches)."""
        for batch in self:
            yield from batch


# --------------------------------------------------------------------------- helpers


def scrub_secrets(message: str, secrets: Sequence[str | None]) -> str:
    """Removes every secret (and its common escaped forms) from a driver message."""
    for secret in secrets:
        if not secret:
            continue
        forms = {secret, secret.replace("\\", "\\\\").replace("'", "\\'"), secret.replace("'", "''"),
                 json.dumps(secret)[1:-1]}
        forms.add(quote(secret, safe=""))
        for form in sorted(forms, key=len, reverse=True):
            if form:
                message = message.replace(form, "********")
    return message


def one_line(message: str) -> str:
    """Driver messages often span lines; the API message is one line."""
    return " ".join(str(message).split())


def json_text(value: Any) -> str:
    """The text of a json value (RawJSON, str, bytes, or a JSON-able Python value)."""
    if isinstance(value, str):
        return value
    text = getattr(value, "text", None)
    if isinstance(text, str):
        return text
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8")
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def to_raw_json(value: Any) -> Any:
    """Driver text/bytes → RawJSON (kept verbatim); undecodable bytes pass through."""
    if isinstance(value, str):
        return RawJSON(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        try:
            return RawJSON(bytes(value).decode("utf-8"))
        except UnicodeDecodeError:
            return value
    return value


def bytes_to_str(value: Any) -> Any:
    """bytes → str when valid UTF-8; anything else unchanged (the row then fails validation)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return bytes(value)
    return value


_F32 = struct.Struct("<f")


def float32_value(value: Any) -> Any:
    """A float(32) in the value model: the double nearest to the float32's shortest text (1.1, not
    1.100000023841858). Values that are not finite floats of the float32 range pass through."""
    if type(value) is not float or value != value or value in (_INF, -_INF):
        return value
    try:
        single = _F32.unpack(_F32.pack(value))[0]
    except (OverflowError, struct.error):
        return value
    for digits in range(1, 10):
        text = "%.*g" % (digits, single)
        if _F32.unpack(_F32.pack(float(text)))[0] == single:
            return float(text)
    return single  # pragma: no cover - 9 digits always suffice


def naive_as_utc(value: Any) -> Any:
    """A datetime in UTC: naive values are UTC (as the Go drivers read them), aware ones are converted."""
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
    return value


def _datetime_text(value: _dt.datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return (f"{value.year:04d}-{value.month:02d}-{value.day:02d} "
            f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}")


def _date_text(value: _dt.date) -> str:
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


# --------------------------------------------------------------------------- settings helpers


def require_object(settings: Any) -> dict:
    if not isinstance(settings, dict):
        raise InvalidSettings("settings must be a JSON object")
    return settings


def get_string(settings: dict, key: str) -> str:
    """A string setting; absent or null is "" (as Go's zero value). No driver takes a NUL character."""
    value = settings.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidSettings(f"{key} must be a string")
    if "\x00" in value:
        raise InvalidSettings(f"{key} cannot contain the NUL character")
    return value


def get_int(settings: dict, key: str) -> int:
    """An integer setting; absent or null is 0. Booleans and floats are not integers."""
    value = settings.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidSettings(f"{key} must be an integer")
    return value


def check_bytes(value: str, low: int, high: int, message: str) -> None:
    if not low <= len(value.encode("utf-8", "surrogatepass")) <= high:
        raise InvalidSettings(message)


def check_runes(value: str, low: int, high: int, message: str) -> None:
    if not low <= len(value) <= high:
        raise InvalidSettings(message)


def check_port(port: int) -> None:
    if not 1 <= port <= 65535:
        raise InvalidSettings("port must be in range [1,65535]")


# --------------------------------------------------------------------------- network and TLS helpers

ADDRESS = "_address"  # the key of pinned settings that holds the checked address (never stored)
NO_FILE = "/dev/null/none"  # a path no file can have: drivers read no default file of the server's user
MAX_CERTIFICATES_LENGTH = 65_536
_PEM_BLOCK = re.compile(r"-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]*?)-----END CERTIFICATE-----")


def connect_address(settings: dict) -> str:
    """The checked address of pinned settings."""
    address = settings.get(ADDRESS)
    if not address:
        raise ValueError("the settings are not pinned to a checked address (network.pin_settings)")
    return address


def check_certificates(text: str, key: str) -> None:
    """A CA certificate setting: one or more PEM certificates, nothing else."""
    message = f"{key} must be one or more PEM-encoded certificates (-----BEGIN CERTIFICATE-----...)"
    if len(text) > MAX_CERTIFICATES_LENGTH:
        raise InvalidSettings(f"{key} must be no longer than {MAX_CERTIFICATES_LENGTH} characters")
    blocks = _PEM_BLOCK.findall(text)
    if not blocks or _PEM_BLOCK.sub("", text).strip():
        raise InvalidSettings(message)
    for block in blocks:
        try:
            der = base64.b64decode("".join(block.split()), validate=True)
        except (binascii.Error, ValueError):
            raise InvalidSettings(message) from None
        if not der.startswith(b"\x30"):  # a DER SEQUENCE
            raise InvalidSettings(message)


@contextmanager
def certificate_file(text: str | None):
    """The path of a 0600 temporary file holding `text` (None when there is no text), removed on
    exit: drivers read certificates from files, and only while they connect."""
    if not text:
        yield None
        return
    descriptor, path = tempfile.mkstemp(prefix="krenalis-ca-", suffix=".pem")  # mode 0600
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(text)
        yield path
    finally:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


# --------------------------------------------------------------------------- connector


class Connector:
    """A database source connector. Subclasses implement the driver-specific parts."""

    code: str = ""
    label: str = ""
    type: str = "Database"
    sample_query: str = "SELECT *\nFROM users\n"
    settings_keys: tuple[str, ...] = ()
    connect_timeout: int = 10  # seconds, default for test_connection/query

    def validate_settings(self, settings: dict) -> dict:  # pragma: no cover - abstract
        """Checks the settings and returns them normalized (only the known keys)."""
        raise NotImplementedError

    def test_connection(self, settings: dict, *, connect_timeout: int | None = None) -> list[str]:  # pragma: no cover
        """Connects and pings; raises ConnectorUnavailable on failure. Returns warnings about the
        login (a superuser, a user that can write the tables): empty when it can only read."""
        raise NotImplementedError

    def check_query(self, sql: str) -> str:
        """The SQL to send for a user's query (its trailing ``;`` removed), or raises QueryNotAllowed
        (a ConnectorUnavailable) when it may do more than read; ``query`` calls it before connecting.
        Called on the text actually sent, placeholders replaced."""
        return sql

    def query(self, settings: dict, sql: str, *, timeout_seconds: int, batch_size: int = 10_000,
              max_rows: int | None = None, connect_timeout: int | None = None,
              control: QueryControl | None = None, observe: bool = False):  # pragma: no cover - abstract
        """Context manager yielding a QueryResult; see the module docstring."""
        raise NotImplementedError

    def end_session(self, settings: dict, session: Any, *, connect_timeout: int | None = None) -> bool:
        """Ends the source session a QueryControl recorded (its query stops, its transaction is rolled
        back), from any process: for a run whose worker died or hangs. True when one was ended; False
        when it is gone already or the connector has no sessions to end (SQLite: in-process)."""
        return False

    # -- ${updated_at} ------------------------------------------------------------------

    def quote_string(self, text: str) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def sql_literal(self, value: Any, type: Type) -> str:
        """The SQL literal of a value of the update-time column, for ``${updated_at}``.

        None → ``NULL``; datetime → ``'YYYY-MM-DD HH:MM:SS.ffffff'`` in UTC (naive values are
        UTC); date → ``'YYYY-MM-DD'``; string/json → the text as a quoted string literal.
        """
        if value is None:
            return "NULL"
        kind = type.kind
        if kind == "datetime":
            if not isinstance(value, _dt.datetime):
                raise TypeError(f"a datetime value is required, not {value.__class__.__name__}")
            return f"'{_datetime_text(value)}'"
        if kind == "date":
            if isinstance(value, _dt.datetime):
                value = naive_as_utc(value).date()
            if not isinstance(value, _dt.date):
                raise TypeError(f"a date value is required, not {value.__class__.__name__}")
            return f"'{_date_text(value)}'"
        if kind == "string":
            if not isinstance(value, str):
                raise TypeError(f"a string value is required, not {value.__class__.__name__}")
            return self.quote_string(value)
        if kind == "json":
            return self.quote_string(json_text(value))
        raise TypeError(f"cannot use a {kind} value as a placeholder")

    # -- helpers for subclasses -------------------------------------------------------------

    def _timeout(self, connect_timeout: int | None) -> int:
        return self.connect_timeout if connect_timeout is None else connect_timeout

    def __repr__(self) -> str:
        return f"<{self.__class__.__name__} {self.code}>"
