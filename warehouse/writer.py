"""Identity writers: what a run uses to upsert its identities into the warehouse.

`WarehouseBackend.identity_writer(...)` returns an `IdentityWriter` bound to one pipeline, one
connection and one run. The SQL lives in the backends; this module holds the interface and the
pure-Python value encodings:

* PostgreSQL, `CopyEncoder`: rows -> one `COPY ... FROM STDIN` text payload. One f-string per row
  is built by code generated once per writer; COPY escaping is applied only to the rows that need
  it, found by counting separators over the whole payload (a handful of C-level scans).
  Datetimes travel as microseconds since the Unix epoch (a bigint), which Python computes several
  times faster than their text; the backend turns them back into timestamps in its INSERT.
* SQLite, `sqlite_encoders`: one converter per column for `executemany` parameters.

Rows are `(identity_id, updated_at, values)`: `updated_at` an aware UTC datetime (naive ones are
taken as UTC), `values` a tuple in the writer's column order with None for NULL, in the value
model of `pipelines.types.values`.
"""
from __future__ import annotations

import math
from datetime import date, datetime, timedelta, timezone
from operator import methodcaller

from pipelines.types import RawJSON, Type, dumps_json, format_datetime, format_time

UTC = timezone.utc
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
COPY_NULL = "\\N"

Row = tuple  # (identity_id: str, updated_at: datetime, values: tuple)


class IdentityWriter:
    """Upserts the identities of one pipeline run. Not thread-safe; one per run.

    Every method runs in its own transaction and commits before returning.
    """

    def __init__(self, *, pipeline_id: int, connection_id: int, run_id: int, columns: list[tuple[str, Type]]):
        self.pipeline_id = int(pipeline_id)
        self.connection_id = int(connection_id)
        self.run_id = int(run_id)
        self.columns = [(check_column_name(name), t) for name, t in columns]
        self.closed = False

    def write(self, rows: list[Row]) -> int:
        """Inserts new identities and updates existing ones, keyed by (pipeline, identity id,
        not anonymous): every written column, `_updated_at` and `_run` change, `_connection` stays.

        Duplicated identity ids within the call: the last row wins. Returns the number of
        distinct identities written (so at most len(rows)).
        """
        raise NotImplementedError

    def keep(self, identity_ids: list[str]) -> None:
        """Marks existing identities as seen by this run (only `_run` changes), so purge spares them."""
        raise NotImplementedError

    def unset(self, column_names: list[str]) -> None:
        """Sets these columns to NULL for every identity of the pipeline."""
        raise NotImplementedError

    def purge(self) -> int:
        """Deletes the pipeline's identities this run neither wrote nor kept (`_run` NULL included)."""
        raise NotImplementedError

    def has_identities(self) -> bool:
        """Whether the pipeline has identities in the warehouse. Asked before a full run writes:
        when it has none, every identity there at the end is the run's own, and the purge (a scan
        of all of them) is skipped."""
        raise NotImplementedError

    def stage_full_run(self) -> bool:
        """Asked once, before the first write of a full run: whether this writer stages the run's
        writes and keeps (nothing reaches the identities meanwhile) until `finish_full_run` applies
        them in one transaction. A backend that cannot (or where it is not faster) answers False
        and writes as usual. PostgreSQL stages a full run into a pipeline that has identities, and
        loads a new table for a first import into an empty warehouse."""
        return False

    def finish_full_run(self, *, purge: bool) -> int:
        """Applies what was staged, in one transaction: the identities whose values changed are
        updated, new ones inserted, and with `purge` those neither written nor kept are deleted;
        unchanged identities are not touched (their `_kpid` and `_run` stay). Only that difference
        reaches the change log. Returns how many were purged."""
        raise NotImplementedError

    def flush(self) -> None:
        """Makes everything committed so far durable. A backend may commit batches without waiting
        for its disk, as long as this waits for all of them: the engine calls it before the run's
        end, and so the cursor, is recorded. By default every commit is already durable."""

    def close(self) -> None:
        """Releases the connection; idempotent."""
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
        return False


def check_column_name(name: str) -> str:
    """A profile column name: never a meta column, never something that needs more than quoting."""
    if not isinstance(name, str) or not name or name.startswith("_") or '"' in name or "\x00" in name:
        raise ValueError(f"{name!r} is not a profile column name")
    return name


def dedupe(rows: list[Row]) -> list[Row]:
    """The rows with one per identity id: the last row wins, at the position of the first."""
    if not isinstance(rows, list):
        rows = list(rows)
    by_id = {row[0]: row for row in rows}
    if len(by_id) == len(rows):
        return rows
    return list(by_id.values())


def as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    if value.utcoffset():
        return value.astimezone(UTC)
    return value


def epoch_microseconds(value: datetime) -> int:
    return (as_utc(value) - EPOCH) // MICROSECOND


def naive_utc_text(value: datetime) -> str:
    """'YYYY-MM-DD HH:MM:SS.ffffff' in UTC (always six fractional digits)."""
    return as_utc(value).replace(tzinfo=None).isoformat(" ", "microseconds")


# --------------------------------------------------------------------------- JSON storage form

def json_storage_value(value, t: Type):
    """A value inside a stored JSON document (map values, SQLite arrays): the API JSON form,
    except that 64-bit ints stay numbers. NaN and infinities become "NaN", "Infinity", "-Infinity"."""
    kind = t.kind
    if kind in ("string", "boolean", "int", "year", "uuid", "ip"):
        return value
    if kind == "float":
        if math.isfinite(value):
            return value
        return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
    if kind == "decimal":
        return value
    if kind == "datetime":
        return format_datetime(as_utc(value))
    if kind == "date":
        return value.isoformat()
    if kind == "time":
        return format_time(value)
    if kind == "json":
        return value if isinstance(value, RawJSON) else RawJSON(value)
    if kind == "array":
        return [json_storage_value(item, t.element_type) for item in value]
    if kind == "map":
        return {key: json_storage_value(item, t.element_type) for key, item in value.items()}
    if kind == "object":
        return {p.name: json_storage_value(value[p.name], p.type) for p in t.properties
                if value.get(p.name) is not None}
    raise TypeError(f"cannot store a value of kind {kind}")


def json_storage_text(value, t: Type) -> str:
    return dumps_json(json_storage_value(value, t))


# --------------------------------------------------------------------------- PostgreSQL COPY text

_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_escape(text: str) -> str:
    """A text field of COPY's text format."""
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        return text.translate(_COPY_ESCAPES)
    return text


def _array_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _array_element_encoder(t: Type):
    """Element -> its text inside a PostgreSQL array literal."""
    kind = t.kind
    if kind in ("int", "year"):
        return str
    if kind == "float":
        return repr
    if kind == "decimal":
        return lambda v: format(v, "f")
    if kind == "boolean":
        return lambda v: "t" if v else "f"
    if kind == "datetime":
        return lambda v: '"' + naive_utc_text(v) + '"'
    if kind == "json":
        return lambda v: _array_quote(v.text if isinstance(v, RawJSON) else v)
    if kind in ("date", "time"):
        return lambda v: '"' + v.isoformat() + '"'
    return lambda v: _array_quote(str(v))  # string, uuid, ip


def pg_array_literal(value, element_type: Type) -> str:
    encode = _array_element_encoder(element_type)
    return "{" + ",".join(map(encode, value)) + "}"


def copy_field_encoder(t: Type):
    """Non-null value -> its COPY text field, escaped (the careful path, used for any row)."""
    kind = t.kind
    if kind in ("int", "year", "float", "boolean", "uuid", "ip", "date", "time"):
        return str
    if kind == "decimal":
        return lambda v: format(v, "f")
    if kind == "datetime":
        return lambda v: str(epoch_microseconds(v))
    if kind == "string":
        return copy_escape
    if kind == "json":
        return lambda v: copy_escape(v.text if isinstance(v, RawJSON) else v)
    if kind == "array":
        element = t.element_type
        return lambda v: copy_escape(pg_array_literal(v, element))
    if kind in ("map", "object"):
        return lambda v: copy_escape(json_storage_text(v, t))
    raise TypeError(f"cannot write a value of kind {kind}")


class CopyEncoder:
    """Rows -> the bytes of a COPY text-format payload: identity id, updated_at (epoch µs), values.

    `epoch_positions` are the value positions sent as epoch microseconds (datetime columns).
    """

    def __init__(self, types: list[Type]):
        self.types = list(types)
        self.width = len(self.types)
        self.epoch_positions = [i for i, t in enumerate(self.types) if t.kind == "datetime"]
        self._careful = [copy_field_encoder(t) for t in self.types]
        self._fast = self._compile()

    def _compile(self):
        """A function rows -> list of lines, each value formatted with no escaping at all."""
        namespace = {"N": COPY_NULL, "E": EPOCH, "US": MICROSECOND}
        fields = ["{i}", "{(u - E) // US}"]
        for j, t in enumerate(self.types):
            v = f"v[{j}]"
            kind = t.kind
            if kind == "datetime":
                expression = f"(({v} - E) // US)"
            elif kind == "json":
                expression = f"{v}.text"
            elif kind == "decimal":
                expression = f"format({v}, 'f')"
            elif kind in ("array", "map", "object"):
                namespace[f"F{j}"] = self._raw_encoder(t)
                expression = f"F{j}({v})"
            else:  # str() is already the COPY text: string, int, year, float, boolean, uuid, ip, date, time
                expression = v
            fields.append(f"{{N if {v} is None else {expression}}}")
        line = "\\t".join(fields) + "\\n"
        source = f'def lines(rows):\n    return [f"{line}" for i, u, v in rows]\n'
        exec(source, namespace)  # noqa: S102 - generated from column kinds only, no data
        return namespace["lines"]

    @staticmethod
    def _raw_encoder(t: Type):
        if t.kind == "array":
            element = t.element_type
            return lambda v: pg_array_literal(v, element)
        return lambda v: json_storage_text(v, t)

    def careful_line(self, row: Row) -> str:
        identity_id, updated_at, values = row
        parts = [copy_escape(identity_id), str(epoch_microseconds(updated_at))]
        for value, encode in zip(values, self._careful):
            parts.append(COPY_NULL if value is None else encode(value))
        return "\t".join(parts) + "\n"

    def encode(self, rows: list[Row]) -> bytes:
        """The payload of `rows` (already de-duplicated)."""
        try:
            lines = self._fast(rows)
        except (TypeError, AttributeError):  # a naive datetime, json given as str, ...
            lines = list(map(self.careful_line, rows))
            return "".join(lines).encode("utf-8")
        text = "".join(lines)
        count = len(rows)
        tabs = self.width + 1
        # A value that needs escaping adds a tab, a newline, a carriage return or a backslash
        # beyond the separators and the NULL markers (one backslash each): check the total first.
        clean = (text.count("\t") == count * tabs and text.count("\n") == count and "\r" not in text
                 and ("\\" not in text or text.count("\\") == _null_count(rows)))
        if not clean:
            none_count = methodcaller("count", None)
            for index, line in enumerate(lines):
                if (line.count("\t") != tabs or line.count("\n") != 1 or "\r" in line
                        or line.count("\\") != none_count(rows[index][2])):
                    lines[index] = self.careful_line(rows[index])
            text = "".join(lines)
        return text.encode("utf-8")


def _null_count(rows: list[Row]) -> int:
    return sum(map(methodcaller("count", None), [row[2] for row in rows]))


# --------------------------------------------------------------------------- SQLite parameters

def _sqlite_float(value: float):
    # SQLite stores NaN as NULL: keep it as the text 'NaN' (infinities are fine as REAL).
    return "NaN" if value != value else value


def _sqlite_int(value: int):
    # Beyond int64 (uint64 values) SQLite has no exact number: an INTEGER column would turn even
    # the text into a REAL, so the digits are stored as a BLOB (int(b"...") reads it back).
    return value if -9223372036854775808 <= value <= 9223372036854775807 else str(value).encode("ascii")


def sqlite_encoder(t: Type):
    """Non-null value -> its SQLite parameter; None when the value binds as it is."""
    kind = t.kind
    if kind in ("string", "boolean", "year", "uuid", "ip"):
        return None
    if kind == "int":
        return _sqlite_int if t.bit_size == 64 else None
    if kind == "float":
        return _sqlite_float
    if kind == "decimal":
        return lambda v: format(v, "f")
    if kind == "datetime":
        return naive_utc_text
    if kind == "date":
        return date.isoformat
    if kind == "time":
        return lambda v: v.isoformat("microseconds")
    if kind == "json":
        return lambda v: v.text if isinstance(v, RawJSON) else v
    if kind in ("array", "map", "object"):
        return lambda v: json_storage_text(v, t)
    raise TypeError(f"cannot write a value of kind {kind}")


def sqlite_row_encoder(types: list[Type]):
    """A function (identity_id, updated_at, values) -> the parameters tuple (id, updated_at, *values)."""
    encoders = [sqlite_encoder(t) for t in types]
    if not any(encoders):
        return lambda row: (row[0], naive_utc_text(row[1]), *row[2])
    pairs = list(enumerate(encoders))

    def encode(row):
        values = row[2]
        return (row[0], naive_utc_text(row[1]),
                *[values[j] if enc is None or values[j] is None else enc(values[j]) for j, enc in pairs])

    return encode


__all__ = [
    "COPY_NULL", "CopyEncoder", "EPOCH", "IdentityWriter", "as_utc", "check_column_name", "copy_escape",
    "dedupe", "epoch_microseconds", "json_storage_text", "json_storage_value", "naive_utc_text",
    "pg_array_literal", "sqlite_encoder", "sqlite_row_encoder",
]
