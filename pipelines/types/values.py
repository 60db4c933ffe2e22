"""Values of Krenalis types: the value model, their text forms and the API JSON form.

The value model (what every other module handles):
string -> str, boolean -> bool, int/year -> int, float -> float, decimal -> Decimal,
datetime -> aware datetime in UTC, date -> date, time -> naive time,
uuid -> canonical lower-case str, ip -> canonical str, json -> RawJSON,
array -> list, object/map -> dict.

Row normalization (driver values into this model) is in normalize.py.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from dataclasses import dataclass
from datetime import time, timezone
from decimal import Decimal

from pipelines.timeformats.rfc3339 import exact_fraction, rfc3339_formatter, time_of_day_formatter

from .schema import Type, canonical_decimal, decimal_text, shortest_float32_text


UTC = timezone.utc


@dataclass(frozen=True)
class RawJSON:
    """A JSON text kept verbatim; RawJSON("null") is a JSON null, unlike SQL NULL (None).

    Whoever builds one vouches that `text` is valid JSON.
    """

    text: str


class NormalizeError(ValueError):
    """A value that does not fit its property; str() is the per-row error message."""


def float_digits(value: float, bit_size: int = 64) -> tuple[str, str, int]:
    """The sign ("-" or ""), the shortest significant digits and the exponent of their last digit
    of a finite non-zero float, as Go finds them for that bit size: what its text forms lay out."""
    text = shortest_float32_text(value) if bit_size == 32 else repr(value)
    sign, digit_tuple, exponent = Decimal(text).as_tuple()
    digits = "".join(map(str, digit_tuple))
    significant = digits.rstrip("0") or "0"
    return ("-" if sign else ""), significant, exponent + len(digits) - len(significant)


def positional_digits(digits: str, exponent: int) -> str:
    """`digits` × 10**`exponent` written without an exponent."""
    if exponent >= 0:
        return digits + "0" * exponent
    point = len(digits) + exponent
    if point > 0:
        return f"{digits[:point]}.{digits[point:]}"
    return f"0.{'0' * -point}{digits}"


def format_float(value: float, bit_size: int = 64) -> str:
    """Go's strconv.FormatFloat(v, 'g', -1, bitSize): shortest digits, exponent iff exp < -4 or >= 6."""
    if value != value:
        return "NaN"
    if value == math.inf:
        return "+Inf"
    if value == -math.inf:
        return "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    sign, digits, exponent = float_digits(value, bit_size)
    point_exponent = exponent + len(digits) - 1
    if point_exponent < -4 or point_exponent >= 6:
        tail = digits[1:]
        exponent_sign = "-" if point_exponent < 0 else "+"
        return f"{sign}{digits[0]}{'.' + tail if tail else ''}e{exponent_sign}{abs(point_exponent):02d}"
    return sign + positional_digits(digits, exponent)


def special_float(value: float):
    """A float as JSON carries it in the API and to JavaScript: NaN and the infinities as the
    strings "NaN", "Infinity" and "-Infinity", any other as itself."""
    if value != value:
        return "NaN"
    if value == math.inf:
        return "Infinity"
    if value == -math.inf:
        return "-Infinity"
    return value


def format_bound(value, t: Type) -> str:
    """A bound of a number type as messages write it."""
    if isinstance(value, float):
        return format_float(value, t.bit_size or 64)
    if isinstance(value, Decimal):
        return decimal_text(value)
    return str(value)

# The API and warehouse text of datetimes and times: 0, 3 or 6 fractional digits, the fewest exact.
format_datetime = rfc3339_formatter(exact_fraction)
format_time = time_of_day_formatter(exact_fraction)
_TIME_OF_DAY = re.compile(r"(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?")


def parse_time_of_day(text: str) -> time:
    """HH:MM:SS[.f{1,9}] (what PostgreSQL and MySQL send for time columns); ValueError otherwise."""
    match = _TIME_OF_DAY.fullmatch(text)
    if match is None:
        raise ValueError(f"invalid time {text!r}")
    hour, minute, second, fraction = match.groups()
    return time(int(hour), int(minute), int(second), int((fraction or "0").ljust(6, "0")[:6]))


def encode_value(value, t: Type):
    """The API JSON form of a value (§1.8), as Python objects ready to serialize.

    Decimals (decimal values, and non-integer numbers inside json values) are
    returned as Decimal and must be written as bare JSON numbers with their
    exact digits: use schema.dumps_json, or a JSON encoder that does the same.
    """
    if value is None:
        return None
    kind = t.kind
    if kind == "int":
        return str(value) if t.bit_size == 64 else value
    if kind == "decimal":
        return canonical_decimal(value)
    if kind == "float":
        return special_float(value)
    if kind == "datetime":
        return format_datetime(value)
    if kind == "date":
        return value.isoformat()
    if kind == "time":
        return format_time(value)
    if kind == "json":
        text = value.text if isinstance(value, RawJSON) else value
        return _EXACT_JSON_DECODER.decode(text)
    if kind == "array":
        element = t.element_type
        return [encode_value(item, element) for item in value]
    if kind == "object":
        return {p.name: encode_value(value[p.name], p.type) for p in t.properties if p.name in value}
    if kind == "map":
        element = t.element_type
        return {key: encode_value(value[key], element) for key in sorted(value)}
    return value


def format_ip(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """Go netip text: like Python's, except IPv4-mapped IPv6 prints as ::ffff:1.2.3.4."""
    if address.version == 6:
        if address.scope_id is not None:
            address = ipaddress.IPv6Address(str(address).split("%", 1)[0])
        mapped = address.ipv4_mapped
        if mapped is not None:
            return f"::ffff:{mapped}"
    return str(address)


def _exact_int(text: str):
    """A JSON integer as int, or as Decimal beyond the 4,300 digits int() converts (jsonb holds more)."""
    try:
        return int(text)
    except ValueError:
        return Decimal(text)

_EXACT_JSON_DECODER = json.JSONDecoder(parse_float=Decimal, parse_int=_exact_int)
