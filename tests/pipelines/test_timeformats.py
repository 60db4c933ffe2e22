"""Tests of pipelines.timeformats: `updatedAtFormat` validation, parsing and formatting."""

from __future__ import annotations

import platform
import random
import re
import time
from datetime import date, datetime, timedelta, timezone

import pytest

from pipelines import timeformats
from pipelines.timeformats import (
    TimeFormatError,
    check_updated_at_format,
    compile_format,
    format_updated_at,
    parse_excel_serial,
    parse_iso8601,
    parse_updated_at,
    parse_with_format,
)

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


# --- check_updated_at_format ------------------------------------------------------------


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


# --- ISO 8601 ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023", utc(2023, 1, 1)),
        ("2023-10", utc(2023, 10, 1)),
        ("2023-10-17", utc(2023, 10, 17)),
        ("2023-290", utc(2023, 10, 17)),
        ("2023-001", utc(2023, 1, 1)),
        ("2024-366", utc(2024, 12, 31)),
        ("2023-290T10:00Z", utc(2023, 10, 17, 10)),
        ("+2023-10-17", utc(2023, 10, 17)),
        ("+2023", utc(2023, 1, 1)),
        ("2023-10-17T10", utc(2023, 10, 17, 10)),
        ("2023-10-17T10:20", utc(2023, 10, 17, 10, 20)),
        ("2023-10-17T10:20:30", utc(2023, 10, 17, 10, 20, 30)),
        ("2023-10-17 10:20:30", utc(2023, 10, 17, 10, 20, 30)),
        ("2023-10-17T10:20:30.5", utc(2023, 10, 17, 10, 20, 30, 500000)),
        ("2023-10-17T10:20:30,5Z", utc(2023, 10, 17, 10, 20, 30, 500000)),
        ("2023-10-17T10:20:30.123456Z", utc(2023, 10, 17, 10, 20, 30, 123456)),
        ("2023-10-17T10:20:30.1234567Z", utc(2023, 10, 17, 10, 20, 30, 123456)),
        ("2023-10-17T10:20:30.999999999Z", utc(2023, 10, 17, 10, 20, 30, 999999)),
        ("2023-10-17 10:20:30.999999999", utc(2023, 10, 17, 10, 20, 30, 999999)),
        ("2023-10-17T10Z", utc(2023, 10, 17, 10)),
        ("2023-10-17T10+02", utc(2023, 10, 17, 8)),
        ("2023-10-17T10:20+0230", utc(2023, 10, 17, 7, 50)),
        ("2023-10-17T10:20:30+02:30", utc(2023, 10, 17, 7, 50, 30)),
        ("2023-10-17T10:20:30-05:30", utc(2023, 10, 17, 15, 50, 30)),
        ("2023-10-17T10:20:30-0530", utc(2023, 10, 17, 15, 50, 30)),
        ("2023-10-17T10:20:30-05", utc(2023, 10, 17, 15, 20, 30)),
        ("2023-10-17T10:20:30+00:00", utc(2023, 10, 17, 10, 20, 30)),
        ("2023-10-17T10:20:30+00", utc(2023, 10, 17, 10, 20, 30)),
        ("2023-10-17T01:00:00+02:00", utc(2023, 10, 16, 23)),
        ("2023-10-17 23:00:00.25-01:00", utc(2023, 10, 18, 0, 0, 0, 250000)),
        ("2023-10-17T10:20:30+23:59", utc(2023, 10, 16, 10, 21, 30)),
        ("2024-02-29", utc(2024, 2, 29)),
        ("2000-02-29T23:59:59Z", utc(2000, 2, 29, 23, 59, 59)),
        ("0001-01-01T00:00:00Z", utc(1, 1, 1)),
        ("9999-12-31T23:59:59.999999Z", utc(9999, 12, 31, 23, 59, 59, 999999)),
        # §6.2 examples
        ("2033-12-14T13:52Z", utc(2033, 12, 14, 13, 52)),
        ("2033-12-14T13:52:45.678Z", utc(2033, 12, 14, 13, 52, 45, 678000)),
        ("2033-12-14T13:52:45.123456789Z", utc(2033, 12, 14, 13, 52, 45, 123456)),
        ("2033-12-14", utc(2033, 12, 14)),
    ],
)
def test_iso8601_accepts(text, expected):
    parsed = parse_iso8601(text)
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    [
        "", "abc", "2033-12-14T13-",
        "10:20:30", "T10:20:30", "10:20",  # time-only
        "2023-10-17T10:20:30z", "2023-10-17t10:20:30Z",  # lower case
        "2023-10-17T24:00", "2023-10-17T24:00:00Z",  # 24:00
        "2023-W42", "2023-W42-2", "2023W422",  # week dates
        "2023-10-17T10:20:30.1234567890Z",  # more than nanoseconds
        "2023-10-17T10:20:30.Z", "2023-10-17T10:20:30.",
        "2023-13-01", "2023-00-01", "2023-10-00", "2023-10-32", "2023-02-29", "2100-02-29",
        "2023-000", "2023-366", "2024-367",
        "2023-10-17T10:60", "2023-10-17T10:20:60", "2023-10-17T25",
        "2023-10-17T10:20:30-00:00", "2023-10-17T10:20:30-0000", "2023-10-17T10:20:30-00",
        "2023-10-17T10:20:30+24:00", "2023-10-17T10:20:30+05:60",
        "2023-10-17T10:20:30+5", "2023-10-17T10:20:30+05:3", "2023-10-17T10:20:30+053",
        "2023-10-17T10:20:30+05:30:00", "2023-10-17T10:20:30 +05:00",
        "2023-10-17Z", "2023-10-17+02:00", "2023-10T10:00", "2023T10", "2023-10-17T",
        "2023-10-17T1", "2023-10-17T10:2", "2023-10-17T10:20:3", "2023-1-5", "2023-10-5",
        "23-10-17", "-2023-10-17", "++2023", " 2023-10-17", "2023-10-17 ", "2023-10-17\n",
        "2023-10-17T10:20:30ZZ", "2023-10-17T10:20:30Z+01", "2023-10-17_10:20",
        "2023/10/17", "２０２３-10-17", "2023-10-17T10:20:30.１Z",
        "20231017",  # the basic form is read as the year 20231017
        "0000-01-01", "10000-01-01",
    ],
)
def test_iso8601_rejects(text):
    with pytest.raises(TimeFormatError):
        parse_iso8601(text)


def test_iso8601_fast_path_agrees_with_general_path():
    rng = random.Random(8601)
    for _ in range(3000):
        moment = utc(1, 1, 1) + timedelta(
            seconds=rng.randrange(0, 9999 * 365 * 86400), microseconds=rng.randrange(10**6)
        )
        text = moment.strftime("%Y-%m-%d") if moment.year >= 1000 else f"{moment.year:04d}" + moment.strftime("-%m-%d")
        if rng.random() < 0.1:
            text = text[: rng.choice([4, 7, 10])]
            assert parse_iso8601(text) == timeformats._parse_iso8601(text)
            continue
        text += rng.choice("T ") + moment.strftime("%H:%M:%S")
        text += rng.choice(["", "." + f"{moment.microsecond:06d}"[: rng.randrange(1, 7)], ".123456789"])
        text += rng.choice(["", "Z", "+01:00", "-0930", "+14", "-00:00", "+23:59", "-23:59"])
        try:
            general = timeformats._parse_iso8601(text)
        except TimeFormatError as error:
            with pytest.raises(type(error)):
                parse_iso8601(text)
        else:
            assert parse_iso8601(text) == general, text


# --- strptime ---------------------------------------------------------------------------


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
    with pytest.raises(timeformats._OutOfRange) as info:
        parse_with_format("-5", "%Y")
    assert info.value.before
    with pytest.raises(timeformats._OutOfRange) as info:
        parse_with_format("0", "%Y")
    assert info.value.before
    with pytest.raises(timeformats._OutOfRange) as info:
        parse_with_format("99999999999999", "%s")
    assert not info.value.before
    for fmt in ("%010Y", "%010Y %U"):
        with pytest.raises(timeformats._OutOfRange) as info:
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


# --- Excel ------------------------------------------------------------------------------


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


# --- parse_updated_at -------------------------------------------------------------------


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
