"""Database source connectors: the shared part.

Pure Python (no Django). A connector has three verbs:

- ``validate_settings(settings) -> dict``: checks the settings a user sends (exact messages of
  reference krenalis-api.md §5.6) and returns them normalized. Raises InvalidSettings (→ 422).
- ``test_connection(settings)``: connects and pings. Raises ConnectorUnavailable (→ 503).
- ``query(settings, sql, *, timeout_seconds, batch_size, max_rows)``: a context manager that runs
  one SQL statement read-only, with a statement timeout, and yields a QueryResult: its ``schema``
  (the supported columns typed as Krenalis types, plus "issues" for the columns left out) and,
  when iterated, **batches** (lists of tuples) of values already in the Krenalis value model,
  read in constant memory. Raises ConnectorUnavailable on any database failure.

Plus ``sql_literal(value, type)`` to render the ``${updated_at}`` placeholder.

Values a driver returns that cannot be represented in the value model (e.g. bytes that are not
UTF-8, a MySQL TIME of 30 hours) are passed through unchanged, so that the engine's per-row
validation rejects that row instead of failing the whole query.
"""

from __future__ import annotations

import datetime as _dt
import json
import struct
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from pipelines.types import Property, RawJSON, Type, is_valid_property_name, object_type

__all__ = [
    "InvalidSettings", "ConnectorUnavailable", "QueryFailed", "Column", "QuerySchema", "QueryResult", "Connector",
    "INVALID_NAME_ISSUE", "UNSUPPORTED_TYPE_ISSUE", "ordinal", "scrub_secrets",
]

UTC = _dt.timezone.utc
_INF = float("inf")

INVALID_NAME_ISSUE = ('Column "{}" does not have a valid property name. Valid names start with a letter or '
                      'underscore, followed by only letters, numbers, or underscores.')
UNSUPPORTED_TYPE_ISSUE = 'Column "{}" has an unsupported type "{}".'
PRECISION_ISSUE = 'Column "{}" has a precision of {}, which exceeds the maximum supported precision of 76.'
SCALE_ISSUE = 'Column "{}" has a scale of {}, which exceeds the maximum supported scale of 37.'

MAX_DECIMAL_PRECISION = 76
MAX_DECIMAL_SCALE = 37


class InvalidSettings(Exception):
    """Settings that break a rule of the connector; str() is the message (422 InvalidSettings)."""


class ConnectorUnavailable(Exception):
    """The database cannot be used: cannot connect, SQL error, timeout (503 ServiceUnavailable).

    The message is the driver's text; it never contains the connection password.
    """


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
    ``max_rows`` rows are produced in total when it is given. Iterate only once. When no column
    is supported, there are no rows.
    """

    def __init__(self, schema: QuerySchema, fetch: Callable[[int], Sequence], transform: Callable[[list], list],
                 *, batch_size: int, max_rows: int | None, wrap_error: Callable[[BaseException], Exception],
                 first_batch: Sequence | None = None, first_size: int | None = None):
        self.schema = schema
        self._fetch = fetch
        self._transform = transform
        self._batch_size = batch_size
        self._remaining = max_rows
        self._wrap_error = wrap_error
        self._first = first_batch
        self._first_size = first_size
        self.exhausted = False  # True once the driver reported the end of the rows
        self.rows_read = 0

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

    def _next_batch(self, size: int) -> list | None:
        try:
            rows = self._fetch(size)
            if not rows:
                self.exhausted = True
                return None
            return self._take(rows, size)
        except ConnectorUnavailable:
            raise
        except Exception as error:  # driver errors, and conversion errors raised while fetching
            raise self._wrap_error(error) from error

    def __iter__(self) -> Iterator[list[tuple]]:
        if not self.schema.columns:  # nothing supported: no rows (the preview's "rows": [])
            return
        if self._first is not None:
            first, self._first = self._first, None
            if first:
                try:
                    batch = self._take(first, self._first_size)
                except Exception as error:
                    raise self._wrap_error(error) from error
                yield batch
            elif self._first_size:
                self.exhausted = True
        while not self.exhausted and (self._remaining is None or self._remaining > 0):
            size = self._batch_size if self._remaining is None else min(self._batch_size, self._remaining)
            batch = self._next_batch(size)
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

    def test_connection(self, settings: dict, *, connect_timeout: int | None = None) -> None:  # pragma: no cover
        """Connects and pings; raises ConnectorUnavailable on failure."""
        raise NotImplementedError

    def query(self, settings: dict, sql: str, *, timeout_seconds: int, batch_size: int = 10_000,
              max_rows: int | None = None, connect_timeout: int | None = None):  # pragma: no cover - abstract
        """Context manager yielding a QueryResult; see the module docstring."""
        raise NotImplementedError

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
