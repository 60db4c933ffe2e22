"""Parsers of text into the values of the scalar types a mapping converts strings into (§3.7).

Each takes the text and the destination type and raises ConvertError (through `fail`)."""

from __future__ import annotations

import ipaddress
import re
from datetime import date, datetime, time, timedelta, timezone

from pipelines.timeformats import iso8601
from pipelines.timeformats.common import OutOfRange, TimeFormatError
from pipelines.types import Type

from .errors import fail

UTC = timezone.utc
DATETIME = Type("datetime")


_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:(Z)|([+-])(\d{2}):(\d{2}))\Z")
_YMD = re.compile(r"(\d{4})-(\d{2})-(\d{2})\Z")
_MDY = re.compile(r"(\d{2})([/.])(\d{2})\2(\d{4})\Z")
_EXCEL = re.compile(r"(\d+)(?:\.\d+)?\Z")
_TIME = re.compile(r"(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?")
_EXCEL_EPOCH = date(1899, 12, 31)


def _micro(fraction: str | None) -> int:
    return int((fraction or "0").ljust(6, "0")[:6])


def _to_utc(year, month, day, hour, minute, second, micro, offset: timedelta, t: Type) -> datetime:
    if year == 0:
        fail("year", t)
    try:
        local = datetime(year, month, day, hour, minute, second, micro)
    except ValueError:
        fail("parse", DATETIME)
    try:
        return (local - offset).replace(tzinfo=UTC)
    except OverflowError:
        fail("year", t)


def parse_rfc3339(text: str, t: Type) -> datetime:
    """Strict RFC 3339 (YYYY-MM-DDTHH:MM:SS[.f](Z|±hh:mm)) to an aware UTC datetime."""
    m = _RFC3339.match(text)
    if m is None:
        fail("parse", DATETIME)
    year, month, day, hour, minute, second, fraction, z, sign, oh, om = m.groups()
    if int(hour) > 23 or int(minute) > 59 or int(second) > 59:
        fail("parse", DATETIME)
    offset = timedelta(0)
    if z is None:
        if int(oh) > 23 or int(om) > 59:
            fail("parse", DATETIME)
        offset = timedelta(hours=int(oh), minutes=int(om)) * (-1 if sign == "-" else 1)
    return _to_utc(int(year), int(month), int(day), int(hour), int(minute), int(second),
                   _micro(fraction), offset, t)


def _make_date(year: int, month: int, day: int, t: Type) -> date:
    if not 1 <= month <= 12 or not 1 <= day <= 31:
        fail("parse", t)
    if year == 0:
        fail("year", t)
    try:
        return date(year, month, day)
    except ValueError:
        fail("parse", t)


def parse_date_text(text: str, t: Type) -> date:
    """YYYY-MM-DD, MM/DD/YYYY, MM.DD.YYYY or an Excel serial day number."""
    if len(text) == 10:
        m = _YMD.match(text)
        if m is not None:
            return _make_date(int(m[1]), int(m[2]), int(m[3]), t)
        m = _MDY.match(text)
        if m is not None:
            return _make_date(int(m[4]), int(m[1]), int(m[3]), t)
    if len(text) >= 3:
        m = _EXCEL.match(text)
        if m is not None:
            serial = int(m[1]) if len(m[1]) < 10 else 10 ** 9
            if serial == 60:  # 1900-02-29, the Lotus leap-year bug
                fail("parse", t)
            if serial > 60:
                serial -= 1
            try:
                return _EXCEL_EPOCH + timedelta(days=serial)
            except OverflowError:
                fail("year", t)
    fail("parse", t)


def parse_iso_date(text: str, t: Type) -> date:
    m = _YMD.match(text)
    if m is None:
        fail("parse", t)
    return _make_date(int(m[1]), int(m[2]), int(m[3]), t)


def parse_time_text(text: str, t: Type) -> time:
    """HH:MM:SS[.f{1,9}], anything after it ignored."""
    m = _TIME.match(text)
    if m is None:
        fail("parse", t)
    hour, minute, second = int(m[1]), int(m[2]), int(m[3])
    if hour > 23 or minute > 59 or second > 59:
        fail("parse", t)
    return time(hour, minute, second, _micro(m[4]))
_HEX32 = re.compile(r"[0-9a-fA-F]{32}\Z")


def parse_uuid(text: str, t: Type) -> str:
    """The forms Google's uuid.Parse accepts, to the canonical lower-case form."""
    n = len(text)
    if n == 45:
        if text[:9].lower() != "urn:uuid:":
            fail("parse", t)
        text = text[9:]
    elif n == 38:
        if text[0] != "{" or text[-1] != "}":
            fail("parse", t)
        text = text[1:-1]
    elif n == 32:
        if _HEX32.match(text) is None:
            fail("parse", t)
        h = text.lower()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    elif n != 36:
        fail("parse", t)
    if text[8] != "-" or text[13] != "-" or text[18] != "-" or text[23] != "-":
        fail("parse", t)
    h = text[:8] + text[9:13] + text[14:18] + text[19:23] + text[24:]
    if _HEX32.match(h) is None:
        fail("parse", t)
    return text.lower()


def parse_ip(text: str, t: Type) -> str:
    """A single IPv4/IPv6 address (no prefix) in Go's canonical text form."""
    if not text or not text.isascii():
        fail("parse", t)
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        fail("parse", t)
    if address.version == 6 and address.ipv4_mapped is not None:
        scope = f"%{address.scope_id}" if address.scope_id else ""
        return f"::ffff:{address.ipv4_mapped}{scope}"
    return str(address)


_LONG_YEAR = re.compile(r"\+?[0-9]{5}")


def parse_iso8601(text: str, t: Type) -> datetime:
    """The lenient ISO 8601 parser (spec §6.3) to an aware UTC datetime; a year has four digits
    here ("20231017" is not read as the year 20231017)."""
    try:
        return iso8601.parse_iso8601(text)
    except OutOfRange:
        if _LONG_YEAR.match(text):
            fail("parse", DATETIME)
        fail("year", t)
    except TimeFormatError:
        fail("parse", DATETIME)
