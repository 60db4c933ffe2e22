"""Update times: checking an `updatedAtFormat`, reading a row's update time with the
reference's per-row messages, and writing the cursor for the `${updated_at}` placeholder."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

from .common import SURROGATE, UTC, OutOfRange, TimeFormatError, quote
from .excel import format_excel, parse_excel_serial
from .iso8601 import parse_iso8601
from .rfc3339 import format_rfc3339
from .strftime import formatter
from .strptime import compile_format

ISO8601 = "ISO8601"
EXCEL = "Excel"
MAX_UPDATED_AT_FORMAT_SIZE = 64
FUTURE_TOLERANCE = timedelta(minutes=5)


def check_updated_at_format(fmt: str) -> str | None:
    """The create/update-time check of an `updatedAtFormat`: the error message, or None.

    "Excel" passes here; callers reject it for database pipelines.
    """
    if fmt == ISO8601 or fmt == EXCEL:
        return None
    if fmt == "":
        return "update time format is empty"
    if len(fmt) > MAX_UPDATED_AT_FORMAT_SIZE:
        return f"update time format is longer than {MAX_UPDATED_AT_FORMAT_SIZE} runes"
    if "\x00" in fmt:
        return "update time format contains the NUL byte"
    if "%" not in fmt or SURROGATE.search(fmt):
        return f"update time format {quote(fmt)} is not valid"
    try:
        compile_format(fmt)
    except TimeFormatError:
        return f"update time format {quote(fmt)} is not valid"
    return None


def parse_updated_at(
    value: object, kind: str, fmt: str | None, *, now: datetime | None = None
) -> datetime:
    """The update time of a row as an aware UTC datetime, or TimeFormatError with the
    reference's per-row message.

    `value` is already normalized as the column's `kind`: "datetime" (a datetime; naive
    means UTC), "date", "string" (a str) or "json" (an object whose `.text` is raw JSON).
    """
    if value is None:
        raise TimeFormatError("update time value is NULL")
    if kind == "string":
        if not isinstance(value, str):
            raise TypeError(f"a string update time must be a str, not {type(value).__name__}")
        moment = _parse_text(value, fmt)
    elif kind == "json":
        moment = _parse_text(_json_string(value), fmt)
    elif kind == "datetime" or (kind == "date" and isinstance(value, datetime)):
        if not isinstance(value, datetime):
            raise TypeError(f"a datetime update time must be a datetime, not {type(value).__name__}")
        moment = as_utc(value)
    elif kind == "date":
        if not isinstance(value, date):
            raise TypeError(f"a date update time must be a date, not {type(value).__name__}")
        moment = datetime(value.year, value.month, value.day, tzinfo=UTC)
    else:
        raise ValueError(f"an update time column cannot have kind {kind}")
    if moment.year < 1900:
        raise TimeFormatError("update time is before the year 1900")
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    if moment - now > FUTURE_TOLERANCE:
        raise TimeFormatError("update time is too far ahead in the future")
    return moment


def _json_string(value: object) -> str:
    raw = getattr(value, "text", value)
    if isinstance(raw, (bytes, bytearray)):
        raw = raw.decode("utf-8", "replace")
    if not isinstance(raw, str):
        raise TypeError(f"a json update time must carry raw JSON text, not {type(raw).__name__}")
    if len(raw) >= 2 and raw[0] == '"' and raw[-1] == '"' and "\\" not in raw and '"' not in raw[1:-1]:
        return raw[1:-1]
    try:
        decoded = json.loads(raw)
    except ValueError:
        decoded = None
    if not isinstance(decoded, str):
        raise TimeFormatError("update time is not a JSON string")
    return decoded


def _parse_text(text: str, fmt: str | None) -> datetime:
    if not fmt:
        raise TimeFormatError("update time format is required")
    try:
        if fmt == ISO8601:
            return parse_iso8601(text)
        if fmt == EXCEL:
            return parse_excel_serial(text)
        return compile_format(fmt)(text)
    except OutOfRange as error:
        if error.before:
            raise TimeFormatError("update time is before the year 1900") from None
        raise TimeFormatError("update time is too far ahead in the future") from None
    except TimeFormatError:
        name = fmt if fmt in (ISO8601, EXCEL) else quote(fmt)
        raise TimeFormatError(f"update time does not conform to the {name} format") from None


def as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is UTC:
        return moment
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    if moment.utcoffset() == timedelta(0):
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


# --- formatting the cursor --------------------------------------------------------------


def format_updated_at(cursor: datetime, fmt: str) -> str:
    """Render the cursor (in UTC) with `updatedAtFormat` for the `${updated_at}` placeholder.

    ISO8601 gives RFC 3339 (`2024-03-01T10:20:30Z`), with `.ffffff` when the microseconds
    are not zero; a custom format is a glibc-style strftime (flags `-`, `_`, `0`, `^`, `#`,
    widths, `%:z`), independent of the locale.
    """
    cursor = as_utc(cursor)
    if fmt == ISO8601:
        return format_rfc3339(cursor)
    if fmt == EXCEL:
        return format_excel(cursor)
    return formatter(fmt)(cursor)
