"""Query preview ("test the query", reference §6): rows, the derived schema and issues.

A preview runs on the web server while its client waits, so it is bounded (conf.knobs):

- in time: PREVIEW_TIMEOUT seconds in all, set as the source's statement timeout too; past it, or
  when the client goes away (under gunicorn), the query is interrupted in the source;
- in bytes: a value longer than PREVIEW_MAX_VALUE_BYTES is cut and ends with TRUNCATED, and rows stop
  before they hold more than PREVIEW_MAX_BYTES in all, issues saying so; rows are read a few at a
  time, as many as that many bytes hold, so that a preview of huge values never holds many at once;
- in number: PREVIEW_CONCURRENCY previews at once per web process, PREVIEW_CONCURRENCY_PER_WORKSPACE
  of one workspace; one more is refused (503 / 429) rather than wait on a thread others need.

Each value is checked as a run checks it (the column's derived type, through the same normalizer)
before it is encoded: a value a run would reject (bytes that are not UTF-8, a TIME of 30 hours, a
date of no calendar...) is left out of its row, and an issue says which row and why. No value of
any type a driver returns makes the preview fail.
"""
import collections
import threading
import time
from contextlib import contextmanager
from typing import Callable

from ..conf import knobs
from ..connectors import ConnectorUnavailable, QueryControl, get_connector
from ..errors import BadRequest, ServiceUnavailable, TooManyRequests, Unprocessable
from ..models import Connection
from ..placeholders import PlaceholderError, replace_placeholders, with_updated_at_hint
from ..types import (NormalizeError, Property, RawJSON, Type, dumps_json, encode_value, make_normalizer, object_type,
                     type_to_json)
from ..validation import check_text
from .connections import connection_source_settings
from .heartbeat import Heartbeat

MAX_PREVIEW_QUERY_RUNES = 16_777_215
MAX_PREVIEW_ROWS = 100
TRUNCATED = "…[truncated]"  # ends a value cut to the preview's limit
TIMED_OUT = "the query took longer than the preview's limit of {} s (KRENALIS_PREVIEW_TIMEOUT) and was cancelled"
CLIENT_GONE = "the client went away; the query was cancelled"
CUT_VALUES = ('Column "{}": {} longer than the preview\'s limit of {} bytes per value (KRENALIS_PREVIEW_MAX_VALUE_BYTES) '
              'and cut; {} with "' + TRUNCATED + '".')
CUT_ROWS = ("Only the first {} rows are shown: the preview's rows hold at most {} bytes in all "
            "(KRENALIS_PREVIEW_MAX_BYTES).")
WATCH_SECONDS = 0.25  # how often a preview's watcher looks at the clock and the client


def preview_query(*, connection: Connection, query: str, limit: int,
                  client_gone: Callable[[], bool] | None = None) -> dict:
    """The preview of `query`. `client_gone()`, when the caller can tell, says the client that waits
    for it has gone away: the query is then interrupted."""
    check_text(query, "query", MAX_PREVIEW_QUERY_RUNES)
    if not 0 <= limit <= MAX_PREVIEW_ROWS:
        raise BadRequest(f"limit {limit} is not valid")
    try:
        sql = replace_placeholders(query, {"updated_at": "NULL", "limit": str(limit)})
    except PlaceholderError as exc:
        raise Unprocessable("InvalidPlaceholder", str(exc)) from None
    with preview_source(connection, sql, max_rows=limit or None, client_gone=client_gone, query=query) as result:
        columns = result.schema.columns
        issues = list(result.schema.issues)
        rows = _read_rows(result, limit, issues) if limit else []
    schema = None
    if columns:
        schema = type_to_json(object_type(*(Property(name=c.name, type=c.type, nullable=c.nullable)
                                            for c in columns)))
    else:
        rows = []
    return {"rows": rows, "schema": schema, "issues": issues or None}


@contextmanager
def preview_source(connection: Connection, sql: str, *, max_rows: int | None,
                   client_gone: Callable[[], bool] | None = None, query: str | None = None):
    """Runs a preview's query on the connection's source, within a preview's limits of time and
    number: a context manager yielding the connector's QueryResult, to be read with next_batch
    (its first batch is one row). A source failure is 503, with a hint when `query` (the user's
    text, placeholders not replaced) compares a column with an untyped ``${updated_at}``."""
    source_settings = connection_source_settings(connection)
    timeout = knobs.PREVIEW_TIMEOUT
    connector = get_connector(connection.connector)
    control = QueryControl()
    deadline = time.monotonic() + timeout

    def watch():
        reason = control.reason
        if reason is None and time.monotonic() >= deadline:
            reason = TIMED_OUT.format(timeout)
        if reason is None and client_gone is not None and client_gone():
            reason = CLIENT_GONE
        if reason is not None:
            control.interrupt(reason)

    with _running.take(connection.workspace_id), Heartbeat(watch, lambda: WATCH_SECONDS, "preview-watch"):
        try:
            # The source's own statement timeout comes a second after the watcher's, whose message
            # names the setting; it still ends the query should this process go away.
            with connector.query(source_settings, sql, timeout_seconds=timeout + 1, batch_size=1,
                                 max_rows=max_rows, connect_timeout=min(knobs.CONNECT_TIMEOUT, timeout),
                                 control=control) as result:
                yield result
        except ConnectorUnavailable as exc:
            raise ServiceUnavailable(with_updated_at_hint(query or sql, exc)) from None


class _RunningPreviews:
    """The previews running in this process, per workspace: slow sources may hold a few of the web
    server's threads, never all of them (a preview waits for its source for up to PREVIEW_TIMEOUT)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._count: collections.Counter = collections.Counter()

    @contextmanager
    def take(self, workspace_id: int):
        per_workspace, in_all = knobs.PREVIEW_CONCURRENCY_PER_WORKSPACE, knobs.PREVIEW_CONCURRENCY
        with self._lock:
            if self._count[workspace_id] >= per_workspace:
                raise TooManyRequests(f"too many previews are running in this workspace (at most {per_workspace} at "
                                      "a time); try again when one has ended", retry_after=1)
            if sum(self._count.values()) >= in_all:
                raise ServiceUnavailable("too many previews are running on this server; try again in a moment",
                                         retry_after=1)
            self._count[workspace_id] += 1
        try:
            yield
        finally:
            with self._lock:
                self._count[workspace_id] -= 1
                if not self._count[workspace_id]:
                    del self._count[workspace_id]


_running = _RunningPreviews()


def _batches(result, limit: int):
    """Batches of `result`, `limit` rows in all: the first of one row, each next one of as many rows
    as PREVIEW_MAX_BYTES holds at the weight rows had so far (one at a time for huge values)."""
    max_total = knobs.PREVIEW_MAX_BYTES
    read, size = 0, 1
    while read < limit:
        batch = result.next_batch(size)
        if batch is None:
            return
        batch = batch[:limit - read]
        read += len(batch)
        yield batch
        weight = sum(_weight(value) for row in batch for value in row) // len(batch)
        size = max(1, min(limit - read, max_total // max(weight, 1)))


def _read_rows(result, limit: int, issues: list[str]) -> list[dict]:
    """Up to `limit` rows in their API form, within the preview's byte limits (issues say where
    they cut, and which values a run would reject)."""
    max_value, max_total = knobs.PREVIEW_MAX_VALUE_BYTES, knobs.PREVIEW_MAX_BYTES
    columns = result.schema.columns
    normalizers = [make_normalizer(Property(name=c.name, type=c.type, nullable=c.nullable), c.name) for c in columns]
    rows: list[dict] = []
    cut: collections.Counter = collections.Counter()
    total = 0
    for number, values in enumerate((row for batch in _batches(result, limit) for row in batch), 1):
        row, row_cut, row_bytes = {}, [], 2
        for column, normalize, value in zip(columns, normalizers, values):
            try:
                encoded, was_cut = preview_value(normalize(value), column.type, max_value)
                row_bytes += len(dumps_json(encoded).encode("utf-8", "surrogatepass")) + len(column.name) + 4
            except NormalizeError as exc:
                issues.append(f"Row {number}: {exc}, so the value is not shown; a run that reads this column "
                              f"fails the row.")
                continue
            except (ValueError, TypeError, OverflowError, RecursionError) as exc:
                issues.append(f'Row {number}: the value of column "{column.name}" cannot be shown '
                              f"({exc.__class__.__name__}).")
                continue
            row[column.name] = encoded
            if was_cut:
                row_cut.append(column.name)
        if total + row_bytes > max_total:
            issues.append(CUT_ROWS.format(len(rows), max_total))
            break
        total += row_bytes
        rows.append(row)
        cut.update(row_cut)
    for column in columns:
        count = cut[column.name]
        if count:
            issues.append(CUT_VALUES.format(column.name, "1 value is" if count == 1 else f"{count} values are",
                                            max_value, "it ends" if count == 1 else "they end"))
    return rows


def sample_rows(result, limit: int) -> list[tuple]:
    """Up to `limit` rows as the connector gives them (for "Test on preview rows"), as many as
    PREVIEW_MAX_BYTES holds: a preview never keeps more in memory."""
    max_total = knobs.PREVIEW_MAX_BYTES
    rows, total = [], 0
    for row in (row for batch in _batches(result, limit) for row in batch):
        total += sum(map(_weight, row))
        if rows and total > max_total:
            break
        rows.append(row)
    return rows


def _weight(value) -> int:
    """About the bytes a driver value holds (what the next batch's size is computed from)."""
    if isinstance(value, (str, bytes, bytearray, memoryview)):
        return len(value)
    if isinstance(value, RawJSON):
        return len(value.text)
    return 8


def preview_value(value, type_: Type, max_bytes: int) -> tuple[object, bool]:
    """The API form of a value for a preview, and whether it was cut: a value whose API text is longer
    than `max_bytes` (UTF-8) is cut to fit them, TRUNCATED included; a json value then becomes the
    string of its cut text. Long values are sliced before anything else reads them."""
    text = value.text if isinstance(value, RawJSON) else None
    if text is None and type_.kind == "json" and isinstance(value, str):
        text = value
    if text is not None:
        if _longer_than(text, max_bytes):
            return _cut(text, max_bytes), True
        return encode_value(value, type_), False
    if isinstance(value, (str, bytes, bytearray, memoryview)) and len(value) > max_bytes:
        value = value[:max_bytes + 1]  # still more than max_bytes: cut below, once encoded
        if isinstance(value, memoryview):
            value = bytes(value)
    encoded = encode_value(value, type_)
    if isinstance(encoded, str) and _longer_than(encoded, max_bytes):
        return _cut(encoded, max_bytes), True
    return encoded, False


def _longer_than(text: str, max_bytes: int) -> bool:
    if len(text) > max_bytes:
        return True
    return len(text) * 4 > max_bytes and len(text.encode("utf-8", "surrogatepass")) > max_bytes


def _cut(text: str, max_bytes: int) -> str:
    room = max(max_bytes - len(TRUNCATED.encode()), 0)
    head = text[:room].encode("utf-8", "surrogatepass")[:room].decode("utf-8", "ignore")
    return head + TRUNCATED
