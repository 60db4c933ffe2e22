"""Excel serial day numbers (the 1900 system), read and written."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from .common import UTC, OutOfRange, TimeFormatError, quote

__all__ = ["format_excel", "parse_excel_serial"]

_EXCEL = re.compile(r"[0-9]+(?:\.[0-9]+)?", re.ASCII)
_EXCEL_BASE = datetime(1899, 12, 30, tzinfo=UTC)  # serial 61 = 1900-03-01


def parse_excel_serial(text: str) -> datetime:
    """An Excel serial day number (1900 system, fraction = time of day, ms precision).

    Serial 60, Excel's phantom 1900-02-29, is rejected.
    """
    if len(text) < 3 or _EXCEL.fullmatch(text) is None:
        raise TimeFormatError(f"{quote(text)} is not an Excel serial day number")
    whole, _, fraction = text.partition(".")
    serial = int(whole)
    if serial == 60:
        raise TimeFormatError(f"{quote(text)} is not a valid Excel date")
    millis = 0
    if fraction:
        denominator = 10 ** len(fraction)
        millis = (int(fraction) * 86_400_000 * 2 + denominator) // (2 * denominator)
    try:
        days = timedelta(days=serial if serial > 60 else serial + 1)
        return _EXCEL_BASE + days + timedelta(milliseconds=millis)
    except OverflowError:
        raise OutOfRange(before=False) from None


def format_excel(cursor: datetime) -> str:
    elapsed = cursor - _EXCEL_BASE
    days = elapsed.days
    if days <= 60:
        days -= 1
    micros = elapsed.seconds * 1_000_000 + elapsed.microseconds
    scaled = (micros * 10**10 * 2 + 86_400_000_000) // (2 * 86_400_000_000)  # 10 decimals
    if scaled == 10**10:
        days, scaled = days + 1, 0
    fraction = f"{scaled:010d}".rstrip("0")
    return f"{days}.{fraction}" if fraction else str(days)
