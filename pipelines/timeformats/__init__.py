"""Update-time formats: the `updatedAtFormat` of database (and file) source pipelines.

A pure package (no Django), a module for each job:

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

from .common import TimeFormatError
from .excel import parse_excel_serial
from .iso8601 import parse_iso8601
from .strptime import compile_format, parse_with_format
from .updated_at import (
    EXCEL, ISO8601, MAX_UPDATED_AT_FORMAT_SIZE, check_updated_at_format, format_updated_at,
    parse_updated_at,
)

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
