"""What the time-format modules share: the error types, quoting, leap years and zone offsets."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

UTC = timezone.utc
UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_SECOND = timedelta(seconds=1)


class TimeFormatError(ValueError):
    """A format or a time value that cannot be used; `str()` is the message."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class OutOfRange(TimeFormatError):
    """A well-formed time outside the years 1-9999 that `datetime` can hold.

    `parse_updated_at` reports it with the sanity-check message the reference (whose times
    have no such limit) would give: before 1900 or too far ahead in the future.
    """

    def __init__(self, *, before: bool):
        super().__init__("time is out of range")
        self.before = before


def quote(text: str) -> str:
    """Quote `text` for an error message, JSON-style (a lone surrogate is escaped)."""
    quoted = json.dumps(text, ensure_ascii=False)
    return SURROGATE.sub(lambda m: "\\u%04x" % ord(m.group()), quoted)


SURROGATE = re.compile("[\ud800-\udfff]")


def zone_offset(zone: str, *, allow_negative_zero: bool = False) -> timedelta | None:
    """The offset of `±hh[[:]mm[[:]ss]]`, or None when out of range or `-00:00`."""
    digits = zone[1:].replace(":", "")
    hours = int(digits[:2])
    minutes = int(digits[2:4] or 0)
    seconds = int(digits[4:6] or 0)
    if hours > 23 or minutes > 59 or seconds > 59:
        return None
    offset = timedelta(hours=hours, minutes=minutes, seconds=seconds)
    if zone[0] == "-":
        if not offset and not allow_negative_zero:
            return None
        offset = -offset
    return offset


def shift(moment: datetime, delta: timedelta) -> datetime:
    try:
        return moment + delta
    except OverflowError:
        raise OutOfRange(before=moment.year < 5000) from None


def is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
