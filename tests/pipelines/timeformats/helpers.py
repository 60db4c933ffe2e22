"""What the time-format tests share."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from pipelines.timeformats import TimeFormatError, parse_updated_at

UTC = timezone.utc
FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def parse(value, fmt, kind="string", now=FAR_FUTURE):
    return parse_updated_at(value, kind, fmt, now=now)


def error_of(value, fmt, kind="string", now=FAR_FUTURE) -> str:
    with pytest.raises(TimeFormatError) as info:
        parse_updated_at(value, kind, fmt, now=now)
    return str(info.value)


class RawJSON:
    def __init__(self, text):
        self.text = text
