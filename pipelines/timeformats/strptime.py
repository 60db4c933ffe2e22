"""Parsing with a strptime format: a port of the directive set of the reference's `timefmt-go`
(not `datetime.strptime`, which is locale-dependent and lacks half of the directives)."""

from __future__ import annotations

import functools
import re
from datetime import date, datetime, timedelta
from typing import Callable

from .common import (
    ONE_SECOND, UNIX_EPOCH, UTC, OutOfRange, TimeFormatError, is_leap, quote, shift, zone_offset,
)
from .directives import COMPOSITES, MONTHS, WEEKDAYS, tokenize

__all__ = ["compile_format", "parse_with_format"]

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
    offset = zone_offset(text, allow_negative_zero=True)
    if offset is None:
        raise TimeFormatError(f"time zone {quote(text)} is out of range")
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
    "B": (_names_pattern(MONTHS), _MONTH, _name_lookup(MONTHS, 1)),
    "b": (_names_pattern(MONTHS), _MONTH, _name_lookup(MONTHS, 1)),
    "h": (_names_pattern(MONTHS), _MONTH, _name_lookup(MONTHS, 1)),
    "A": (_names_pattern(WEEKDAYS), _WEEKDAY, _name_lookup(WEEKDAYS, 0)),
    "a": (_names_pattern(WEEKDAYS), _WEEKDAY, _name_lookup(WEEKDAYS, 0)),
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
        for token in tokenize(fmt):
            if isinstance(token, str):
                pattern.append(re.escape(token))
                continue
            conv = token.conv
            if conv in COMPOSITES:
                if "_" in token.flags or token.width is not None:
                    pattern.append(r"\x20*+")
                self._build(COMPOSITES[conv], pattern)
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
            raise TimeFormatError(f"{quote(text)} does not match the format {quote(self.fmt)}")
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
            raise OutOfRange(before=args[0] < 1)
        leap = args[5] == 60
        if leap:
            args[5] = 59
        try:
            moment = datetime(*args, tzinfo=UTC)
        except ValueError:
            raise TimeFormatError("the date is not valid") from None
        if leap:
            moment = shift(moment, ONE_SECOND)
        return shift(moment, -offset) if offset else moment


_SIMPLE_SLOTS = {  # slot -> index in the arguments of `datetime`, then the offset
    _YEAR: 0, _MONTH: 1, _DAY: 2, _HOUR: 3, _MINUTE: 4, _SECOND: 5, _MICRO: 6, _OFFSET: 7,
}


def _assemble(state: list) -> datetime:
    """Build the UTC time from the parsed fields (defaults 1900-01-01 00:00:00 UTC)."""
    micro = state[_MICRO] or 0
    epoch = state[_EPOCH]
    if epoch is not None:
        try:
            return UNIX_EPOCH + timedelta(seconds=epoch, microseconds=micro)
        except OverflowError:
            raise OutOfRange(before=epoch < 0) from None

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
        raise OutOfRange(before=year < 1)

    month, day = state[_MONTH], state[_DAY]
    weekday = state[_WEEKDAY]  # Sunday = 0
    try:
        if month is not None or day is not None:
            moment = date(year, month or 1, day or 1)
        elif state[_YDAY] is not None:
            if state[_YDAY] > (366 if is_leap(year) else 365):
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
        raise OutOfRange(before=year < 5000) from None
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
        result = shift(result, ONE_SECOND)
    offset = state[_OFFSET]
    if offset:
        result = shift(result, -offset)
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
