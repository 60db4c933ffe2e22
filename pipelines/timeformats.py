"""Update-time formats: the `updatedAtFormat` of database (and file) source pipelines.

A pure module (no Django) with four jobs:

- `check_updated_at_format` validates a format when a pipeline is created or updated;
- `parse_iso8601` is the lenient ISO 8601 parser of the reference (also used by row
  normalization: string -> datetime/date);
- `parse_with_format` / `compile_format` is a port of the strptime directive set of the
  reference's `timefmt-go` (not `datetime.strptime`, which is locale-dependent and lacks
  half of the directives);
- `parse_updated_at` turns a normalized update-time value into an aware UTC datetime with
  the reference's per-row error messages, and `format_updated_at` renders the incremental
  cursor for the `${updated_at}` placeholder.

Deliberate differences from the reference (see the spec, reference §6 and README §1):

- *Validate early*: a custom format whose directives cannot be parsed (`%Q`, a trailing lone
  `%`) is rejected by `check_updated_at_format`, not only when the first row is read.
- Parsing accepts the formatting modifiers, so that what a format writes it can read back:
  `_` or a width allows leading spaces, a width allows as many digits (`%010Y`), and `-`,
  `0`, `^`, `#` change nothing (numbers are read up to N digits, names in any case).
- Times keep microsecond precision (nanoseconds are truncated), and the ISO 8601 cursor is
  written with its fractional seconds when they are not zero, so rows equal to the cursor are
  re-read (README §1 item 5).
- `%Z` accepts any upper-case abbreviation and treats it as UTC (the server's zone); an
  impossible date (`Feb 30`) is an error instead of being normalized into the next month.
- Excel serials are rounded to the millisecond.
"""

from __future__ import annotations

import functools
import json
import re
from datetime import date, datetime, timedelta, timezone
from typing import Callable

__all__ = [
    "EXCEL",
    "ISO8601",
    "MAX_UPDATED_AT_FORMAT_SIZE",
    "TimeFormatError",
    "check_updated_at_format",
    "compile_format",
    "format_updated_at",
    "parse_excel_serial",
    "parse_iso8601",
    "parse_updated_at",
    "parse_with_format",
]

UTC = timezone.utc
ISO8601 = "ISO8601"
EXCEL = "Excel"
MAX_UPDATED_AT_FORMAT_SIZE = 64
FUTURE_TOLERANCE = timedelta(minutes=5)
MAX_WIDTH = 1024  # a larger field width in a custom format is refused

_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_SECOND = timedelta(seconds=1)


class TimeFormatError(ValueError):
    """A format or a time value that cannot be used; `str()` is the message."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class _OutOfRange(TimeFormatError):
    """A well-formed time outside the years 1-9999 that `datetime` can hold.

    `parse_updated_at` reports it with the sanity-check message the reference (whose times
    have no such limit) would give: before 1900 or too far ahead in the future.
    """

    def __init__(self, *, before: bool):
        super().__init__("time is out of range")
        self.before = before


def _quote(text: str) -> str:
    """Quote `text` for an error message, JSON-style (a lone surrogate is escaped)."""
    quoted = json.dumps(text, ensure_ascii=False)
    return _SURROGATE.sub(lambda m: "\\u%04x" % ord(m.group()), quoted)


_SURROGATE = re.compile("[\ud800-\udfff]")


# --- validation -------------------------------------------------------------------------


def check_updated_at_format(fmt: str) -> str | None:
    """The create/update-time check of an `updatedAtFormat`: the error message, or None.

    "Excel" passes here; callers reject it for database pipelines.
    """
    if fmt == ISO8601 or fmt == EXCEL:
        return None
    if fmt == "":
        return "update time format is empty"
    if len(fmt) > MAX_UPDATED_AT_FORMAT_SIZE:
        return f"update time format is longer than {MAX_UPDATED_AT_FORMAT_SIZE} runes"
    if "\x00" in fmt:
        return "update time format contains the NUL byte"
    if "%" not in fmt or _SURROGATE.search(fmt):
        return f"update time format {_quote(fmt)} is not valid"
    try:
        compile_format(fmt)
    except TimeFormatError:
        return f"update time format {_quote(fmt)} is not valid"
    return None


# --- ISO 8601 ---------------------------------------------------------------------------

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
        raise TimeFormatError(f"{_quote(text)} is not an ISO 8601 time")
    year, ordinal, month, day, hour, minute, second, fraction, zone = match.groups()
    if hour is not None and ordinal is None and day is None:
        raise TimeFormatError(f"{_quote(text)} is not an ISO 8601 time")
    if fraction is not None and len(fraction) > 9:
        raise TimeFormatError(f"{_quote(text)} has more than nanosecond precision")
    year = int(year)
    if year < 1 or year > 9999:
        raise _OutOfRange(before=year < 1)
    try:
        if ordinal is not None:
            days = int(ordinal)
            if days < 1 or days > (366 if _is_leap(year) else 365):
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
        raise TimeFormatError(f"{_quote(text)} is out of range") from None
    if zone is not None and zone != "Z":
        offset = _zone_offset(zone)
        if offset is None:
            raise TimeFormatError(f"{_quote(text)} has an invalid time zone")
        moment = _shift(moment, -offset)
    return moment


def _zone_offset(zone: str, *, allow_negative_zero: bool = False) -> timedelta | None:
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


def _shift(moment: datetime, delta: timedelta) -> datetime:
    try:
        return moment + delta
    except OverflowError:
        raise _OutOfRange(before=moment.year < 5000) from None


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


# --- format tokens ----------------------------------------------------------------------

_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)
_WEEKDAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")

_COMPOSITES = {
    "F": "%Y-%m-%d",
    "T": "%H:%M:%S",
    "X": "%H:%M:%S",
    "R": "%H:%M",
    "D": "%m/%d/%y",
    "x": "%m/%d/%y",
    "r": "%I:%M:%S %p",
    "c": "%a %b %e %H:%M:%S %Y",
    "+": "%a %b %e %H:%M:%S %Z %Y",
    "v": "%e-%b-%Y",
}
_DIRECTIVES = frozenset("YGyCgmBbhAawuUWVdejHkIlpPMSfszZtn%")
_FLAGS = frozenset("-_0^#")


class _Directive:
    __slots__ = ("conv", "flags", "width", "colons")

    def __init__(self, conv: str, flags: str, width: int | None, colons: int):
        self.conv = conv
        self.flags = flags
        self.width = width
        self.colons = colons


def _tokenize(fmt: str) -> list[str | _Directive]:
    """Split `fmt` into literal strings and directives; unknown directives are an error."""
    tokens: list[str | _Directive] = []
    literal: list[str] = []
    i, n = 0, len(fmt)
    while i < n:
        char = fmt[i]
        if char != "%":
            literal.append(char)
            i += 1
            continue
        start = i
        i += 1
        flags_start = i
        while i < n and fmt[i] in _FLAGS:
            i += 1
        flags = fmt[flags_start:i]
        width_start = i
        while i < n and "0" <= fmt[i] <= "9":
            i += 1
        width = int(fmt[width_start:i]) if i > width_start else None
        colons = 0
        while i < n and fmt[i] == ":":
            colons += 1
            i += 1
        if i >= n:
            raise TimeFormatError(f"unexpected end of format {_quote(fmt)}")
        conv = fmt[i]
        i += 1
        if (
            (conv not in _DIRECTIVES and conv not in _COMPOSITES)
            or (colons and (conv != "z" or colons > 3))
            or (width is not None and width > MAX_WIDTH)
        ):
            raise TimeFormatError(f"unexpected format {_quote(fmt[start:i])}")
        if literal:
            tokens.append("".join(literal))
            literal = []
        tokens.append(_Directive(conv, flags, width, colons))
    if literal:
        tokens.append("".join(literal))
    return tokens


# --- strptime ---------------------------------------------------------------------------

# Slots of the parse state.
(
    _YEAR, _YY, _CENTURY, _ISOYEAR, _ISOYY, _MONTH, _DAY, _YDAY, _HOUR, _HOUR12, _PM,
    _MINUTE, _SECOND, _MICRO, _EPOCH, _OFFSET, _WEEKDAY, _WEEK_U, _WEEK_W, _WEEK_V,
) = range(20)
_SLOTS = 20


def _ranged(lo: int, hi: int, what: str) -> Callable[[str], int]:
    def convert(digits: str) -> int:
        value = int(digits)
        if value < lo or value > hi:
            raise TimeFormatError(f"{what} {value} is out of range")
        return value

    convert.checks_range = True  # type: ignore[attr-defined]
    return convert


def _names_pattern(names: tuple[str, ...]) -> str:
    return "(?i:(" + "|".join([n.lower() for n in names] + [n[:3].lower() for n in names]) + "))"


def _name_lookup(names: tuple[str, ...], first: int) -> Callable[[str], int]:
    index = {}
    for number, name in enumerate(names, first):
        index[name.lower()] = number
        index[name[:3].lower()] = number
    return lambda text: index[text.lower()]


def _micro(digits: str) -> int:
    return int(digits.ljust(6, "0"))


def _pm(text: str) -> bool:
    return text.lower() == "pm"


def _offset(text: str) -> timedelta:
    if text == "Z":
        return timedelta(0)
    offset = _zone_offset(text, allow_negative_zero=True)
    if offset is None:
        raise TimeFormatError(f"time zone {_quote(text)} is out of range")
    return offset


def _ignore(text: str) -> None:
    return None


_ZONE = r"Z|[+-][0-9]{2}(?::?[0-9]{2})?"
_ZONE_SECONDS = r"Z|[+-][0-9]{2}(?::?[0-9]{2}(?::?[0-9]{2})?)?"

# conv -> (pattern with one group, slot, converter)
_PARSERS: dict[str, tuple[str, int, Callable[[str], object]]] = {
    "Y": (r"(-?[0-9]{1,4}+)", _YEAR, int),
    "G": (r"([0-9]{1,4}+)", _ISOYEAR, int),
    "y": (r"([0-9]{1,2}+)", _YY, int),
    "g": (r"([0-9]{1,2}+)", _ISOYY, int),
    "C": (r"([0-9]{1,2}+)", _CENTURY, int),
    "m": (r"([0-9]{1,2}+)", _MONTH, _ranged(1, 12, "month")),
    "B": (_names_pattern(_MONTHS), _MONTH, _name_lookup(_MONTHS, 1)),
    "b": (_names_pattern(_MONTHS), _MONTH, _name_lookup(_MONTHS, 1)),
    "h": (_names_pattern(_MONTHS), _MONTH, _name_lookup(_MONTHS, 1)),
    "A": (_names_pattern(_WEEKDAYS), _WEEKDAY, _name_lookup(_WEEKDAYS, 0)),
    "a": (_names_pattern(_WEEKDAYS), _WEEKDAY, _name_lookup(_WEEKDAYS, 0)),
    "w": (r"([0-9])", _WEEKDAY, _ranged(0, 6, "weekday")),
    "u": (r"([0-9])", _WEEKDAY, lambda d, _iso_weekday=_ranged(1, 7, "weekday"): _iso_weekday(d) % 7),
    "U": (r"([0-9]{1,2}+)", _WEEK_U, _ranged(0, 53, "week")),
    "W": (r"([0-9]{1,2}+)", _WEEK_W, _ranged(0, 53, "week")),
    "V": (r"([0-9]{1,2}+)", _WEEK_V, _ranged(1, 53, "week")),
    "d": (r"([0-9]{1,2}+)", _DAY, _ranged(1, 31, "day")),
    "e": (r"\x20?+([0-9]{1,2}+)", _DAY, _ranged(1, 31, "day")),
    "j": (r"([0-9]{1,3}+)", _YDAY, _ranged(1, 366, "day of year")),
    "H": (r"([0-9]{1,2}+)", _HOUR, _ranged(0, 23, "hour")),
    "k": (r"\x20?+([0-9]{1,2}+)", _HOUR, _ranged(0, 23, "hour")),
    "I": (r"([0-9]{1,2}+)", _HOUR12, _ranged(1, 12, "hour")),
    "l": (r"\x20?+([0-9]{1,2}+)", _HOUR12, _ranged(1, 12, "hour")),
    "p": (r"(?i:(am|pm))", _PM, _pm),
    "P": (r"(?i:(am|pm))", _PM, _pm),
    "M": (r"([0-9]{1,2}+)", _MINUTE, _ranged(0, 59, "minute")),
    "S": (r"([0-9]{1,2}+)", _SECOND, _ranged(0, 60, "second")),
    "f": (r"([0-9]{1,6}+)", _MICRO, _micro),
    "s": (r"(-?[0-9]++)", _EPOCH, int),
    "Z": (r"([A-Z]++)", _OFFSET, _ignore),
}
# Numeric directives whose digit count an explicit width (as in `%010Y`) may extend.
_DIGITS = {
    "Y": 4, "G": 4, "y": 2, "g": 2, "C": 2, "m": 2, "U": 2, "W": 2, "V": 2, "d": 2, "e": 2,
    "j": 3, "H": 2, "k": 2, "I": 2, "l": 2, "M": 2, "S": 2,
}
_LITERALS = {"t": r"[\x20\t\n\v\f\r]++", "n": r"[\x20\t\n\v\f\r]++", "%": "%"}


class _Parser:
    """A compiled strptime format: one regular expression plus a converter per group.

    Every directive is an atomic group with possessive quantifiers, so the match behaves
    like the reference's left-to-right scanner: each numeric directive reads as many digits
    as it can (up to its maximum) and never gives some back.
    """

    __slots__ = ("fmt", "regex", "converters", "plan")

    def __init__(self, fmt: str):
        self.fmt = fmt
        pattern: list[str] = []
        self.converters: list[tuple[int, Callable[[str], object]]] = []
        self._build(fmt, pattern)
        self.regex = re.compile("".join(pattern), re.ASCII)
        # Formats made only of %Y %m %d %H %M %S %f %z, each at most once (composites
        # included), skip `_assemble`: each group goes straight to a `datetime` argument and
        # `datetime` itself checks the ranges.
        slots = [slot for slot, _ in self.converters]
        self.plan: list[tuple[int, Callable[[str], object]]] | None = None
        if len(set(slots)) == len(slots) and set(slots) <= _SIMPLE_SLOTS.keys():
            self.plan = [
                (_SIMPLE_SLOTS[slot], int if getattr(convert, "checks_range", False) else convert)
                for slot, convert in self.converters
            ]

    def _build(self, fmt: str, pattern: list[str]) -> None:
        for token in _tokenize(fmt):
            if isinstance(token, str):
                pattern.append(re.escape(token))
                continue
            conv = token.conv
            if conv in _COMPOSITES:
                if "_" in token.flags or token.width is not None:
                    pattern.append(r"\x20*+")
                self._build(_COMPOSITES[conv], pattern)
            elif conv in _LITERALS:
                pattern.append(_LITERALS[conv])
            elif conv == "z":
                zone = _ZONE_SECONDS if token.colons >= 2 else _ZONE
                pattern.append(f"(?>({zone}))")
                self.converters.append((_OFFSET, _offset))
            else:
                regex, slot, convert = _PARSERS[conv]
                digits = _DIGITS.get(conv)
                if digits is not None and token.width is not None and token.width > digits:
                    regex = regex.replace(f"{{1,{digits}}}+", f"{{1,{token.width}}}+")
                if "_" in token.flags or token.width is not None:
                    regex = r"\x20*+" + regex
                pattern.append(f"(?>{regex})")
                self.converters.append((slot, convert))

    def __call__(self, text: str) -> datetime:
        match = self.regex.fullmatch(text)
        if match is None:
            raise TimeFormatError(f"{_quote(text)} does not match the format {_quote(self.fmt)}")
        if self.plan is not None:
            return self._simple(match.groups())
        state: list = [None] * _SLOTS
        for (slot, convert), group in zip(self.converters, match.groups()):
            value = convert(group)
            if value is not None or state[slot] is None:
                state[slot] = value
        return _assemble(state)

    def _simple(self, groups: tuple[str, ...]) -> datetime:
        args: list = [1900, 1, 1, 0, 0, 0, 0, timedelta(0)]
        for (index, convert), group in zip(self.plan, groups):
            args[index] = convert(group)
        offset = args.pop()
        if args[0] < 1 or args[0] > 9999:
            raise _OutOfRange(before=args[0] < 1)
        leap = args[5] == 60
        if leap:
            args[5] = 59
        try:
            moment = datetime(*args, tzinfo=UTC)
        except ValueError:
            raise TimeFormatError("the date is not valid") from None
        if leap:
            moment = _shift(moment, _ONE_SECOND)
        return _shift(moment, -offset) if offset else moment


_SIMPLE_SLOTS = {  # slot -> index in the arguments of `datetime`, then the offset
    _YEAR: 0, _MONTH: 1, _DAY: 2, _HOUR: 3, _MINUTE: 4, _SECOND: 5, _MICRO: 6, _OFFSET: 7,
}


def _assemble(state: list) -> datetime:
    """Build the UTC time from the parsed fields (defaults 1900-01-01 00:00:00 UTC)."""
    micro = state[_MICRO] or 0
    epoch = state[_EPOCH]
    if epoch is not None:
        try:
            return _UNIX_EPOCH + timedelta(seconds=epoch, microseconds=micro)
        except OverflowError:
            raise _OutOfRange(before=epoch < 0) from None

    isoyear = state[_ISOYEAR]
    if isoyear is None and state[_ISOYY] is not None:
        isoyear = _expand_two_digit_year(state[_ISOYY], state[_CENTURY])
    year = state[_YEAR]
    if year is None:
        if state[_YY] is not None:
            year = _expand_two_digit_year(state[_YY], state[_CENTURY])
        elif state[_CENTURY] is not None:
            year = state[_CENTURY] * 100
        elif isoyear is not None and state[_WEEK_V] is None:
            year = isoyear
        else:
            year = 1900
    if year < 1 or year > 9999:
        raise _OutOfRange(before=year < 1)

    month, day = state[_MONTH], state[_DAY]
    weekday = state[_WEEKDAY]  # Sunday = 0
    try:
        if month is not None or day is not None:
            moment = date(year, month or 1, day or 1)
        elif state[_YDAY] is not None:
            if state[_YDAY] > (366 if _is_leap(year) else 365):
                raise ValueError
            moment = date(year, 1, 1) + timedelta(days=state[_YDAY] - 1)
        elif state[_WEEK_V] is not None:
            iso_weekday = 1 if weekday is None else (weekday or 7)
            moment = date.fromisocalendar(isoyear or year, state[_WEEK_V], iso_weekday)
        elif state[_WEEK_U] is not None:
            jan1 = date(year, 1, 1)
            first_sunday = (6 - jan1.weekday()) % 7
            days = first_sunday + (state[_WEEK_U] - 1) * 7 + (weekday or 0)
            moment = jan1 + timedelta(days=days)
        elif state[_WEEK_W] is not None:
            jan1 = date(year, 1, 1)
            first_monday = (7 - jan1.weekday()) % 7
            monday_based = 0 if weekday is None else (weekday + 6) % 7
            days = first_monday + (state[_WEEK_W] - 1) * 7 + monday_based
            moment = jan1 + timedelta(days=days)
        else:
            moment = date(year, 1, 1)
    except OverflowError:
        raise _OutOfRange(before=year < 5000) from None
    except ValueError:
        raise TimeFormatError("the date is not valid") from None

    if state[_HOUR12] is not None:
        hour = state[_HOUR12] % 12 + (12 if state[_PM] else 0)
    else:
        hour = state[_HOUR] or 0
    second = state[_SECOND] or 0
    leap = second == 60
    try:
        result = datetime(
            moment.year, moment.month, moment.day, hour, state[_MINUTE] or 0,
            59 if leap else second, micro, tzinfo=UTC,
        )
    except ValueError:
        raise TimeFormatError("the time is not valid") from None
    if leap:
        result = _shift(result, _ONE_SECOND)
    offset = state[_OFFSET]
    if offset:
        result = _shift(result, -offset)
    return result


def _expand_two_digit_year(yy: int, century: int | None) -> int:
    if century is not None:
        return century * 100 + yy
    return yy + (2000 if yy < 69 else 1900)


@functools.lru_cache(maxsize=256)
def compile_format(fmt: str) -> Callable[[str], datetime]:
    """Compile a strptime format once; the callable parses a string into an aware UTC time.

    Raises TimeFormatError for an unknown directive or a trailing lone `%`.
    """
    return _Parser(fmt)


def parse_with_format(text: str, fmt: str) -> datetime:
    """Parse `text` with the strptime-style `fmt` (§6.4); an aware UTC datetime."""
    return compile_format(fmt)(text)


# --- Excel ------------------------------------------------------------------------------

_EXCEL = re.compile(r"[0-9]+(?:\.[0-9]+)?", re.ASCII)
_EXCEL_BASE = datetime(1899, 12, 30, tzinfo=UTC)  # serial 61 = 1900-03-01


def parse_excel_serial(text: str) -> datetime:
    """An Excel serial day number (1900 system, fraction = time of day, ms precision).

    Serial 60, Excel's phantom 1900-02-29, is rejected.
    """
    if len(text) < 3 or _EXCEL.fullmatch(text) is None:
        raise TimeFormatError(f"{_quote(text)} is not an Excel serial day number")
    whole, _, fraction = text.partition(".")
    serial = int(whole)
    if serial == 60:
        raise TimeFormatError(f"{_quote(text)} is not a valid Excel date")
    millis = 0
    if fraction:
        denominator = 10 ** len(fraction)
        millis = (int(fraction) * 86_400_000 * 2 + denominator) // (2 * denominator)
    try:
        days = timedelta(days=serial if serial > 60 else serial + 1)
        return _EXCEL_BASE + days + timedelta(milliseconds=millis)
    except OverflowError:
        raise _OutOfRange(before=False) from None


def _format_excel(cursor: datetime) -> str:
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


# --- update times -----------------------------------------------------------------------


def parse_updated_at(
    value: object, kind: str, fmt: str | None, *, now: datetime | None = None
) -> datetime:
    """The update time of a row as an aware UTC datetime, or TimeFormatError with the
    reference's per-row message.

    `value` is already normalized as the column's `kind`: "datetime" (a datetime; naive
    means UTC), "date", "string" (a str) or "json" (an object whose `.text` is raw JSON).
    """
    if value is None:
        raise TimeFormatError("update time value is NULL")
    if kind == "string":
        if not isinstance(value, str):
            raise TypeError(f"a string update time must be a str, not {type(value).__name__}")
        moment = _parse_text(value, fmt)
    elif kind == "json":
        moment = _parse_text(_json_string(value), fmt)
    elif kind == "datetime" or (kind == "date" and isinstance(value, datetime)):
        if not isinstance(value, datetime):
            raise TypeError(f"a datetime update time must be a datetime, not {type(value).__name__}")
        moment = _as_utc(value)
    elif kind == "date":
        if not isinstance(value, date):
            raise TypeError(f"a date update time must be a date, not {type(value).__name__}")
        moment = datetime(value.year, value.month, value.day, tzinfo=UTC)
    else:
        raise ValueError(f"an update time column cannot have kind {kind}")
    if moment.year < 1900:
        raise TimeFormatError("update time is before the year 1900")
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    if moment - now > FUTURE_TOLERANCE:
        raise TimeFormatError("update time is too far ahead in the future")
    return moment


def _json_string(value: object) -> str:
    raw = getattr(value, "text", value)
    if isinstance(raw, (bytes, bytearray)):
        raw = raw.decode("utf-8", "replace")
    if not isinstance(raw, str):
        raise TypeError(f"a json update time must carry raw JSON text, not {type(raw).__name__}")
    if len(raw) >= 2 and raw[0] == '"' and raw[-1] == '"' and "\\" not in raw and '"' not in raw[1:-1]:
        return raw[1:-1]
    try:
        decoded = json.loads(raw)
    except ValueError:
        decoded = None
    if not isinstance(decoded, str):
        raise TimeFormatError("update time is not a JSON string")
    return decoded


def _parse_text(text: str, fmt: str | None) -> datetime:
    if not fmt:
        raise TimeFormatError("update time format is required")
    try:
        if fmt == ISO8601:
            return parse_iso8601(text)
        if fmt == EXCEL:
            return parse_excel_serial(text)
        return compile_format(fmt)(text)
    except _OutOfRange as error:
        if error.before:
            raise TimeFormatError("update time is before the year 1900") from None
        raise TimeFormatError("update time is too far ahead in the future") from None
    except TimeFormatError:
        name = fmt if fmt in (ISO8601, EXCEL) else _quote(fmt)
        raise TimeFormatError(f"update time does not conform to the {name} format") from None


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is UTC:
        return moment
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    if moment.utcoffset() == timedelta(0):
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


# --- formatting the cursor --------------------------------------------------------------


def format_updated_at(cursor: datetime, fmt: str) -> str:
    """Render the cursor (in UTC) with `updatedAtFormat` for the `${updated_at}` placeholder.

    ISO8601 gives RFC 3339 (`2024-03-01T10:20:30Z`), with `.ffffff` when the microseconds
    are not zero; a custom format is a glibc-style strftime (flags `-`, `_`, `0`, `^`, `#`,
    widths, `%:z`), independent of the locale.
    """
    cursor = _as_utc(cursor)
    if fmt == ISO8601:
        text = (
            f"{cursor.year:04d}-{cursor.month:02d}-{cursor.day:02d}"
            f"T{cursor.hour:02d}:{cursor.minute:02d}:{cursor.second:02d}"
        )
        if cursor.microsecond:
            return f"{text}.{cursor.microsecond:06d}Z"
        return text + "Z"
    if fmt == EXCEL:
        return _format_excel(cursor)
    return _formatter(fmt)(cursor)


def _iso(moment: datetime) -> tuple[int, int, int]:
    return tuple(moment.isocalendar())  # type: ignore[return-value]


def _hour12(moment: datetime) -> int:
    return moment.hour % 12 or 12


def _weekday_sun0(moment: datetime) -> int:
    return (moment.weekday() + 1) % 7


# conv -> (getter, default width, default padding)
_NUMBERS: dict[str, tuple[Callable[[datetime], int], int, str]] = {
    "Y": (lambda t: t.year, 4, "0"),
    "C": (lambda t: t.year // 100, 2, "0"),
    "y": (lambda t: t.year % 100, 2, "0"),
    "G": (lambda t: _iso(t)[0], 4, "0"),
    "g": (lambda t: _iso(t)[0] % 100, 2, "0"),
    "m": (lambda t: t.month, 2, "0"),
    "d": (lambda t: t.day, 2, "0"),
    "e": (lambda t: t.day, 2, " "),
    "j": (lambda t: t.timetuple().tm_yday, 3, "0"),
    "H": (lambda t: t.hour, 2, "0"),
    "k": (lambda t: t.hour, 2, " "),
    "I": (_hour12, 2, "0"),
    "l": (_hour12, 2, " "),
    "M": (lambda t: t.minute, 2, "0"),
    "S": (lambda t: t.second, 2, "0"),
    "f": (lambda t: t.microsecond, 6, "0"),
    "s": (lambda t: (t - _UNIX_EPOCH) // _ONE_SECOND, 1, " "),
    "w": (_weekday_sun0, 1, "0"),
    "u": (lambda t: t.isoweekday(), 1, "0"),
    "U": (lambda t: (t.timetuple().tm_yday - 1 + 7 - _weekday_sun0(t)) // 7, 2, "0"),
    "W": (lambda t: (t.timetuple().tm_yday - 1 + 7 - t.weekday()) // 7, 2, "0"),
    "V": (lambda t: _iso(t)[1], 2, "0"),
}

_TEXTS: dict[str, Callable[[datetime], str]] = {
    "B": lambda t: _MONTHS[t.month - 1],
    "b": lambda t: _MONTHS[t.month - 1][:3],
    "h": lambda t: _MONTHS[t.month - 1][:3],
    "A": lambda t: _WEEKDAYS[_weekday_sun0(t)],
    "a": lambda t: _WEEKDAYS[_weekday_sun0(t)][:3],
    "p": lambda t: "PM" if t.hour >= 12 else "AM",
    "P": lambda t: "pm" if t.hour >= 12 else "am",
    "Z": lambda t: t.tzname() or "",
    "t": lambda t: "\t",
    "n": lambda t: "\n",
    "%": lambda t: "%",
}


def _format_zone(moment: datetime, colons: int) -> str:
    offset = moment.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    total = abs(offset) // _ONE_SECOND
    hours, minutes, seconds = total // 3600, total // 60 % 60, total % 60
    if colons == 0:
        return f"{sign}{hours:02d}{minutes:02d}"
    if colons == 1:
        return f"{sign}{hours:02d}:{minutes:02d}"
    if colons == 2 or seconds:
        return f"{sign}{hours:02d}:{minutes:02d}:{seconds:02d}"
    if minutes:
        return f"{sign}{hours:02d}:{minutes:02d}"
    return f"{sign}{hours:02d}"


def _pad_flag(flags: str) -> str | None:
    for flag in reversed(flags):
        if flag in "-_0":
            return flag
    return None


def _format_directive(moment: datetime, token: _Directive) -> str:
    """One directive, with glibc's flags: `-` no padding (spaces up to an explicit width),
    `_` spaces, `0` zeros, `^` upper case, `#` swapped case (names upper, `%p`/`%Z` lower);
    `%P` stays lower case. Checked against glibc's strftime in the tests.
    """
    conv, flags, width = token.conv, token.flags, token.width
    pad = _pad_flag(flags)
    if conv in _NUMBERS:
        getter, default_width, default_pad = _NUMBERS[conv]
        value = getter(moment)
        text = str(abs(value))
        sign = "-" if value < 0 else ""
        if pad == "-":
            return (sign + text).rjust(width or 0)
        fill = " " if pad == "_" else "0" if pad == "0" else default_pad
        size = default_width if width is None else max(width, default_width)
        if fill == " ":
            return (sign + text).rjust(size)
        return sign + text.rjust(size - len(sign), "0")
    if conv in _COMPOSITES:
        text = _formatter(_COMPOSITES[conv])(moment)
    elif conv == "z":
        text = _format_zone(moment, token.colons)
    else:
        text = _TEXTS[conv](moment)
    if conv == "P":
        pass
    elif "#" in flags and conv in "pZ":
        text = text.lower()
    elif "^" in flags or ("#" in flags and conv in "aAbBh"):
        text = text.upper()
    if width is not None:
        text = text.rjust(width, "0" if pad == "0" else " ")
    return text


@functools.lru_cache(maxsize=256)
def _formatter(fmt: str) -> Callable[[datetime], str]:
    tokens = _tokenize(fmt)

    def format_moment(moment: datetime) -> str:
        return "".join(
            token if isinstance(token, str) else _format_directive(moment, token)
            for token in tokens
        )

    return format_moment
