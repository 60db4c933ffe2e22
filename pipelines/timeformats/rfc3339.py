"""RFC 3339 text of times, in UTC: what the API, the warehouse, mappings, transformers and the
ISO8601 cursor write. They differ only in the fraction of seconds, as in the reference, whose parts
write it their own ways; each caller names its way."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time

from .common import UTC


def micro_fraction(microsecond: int) -> str:
    """Six digits when there are any: run times and the ISO8601 cursor (rows equal to the cursor
    are read again, none is skipped)."""
    return f".{microsecond:06d}" if microsecond else ""


def exact_fraction(microsecond: int) -> str:
    """0, 3 or 6 digits, the fewest that are exact: values in the API and the warehouse."""
    if microsecond == 0:
        return ""
    if microsecond % 1000 == 0:
        return f".{microsecond // 1000:03d}"
    return f".{microsecond:06d}"


def trimmed_fraction(microsecond: int) -> str:
    """Trailing zeros trimmed (Go's RFC3339Nano, JavaScript's text): mappings and transformers."""
    return f".{microsecond:06d}".rstrip("0") if microsecond else ""


def rfc3339_formatter(fraction) -> Callable[[datetime], str]:
    """The function writing `2024-03-01T10:20:30Z`, with `fraction(microseconds)`: an aware time
    in UTC, a naive one as it is. (A closure: these run once per value written.)"""
    def format_moment(moment: datetime) -> str:
        if moment.tzinfo is not None and moment.utcoffset():
            moment = moment.astimezone(UTC)
        return (f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T{moment.hour:02d}:{moment.minute:02d}:"
                f"{moment.second:02d}{fraction(moment.microsecond)}Z")
    return format_moment


def time_of_day_formatter(fraction) -> Callable[[time], str]:
    """The function writing `10:20:30`, with `fraction(microseconds)`."""
    def format_time(value: time) -> str:
        return f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}{fraction(value.microsecond)}"
    return format_time


format_rfc3339 = rfc3339_formatter(micro_fraction)  # run times and the ISO8601 cursor


def nullable_rfc3339(moment: datetime | None, format_moment=format_rfc3339) -> str | None:
    """`format_moment(moment)`, and None for None (a time the API shows as null)."""
    return None if moment is None else format_moment(moment)
