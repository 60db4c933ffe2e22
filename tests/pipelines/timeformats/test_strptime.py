"""Parsing with strptime formats (pipelines.timeformats.strptime)."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from pipelines.timeformats import TimeFormatError, compile_format, parse_with_format
from pipelines.timeformats.common import OutOfRange

from .helpers import UTC, utc


@pytest.mark.parametrize(
    ("fmt", "text", "expected"),
    [
        # §6.2 / §13.4
        ("%d %m %Y", "14 12 2033", utc(2033, 12, 14)),
        ("%Y-%m-%d %H:%M:%S", "2033-12-14 09:56:35", utc(2033, 12, 14, 9, 56, 35)),
        # %Y: up to 4 digits, optional leading '-'
        ("%Y", "2023", utc(2023, 1, 1)),
        ("%Y", "99", utc(99, 1, 1)),
        ("%Y", "0999", utc(999, 1, 1)),
        ("%Y%m%d", "20231017", utc(2023, 10, 17)),
        ("%Y%m%d%H%M%S", "20231017102030", utc(2023, 10, 17, 10, 20, 30)),
        # %y, %C
        ("%y", "00", utc(2000, 1, 1)),
        ("%y", "68", utc(2068, 1, 1)),
        ("%y", "69", utc(1969, 1, 1)),
        ("%y", "99", utc(1999, 1, 1)),
        ("%y", "5", utc(2005, 1, 1)),
        ("%C%y", "1905", utc(1905, 1, 1)),
        ("%C%y", "2075", utc(2075, 1, 1)),
        ("%y %C", "75 20", utc(2075, 1, 1)),
        ("%C", "19", utc(1900, 1, 1)),
        ("%C", "21", utc(2100, 1, 1)),
        # %m, month names
        ("%Y-%m", "2023-3", utc(2023, 3, 1)),
        ("%Y-%m", "2023-12", utc(2023, 12, 1)),
        ("%B %Y", "March 2023", utc(2023, 3, 1)),
        ("%B %Y", "MARCH 2023", utc(2023, 3, 1)),
        ("%B %Y", "september 2023", utc(2023, 9, 1)),
        ("%b %Y", "Sep 2023", utc(2023, 9, 1)),
        ("%h %Y", "dec 2023", utc(2023, 12, 1)),
        ("%b %Y", "December 2023", utc(2023, 12, 1)),
        ("%B %Y", "Dec 2023", utc(2023, 12, 1)),
        ("%b%d", "May5", utc(1900, 5, 5)),
        ("%B%d", "June30", utc(1900, 6, 30)),
        # %d, %e
        ("%Y-%m-%d", "2023-10-5", utc(2023, 10, 5)),
        ("%Y-%m-%e", "2023-10- 5", utc(2023, 10, 5)),
        ("%Y-%m-%e", "2023-10-5", utc(2023, 10, 5)),
        ("%Y-%m-%e", "2023-10-25", utc(2023, 10, 25)),
        # %j
        ("%Y %j", "2023 290", utc(2023, 10, 17)),
        ("%Y %j", "2024 366", utc(2024, 12, 31)),
        ("%Y %j", "2024 1", utc(2024, 1, 1)),
        ("%j", "032", utc(1900, 2, 1)),
        # week numbers and weekdays (2024-03-01 is a Friday: %U 08, %W 09, ISO 2024-W09-5)
        ("%Y %U %w", "2024 08 5", utc(2024, 3, 1)),
        ("%Y %U %a", "2024 08 Fri", utc(2024, 3, 1)),
        ("%Y %U %A", "2024 08 friday", utc(2024, 3, 1)),
        ("%Y %W %u", "2024 09 5", utc(2024, 3, 1)),
        ("%Y %W %w", "2024 09 0", utc(2024, 3, 3)),
        ("%Y %W %u", "2024 09 7", utc(2024, 3, 3)),
        ("%Y %U", "2024 08", utc(2024, 2, 25)),
        ("%Y %W", "2024 09", utc(2024, 2, 26)),
        ("%G-W%V-%u", "2024-W09-5", utc(2024, 3, 1)),
        ("%G-W%V-%u", "2025-W01-1", utc(2024, 12, 30)),
        ("%G-W%V-%u", "2020-W53-7", utc(2021, 1, 3)),
        ("%G-W%V-%a", "2024-W09-Sun", utc(2024, 3, 3)),
        ("%G-W%V", "2024-W09", utc(2024, 2, 26)),
        ("%g-W%V-%u", "24-W09-5", utc(2024, 3, 1)),
        ("%Y-W%V-%u", "2024-W09-5", utc(2024, 3, 1)),
        ("%G", "2024", utc(2024, 1, 1)),
        ("%a %Y-%m-%d", "Sun 2023-10-17", utc(2023, 10, 17)),  # the weekday is not checked
        # hours
        ("%H", "9", utc(1900, 1, 1, 9)),
        ("%H", "23", utc(1900, 1, 1, 23)),
        ("%k", " 9", utc(1900, 1, 1, 9)),
        ("%k", "19", utc(1900, 1, 1, 19)),
        ("%I %p", "12 AM", utc(1900, 1, 1, 0)),
        ("%I %p", "12 PM", utc(1900, 1, 1, 12)),
        ("%I %p", "01 pm", utc(1900, 1, 1, 13)),
        ("%I %p", "11 Am", utc(1900, 1, 1, 11)),
        ("%I %P", "11 pm", utc(1900, 1, 1, 23)),
        ("%p %I", "PM 3", utc(1900, 1, 1, 15)),
        ("%l %p", " 3 PM", utc(1900, 1, 1, 15)),
        ("%l:%M%p", "3:05pm", utc(1900, 1, 1, 15, 5)),
        ("%I", "12", utc(1900, 1, 1, 0)),
        ("%H %p", "15 AM", utc(1900, 1, 1, 15)),
        # minutes, seconds, microseconds
        ("%H:%M", "10:20", utc(1900, 1, 1, 10, 20)),
        ("%H:%M:%S", "10:20:30", utc(1900, 1, 1, 10, 20, 30)),
        ("%F %T", "2023-12-31 23:59:60", utc(2024, 1, 1)),
        ("%H:%M:%S.%f", "10:20:30.5", utc(1900, 1, 1, 10, 20, 30, 500000)),
        ("%H:%M:%S.%f", "10:20:30.000001", utc(1900, 1, 1, 10, 20, 30, 1)),
        ("%H:%M:%S.%f", "10:20:30.123456", utc(1900, 1, 1, 10, 20, 30, 123456)),
        # %s
        ("%s", "1709288430", utc(2024, 3, 1, 10, 20, 30)),
        ("%s", "0", utc(1970, 1, 1)),
        ("%s", "-1", utc(1969, 12, 31, 23, 59, 59)),
        ("%s.%f", "1709288430.25", utc(2024, 3, 1, 10, 20, 30, 250000)),
        ("%s %z", "1709288430 +0100", utc(2024, 3, 1, 10, 20, 30)),
        # %z
        ("%F %T%z", "2024-03-01 10:20:30Z", utc(2024, 3, 1, 10, 20, 30)),
        ("%F %T%z", "2024-03-01 10:20:30+0100", utc(2024, 3, 1, 9, 20, 30)),
        ("%F %T%z", "2024-03-01 10:20:30+01", utc(2024, 3, 1, 9, 20, 30)),
        ("%F %T%z", "2024-03-01 10:20:30+01:00", utc(2024, 3, 1, 9, 20, 30)),
        ("%F %T%z", "2024-03-01 10:20:30-0530", utc(2024, 3, 1, 15, 50, 30)),
        ("%F %T%z", "2024-03-01 10:20:30-00:00", utc(2024, 3, 1, 10, 20, 30)),
        ("%F %T %:z", "2024-03-01 10:20:30 +01:00", utc(2024, 3, 1, 9, 20, 30)),
        ("%F %T %::z", "2024-03-01 10:20:30 +01:00:30", utc(2024, 3, 1, 9, 20, 0)),
        ("%F %T %:::z", "2024-03-01 10:20:30 -01", utc(2024, 3, 1, 11, 20, 30)),
        ("%F %T%z", "2024-01-01 00:30:00+01:00", utc(2023, 12, 31, 23, 30)),
        ("%F %z", "2024-03-01 -1200", utc(2024, 3, 1, 12)),
        # %Z: any upper-case abbreviation, read as UTC
        ("%F %T %Z", "2024-03-01 10:20:30 UTC", utc(2024, 3, 1, 10, 20, 30)),
        ("%F %T %Z", "2024-03-01 10:20:30 GMT", utc(2024, 3, 1, 10, 20, 30)),
        ("%F %T %Z", "2024-03-01 10:20:30 CET", utc(2024, 3, 1, 10, 20, 30)),
        ("%F %T %z %Z", "2024-03-01 10:20:30 +0100 CET", utc(2024, 3, 1, 9, 20, 30)),
        ("%F %T %Z %z", "2024-03-01 10:20:30 CET +0100", utc(2024, 3, 1, 9, 20, 30)),
        # %t, %n: one or more whitespace characters
        ("%Y%t%m", "2023 10", utc(2023, 10, 1)),
        ("%Y%t%m", "2023 \t \n10", utc(2023, 10, 1)),
        ("%Y%n%m", "2023\n\n10", utc(2023, 10, 1)),
        # %% and literals
        ("%Y%%", "2023%", utc(2023, 1, 1)),
        ("%%%Y", "%2023", utc(2023, 1, 1)),
        ("at %H.%M h", "at 10.20 h", utc(1900, 1, 1, 10, 20)),
        ("%Y年%m月%d日", "2023年10月17日", utc(2023, 10, 17)),
        ("(%Y)[%m]*%d+?", "(2023)[10]*17+?", utc(2023, 10, 17)),
        # composites
        ("%F", "2023-10-17", utc(2023, 10, 17)),
        ("%T", "10:20:30", utc(1900, 1, 1, 10, 20, 30)),
        ("%X", "10:20:30", utc(1900, 1, 1, 10, 20, 30)),
        ("%R", "10:20", utc(1900, 1, 1, 10, 20)),
        ("%D", "10/17/23", utc(2023, 10, 17)),
        ("%x", "10/17/23", utc(2023, 10, 17)),
        ("%x", "10/17/69", utc(1969, 10, 17)),
        ("%r", "10:20:30 PM", utc(1900, 1, 1, 22, 20, 30)),
        ("%c", "Tue Oct 17 10:20:30 2023", utc(2023, 10, 17, 10, 20, 30)),
        ("%c", "Thu Dec  4 10:00:00 2025", utc(2025, 12, 4, 10)),
        ("%+", "Tue Oct 17 10:20:30 UTC 2023", utc(2023, 10, 17, 10, 20, 30)),
        ("%v", "17-Oct-2023", utc(2023, 10, 17)),
        ("%v", " 7-Oct-2023", utc(2023, 10, 7)),
        ("%D %r", "03/01/24 12:00:01 AM", utc(2024, 3, 1, 0, 0, 1)),
        ("%FT%T.%f%z", "2024-03-01T10:20:30.123+0100", utc(2024, 3, 1, 9, 20, 30, 123000)),
        # formatting modifiers are ignored when parsing
        ("%-d/%-m/%Y %-H:%M", "5/3/2024 7:05", utc(2024, 3, 5, 7, 5)),
        ("%_d %^b %#Y %10B", " 5 MAR 2024 march", utc(2024, 3, 5)),
        ("%_d/%_m/%Y %_H", " 5/ 3/2024  7", utc(2024, 3, 5, 7)),
        ("%_d/%_m", "15/3", utc(1900, 3, 15)),
        ("%10B %Y", "     March 2024", utc(2024, 3, 1)),
        ("%010Y-%5m", "0000002024-00003", utc(2024, 3, 1)),
        ("%5d", "    5", utc(1900, 1, 5)),
        ("%0d/%0m", "05/03", utc(1900, 3, 5)),
        # defaults: 1900-01-01 00:00:00 UTC
        ("%H:%M", "00:00", utc(1900, 1, 1)),
        ("%d", "15", utc(1900, 1, 15)),
        ("%m", "6", utc(1900, 6, 1)),
        ("%%", "%", utc(1900, 1, 1)),
        # a repeated field: the last one wins
        ("%Y %Y", "2023 2024", utc(2024, 1, 1)),
    ],
)
def test_strptime_accepts(fmt, text, expected):
    parsed = parse_with_format(text, fmt)
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    ("fmt", "text"),
    [
        ("%Y-%m-%d", ""),
        ("%Y-%m-%d", "2023-10"),  # missing input
        ("%Y-%m-%d", "2023-10-17 "),  # trailing input
        ("%Y-%m-%d", "2023/10/17"),  # literal mismatch
        ("%Y-%m-%d", "2023-10-17T00"),
        ("%Y", "20234"),  # at most 4 digits
        ("%Y", "+2023"),
        ("%Y", "２０２３"),
        ("%m", "13"), ("%m", "0"), ("%m", "012"),
        ("%d", "32"), ("%d", "0"),
        ("%Y-%m-%d", "2023-02-29"), ("%Y-%m-%d", "2023-04-31"),
        ("%e", "  5"),
        ("%j", "0"), ("%j", "367"), ("%Y %j", "2023 366"),
        ("%H", "24"), ("%k", "24"), ("%I", "0"), ("%I", "13"), ("%l", "13"),
        ("%M", "60"), ("%S", "61"),
        ("%p", "XM"), ("%I %p", "10 A.M."),
        ("%f", "1234567"), ("%f", ""),
        ("%s", ""), ("%s", "1.5"),
        ("%w", "7"), ("%u", "0"), ("%u", "8"),
        ("%U", "54"), ("%W", "54"), ("%V", "0"), ("%V", "54"),
        ("%G-W%V-%u", "2023-W53-1"),  # 2023 has 52 ISO weeks
        ("%B", "Marc"), ("%b", "Mai"), ("%a", "Fryday"),
        ("%z", "+5"), ("%z", "+2400"), ("%z", "+0560"), ("%z", "z"), ("%z", "UTC"),
        ("%:z", "+01:00:00"),
        ("%Z", "utc"), ("%Z", ""), ("%Z", "+01"),
        ("%Y%t%m", "202310"),  # at least one whitespace
        ("%t", ""),
        ("%Y%%", "2023"),
        # numeric directives read up to N digits and never give any back
        ("%m%d", "131"),
        ("%Y%m%d", "202311"),
        ("%H%M", "1"),
        # modifiers: leading spaces need `_` or a width, more digits need a width
        ("%d/%m", " 5/3"),
        ("%-d/%m", " 5/3"),
        ("%Y", "002024"),
        ("%5d", "00032"),
    ],
)
def test_strptime_rejects(fmt, text):
    with pytest.raises(TimeFormatError):
        parse_with_format(text, fmt)


@pytest.mark.parametrize(
    ("fmt", "message"),
    [
        ("%Q", 'unexpected format "%Q"'),
        ("%Y-%m-%d %i", 'unexpected format "%i"'),
        ("%-Q", 'unexpected format "%-Q"'),
        ("%:d", 'unexpected format "%:d"'),
        ("%Y%", 'unexpected end of format "%Y%"'),
        ("%", 'unexpected end of format "%"'),
    ],
)
def test_strptime_bad_format(fmt, message):
    with pytest.raises(TimeFormatError, match="^" + re.escape(message) + "$"):
        compile_format(fmt)
    with pytest.raises(TimeFormatError):
        parse_with_format("2023", fmt)


def test_strptime_out_of_range_years():
    with pytest.raises(OutOfRange) as info:
        parse_with_format("-5", "%Y")
    assert info.value.before
    with pytest.raises(OutOfRange) as info:
        parse_with_format("0", "%Y")
    assert info.value.before
    with pytest.raises(OutOfRange) as info:
        parse_with_format("99999999999999", "%s")
    assert not info.value.before
    for fmt in ("%010Y", "%010Y %U"):
        with pytest.raises(OutOfRange) as info:
            parse_with_format("0000010000" + " 01" * (" " in fmt), fmt)
        assert not info.value.before


def test_compile_format_is_cached():
    assert compile_format("%Y-%m-%d %H:%M:%S") is compile_format("%Y-%m-%d %H:%M:%S")


@pytest.mark.parametrize(
    "fmt",
    ["%Y %U %w", "%Y %U %A", "%Y %W %u", "%Y %W %a", "%G %V %u", "%G-W%V-%A", "%Y %j", "%g %V %u"],
)
def test_strptime_week_and_day_numbers_match_strftime(fmt):
    start = date(1990, 1, 1)
    for offset in range(0, 365 * 12):
        day = start + timedelta(days=offset)
        text = day.strftime(fmt)
        assert parse_with_format(text, fmt).date() == day, (fmt, text)
