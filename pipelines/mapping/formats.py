"""Text forms of values and JSON helpers used while evaluating mappings.

Numbers inside JSON values are kept as their exact text (`JSONNumber`), so a
JSON value read, traversed and written back keeps `1.0` as `1.0` and never
loses digits.
"""

from __future__ import annotations

import json
import math
from datetime import date
from decimal import Decimal

from pipelines.timeformats.rfc3339 import rfc3339_formatter, time_of_day_formatter, trimmed_fraction
from pipelines.types import RawJSON
from pipelines.types.values import float_digits, positional_digits



# --------------------------------------------------------------------------- floats

def json_float(value: float, bit_size: int = 64) -> str:
    """A float as a JSON number the way Go's encoding/json writes it (exponent iff < 1e-6 or >= 1e21)."""
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    sign, digits, exponent = float_digits(value, bit_size)
    point_exponent = exponent + len(digits) - 1
    if point_exponent < -6 or point_exponent >= 21:
        tail = digits[1:]
        exp_text = f"-{-point_exponent}" if point_exponent < 0 else f"+{point_exponent:02d}"
        return f"{sign}{digits[0]}{'.' + tail if tail else ''}e{exp_text}"
    return sign + positional_digits(digits, exponent)


# --------------------------------------------------------------------------- other scalars

def format_decimal(value: Decimal) -> str:
    return format(value, "f")


# RFC 3339 with trailing fractional zeros trimmed: 2023-05-24T09:01:57.49361Z.
format_datetime = rfc3339_formatter(trimmed_fraction)
format_time = time_of_day_formatter(trimmed_fraction)


def format_date(value: date) -> str:
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


def go_quote(text: str) -> str:
    """A string as Go's %q prints it (close enough for messages)."""
    return json.dumps(text, ensure_ascii=False)


# --------------------------------------------------------------------------- JSON

class JSONNumber:
    """A JSON number kept as its exact text."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text

    def __eq__(self, other):
        return isinstance(other, JSONNumber) and Decimal(self.text) == Decimal(other.text)

    def __hash__(self):
        return hash(Decimal(self.text))

    def __repr__(self):
        return f"JSONNumber({self.text})"


def _reject_constant(name):
    raise ValueError(f"invalid JSON constant {name}")


_decoder = json.JSONDecoder(parse_float=JSONNumber, parse_int=JSONNumber,
                            parse_constant=_reject_constant)
loads_json = _decoder.decode
"""Decode JSON text: objects -> dict, arrays -> list, numbers -> JSONNumber, null -> None."""

_encode_string = json.encoder.encode_basestring


def dumps_json(value) -> str:
    """Compact JSON text of a decoded value (inverse of loads_json; RawJSON embedded verbatim)."""
    kind = type(value)
    if kind is str:
        return _encode_string(value)
    if kind is JSONNumber:
        return value.text
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if kind is dict:
        return "{" + ",".join(_encode_string(k) + ":" + dumps_json(v) for k, v in value.items()) + "}"
    if kind is list:
        return "[" + ",".join(dumps_json(v) for v in value) + "]"
    if kind is RawJSON:
        return value.text
    raise TypeError(f"{kind.__name__} is not a decoded JSON value")


def json_kind(value) -> str:
    """The JSON kind name used in messages: null, true, false, string, number, object, array."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    kind = type(value)
    if kind is str:
        return "string"
    if kind is JSONNumber:
        return "number"
    if kind is dict:
        return "object"
    return "array"


def json_type_name(value) -> str:
    """`JSON string`, `JSON number`, ... (booleans are `JSON boolean`)."""
    kind = json_kind(value)
    return "JSON boolean" if kind in ("true", "false") else "JSON " + kind


JSON_NULL = RawJSON("null")
