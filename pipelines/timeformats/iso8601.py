"""The reference's lenient ISO 8601 parser: one for update times, row normalization, mappings
and profile filters (each caller words its own error)."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from .common import UTC, OutOfRange, TimeFormatError, is_leap, quote, shift, zone_offset

__all__ = ["parse_iso8601"]

# The common shapes, `YYYY-MM-DD[[T ]hh:mm:ss[.f][zone]]`: checked here (with the zone
# ranges, and without `-00:00`), decoded by `fromisoformat`.
_ISO_FAST = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T\x20][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?"
    r"(?:Z|(?!-00(?::?00)?\Z)[+-](?:[01][0-9]|2[0-3])(?::?[0-5][0-9])?)?)?",
    re.ASCII,
)
_ISO = re.compile(
    r"""
    \+?([0-9]{4,})                                   # year (basic forms are read as a year)
    (?: -([0-9]{3}) | -([0-9]{2})(?:-([0-9]{2}))? )? # ordinal day, or month [and day]
    (?: [T\x20]
        ([0-9]{2})(?::([0-9]{2})(?::([0-9]{2})(?:[.,]([0-9]+))?)?)?
        (Z|[+-][0-9]{2}(?::?[0-9]{2})?)?
    )?
    """,
    re.ASCII | re.VERBOSE,
)


def parse_iso8601(text: str) -> datetime:
    """Parse `text` with the reference's lenient ISO 8601 parser; an aware UTC datetime.

    Accepted: `YYYY`, `YYYY-MM`, `YYYY-MM-DD`, `YYYY-DDD` (optional leading `+`), then
    optionally `T` or a space and `hh`, `hh:mm`, `hh:mm:ss` or `hh:mm:ss.f` (1-9 digits,
    truncated to microseconds), then optionally `Z`, `±hh`, `±hhmm` or `±hh:mm` (`-00:00`
    is invalid); no zone means UTC.
    """
    if _ISO_FAST.fullmatch(text) is not None:
        try:
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is UTC:
                return moment
            if moment.tzinfo is None:  # re-parsing with a zone is faster than `replace`
                return datetime.fromisoformat(text + ("T00:00:00Z" if len(text) == 10 else "Z"))
            return moment.astimezone(UTC)
        except (ValueError, OverflowError):
            pass  # the general path gives the precise error
    return _parse_iso8601(text)


def _parse_iso8601(text: str) -> datetime:
    match = _ISO.fullmatch(text)
    if match is None:
        raise TimeFormatError(f"{quote(text)} is not an ISO 8601 time")
    year, ordinal, month, day, hour, minute, second, fraction, zone = match.groups()
    if hour is not None and ordinal is None and day is None:
        raise TimeFormatError(f"{quote(text)} is not an ISO 8601 time")
    if fraction is not None and len(fraction) > 9:
        raise TimeFormatError(f"{quote(text)} has more than nanosecond precision")
    year = int(year)
    if year < 1 or year > 9999:
        raise OutOfRange(before=year < 1)
    try:
        if ordinal is not None:
            days = int(ordinal)
            if days < 1 or days > (366 if is_leap(year) else 365):
                raise ValueError
            moment = date(year, 1, 1) + timedelta(days=days - 1)
            month, day = moment.month, moment.day
        else:
            month = int(month) if month else 1
            day = int(day) if day else 1
        if hour is None:
            return datetime(year, month, day, tzinfo=UTC)
        moment = datetime(
            year, month, day, int(hour),
            int(minute) if minute else 0,
            int(second) if second else 0,
            int(fraction[:6].ljust(6, "0")) if fraction else 0,
            tzinfo=UTC,
        )
    except ValueError:
        raise TimeFormatError(f"{quote(text)} is out of range") from None
    if zone is not None and zone != "Z":
        offset = zone_offset(zone)
        if offset is None:
            raise TimeFormatError(f"{quote(text)} has an invalid time zone")
        moment = shift(moment, -offset)
    return moment
