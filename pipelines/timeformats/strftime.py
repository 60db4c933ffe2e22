"""Formatting with a strftime format, glibc-style and independent of the locale."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from typing import Callable

from .common import ONE_SECOND, UNIX_EPOCH
from .directives import COMPOSITES, MONTHS, WEEKDAYS, Directive, tokenize

__all__ = ["formatter"]

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
    "s": (lambda t: (t - UNIX_EPOCH) // ONE_SECOND, 1, " "),
    "w": (_weekday_sun0, 1, "0"),
    "u": (lambda t: t.isoweekday(), 1, "0"),
    "U": (lambda t: (t.timetuple().tm_yday - 1 + 7 - _weekday_sun0(t)) // 7, 2, "0"),
    "W": (lambda t: (t.timetuple().tm_yday - 1 + 7 - t.weekday()) // 7, 2, "0"),
    "V": (lambda t: _iso(t)[1], 2, "0"),
}

_TEXTS: dict[str, Callable[[datetime], str]] = {
    "B": lambda t: MONTHS[t.month - 1],
    "b": lambda t: MONTHS[t.month - 1][:3],
    "h": lambda t: MONTHS[t.month - 1][:3],
    "A": lambda t: WEEKDAYS[_weekday_sun0(t)],
    "a": lambda t: WEEKDAYS[_weekday_sun0(t)][:3],
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
    total = abs(offset) // ONE_SECOND
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


def _format_directive(moment: datetime, token: Directive) -> str:
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
    if conv in COMPOSITES:
        text = formatter(COMPOSITES[conv])(moment)
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
def formatter(fmt: str) -> Callable[[datetime], str]:
    tokens = tokenize(fmt)

    def format_moment(moment: datetime) -> str:
        return "".join(
            token if isinstance(token, str) else _format_directive(moment, token)
            for token in tokens
        )

    return format_moment
