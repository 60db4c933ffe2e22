"""Row normalization: the values a database driver returns, made values of the model of
values.py for a property's type, with the reference's per-row error messages."""

from __future__ import annotations

import functools
import ipaddress
import itertools
import json
import math
import operator
import re
import uuid
from collections.abc import Callable, Sequence
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from pipelines.timeformats.iso8601 import parse_iso8601

from .schema import (
    DECIMAL_CONTEXT, MAX_ELEMENTS, Property, Type, canonical_decimal, compile_pattern, decimal_fits, decimal_text,
    shortest_float32_text, to_float32,
)
from .values import UTC, NormalizeError, RawJSON, format_bound, format_ip, parse_time_of_day


# Driver values are described with the Go type names Krenalis reports.
_GO_TYPE_NAMES = {
    str: "string", bytes: "[]byte", bytearray: "[]byte", memoryview: "[]byte", bool: "bool",
    int: "int64", float: "float64", Decimal: "decimal.Decimal", datetime: "time.Time",
    date: "time.Time", time: "time.Time", timedelta: "time.Duration", uuid.UUID: "uuid.UUID",
    dict: "map[string]any", list: "[]any", tuple: "[]any", RawJSON: "json.RawMessage",
}


def _go_type(value) -> str:
    name = _GO_TYPE_NAMES.get(type(value))
    if name is not None:
        return name
    if isinstance(value, (ipaddress.IPv4Interface, ipaddress.IPv6Interface,
                          ipaddress.IPv4Network, ipaddress.IPv6Network)):
        return "netip.Prefix"
    if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return "netip.Addr"
    return type(value).__name__


def _article(words: str) -> str:
    return "an" if words[0] in "aeio" else "a"


def _not_allowed(value, t: Type, path: str) -> NormalizeError:
    return NormalizeError(f"property '{path}' has type {_go_type(value)} that is not allowed for type {t}")


def _cannot_represent(value, t: Type, path: str) -> NormalizeError:
    go_type = _go_type(value)
    if go_type == "string":
        return NormalizeError(f"property '{path}' has a string value that does not represent {_article(str(t))} {t} value")
    return NormalizeError(f"property '{path}' has {_article(go_type)} {go_type} value that cannot represent {_article(str(t))} {t} value")


def _out_of_range(t: Type, path: str) -> NormalizeError:
    low, high = t.bounds
    return NormalizeError(f"property '{path}' has value which is not in the range "
                          f"[{format_bound(low, t)}, {format_bound(high, t)}]")


def _not_nullable(path: str) -> NormalizeError:
    return NormalizeError(f"property '{path}' has value null but it is not nullable")


def _text_of(value) -> str | None:
    """str for str, and for bytes that are UTF-8; None otherwise."""
    if type(value) is str:
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return None
    return None

Converter = Callable[[Any, str], Any]  # (non-null driver value, path) -> model value


def _string_converter(t: Type, nullable: bool) -> Converter:
    values = frozenset(t.values) if t.values is not None else None
    regex = compile_pattern(t.pattern) if t.pattern is not None else None
    max_length = t.max_length
    max_bytes = t.max_bytes

    def convert(value, path):
        if type(value) is not str:
            if isinstance(value, str):
                value = str(value)
            elif isinstance(value, (bytes, bytearray, memoryview)):
                try:
                    value = bytes(value).decode("utf-8")
                except UnicodeDecodeError:
                    raise NormalizeError(f"property '{path}' does not contain valid UTF-8 characters") from None
            else:
                raise _not_allowed(value, t, path)
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise NormalizeError(f"property '{path}' does not contain valid UTF-8 characters") from None
        if values is not None:
            if value in values:
                return value
            if value == "":
                return None  # Krenalis quirk: "" for an enum without "" reads as null.
            raise NormalizeError(f"property '{path}' contains an unsupported value")
        if regex is not None:
            if regex.search(value) is None:
                raise NormalizeError(f"property '{path}' contains an unsupported value")
            return value
        if max_length is not None and len(value) > max_length:
            raise NormalizeError(f"property '{path}' has a value longer than {max_length} characters")
        # A code point takes 1 to 4 bytes: encode only when the length alone cannot tell.
        if max_bytes is not None and len(value) * 4 > max_bytes and (
                len(value) > max_bytes or len(value.encode("utf-8")) > max_bytes):
            raise NormalizeError(f"property '{path}' has a value longer than {max_bytes} bytes")
        return value

    return convert


def _boolean_converter(t: Type, nullable: bool) -> Converter:
    def convert(value, path):
        if value is True or value is False:
            return value
        if isinstance(value, (str, bytes, bytearray, memoryview)):
            text = _text_of(value)
            if text == "true":
                return True
            if text == "false":
                return False
            raise _cannot_represent(value, t, path)
        raise _not_allowed(value, t, path)

    return convert

_INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")


def _integer_of(value, t: Type, path: str) -> int:
    """The exact integer a driver value stands for, or a NormalizeError."""
    kind = type(value)
    if kind is float:
        if math.isfinite(value) and value.is_integer():
            return int(value)
        raise _cannot_represent(value, t, path)
    if kind is Decimal or isinstance(value, Decimal):
        # (no int type holds 40 digits: 1e999999 is refused without building its million digits)
        if value.is_finite() and value.adjusted() < 40 and value == value.to_integral_value(context=DECIMAL_CONTEXT):
            return int(value)
        raise _cannot_represent(value, t, path)
    if isinstance(value, (str, bytes, bytearray, memoryview)):
        text = _text_of(value)
        if text is not None and _INTEGER_TEXT.fullmatch(text):
            try:
                return int(text)
            except ValueError:  # more digits than Python converts (4,300): no int type holds it anyway
                pass
        raise _cannot_represent(value, t, path)
    if isinstance(value, int) and kind is not bool:
        return int(value)
    raise _not_allowed(value, t, path)


def _int_converter(t: Type, nullable: bool) -> Converter:
    low, high = t.bounds
    unsigned = t.unsigned

    def convert(value, path):
        if type(value) is not int:
            value = _integer_of(value, t, path)
        if low <= value <= high:
            return value
        if unsigned and value < 0:
            raise NormalizeError(f"property '{path}' has a negative int value that cannot represent "
                                 f"an unsigned {t} value")
        raise _out_of_range(t, path)

    return convert


def _year_converter(t: Type, nullable: bool) -> Converter:
    def convert(value, path):
        if type(value) is not int:
            value = _integer_of(value, t, path)
        if 1 <= value <= 9999:
            return value
        raise _out_of_range(t, path)

    return convert

_FLOAT_TEXT = re.compile(r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|infinity|nan)",
                         re.IGNORECASE)


def _float_converter(t: Type, nullable: bool) -> Converter:
    low, high = t.bounds
    real = t.real
    is_float32 = t.bit_size == 32
    exact_int_limit = 2 ** 24 if is_float32 else 2 ** 53

    def to_model(number: float, original, path, exact: bool) -> float:
        """float32 values are kept as the double nearest to their shortest text (23.9476, not 23.947599411).

        With `exact`, a float that no float32 stands for is rejected (0.30000000000000004);
        texts and decimals are rounded to the nearest float32 instead.
        """
        if is_float32 and number and math.isfinite(number):  # (-0.0 stays -0.0)
            try:
                single = to_float32(number)
            except OverflowError:
                raise _cannot_represent(original, t, path) from None
            if exact and number != single:
                if not _is_shortest_float32_text(number, single):
                    raise _cannot_represent(original, t, path)
                return number
            return _float32_model(single)
        return number

    def convert(value, path):
        kind = type(value)
        if kind is float:
            number = to_model(value, value, path, True) if is_float32 else value
        elif kind is int:
            if not -exact_int_limit <= value <= exact_int_limit:
                raise _cannot_represent(value, t, path)
            number = float(value)
        elif isinstance(value, Decimal):
            if value.is_snan():
                raise _cannot_represent(value, t, path)
            number = float(value)
            if math.isinf(number) and value.is_finite():
                raise _cannot_represent(value, t, path)
            number = to_model(number, value, path, False)
        elif isinstance(value, (str, bytes, bytearray, memoryview)):
            text = _text_of(value)
            if text is None or _FLOAT_TEXT.fullmatch(text) is None:
                raise _cannot_represent(value, t, path)
            number = float(text)
            if math.isinf(number) and "inf" not in text.lower():
                raise _cannot_represent(value, t, path)
            number = to_model(number, value, path, False)
        else:
            raise _not_allowed(value, t, path)
        if number != number:
            if real:
                raise NormalizeError(f"property '{path}' has value NaN which is not allowed for a real {t}")
            return number
        if low <= number <= high:
            return number
        raise _out_of_range(t, path)

    return convert


@functools.lru_cache(maxsize=65536)
def _float32_model(single: float) -> float:
    return float(shortest_float32_text(single))


@functools.lru_cache(maxsize=65536)  # float columns repeat values (prices, scores)
def _is_shortest_float32_text(number: float, single: float) -> bool:
    """Whether `number` is the double of the shortest text of the float32 `single`.

    Drivers hand float32 columns over as doubles parsed from that text
    (23.9476); checking it directly is much cheaper than searching for it.
    """
    mantissa = repr(number).partition("e")[0].lstrip("-").replace(".", "").strip("0")
    digits = len(mantissa)
    if digits > 9 or float("%.*g" % (digits, single)) != number:
        return False
    return digits == 1 or to_float32(float("%.*g" % (digits - 1, single))) != single

_DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def _decimal_converter(t: Type, nullable: bool) -> Converter:
    precision, scale = t.precision, t.scale
    low, high = t.bounds
    quantum = Decimal(1).scaleb(-scale)

    def too_wide(text: str, path: str) -> NormalizeError:
        return NormalizeError(f"property '{path}' has a \"{text}\" value that cannot represent a {t} value")

    def convert(value, path):
        kind = type(value)
        if kind is Decimal or isinstance(value, Decimal):
            number = value
            if not decimal_fits(number, precision, scale):
                raise too_wide(decimal_text(number) if number.is_finite() else str(number), path)
        elif kind is int:
            number = Decimal(value)
            if not decimal_fits(number, precision, scale):
                raise too_wide(str(value), path)
        elif kind is float:
            if not math.isfinite(value):
                raise _cannot_represent(value, t, path)
            # The float's shortest text, rounded to the scale: float32 23.947587 -> 23.948.
            number = Decimal(repr(value))
            if number.adjusted() >= precision - scale and not number.is_zero():
                raise too_wide(repr(value), path)
            number = number.quantize(quantum, rounding=ROUND_HALF_UP, context=DECIMAL_CONTEXT)
            if not decimal_fits(number, precision, scale):
                raise too_wide(repr(value), path)
        elif isinstance(value, (str, bytes, bytearray, memoryview)):
            text = _text_of(value)
            if text == "":
                if nullable:
                    return None
                raise _not_nullable(path)
            if text is None or _DECIMAL_TEXT.fullmatch(text) is None:
                raise _cannot_represent(value, t, path)
            number = Decimal(text)
            if not decimal_fits(number, precision, scale):
                raise too_wide(text, path)
            number = canonical_decimal(number)  # "6.639e2" -> 663.9
        elif kind is bool:
            raise _not_allowed(value, t, path)
        elif isinstance(value, int):
            number = Decimal(int(value))
            if not decimal_fits(number, precision, scale):
                raise too_wide(str(value), path)
        else:
            raise _not_allowed(value, t, path)
        if not low <= number <= high:
            raise _out_of_range(t, path)
        return number

    return convert


def _as_utc(value: datetime) -> datetime:
    """Naive timestamps are UTC, as the Go drivers read them."""
    if value.tzinfo is None:
        return datetime.combine(value, value.time(), UTC)  # 3x faster than replace()
    if value.tzinfo is UTC:
        return value
    return value.astimezone(UTC)

# What PostgreSQL writes for dates and timestamps that no date of years 1 to 9999 stands for; its
# connector hands them over as text rather than as the nearest date (infinity is not 9999-12-31).
_OUT_OF_RANGE_TEXT = re.compile(r"-?infinity|\d{5,}-.*|.* BC")


def _datetime_of(value, t: Type, path: str) -> datetime:
    if isinstance(value, datetime):
        try:
            return _as_utc(value)
        except OverflowError:
            raise _cannot_represent(value, t, path) from None
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, (str, bytes, bytearray, memoryview)):
        text = _text_of(value)
        try:
            if text is None:
                raise ValueError
            return parse_iso8601(text)
        except (ValueError, OverflowError):
            if text is not None and _OUT_OF_RANGE_TEXT.fullmatch(text):
                raise NormalizeError(f"property '{path}' has value {text}, which is outside the range of {t} "
                                     f"values (years 1 to 9999)") from None
            raise _cannot_represent(value, t, path) from None
    raise _not_allowed(value, t, path)


def _datetime_converter(t: Type, nullable: bool) -> Converter:
    def convert(value, path):
        if type(value) is datetime and value.tzinfo is UTC:
            return value
        return _datetime_of(value, t, path)

    return convert


def _date_converter(t: Type, nullable: bool) -> Converter:
    def convert(value, path):
        if type(value) is date:
            return value
        return _datetime_of(value, t, path).date()

    return convert

_CLOCK_TEXT = re.compile(r"-?\d{2,}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[+-]\d{2}(?::?\d{2}){0,2})?")
_DAY = timedelta(days=1)


def _duration_text(value: timedelta) -> str:
    """A duration as MySQL writes a TIME: [-]H:MM:SS[.ffffff], hours past 24 included (838:59:59)."""
    sign, value = ("-", -value) if value < timedelta(0) else ("", value)
    seconds = value.days * 86400 + value.seconds
    fraction = f".{value.microseconds:06d}" if value.microseconds else ""
    return f"{sign}{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}{fraction}"


def _not_a_time_of_day(text: str, path: str) -> NormalizeError:
    """A TIME outside one day (MySQL's 24:00:00, 838:59:59 or -01:00:00, PostgreSQL's 24:00:00) is a
    duration, not a time of day: the row fails rather than the value wrapping to another time."""
    return NormalizeError(f"property '{path}' has value {text}, which is not a time of day "
                          f"(a time value is from 00:00:00 to 23:59:59.999999)")


def _time_converter(t: Type, nullable: bool) -> Converter:
    def convert(value, path):
        if type(value) is time:
            if value.tzinfo is None:
                return value
            if value.utcoffset() is None:
                return value.replace(tzinfo=None)
            moment = datetime.combine(date(2000, 1, 1), value).astimezone(UTC)
            return moment.time()
        if isinstance(value, timedelta):
            if timedelta(0) <= value < _DAY:
                return (datetime.min + value).time()
            raise _not_a_time_of_day(_duration_text(value), path)
        if isinstance(value, datetime):
            try:
                return _as_utc(value).time()
            except OverflowError:
                raise _cannot_represent(value, t, path) from None
        if isinstance(value, (str, bytes, bytearray, memoryview)):
            text = _text_of(value)
            if text is not None:
                try:
                    return parse_time_of_day(text)
                except ValueError:
                    pass
                try:
                    return parse_iso8601(text).time()
                except (ValueError, OverflowError):
                    pass
                if _CLOCK_TEXT.fullmatch(text):
                    raise _not_a_time_of_day(text, path)
            raise _cannot_represent(value, t, path)
        raise _not_allowed(value, t, path)

    return convert

_UUID_TEXT = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def _uuid_converter(t: Type, nullable: bool) -> Converter:
    def convert(value, path):
        if type(value) is str and _UUID_TEXT.fullmatch(value):
            return value.lower()
        if isinstance(value, uuid.UUID):
            return str(value)
        if isinstance(value, (bytes, bytearray, memoryview)) and len(value) == 16:
            return str(uuid.UUID(bytes=bytes(value)))
        if isinstance(value, (str, bytes, bytearray, memoryview)):
            text = _text_of(value)
            if text is not None and _UUID_TEXT.fullmatch(text):
                return text.lower()
            raise _cannot_represent(value, t, path)
        raise _not_allowed(value, t, path)

    return convert


def _parse_ip_text(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """An address with an optional /prefix (dropped) and zone (dropped); ValueError otherwise."""
    address_text, slash, prefix = text.partition("/")
    address_text = address_text.split("%", 1)[0]
    address = ipaddress.ip_address(address_text)
    if slash:
        if not prefix.isdigit() or int(prefix) > address.max_prefixlen or (len(prefix) > 1 and prefix[0] == "0"):
            raise ValueError(f"invalid prefix in {text!r}")
    return address


def _unmap(address):
    if address.version == 6 and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _ip_converter(t: Type, nullable: bool) -> Converter:
    def convert(value, path):
        # Interfaces subclass addresses, so they come first.
        if isinstance(value, (ipaddress.IPv4Interface, ipaddress.IPv6Interface)):
            return format_ip(_unmap(value.ip))
        if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
            return format_ip(_unmap(value))
        if isinstance(value, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
            return format_ip(_unmap(value.network_address))
        if isinstance(value, (str, bytes, bytearray, memoryview)):
            text = _text_of(value)
            if text is not None:
                try:
                    return format_ip(_parse_ip_text(text))
                except ValueError:
                    pass
            if not isinstance(value, str) and len(value) in (4, 16):
                return format_ip(_unmap(ipaddress.ip_address(bytes(value))))
            raise _cannot_represent(value, t, path)
        raise _not_allowed(value, t, path)

    return convert


def _reject_constant(name):
    raise ValueError(name)

_JSON_CHECKER = json.JSONDecoder(parse_constant=_reject_constant)


def _json_converter(t: Type, nullable: bool) -> Converter:
    """Texts are kept verbatim once checked; parsed values (psycopg2's json) are re-serialized
    with PostgreSQL's spacing. A JSON string value must therefore arrive as text or RawJSON."""

    def convert(value, path):
        if type(value) is RawJSON:
            return value
        if isinstance(value, (str, bytes, bytearray, memoryview)):
            text = _text_of(value)
            if text is not None:
                try:
                    _JSON_CHECKER.decode(text)
                    return RawJSON(text)
                except ValueError:
                    pass
            raise _cannot_represent(value, t, path)
        if isinstance(value, (dict, list, tuple, int, float, Decimal)):  # bool is an int
            try:
                return RawJSON(_dumps_spaced(value))
            except (TypeError, ValueError):
                raise _cannot_represent(value, t, path) from None
        raise _not_allowed(value, t, path)

    return convert


def _dumps_spaced(value) -> str:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(value)
        return decimal_text(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k), ensure_ascii=False)}: {_dumps_spaced(v)}"
                               for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_dumps_spaced(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


def _array_converter(t: Type, nullable: bool) -> Converter:
    element = _converter(t.element_type, False)
    minimum = t.min_elements
    maximum = MAX_ELEMENTS if t.max_elements is None else t.max_elements
    unique = t.unique_elements

    def convert(value, path):
        if not isinstance(value, (list, tuple)):
            raise _not_allowed(value, t, path)
        count = len(value)
        if not minimum <= count <= maximum:
            raise NormalizeError(f"property '{path}' is an array with {count} elements, "
                                 f"but they must be in range [{minimum}, {maximum}]")
        items = []
        for index, item in enumerate(value):
            if item is None:
                raise _not_nullable(f"{path}[{index}]")
            items.append(element(item, f"{path}[{index}]"))
        if unique and len(set(items)) != count:
            raise NormalizeError(f"property '{path}' is an array with repeated elements, but they must be unique")
        return items

    return convert


def _object_converter(t: Type, nullable: bool) -> Converter:
    fields = [(p.name, p.read_optional, p.nullable, _converter(p.type, p.nullable)) for p in t.properties]

    def convert(value, path):
        if not isinstance(value, dict):
            raise _not_allowed(value, t, path)
        result = {}
        for name, read_optional, is_nullable, field in fields:
            field_path = f"{path}.{name}"
            if name not in value:
                if read_optional:
                    continue
                raise NormalizeError(f"property '{field_path}' does not have a value, "
                                     f"but the property is not optional for reading")
            item = value[name]
            if item is None:
                if not is_nullable:
                    raise _not_nullable(field_path)
                result[name] = None
            else:
                result[name] = field(item, field_path)
        return result

    return convert


def _map_converter(t: Type, nullable: bool) -> Converter:
    element = _converter(t.element_type, False)

    def convert(value, path):
        if not isinstance(value, dict):
            raise _not_allowed(value, t, path)
        result = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise _not_allowed(value, t, path)
            if item is None:
                raise _not_nullable(f"{path}.{key}")
            result[key] = element(item, f"{path}.{key}")
        return result

    return convert

_CONVERTERS = {
    "string": _string_converter, "boolean": _boolean_converter, "int": _int_converter,
    "float": _float_converter, "decimal": _decimal_converter, "datetime": _datetime_converter,
    "date": _date_converter, "time": _time_converter, "year": _year_converter,
    "uuid": _uuid_converter, "json": _json_converter, "ip": _ip_converter,
    "array": _array_converter, "object": _object_converter, "map": _map_converter,
}


def _converter(t: Type, nullable: bool) -> Converter:
    return _CONVERTERS[t.kind](t, nullable)


def make_normalizer(prop: Property, path: str) -> Callable[[Any], Any]:
    """A function normalizing one driver value of `prop` (per-type work done once, here).

    The function returns the value model and raises NormalizeError with the
    row-normalization message; `path` is the name used in those messages.
    """
    convert = _converter(prop.type, prop.nullable)
    nullable = prop.nullable

    def normalize(value):
        if value is None:
            if nullable:
                return None
            raise _not_nullable(path)
        return convert(value, path)

    return normalize


def column_normalizer(prop: Property) -> Callable[[Sequence], Sequence]:
    """A function normalizing a column of values (one per row) as make_normalizer(prop, prop.name)
    normalizes each; it raises NormalizeError for the first value that does not fit.

    Drivers almost always hand values over already in the value model: when column_check finds
    that the normalizer would return every value as it is, the column itself is returned, with no
    call per value.
    """
    normalize = make_normalizer(prop, prop.name)
    fits = column_check(prop.type, prop.nullable)
    if fits is None:
        return lambda values: list(map(normalize, values))

    def normalize_column(values: Sequence) -> Sequence:
        return values if fits(values) else list(map(normalize, values))

    return normalize_column


def column_check(t: Type, nullable: bool) -> Callable[[Sequence], bool] | None:
    """A function telling, with a few C-level passes over a column, whether the normalizer of a
    property of type `t` would return each of its values as it is (the first checks its converter
    makes); None for the types whose values are always converted (uuid, ip, decimal...)."""
    model = _column_check(t)
    if model is None:
        return None
    model_class, check = model
    allowed = {model_class, type(None)} if nullable else {model_class}

    def fits(values: Sequence) -> bool:
        kinds = set(map(type, values))
        if not kinds <= allowed:
            return False
        return check(list(filter(_is_not_none, values)) if type(None) in kinds else values)

    return fits

_is_not_none = functools.partial(operator.is_not, None)
_tzinfo = operator.attrgetter("tzinfo")


def _all_zones_are(values, zone) -> bool:
    return all(map(operator.is_, map(_tzinfo, values), itertools.repeat(zone)))


def _column_check(t: Type) -> tuple[type, Callable[[Sequence], bool]] | None:
    """(the value model's class, a check of a column of non-null values of exactly that class) such
    that the converter of `t` returns each value of a column that passes as it is; None for the
    types whose values are converted (uuid, ip, decimal...)."""
    kind = t.kind
    if kind == "string" and t.values is None and t.pattern is None:
        max_length, max_bytes = t.max_length, t.max_bytes

        def check_strings(values):
            text = "".join(values)
            ascii_only = text.isascii()
            if not ascii_only:
                try:
                    text.encode("utf-8")  # no lone surrogates
                except UnicodeEncodeError:
                    return False
            if max_length is None and max_bytes is None:
                return True
            longest = max(map(len, values), default=0)
            # an ASCII character is one byte, any other at most four
            return ((max_length is None or longest <= max_length)
                    and (max_bytes is None or longest * (1 if ascii_only else 4) <= max_bytes))

        return str, check_strings
    if kind in ("int", "year"):
        low, high = t.bounds if kind == "int" else (1, 9999)
        return int, lambda values: not values or (low <= min(values) and max(values) <= high)
    if kind == "boolean":
        return bool, lambda values: True
    if kind == "datetime":
        return datetime, lambda values: _all_zones_are(values, UTC)
    if kind == "date":
        return date, lambda values: True
    if kind == "time":
        return time, lambda values: _all_zones_are(values, None)
    if kind == "json":
        return RawJSON, lambda values: True
    return None


def normalize_value(value, prop: Property, path: str):
    """Normalize one driver value; prefer make_normalizer for many rows."""
    return make_normalizer(prop, path)(value)
