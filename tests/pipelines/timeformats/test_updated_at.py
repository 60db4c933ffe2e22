"""`updatedAtFormat` validation, update times of rows, the cursor's text and round trips."""

from __future__ import annotations

import platform
import random
import time
from datetime import date, datetime, timedelta, timezone

import pytest

from pipelines.timeformats import (
    TimeFormatError,
    check_updated_at_format,
    format_updated_at,
    parse_excel_serial,
    parse_iso8601,
    parse_updated_at,
    parse_with_format,
)

from .helpers import FAR_FUTURE, UTC, RawJSON, error_of, parse, utc


@pytest.mark.parametrize(
    "fmt",
    [
        # Test_validateUpdatedAtFormat (except "%", see below)
        "ISO8601", "Excel", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d", "%Y",
        # every directive, composite and modifier we read and write
        "%Y %G %y %C %g %m %B %b %h %A %a %w %u %U %W %V",
        "%d %e %j %H %k %I %l %p %P %M %S %f %s %z %Z %t %n %%",
        "%F %T %R %D %x %X %r %c %+ %v",
        "%:z %::z %:::z", "%-d/%-m/%Y", "%_d %^b %#Z %10B %010Y %-10B %_5H",
        "updated %Y", "%Y年%m月%d日", "%" + "Y" * 63,
    ],
)
def test_check_accepts(fmt):
    assert check_updated_at_format(fmt) is None


@pytest.mark.parametrize(
    ("fmt", "message"),
    [
        ("", "update time format is empty"),
        ("iso8601", 'update time format "iso8601" is not valid'),
        ("excel", 'update time format "excel" is not valid'),
        ("Y-m-d", 'update time format "Y-m-d" is not valid'),
        ("%" * 68, "update time format is longer than 64 runes"),
        ("a" * 68, "update time format is longer than 64 runes"),
        ("%Y" + "é" * 63, "update time format is longer than 64 runes"),
        ("%Y\x00", "update time format contains the NUL byte"),
        ("\x00", "update time format contains the NUL byte"),
        # validate early: formats the reference accepts but can never parse with
        ("%", 'update time format "%" is not valid'),
        ("%Y-%", 'update time format "%Y-%" is not valid'),
        ("%Q", 'update time format "%Q" is not valid'),
        ("%Y-%m-%d %i", 'update time format "%Y-%m-%d %i" is not valid'),
        ("%-", 'update time format "%-" is not valid'),
        ("%10", 'update time format "%10" is not valid'),
        ("%:d", 'update time format "%:d" is not valid'),
        ("%::::z", 'update time format "%::::z" is not valid'),
        ("%Ey", 'update time format "%Ey" is not valid'),
        ("%Od", 'update time format "%Od" is not valid'),
        ("%2000Y", 'update time format "%2000Y" is not valid'),
        # JSON-style quoting of the format in the message
        ('a"b', 'update time format "a\\"b" is not valid'),
        ("a\\b", 'update time format "a\\\\b" is not valid'),
        ("a\tb", 'update time format "a\\tb" is not valid'),
        ("%\ud800", 'update time format "%\\ud800" is not valid'),
    ],
)
def test_check_rejects(fmt, message):
    assert check_updated_at_format(fmt) == message


def test_check_limit_counts_runes():
    assert check_updated_at_format("%Y" + "é" * 62) is None
    assert check_updated_at_format("%Y" + "😀" * 62) is None


@pytest.mark.parametrize(
    ("fmt", "value", "expected"),
    [
        ("ISO8601", "2033-12-14T13:52Z", utc(2033, 12, 14, 13, 52)),
        ("ISO8601", "2033-12-14T13:52:45.678Z", utc(2033, 12, 14, 13, 52, 45, 678000)),
        ("ISO8601", "2033-12-14T13:52:45.123456789Z", utc(2033, 12, 14, 13, 52, 45, 123456)),
        ("ISO8601", "2033-12-14", utc(2033, 12, 14)),
        ("%d %m %Y", "14 12 2033", utc(2033, 12, 14)),
        ("%Y-%m-%d %H:%M:%S", "2033-12-14 09:56:35", utc(2033, 12, 14, 9, 56, 35)),
        ("Excel", "39448", utc(2008, 1, 1)),
        ("Excel", "39052.5315393519", utc(2006, 12, 1, 12, 45, 25)),
    ],
)
def test_parse_updated_at_spec_table(fmt, value, expected):
    assert parse(value, fmt) == expected
    assert parse(RawJSON(f'"{value}"'), fmt, kind="json") == expected
    # "A far-future value such as 2033 passes the parser but is then rejected"
    if expected.year == 2033:
        assert error_of(value, fmt, now=None) == "update time is too far ahead in the future"


@pytest.mark.parametrize(
    ("fmt", "value", "message"),
    [
        ("ISO8601", "2033-12-14T13-", "update time does not conform to the ISO8601 format"),
        ("ISO8601", "", "update time does not conform to the ISO8601 format"),
        ("ISO8601", "2023-02-29", "update time does not conform to the ISO8601 format"),
        ("ISO8601", "20231017", "update time is too far ahead in the future"),
        ("ISO8601", "0000-01-01", "update time is before the year 1900"),
        ("ISO8601", "0001-01-01T00:00:00+01:00", "update time is before the year 1900"),
        ("ISO8601", "1899-12-31T23:59:59.999999Z", "update time is before the year 1900"),
        ("ISO8601", "1900-01-01T00:30:00+01:00", "update time is before the year 1900"),
        ("Excel", "2000-01-02", "update time does not conform to the Excel format"),
        ("Excel", "12.34.45", "update time does not conform to the Excel format"),
        ("Excel", "060", "update time does not conform to the Excel format"),
        ("Excel", "000", "update time is before the year 1900"),
        ("Excel", "99999999", "update time is too far ahead in the future"),
        ("%Y-%m-%d", "2023/10/17", 'update time does not conform to the "%Y-%m-%d" format'),
        ("%Y-%m-%d", "2023-02-30", 'update time does not conform to the "%Y-%m-%d" format'),
        ("%d %m %Y", "14-12-2033", 'update time does not conform to the "%d %m %Y" format'),
        ('%Y"%m', "2023-10", 'update time does not conform to the "%Y\\"%m" format'),
        ("%Y\t%m", "2023-10", 'update time does not conform to the "%Y\\t%m" format'),
        ("%Q", "2023", 'update time does not conform to the "%Q" format'),
        ("%Y%", "2023", 'update time does not conform to the "%Y%" format'),
        ("%Y", "1899", "update time is before the year 1900"),
        ("%Y", "-1", "update time is before the year 1900"),
        ("%Y", "0", "update time is before the year 1900"),
        ("%y", "69", None),
        ("%H:%M%z", "00:30+0100", "update time is before the year 1900"),
        ("%s", "-2208988801", "update time is before the year 1900"),
        ("%s", "99999999999999", "update time is too far ahead in the future"),
        ("%s", "-99999999999999", "update time is before the year 1900"),
        ("%F %T%z", "9999-12-31 23:00:00-0500", "update time is too far ahead in the future"),
        ("%F %T%z", "0001-01-01 00:00:00+0100", "update time is before the year 1900"),
    ],
)
def test_parse_updated_at_errors(fmt, value, message):
    if message is None:
        parse(value, fmt)
    else:
        assert error_of(value, fmt) == message


def test_parse_updated_at_null():
    for kind, fmt in [("string", "ISO8601"), ("json", "%Y"), ("datetime", None), ("date", None)]:
        assert error_of(None, fmt, kind=kind) == "update time value is NULL"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('"2024-03-01T10:20:30Z"', utc(2024, 3, 1, 10, 20, 30)),
        (' "2024-03-01T10:20:30Z" ', utc(2024, 3, 1, 10, 20, 30)),
        ('"2024\\u002d03-01T10:20:30Z"', utc(2024, 3, 1, 10, 20, 30)),
        (b'"2024-03-01"', utc(2024, 3, 1)),
    ],
)
def test_parse_updated_at_json_strings(raw, expected):
    assert parse(RawJSON(raw), "ISO8601", kind="json") == expected


@pytest.mark.parametrize("raw", ["123", "null", "true", "[]", '{"a":"b"}', '["2024-03-01"]', "1.5", "", '"x'])
def test_parse_updated_at_json_non_strings(raw):
    assert error_of(RawJSON(raw), "ISO8601", kind="json") == "update time is not a JSON string"


def test_parse_updated_at_json_string_that_does_not_conform():
    assert error_of(RawJSON('"x"'), "%Y", kind="json") == 'update time does not conform to the "%Y" format'


def test_parse_updated_at_datetime_and_date():
    aware = datetime(2024, 3, 1, 12, tzinfo=timezone(timedelta(hours=2)))
    parsed = parse(aware, None, kind="datetime")
    assert parsed == utc(2024, 3, 1, 10) and parsed.tzinfo is UTC
    assert parse(datetime(2024, 3, 1, 12, 0, 0, 5), None, kind="datetime") == utc(2024, 3, 1, 12, 0, 0, 5)
    parsed = parse(date(2024, 3, 1), None, kind="date")
    assert parsed == utc(2024, 3, 1) and parsed.tzinfo is UTC
    assert error_of(utc(1899, 12, 31, 23), None, kind="datetime") == "update time is before the year 1900"
    assert error_of(date(1899, 12, 31), None, kind="date") == "update time is before the year 1900"
    assert parse(date(1900, 1, 1), None, kind="date") == utc(1900, 1, 1)


def test_parse_updated_at_future_limit():
    now = utc(2024, 3, 1, 10)
    assert parse("2024-03-01T10:05:00Z", "ISO8601", now=now) == utc(2024, 3, 1, 10, 5)
    assert error_of("2024-03-01T10:05:00.000001Z", "ISO8601", now=now) == (
        "update time is too far ahead in the future"
    )
    assert parse(utc(2024, 3, 1, 10, 5), None, kind="datetime", now=now)
    assert error_of(utc(2024, 3, 1, 10, 6), None, kind="datetime", now=now) == (
        "update time is too far ahead in the future"
    )
    assert error_of(date(2024, 3, 2), None, kind="date", now=now) == "update time is too far ahead in the future"
    # a naive `now` is UTC; a non-UTC one is compared as an instant
    assert parse("2024-03-01 10:05", "%Y-%m-%d %H:%M", now=datetime(2024, 3, 1, 10))
    berlin = datetime(2024, 3, 1, 11, tzinfo=timezone(timedelta(hours=1)))
    assert parse("2024-03-01 10:05", "%Y-%m-%d %H:%M", now=berlin)
    # the default `now` is the current time
    current = datetime.now(UTC)
    assert parse_updated_at(current + timedelta(minutes=4), "datetime", None) == current + timedelta(minutes=4)
    with pytest.raises(TimeFormatError, match="too far ahead"):
        parse_updated_at(current + timedelta(minutes=6), "datetime", None)
    text = format_updated_at(current - timedelta(hours=1), "ISO8601")
    assert parse_updated_at(text, "string", "ISO8601") == current - timedelta(hours=1)


def test_parse_updated_at_requires_a_format_for_strings():
    assert error_of("2024", None) == "update time format is required"
    assert error_of("2024", "") == "update time format is required"


def test_parse_updated_at_programming_errors():
    with pytest.raises(TypeError):
        parse_updated_at(20240301, "string", "%Y%m%d", now=FAR_FUTURE)
    with pytest.raises(ValueError):
        parse_updated_at(20240301, "int", None, now=FAR_FUTURE)


def test_time_format_error():
    error = TimeFormatError("update time value is NULL")
    assert isinstance(error, ValueError)
    assert str(error) == "update time value is NULL"
    assert error.message == "update time value is NULL"


# --- format_updated_at ------------------------------------------------------------------

CURSOR = utc(2024, 3, 1, 9, 5, 7, 123456)  # a Friday


@pytest.mark.parametrize(
    ("cursor", "expected"),
    [
        (utc(2024, 3, 1, 10, 20, 30), "2024-03-01T10:20:30Z"),
        (utc(2024, 3, 1, 10, 20, 30, 123456), "2024-03-01T10:20:30.123456Z"),
        (utc(2024, 3, 1, 10, 20, 30, 500000), "2024-03-01T10:20:30.500000Z"),
        (utc(2024, 3, 1, 10, 20, 30, 1), "2024-03-01T10:20:30.000001Z"),
        (datetime(2024, 3, 1, 12, 20, 30, tzinfo=timezone(timedelta(hours=2))), "2024-03-01T10:20:30Z"),
        (datetime(2024, 3, 1, 10, 20, 30), "2024-03-01T10:20:30Z"),
        (utc(999, 1, 2, 3, 4, 5), "0999-01-02T03:04:05Z"),
    ],
)
def test_format_iso8601(cursor, expected):
    assert format_updated_at(cursor, "ISO8601") == expected


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("%Y-%m-%d %H:%M:%S", "2024-03-01 09:05:07"),
        ("%Y-%m-%d %H:%M:%S.%f", "2024-03-01 09:05:07.123456"),
        ("%d %m %Y", "01 03 2024"),
        ("%-d/%-m/%Y %-H:%-M:%-S", "1/3/2024 9:5:7"),
        ("%_d/%_m %_H", " 1/ 3  9"),
        ("%0e %0k", "01 09"),
        ("%^b %^B %^a %^A %^p %^c", "MAR MARCH FRI FRIDAY AM FRI MAR  1 09:05:07 2024"),
        ("%#b %#B %#a %#A %#p %#Z %#c", "MAR MARCH FRI FRIDAY am utc Fri Mar  1 09:05:07 2024"),
        ("%^#p %^#Z %^#b", "am utc MAR"),
        ("%^P %#P %P %p", "am am am AM"),
        ("[%10B] [%-10B] [%_10B] [%010B] [%3B]", "[     March] [     March] [     March] [00000March] [March]"),
        ("[%10d] [%_10d] [%-10d] [%1d] [%-3d] [%_1j]", "[0000000001] [         1] [         1] [01] [  1] [ 61]"),
        ("[%10s] [%010s] [%s]", "[1709283907] [1709283907] [1709283907]"),
        ("%z %:z %::z %:::z %Z", "+0000 +00:00 +00:00:00 +00 UTC"),
        ("[%10Z] [%8z]", "[       UTC] [   +0000]"),
        ("%C %y %G %g %V %U %W %j %u %w", "20 24 2024 24 09 08 09 061 5 5"),
        ("%e %k %l %I", " 1  9  9 09"),
        ("%F|%T|%R|%D|%x|%X|%r", "2024-03-01|09:05:07|09:05|03/01/24|03/01/24|09:05:07|09:05:07 AM"),
        ("%c", "Fri Mar  1 09:05:07 2024"),
        ("%+", "Fri Mar  1 09:05:07 UTC 2024"),
        ("%v", " 1-Mar-2024"),
        ("%h %b %B %a %A", "Mar Mar March Fri Friday"),
        ("%p %P", "AM am"),
        ("%t|%n|%%|100%%", "\t|\n|%|100%"),
        ("%10D|%^10v", "  03/01/24| 1-MAR-2024"),
        ("updated %Y", "updated 2024"),
    ],
)
def test_format_strftime(fmt, expected):
    assert format_updated_at(CURSOR, fmt) == expected


def test_format_converts_to_utc():
    cursor = datetime(2024, 3, 1, 0, 30, tzinfo=timezone(timedelta(hours=2)))
    assert format_updated_at(cursor, "%F %T %z %Z") == "2024-02-29 22:30:00 +0000 UTC"
    assert format_updated_at(datetime(2024, 3, 1, 0, 30), "%F %T %z") == "2024-03-01 00:30:00 +0000"


def test_format_afternoon_and_midnight():
    assert format_updated_at(utc(2024, 3, 1, 0, 0), "%I %l %p %P %k %H") == "12 12 AM am  0 00"
    assert format_updated_at(utc(2024, 3, 1, 12, 0), "%I %l %p") == "12 12 PM"
    assert format_updated_at(utc(2024, 3, 1, 23, 0), "%I %l %r") == "11 11 11:00:00 PM"
    assert format_updated_at(utc(1969, 12, 31, 23, 59, 59), "%s") == "-1"


def test_format_excel():
    assert format_updated_at(utc(2008, 1, 1), "Excel") == "39448"
    assert format_updated_at(utc(2006, 12, 1, 12, 45, 25), "Excel") == "39052.5315393519"
    assert format_updated_at(utc(1900, 2, 28), "Excel") == "59"
    assert format_updated_at(utc(1900, 3, 1), "Excel") == "61"
    assert format_updated_at(utc(2024, 3, 1, 12), "Excel") == "45352.5"
    assert format_updated_at(utc(2024, 3, 1, 23, 59, 59, 999999), "Excel") == "45353"
    rng = random.Random(1900)
    for _ in range(500):
        moment = utc(1900, 3, 1) + timedelta(milliseconds=rng.randrange(0, 200 * 365 * 86400 * 1000))
        assert parse_excel_serial(format_updated_at(moment, "Excel")) == moment


def test_format_rejects_bad_formats():
    with pytest.raises(TimeFormatError):
        format_updated_at(CURSOR, "%Q")
    with pytest.raises(TimeFormatError):
        format_updated_at(CURSOR, "%Y%")


GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"


@pytest.mark.skipif(not GLIBC, reason="compares with glibc's strftime")
def test_format_matches_glibc_strftime():
    """Every directive glibc shares with us (not %z/%Z: Python's gmtime says GMT; not %f,
    %v, %+, which glibc lacks), under every flag and width combination, as glibc renders it
    in the C locale."""
    directives = "YCyGgmdejHkIlMSwuUWVBbhAapPsntcxXDFTRr%"
    modifiers = ["", "-", "_", "0", "^", "#", "^#", "#^", "-^", "1", "2", "3", "8", "10",
                 "-1", "-3", "_1", "_5", "01", "08", "^10", "#8", "_^3", "0_4", "_06", "-_2"]
    rng = random.Random(2024)
    for _ in range(4000):
        seconds = rng.randrange(-70 * 365 * 86400, 130 * 365 * 86400)
        moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
        for directive in directives:
            fmt = "%" + rng.choice(modifiers) + directive
            expected = time.strftime(fmt, time.gmtime(seconds))
            assert format_updated_at(moment, fmt) == expected, (fmt, moment)


# --- round trips ------------------------------------------------------------------------

ROUND_TRIP_FORMATS = [
    "ISO8601",
    "%Y-%m-%d %H:%M:%S.%f",
    "%FT%T.%f%z",
    "%FT%T.%f%:z",
    "%F %T.%f %::z",
    "%F %T.%f %:::z",
    "%s.%f",
    "%Y%m%d%H%M%S%f",
    "%d/%m/%Y %I:%M:%S.%f %p",
    "%e-%b-%Y %k:%M:%S.%f",
    "%v %l:%M:%S.%f %P",
    "%A %d %B %Y %T.%f %Z",
    "%a, %d %h %Y %X.%f %z",
    "%Y-%j %T.%f",
    "%G-W%V-%u %T.%f",
    "%-d/%-m/%Y %-H:%-M:%-S.%f",
    "%_d/%_m/%Y %_H:%_M:%_S.%f",
    "%10d|%-10m|%_5Y|%010H|%3M|%_S.%f|%12B|%^10A",
    "%12F|%_10T.%f|%^30c",
    "%C%y-%m-%d %T.%f",
    "%^B %-d %Y %R:%S.%f",
    "%Y %U %w %T.%f",
    "%Y %W %u %T.%f",
    "%t%Y%n%m%t%d %T.%f%%",
]


@pytest.mark.parametrize("fmt", ROUND_TRIP_FORMATS)
def test_round_trip(fmt):
    rng = random.Random(fmt)
    moments = [
        utc(1900, 1, 1), utc(1999, 12, 31, 23, 59, 59, 999999), utc(2024, 2, 29, 12, 0, 0, 1),
        utc(9999, 12, 31, 23, 59, 59, 999999), utc(2000, 1, 1, 0, 0, 0, 0),
    ]
    moments += [
        utc(1900, 1, 1) + timedelta(microseconds=rng.randrange(0, 8099 * 365 * 86400 * 10**6))
        for _ in range(400)
    ]
    for moment in moments:
        text = format_updated_at(moment, fmt)
        if fmt == "ISO8601":
            assert parse_iso8601(text) == moment, text
        else:
            assert parse_with_format(text, fmt) == moment, (fmt, text)
        assert parse_updated_at(text, "string", fmt, now=datetime.max.replace(tzinfo=UTC)) == moment


@pytest.mark.parametrize("fmt", ["%D %r", "%x %X", "%y%m%d%H%M%S"])
def test_round_trip_two_digit_years(fmt):
    rng = random.Random(fmt)
    for _ in range(300):
        moment = utc(1969, 1, 1) + timedelta(seconds=rng.randrange(0, 100 * 365 * 86400))
        assert parse_with_format(format_updated_at(moment, fmt), fmt) == moment


@pytest.mark.parametrize("fmt", ["%c", "%+", "%F %T", "%s"])
def test_round_trip_seconds(fmt):
    rng = random.Random(fmt)
    for _ in range(300):
        moment = utc(1900, 1, 1) + timedelta(seconds=rng.randrange(0, 8099 * 365 * 86400))
        assert parse_with_format(format_updated_at(moment, fmt), fmt) == moment
