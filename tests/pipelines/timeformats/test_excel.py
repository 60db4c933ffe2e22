"""Excel serial day numbers (pipelines.timeformats.excel)."""

from __future__ import annotations

import pytest

from pipelines.timeformats import TimeFormatError, parse_excel_serial

from .helpers import utc


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("39448", utc(2008, 1, 1)),
        ("39052.5315393519", utc(2006, 12, 1, 12, 45, 25)),
        ("001", utc(1900, 1, 1)),
        ("059", utc(1900, 2, 28)),
        ("061", utc(1900, 3, 1)),
        ("1.5", utc(1900, 1, 1, 12)),
        ("45352.5", utc(2024, 3, 1, 12)),
        ("45352.25", utc(2024, 3, 1, 6)),
        ("45352.0", utc(2024, 3, 1)),
    ],
)
def test_excel_accepts(text, expected):
    assert parse_excel_serial(text) == expected


@pytest.mark.parametrize(
    "text", ["2000-01-02", "12.34.45", "12", "1.", ".15", "060", "060.5", "", "1e5", "-100", "45 352"]
)
def test_excel_rejects(text):
    with pytest.raises(TimeFormatError):
        parse_excel_serial(text)
