"""Conversions between types (§3.7): which pairs compile, and the run-time converters.

`converter(src, dst, nullable)` is called once at compile time and returns a
function for one value of type `src` (never None) that returns the value of
type `dst`, or None when a null results in nullable mode. It returns None
when no work is needed. Failures raise ConvertError; the caller words them.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

from pipelines.types import RawJSON, Type
from pipelines.types.values import format_float

from .checks import (
    DECIMAL_CONTEXT, INT64_MAX, INT64_MIN, UINT64_MAX, array_checks, decimal_post, float_post, int_bounds,
    int_check, strip_zeros, string_check,
)
from .errors import ConvertError
from .formats import format_date, format_datetime, format_decimal, format_time, json_float, loads_json
from .from_json import from_json
from .textparsers import parse_date_text, parse_ip, parse_rfc3339, parse_time_text, parse_uuid

UTC = timezone.utc

STRING = Type("string")
BOOLEAN = Type("boolean")
INT32 = Type("int", bit_size=32)
INT64 = Type("int", bit_size=64)
DECIMAL_LITERAL = Type("decimal", precision=76, scale=37)
JSON = Type("json")
ARRAY_JSON = Type("array", element_type=JSON)
MAP_JSON = Type("map", element_type=JSON)
_FLOAT_INT64_MAX = 9223372036854774784.0  # largest float below 2**63
_FLOAT_UINT64_MAX = 18446744073709549568.0  # largest float below 2**64
_TEXT_KINDS = ("string", "uuid", "ip")
_SCALAR_TARGETS = {
    "string": {"string", "boolean", "int", "float", "decimal", "datetime", "date", "time", "year",
               "uuid", "json", "ip"},
    "boolean": {"string", "boolean", "json"},
    "int": {"string", "int", "float", "decimal", "year", "json"},
    "float": {"string", "int", "float", "decimal", "json"},
    "decimal": {"string", "int", "float", "decimal", "json"},
    "datetime": {"string", "datetime", "date", "time", "json"},
    "date": {"string", "datetime", "date", "json"},
    "time": {"string", "time", "json"},
    "year": {"string", "int", "year", "json"},
    "uuid": {"string", "uuid", "json"},
    "ip": {"string", "ip", "json"},
}


def convertible(src: Type, dst: Type) -> bool:
    """Whether values of `src` may be mapped into `dst` (the matrix of §3.7)."""
    s, d = src.kind, dst.kind
    if s == "json" or d == "json":
        return True
    if s == "boolean" and d == "int":
        return dst.bit_size == 8
    if s == "int" and d == "boolean":
        return src.bit_size == 8
    targets = _SCALAR_TARGETS.get(s)
    if targets is not None:
        return d in targets
    if s == "array":
        return d == "array" and convertible(src.element_type, dst.element_type)
    if s == "object":
        if d == "object":
            common = [(p, dst.property_named(p.name)) for p in src.properties]
            common = [(p, q) for p, q in common if q is not None]
            return bool(common) and all(convertible(p.type, q.type) for p, q in common)
        if d == "map":
            return all(convertible(p.type, dst.element_type) for p in src.properties)
        return False
    if s == "map":
        if d == "map":
            return convertible(src.element_type, dst.element_type)
        if d == "object":
            return all(convertible(src.element_type, p.type) for p in dst.properties)
        return False
    return False


def _bool_text(value: bool) -> str:
    return "true" if value else "false"


def scalar_text(src: Type):
    """Function giving the text of a non-JSON scalar (None for text kinds, already a str)."""
    kind = src.kind
    if kind in _TEXT_KINDS:
        return None
    if kind == "boolean":
        return _bool_text
    if kind in ("int", "year"):
        return int.__repr__
    if kind == "float":
        bits = src.bit_size or 64
        return lambda v: format_float(v, bits)
    if kind == "decimal":
        return format_decimal
    if kind == "datetime":
        return format_datetime
    if kind == "date":
        return format_date
    if kind == "time":
        return format_time
    raise TypeError(f"{src} has no text form")


def converter(src: Type, dst: Type, nullable: bool):
    """The function converting a non-null value of `src` into `dst` (None: nothing to do)."""
    if src == dst:
        return None
    if not convertible(src, dst):
        return _never(dst)
    if src.kind == "json":
        if dst.kind == "json":
            return None
        from_parsed = from_json(dst, nullable)
        return lambda v: from_parsed(loads_json(v.text))
    return _BUILDERS[dst.kind](src, dst, nullable)


def holds_every_value(src: Type, dst: Type) -> bool:
    """Whether every valid value of `src` is, unchanged, a valid value of `dst`: a value known to
    fit `src` then needs no conversion (e.g. string(120) into string(254), where `converter`
    checks the length of values that may not have been validated)."""
    if src == dst:
        return True
    if src.kind != "string" or dst.kind != "string" or dst.values is not None or dst.pattern is not None:
        return False
    length, size = src.max_length, src.max_bytes  # a character takes 1 to 4 bytes
    chars = min((n for n in (length, size) if n is not None), default=None)
    size = min((n for n in (size, None if length is None else 4 * length) if n is not None), default=None)
    return ((dst.max_length is None or (chars is not None and chars <= dst.max_length))
            and (dst.max_bytes is None or (size is not None and size <= dst.max_bytes)))


def _to_string(src: Type, dst: Type, nullable: bool):
    check = string_check(dst, nullable)
    text = scalar_text(src)
    if text is None:
        return check
    if check is None:
        return text
    return lambda v: check(text(v))


def _to_boolean(src: Type, dst: Type, nullable: bool):
    kind = src.kind
    if kind == "boolean":
        return None
    if kind == "int":
        return lambda v: v != 0
    if kind == "string":
        return _string_to_bool(dst, nullable)
    return _never(dst)


def _not_text_of(s: str, t: str, nullable: bool) -> None:
    """For a string that is no text of type `t`: null if it is empty and nullable, else the error."""
    if s == "" and nullable:
        return None
    raise ConvertError("not_convertible", t)
_TRUE_WORDS = {"true": True, "True": True, "TRUE": True, "yes": True, "Yes": True, "YES": True,
               "false": False, "False": False, "FALSE": False, "no": False, "No": False, "NO": False}


def _string_to_bool(dst: Type, nullable: bool):
    words = _TRUE_WORDS
    t = str(dst)

    def conv(s):
        value = words.get(s)
        if value is None:
            return _not_text_of(s, t, nullable)
        return value
    return conv
_SIGNED_INT = re.compile(r"[+-]?[0-9]+\Z")
_UNSIGNED_INT = re.compile(r"[0-9]+\Z")


def _parse_int_text(s: str, t: str) -> int:
    digits = s.lstrip("+-").lstrip("0")
    if len(digits) > 20:  # far beyond 64 bits (and Python's int() digit limit)
        raise ConvertError("not_value", t)
    return int(s)


def _to_int(src: Type, dst: Type, nullable: bool):
    kind = src.kind
    check = int_check(dst)
    t = str(dst)
    if kind in ("int", "year"):
        low, high = int_bounds(dst)
        src_low, src_high = int_bounds(src)
        if low <= src_low and src_high <= high:
            return None
        return check
    if kind == "boolean":
        return lambda v: check(1 if v else 0)
    if kind == "string":
        pattern = _UNSIGNED_INT if dst.unsigned else _SIGNED_INT
        match = pattern.match

        def from_string(s):
            if match(s) is None:
                return _not_text_of(s, t, nullable)
            return check(_parse_int_text(s, t))
        return from_string
    if kind == "float":
        unsigned = dst.unsigned

        def from_float(v):
            if v != v:
                raise ConvertError("not_value", t)
            if unsigned:
                if v < 0 or v > _FLOAT_UINT64_MAX:
                    raise ConvertError("not_value", t)
            elif v < -9223372036854775808.0 or v > _FLOAT_INT64_MAX:
                raise ConvertError("not_value", t)
            if v.is_integer():
                return check(int(v))
            return check(int(Decimal(v).to_integral_value(rounding=ROUND_HALF_UP)))
        return from_float
    if kind == "decimal":
        unsigned = dst.unsigned

        def from_decimal(v):
            if not v.is_finite() or v != v.to_integral_value() or v.adjusted() > 20:
                raise ConvertError("not_value", t)
            n = int(v)
            if n > (UINT64_MAX if unsigned else INT64_MAX) or n < (0 if unsigned else INT64_MIN):
                raise ConvertError("not_value", t)
            return check(n)
        return from_decimal
    return _never(dst)
_FLOAT_TEXT = re.compile(
    r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|(?i:inf|infinity|nan))\Z")


def _to_float(src: Type, dst: Type, nullable: bool):
    kind = src.kind
    post = float_post(dst)
    t = str(dst)
    if kind == "float":
        if (dst.bit_size == 64 and dst.minimum is None and dst.maximum is None
                and (not dst.real or src.real)):
            return None
        return post
    if kind == "int":
        return lambda v: post(float(v))
    if kind == "decimal":
        return lambda v: post(float(v))
    if kind == "string":
        match = _FLOAT_TEXT.match

        def from_string(s):
            if match(s) is None:
                return _not_text_of(s, t, nullable)
            v = float(s)
            if (v == math.inf or v == -math.inf) and s.lstrip("+-")[:1] not in ("i", "I"):
                raise ConvertError("not_value", t)
            return post(v)
        return from_string
    return _never(dst)
_DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")


def _to_decimal(src: Type, dst: Type, nullable: bool):
    kind = src.kind
    post = decimal_post(dst)
    t = str(dst)
    if kind == "int":
        return lambda v: post(Decimal(v))
    if kind == "decimal":
        if (dst.minimum is None and dst.maximum is None and src.scale <= dst.scale
                and src.precision - src.scale <= dst.precision - dst.scale):
            return None
        return post
    if kind == "float":
        return _float_to_decimal(dst)
    if kind == "string":
        match = _DECIMAL_TEXT.match

        def from_string(s):
            if match(s) is None:
                return _not_text_of(s, t, nullable)
            return post(Decimal(s))
        return from_string
    return _never(dst)


def _float_to_decimal(dst: Type):
    post = decimal_post(dst)
    limit = 10.0 ** (dst.precision - dst.scale)
    quantum = Decimal(1).scaleb(-dst.scale)
    t = str(dst)

    def conv(v):
        if v != v or v == math.inf or v == -math.inf or abs(v) >= limit * 10:
            raise ConvertError("not_value", t)
        d = Decimal(v).quantize(quantum, rounding=ROUND_HALF_EVEN, context=DECIMAL_CONTEXT)
        return post(strip_zeros(d))
    return conv


def _to_datetime(src: Type, dst: Type, nullable: bool):
    kind = src.kind
    if kind == "date":
        return lambda v: datetime(v.year, v.month, v.day, tzinfo=UTC)
    if kind == "string":
        return _from_text(parse_rfc3339, dst, nullable)
    return _never(dst)


def _to_date(src: Type, dst: Type, nullable: bool):
    kind = src.kind
    if kind == "datetime":
        return lambda v: v.astimezone(UTC).date() if v.tzinfo is not None and v.utcoffset() else v.date()
    if kind == "string":
        return _from_text(parse_date_text, dst, nullable)
    return _never(dst)


def _to_time(src: Type, dst: Type, nullable: bool):
    kind = src.kind
    if kind == "datetime":
        return lambda v: (v.astimezone(UTC) if v.tzinfo is not None and v.utcoffset() else v).time()
    if kind == "string":
        return _from_text(parse_time_text, dst, nullable)
    return _never(dst)
_YEAR_TEXT = re.compile(r"(?:0|[1-9][0-9]*)\Z")


def _to_year(src: Type, dst: Type, nullable: bool):
    kind = src.kind
    check = int_check(dst)
    t = str(dst)
    if kind == "int":
        return check
    if kind == "string":
        match = _YEAR_TEXT.match

        def from_string(s):
            if match(s) is None:
                return _not_text_of(s, t, nullable)
            if len(s) > 4:
                raise ConvertError("year", t)
            return check(int(s))
        return from_string
    return _never(dst)


def _from_text(parse, dst: Type, nullable: bool):
    """The converter of a string through `parse(text, dst)`; an empty string is null when nullable."""
    def from_string(s):
        if s == "" and nullable:
            return None
        return parse(s, dst)
    return from_string


def _text_parser(parse):
    def build(src: Type, dst: Type, nullable: bool):
        if src.kind != "string":
            return _never(dst)
        return _from_text(parse, dst, nullable)
    return build


def _to_json(src: Type, dst: Type, nullable: bool):
    encode = json_encoder(src)
    return lambda v: RawJSON(encode(v))


def _to_array(src: Type, dst: Type, nullable: bool):
    if src.kind != "array":
        return _never(dst)
    convert_element = converter(src.element_type, dst.element_type, False)
    element_text = str(dst.element_type)
    finish = array_checks(dst)

    def conv(v):
        if convert_element is not None:
            out = []
            append = out.append
            for item in v:
                if item is None:
                    raise ConvertError("not_convertible", element_text)
                append(convert_element(item))
            v = out
        return finish(v)
    return conv


def _object_plan(dst: Type, source_type_of):
    """[(name, converter, nullable, type text)] for each destination property with a source."""
    plan = []
    for p in dst.properties:
        src_type = source_type_of(p.name)
        if src_type is None:
            continue
        plan.append((p.name, converter(src_type, p.type, p.nullable), p.nullable, str(p.type)))
    return plan


def _convert_object(plan, v, get_present):
    out = {}
    for name, conv, nullable, type_text in plan:
        present, item = get_present(v, name)
        if not present:
            continue
        if item is None:
            if nullable:
                out[name] = None
                continue
            raise ConvertError("not_convertible", type_text)
        out[name] = item if conv is None else conv(item)
    return out
_MISSING = object()


def _get_present(v, name):
    item = v.get(name, _MISSING)
    if item is _MISSING:
        return False, None
    return True, item


def _to_object(src: Type, dst: Type, nullable: bool):
    if src.kind == "object":
        def source_type_of(name):
            p = src.property_named(name)
            return None if p is None else p.type
    elif src.kind == "map":
        def source_type_of(name):
            return src.element_type
    else:
        return _never(dst)
    plan = _object_plan(dst, source_type_of)
    return lambda v: _convert_object(plan, v, _get_present)


def _to_map(src: Type, dst: Type, nullable: bool):
    element_text = str(dst.element_type)
    if src.kind == "map":
        conv = converter(src.element_type, dst.element_type, False)
        if conv is None:
            def check_nulls(v):
                if None in v.values():
                    raise ConvertError("not_convertible", element_text)
                return v
            return check_nulls
        convs = None
    elif src.kind == "object":
        convs = {p.name: converter(p.type, dst.element_type, False) for p in src.properties}
        conv = None
    else:
        return _never(dst)

    def convert_map(v):
        out = {}
        for key, item in v.items():
            if item is None:
                raise ConvertError("not_convertible", element_text)
            c = conv if convs is None else convs.get(key)
            out[key] = item if c is None else c(item)
        return out
    return convert_map


def _never(dst: Type):
    t = str(dst)

    def fail(v):
        raise ConvertError("not_convertible", t)
    return fail
_BUILDERS = {
    "string": _to_string,
    "boolean": _to_boolean,
    "int": _to_int,
    "float": _to_float,
    "decimal": _to_decimal,
    "datetime": _to_datetime,
    "date": _to_date,
    "time": _to_time,
    "year": _to_year,
    "uuid": _text_parser(parse_uuid),
    "ip": _text_parser(parse_ip),
    "json": _to_json,
    "array": _to_array,
    "object": _to_object,
    "map": _to_map,
}
_encode_string = __import__("json").encoder.encode_basestring


def json_encoder(src: Type):
    """Function giving the JSON text of a non-null value of `src` (nested nulls are `null`)."""
    kind = src.kind
    if kind in _TEXT_KINDS:
        return _encode_string
    if kind in ("boolean", "int", "year", "decimal"):
        return scalar_text(src)  # JSON writes these as their text
    if kind == "float":
        bits = src.bit_size or 64

        def encode_float(v):
            if v != v or v == math.inf or v == -math.inf:
                raise ConvertError("not_convertible", "json")
            return json_float(v, bits)
        return encode_float
    if kind == "datetime":
        return lambda v: '"' + format_datetime(v) + '"'
    if kind == "date":
        return lambda v: '"' + format_date(v) + '"'
    if kind == "time":
        return lambda v: '"' + format_time(v) + '"'
    if kind == "json":
        return lambda v: v.text
    if kind == "array":
        element = json_encoder(src.element_type)
        return lambda v: "[" + ",".join("null" if x is None else element(x) for x in v) + "]"
    if kind == "object":
        encoders = sorted((p.name, json_encoder(p.type)) for p in src.properties)

        def encode_object(v):
            parts = []
            for name, encode in encoders:
                if name in v:
                    item = v[name]
                    parts.append(_encode_string(name) + ":" + ("null" if item is None else encode(item)))
            return "{" + ",".join(parts) + "}"
        return encode_object
    if kind == "map":
        element = json_encoder(src.element_type)
        return lambda v: "{" + ",".join(
            _encode_string(k) + ":" + ("null" if v[k] is None else element(v[k])) for k in sorted(v)) + "}"
    raise TypeError(f"cannot encode {src}")
