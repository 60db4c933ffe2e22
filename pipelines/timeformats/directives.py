"""The directives of strptime/strftime formats (glibc's set, as the reference's `timefmt-go`)."""

from __future__ import annotations

from .common import TimeFormatError, quote

MAX_WIDTH = 1024  # a larger field width in a custom format is refused

MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)
WEEKDAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")

COMPOSITES = {
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


class Directive:
    __slots__ = ("conv", "flags", "width", "colons")

    def __init__(self, conv: str, flags: str, width: int | None, colons: int):
        self.conv = conv
        self.flags = flags
        self.width = width
        self.colons = colons


def tokenize(fmt: str) -> list[str | Directive]:
    """Split `fmt` into literal strings and directives; unknown directives are an error."""
    tokens: list[str | Directive] = []
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
            raise TimeFormatError(f"unexpected end of format {quote(fmt)}")
        conv = fmt[i]
        i += 1
        if (
            (conv not in _DIRECTIVES and conv not in COMPOSITES)
            or (colons and (conv != "z" or colons > 3))
            or (width is not None and width > MAX_WIDTH)
        ):
            raise TimeFormatError(f"unexpected format {quote(fmt[start:i])}")
        if literal:
            tokens.append("".join(literal))
            literal = []
        tokens.append(Directive(conv, flags, width, colons))
    if literal:
        tokens.append("".join(literal))
    return tokens
