"""Value encodings between the value model and transformation functions, both ways.

Input (§4.3): a record of the value model is turned into a JSON-able dict that,
once decoded on the runtime side with a small *descriptor*, gives each kind the
value the spec prescribes:

| kind      | JavaScript                                   | Python                               |
|-----------|----------------------------------------------|--------------------------------------|
| int 64    | BigInt (sent as digits, `BigInt(...)` in JS) | int                                  |
| float     | number, NaN/±Infinity (sent as strings)      | float (NaN/Infinity JSON literals)   |
| decimal   | string '1752.064'                            | decimal.Decimal('1752.064')          |
| datetime  | string '2023-10-17T09:34:25.836042Z'         | naive datetime.datetime (UTC)        |
| date      | string '2023-10-17'                          | datetime.date                        |
| time      | string '09:34:25.836042'                     | datetime.time                        |
| uuid      | string                                       | uuid.UUID                            |
| json      | native value, or its text with preserveJSON  | native value, or its text            |
| others    | string / boolean / number / array / object   | str / bool / int / list / dict       |

Output (§4.4): what the runtime hands back is JSON (JS: after normalization,
BigInt -> digits, non-finite -> "NaN"/"Infinity"/"-Infinity"; Python: after
json.dumps(default=str), so Decimal/UUID/datetime/date/time became str). The
decoder validates it against the output schema pruned to outPaths, with the
per-language expectations and the "Function output" messages of §1.7, and
returns the value model. No Django here.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
import uuid
from collections.abc import Callable
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from pipelines.timeformats.rfc3339 import rfc3339_formatter, time_of_day_formatter, trimmed_fraction
from pipelines.types import RawJSON, Type
from pipelines.types.schema import (
    canonical_decimal, compile_pattern, decimal_fits, decimal_text, shortest_float32_text, to_float32,
)
from pipelines.types.normalize import column_check
from pipelines.types.values import format_bound, format_ip, special_float

JAVASCRIPT = "JavaScript"
PYTHON = "Python"
LANGUAGES = (JAVASCRIPT, PYTHON)

UTC = timezone.utc
_MAX_FLOAT = 1.7976931348623157e308


class OutputError(Exception):
    """A transformed value that does not fit the output schema; str() is the record message."""


# =========================================================================== type names

def type_name(t: Type, language: str) -> str:
    """The «T» of 'has a value that is not of type «T»' (§4.4)."""
    kind = t.kind
    if language == JAVASCRIPT:
        if kind == "int":
            return "bigint" if t.bit_size == 64 else "number"
        if kind in ("float", "year"):
            return "number"
        if kind == "array":
            return f"array of {type_name(t.element_type, language)}"
        if kind == "map":
            return f"object with {type_name(t.element_type, language)} values"
        if kind == "boolean":
            return "boolean"
        if kind == "object":
            return "object"
        return "string"
    names = {
        "string": "str", "boolean": "bool", "int": "int", "float": "float", "decimal": "decimal.Decimal",
        "datetime": "datetime.datetime", "date": "datetime.date", "time": "datetime.time", "year": "int",
        "uuid": "uuid.UUID", "json": "str", "ip": "str", "object": "dict",
    }
    if kind == "array":
        return f"list[{type_name(t.element_type, language)}]"
    if kind == "map":
        return f"dict[str, {type_name(t.element_type, language)}]"
    return names[kind]


# =========================================================================== input

Encoder = Callable[[Any], Any]  # non-null model value -> JSON-able value


def _utc_naive(value: datetime) -> datetime:
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


# JavaScript's text of dates and times (trailing fractional zeros trimmed).
_js_datetime = rfc3339_formatter(trimmed_fraction)
_js_time = time_of_day_formatter(trimmed_fraction)


def _decimal_string(value: Decimal) -> str:
    return decimal_text(canonical_decimal(value))


def _json_text(value) -> str:
    return value.text if isinstance(value, RawJSON) else value


def _finite_float(text: str) -> float:
    # JSON number literals beyond the double range would become inf, which JSON cannot carry.
    number = float(text)
    if math.isinf(number):
        return math.copysign(_MAX_FLOAT, number)
    return number


_JS_JSON_DECODER = json.JSONDecoder(parse_float=_finite_float)


def _value_encoder(t: Type, language: str, preserve_json: bool) -> Encoder | None:
    """The encoder of one non-null value, or None when the value passes as is."""
    kind = t.kind
    js = language == JAVASCRIPT
    if kind in ("string", "boolean", "year", "ip", "uuid"):
        return None  # uuid: canonical str, made a uuid.UUID by the Python worker
    if kind == "int":
        return str if js and t.bit_size == 64 else None
    if kind == "float":
        return special_float if js else None  # Python: NaN/Infinity literals over the pipe
    if kind == "decimal":
        return _decimal_string
    if kind == "datetime":
        return _js_datetime if js else (lambda v: _utc_naive(v).isoformat())
    if kind == "date":
        return date.isoformat
    if kind == "time":
        return _js_time if js else time.isoformat
    if kind == "json":
        if preserve_json:
            return _json_text
        if js:
            return lambda v: _JS_JSON_DECODER.decode(_json_text(v))
        return lambda v: json.loads(_json_text(v))
    if kind == "array":
        element = _value_encoder(t.element_type, language, preserve_json)
        if element is None:
            return None
        return lambda v: [None if item is None else element(item) for item in v]
    if kind == "map":
        element = _value_encoder(t.element_type, language, preserve_json)
        if element is None:
            return None
        return lambda v: {k: None if item is None else element(item) for k, item in v.items()}
    if kind == "object":
        return _object_encoder(t, language, preserve_json)
    raise ValueError(f"unknown kind {kind!r}")


def _object_encoder(t: Type, language: str, preserve_json: bool) -> Encoder:
    """Only the properties of `t` (already pruned to inPaths), in schema order; absent stays absent."""
    fields = [(p.name, _value_encoder(p.type, language, preserve_json)) for p in t.properties]
    if all(encoder is None for _, encoder in fields):
        names = [name for name, _ in fields]
        return lambda record: {name: record[name] for name in names if name in record}

    def encode(record: dict) -> dict:
        out = {}
        for name, encoder in fields:
            if name in record:
                value = record[name]
                out[name] = value if value is None or encoder is None else encoder(value)
        return out

    return encode


def input_encoder(schema: Type | None, language: str, preserve_json: bool) -> Callable[[dict], dict]:
    """record (value model, top-level property names) -> JSON-able dict for the runtime.

    `schema` is the input schema pruned to inPaths; None (no inPaths) gives `{}`.
    """
    if schema is None:
        return lambda record: {}
    return _object_encoder(schema, language, preserve_json)


def column_encoders(schema: Type | None, language: str, preserve_json: bool) -> list[Encoder | None]:
    """The encoder of each top-level property of `schema` (pruned to inPaths), None where values
    pass as they are: input_encoder applied column by column, for records sent as arrays."""
    if schema is None:
        return []
    return [_value_encoder(p.type, language, preserve_json) for p in schema.properties]


def _descriptor_code(t: Type, language: str, preserve_json: bool):
    """What the runtime must do to a decoded JSON value of `t`, or None for nothing.

    JavaScript codes: "b" BigInt, "f" float. Python codes: "D" Decimal,
    "T" datetime, "d" date, "t" time, "u" UUID. Containers: ["a", code],
    ["m", code], ["o", {name: code}].
    """
    kind = t.kind
    if language == JAVASCRIPT:
        if kind == "int" and t.bit_size == 64:
            return "b"
        if kind == "float":
            return "f"
    else:
        code = {"decimal": "D", "datetime": "T", "date": "d", "time": "t", "uuid": "u"}.get(kind)
        if code is not None:
            return code
    if kind in ("array", "map"):
        inner = _descriptor_code(t.element_type, language, preserve_json)
        return None if inner is None else [kind[0], inner]
    if kind == "object":
        inner = _object_descriptor(t, language, preserve_json)
        return None if inner is None else ["o", inner]
    return None


def _object_descriptor(t: Type, language: str, preserve_json: bool) -> dict | None:
    codes = {}
    for p in t.properties:
        code = _descriptor_code(p.type, language, preserve_json)
        if code is not None:
            codes[p.name] = code
    return codes or None


def input_descriptor(schema: Type | None, language: str, preserve_json: bool) -> dict | None:
    """The per-property conversions the runtime applies to each decoded record (None: none)."""
    if schema is None:
        return None
    return _object_descriptor(schema, language, preserve_json)


# =========================================================================== output

Decoder = Callable[[Any, str], Any]  # (non-null JSON value, path) -> model value


def _not_of_type(path: str, name: str) -> OutputError:
    return OutputError(f"property «{path}» has a value that is not of type «{name}»")


def _is_utf8(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def _string_decoder(t: Type, language: str, preserve_json: bool) -> Decoder:
    name = type_name(t, language)
    values = frozenset(t.values) if t.values is not None else None
    regex = compile_pattern(t.pattern) if t.pattern is not None else None
    shown_pattern = (t.pattern or "").replace("/", "\\/").replace("»", "≫")
    max_length, max_bytes = t.max_length, t.max_bytes

    if values is None and regex is None and max_length is None and max_bytes is None:
        def decode_plain(value, path):
            if type(value) is str and (value.isascii() or _is_utf8(value)):
                return value
            if type(value) is not str:
                raise _not_of_type(path, name)
            raise OutputError(f"property «{path}» does not contain valid UTF-8 characters")

        return decode_plain

    def decode(value, path):
        if type(value) is not str:
            raise _not_of_type(path, name)
        if not _is_utf8(value):
            raise OutputError(f"property «{path}» does not contain valid UTF-8 characters")
        if values is not None:
            if value not in values:
                raise OutputError(f"property «{path}» is not one of the allowed values")
            return value
        if regex is not None:
            if regex.search(value) is None:
                raise OutputError(f"property «{path}» does not match «/{shown_pattern}/»")
            return value
        if max_length is not None and len(value) > max_length:
            raise OutputError(f"property «{path}» exceeds the {max_length}-char limit")
        if max_bytes is not None and len(value) * 4 > max_bytes and len(value.encode("utf-8")) > max_bytes:
            raise OutputError(f"property «{path}» exceeds the {max_bytes}-byte limit")
        return value

    return decode


def _boolean_decoder(t: Type, language: str, preserve_json: bool) -> Decoder:
    name = type_name(t, language)

    def decode(value, path):
        if value is True or value is False:
            return value
        raise _not_of_type(path, name)

    return decode


_DIGITS = re.compile(r"-?[0-9]+")


def _check_range(number, low, high, path, t: Type):
    if number < low:
        raise OutputError(f"property «{path}» is less than {format_bound(low, t)}")
    if number > high:
        raise OutputError(f"property «{path}» is greater than {format_bound(high, t)}")


def _int_decoder(t: Type, language: str, preserve_json: bool) -> Decoder:
    name = type_name(t, language)
    low, high = t.bounds
    bigint = language == JAVASCRIPT and t.bit_size == 64

    def decode(value, path):
        kind = type(value)
        if bigint:
            # BigInts arrive as their digits (normalization); plain Numbers are rejected.
            if kind is not str or _DIGITS.fullmatch(value) is None:
                raise _not_of_type(path, name)
            number = int(value)
        elif kind is int:
            number = value
        elif kind is float and language == JAVASCRIPT:
            if not value.is_integer():
                raise OutputError(f"property «{path}» has a value that is not an integer")
            number = int(value)
        else:
            raise _not_of_type(path, name)
        _check_range(number, low, high, path, t)
        return number

    return decode


def _year_decoder(t: Type, language: str, preserve_json: bool) -> Decoder:
    name = type_name(t, language)

    def decode(value, path):
        kind = type(value)
        if kind is float and language == JAVASCRIPT and value.is_integer():
            value = int(value)
        elif kind is not int:
            raise _not_of_type(path, name)
        if not 1 <= value <= 9999:
            raise OutputError(f"property «{path}» year is not in range [1,9999]")
        return value

    return decode


_SPECIAL_FLOATS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _float_decoder(t: Type, language: str, preserve_json: bool) -> Decoder:
    name = type_name(t, language)
    low, high = t.bounds
    real = t.real
    is_float32 = t.bit_size == 32

    def decode(value, path):
        kind = type(value)
        if kind is float:
            number = value
        elif kind is int:
            try:
                number = float(value)
            except OverflowError:
                number = math.copysign(math.inf, value)
        elif kind is str and language == JAVASCRIPT and value in _SPECIAL_FLOATS:
            number = _SPECIAL_FLOATS[value]
        else:
            raise _not_of_type(path, name)
        if number != number:
            if real:
                raise OutputError(f'property «{path}» is "NaN", which is not a valid real number')
            return number
        if is_float32 and number and math.isfinite(number):
            try:
                number = float(shortest_float32_text(to_float32(number)))
            except OverflowError:
                number = math.copysign(math.inf, number)
        _check_range(number, low, high, path, t)
        return number

    return decode


_DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def _decimal_decoder(t: Type, language: str, preserve_json: bool) -> Decoder:
    name = type_name(t, language)
    precision, scale = t.precision, t.scale
    low, high = t.bounds
    shown = f"decimal({precision}, {scale})"

    def decode(value, path):
        if type(value) is not str:
            raise _not_of_type(path, name)
        if _DECIMAL_TEXT.fullmatch(value) is None:
            raise OutputError(f"property «{path}» does not contain a valid decimal number")
        try:
            number = Decimal(value)
        except InvalidOperation:  # pragma: no cover - the regex already checked the syntax
            raise OutputError(f"property «{path}» does not contain a valid decimal number") from None
        if not decimal_fits(number, precision, scale):
            raise OutputError(f"property «{path}» has a value which is not in range of «{shown}»")
        number = canonical_decimal(number)
        _check_range(number, low, high, path, t)
        return number

    return decode


_JS_DATETIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})")
# str(datetime.datetime) of a naive datetime.
_PY_DATETIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,6}))?()")
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_JS_TIME = re.compile(r"([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?")
_PY_TIME = re.compile(r"([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,6}))?")


def _microseconds(fraction: str | None) -> int:
    return int((fraction or "0").ljust(6, "0")[:6])


def _year_error(path: str) -> OutputError:
    return OutputError(f"property «{path}» has a year outside the allowed range (1–9999)")


def _datetime_decoder(t: Type, language: str, preserve_json: bool) -> Decoder:
    name = type_name(t, language)
    pattern = _JS_DATETIME if language == JAVASCRIPT else _PY_DATETIME

    def decode(value, path):
        if type(value) is not str:
            raise _not_of_type(path, name)
        match = pattern.fullmatch(value)
        if match is None:
            raise OutputError(f"property «{path}» is not in the expected datetime format")
        year_, month, day, hour, minute, second, fraction, zone = match.groups()
        offset = timedelta(0)
        if zone and zone != "Z":
            hours, minutes = int(zone[1:3]), int(zone[4:6])
            if hours > 23 or minutes > 59:
                raise OutputError(f"property «{path}» is not in the expected datetime format")
            offset = timedelta(hours=hours, minutes=minutes) * (-1 if zone[0] == "-" else 1)
        if year_ == "0000":
            raise _year_error(path)
        try:
            local = datetime(int(year_), int(month), int(day), int(hour), int(minute), int(second),
                             _microseconds(fraction), tzinfo=timezone(offset))
        except ValueError:
            raise OutputError(f"property «{path}» is not in the expected datetime format") from None
        if not offset:
            return local.replace(tzinfo=UTC) if local.tzinfo is not UTC else local
        try:
            return local.astimezone(UTC)
        except OverflowError:
            raise _year_error(path) from None

    return decode


def _date_decoder(t: Type, language: str, preserve_json: bool) -> Decoder:
    name = type_name(t, language)

    def decode(value, path):
        if type(value) is not str:
            raise _not_of_type(path, name)
        match = _DATE.fullmatch(value)
        if match is None:
            raise OutputError(f"property «{path}» is not in the expected date format")
        year_, month, day = match.groups()
        if year_ == "0000":
            raise _year_error(path)
        try:
            return date(int(year_), int(month), int(day))
        except ValueError:
            raise OutputError(f"property «{path}» is not in the expected date format") from None

    return decode


def _time_decoder(t: Type, language: str, preserve_json: bool) -> Decoder:
    name = type_name(t, language)
    pattern = _JS_TIME if language == JAVASCRIPT else _PY_TIME

    def decode(value, path):
        if type(value) is not str:
            raise _not_of_type(path, name)
        match = pattern.fullmatch(value)
        if match is None:
            raise OutputError(f"property «{path}» is not in the expected time format")
        hour, minute, second, fraction = match.groups()
        try:
            return time(int(hour), int(minute), int(second), _microseconds(fraction))
        except ValueError:
            raise OutputError(f"property «{path}» is not in the expected time format") from None

    return decode


def _parsed_string_decoder(parse: Callable[[str], str], what: str):
    """The decoder builder of a string kind whose text `parse` checks and writes in its normal
    form, raising ValueError when the text is not a valid `what`."""
    def build(t: Type, language: str, preserve_json: bool) -> Decoder:
        name = type_name(t, language)

        def decode(value, path):
            if type(value) is not str:
                raise _not_of_type(path, name)
            try:
                return parse(value)
            except ValueError:
                raise OutputError(f"property «{path}» is not a valid {what}") from None

        return decode

    return build


_uuid_decoder = _parsed_string_decoder(lambda text: str(uuid.UUID(text)), "UUID")
_ip_decoder = _parsed_string_decoder(lambda text: format_ip(ipaddress.ip_address(text)), "IP address")


def _reject_constant(name):
    raise ValueError(name)


_STRICT_JSON = json.JSONDecoder(parse_constant=_reject_constant)


def _withoutspecial_floats(value):
    """Non-finite floats inside a json value become "NaN"/"Infinity"/"-Infinity" (normalization)."""
    if isinstance(value, float):
        return special_float(value)
    if isinstance(value, dict):
        return {k: _withoutspecial_floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_withoutspecial_floats(v) for v in value]
    return value


def json_value_text(value) -> str:
    """Compact JSON text of a decoded JSON value."""
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError:
        return json.dumps(_withoutspecial_floats(value), ensure_ascii=False, separators=(",", ":"))


def _json_decoder(t: Type, language: str, preserve_json: bool) -> Decoder:
    name = type_name(t, language)
    if not preserve_json:
        return lambda value, path: RawJSON(json_value_text(value))

    def decode(value, path):
        if type(value) is not str:
            raise _not_of_type(path, name)
        try:
            _STRICT_JSON.decode(value)
        except ValueError:
            raise OutputError(f"property «{path}» does not contain valid JSON") from None
        return RawJSON(value)

    return decode


def _array_decoder(t: Type, language: str, preserve_json: bool) -> Decoder:
    name = type_name(t, language)
    element_type = t.element_type
    element = _decoder(element_type, language, preserve_json)
    element_name = type_name(element_type, language)
    minimum = t.min_elements
    maximum = t.max_elements
    unique = t.unique_elements
    unit = "elements" if language == JAVASCRIPT else "items"

    def decode(value, path):
        if type(value) is not list:
            raise _not_of_type(path, name)
        count = len(value)
        if maximum is not None and count > maximum:
            raise OutputError(f"property «{path}» contains more than {maximum} {unit}")
        if count < minimum:
            raise OutputError(f"property «{path}» contains less than {minimum} {unit}")
        items = []
        for index, item in enumerate(value):
            item_path = f"{path}[{index}]"
            if item is None:
                raise _not_of_type(item_path, element_name)
            items.append(element(item, item_path))
        if unique and len(set(items)) != count:
            raise OutputError(f"property «{path}» contains a duplicated value")
        return items

    return decode


def _map_decoder(t: Type, language: str, preserve_json: bool) -> Decoder:
    name = type_name(t, language)
    element_type = t.element_type
    element = _decoder(element_type, language, preserve_json)
    element_name = type_name(element_type, language)

    def decode(value, path):
        if type(value) is not dict:
            raise _not_of_type(path, name)
        out = {}
        for key, item in value.items():
            item_path = f"{path}.{key}"
            if item is None:
                raise _not_of_type(item_path, element_name)
            out[key] = element(item, item_path)
        return out

    return decode


def _object_decoder(t: Type | None, language: str, preserve_json: bool) -> Decoder:
    name = "object" if language == JAVASCRIPT else "dict"
    fields = {}
    for p in (t.properties if t is not None else ()):
        json_null = p.type.kind == "json" and not preserve_json
        fields[p.name] = (_decoder(p.type, language, preserve_json), p.nullable, json_null)

    def decode(value, path):
        if type(value) is not dict:
            raise _not_of_type(path, name)
        out = {}
        for key, item in value.items():
            item_path = f"{path}.{key}" if path else key
            field = fields.get(key)
            if field is None:
                raise OutputError(f"property «{item_path}» is not part of output schema; "
                                  f"rename or remove it in the transformation function")
            decoder, nullable, json_null = field
            if item is None:
                if nullable:
                    out[key] = None
                elif json_null:
                    out[key] = RawJSON("null")
                # Otherwise, on import, a null for a non-nullable property is silently dropped.
                continue
            out[key] = decoder(item, item_path)
        return out

    return decode


_DECODERS = {
    "string": _string_decoder, "boolean": _boolean_decoder, "int": _int_decoder,
    "float": _float_decoder, "decimal": _decimal_decoder, "datetime": _datetime_decoder,
    "date": _date_decoder, "time": _time_decoder, "year": _year_decoder, "uuid": _uuid_decoder,
    "json": _json_decoder, "ip": _ip_decoder, "array": _array_decoder, "object": _object_decoder,
    "map": _map_decoder,
}


def _decoder(t: Type, language: str, preserve_json: bool) -> Decoder:
    return _DECODERS[t.kind](t, language, preserve_json)


def output_column_checks(schema: Type | None, leaf_paths: list[str], language: str) -> list | None:
    """For each warehouse column (a leaf path of the output schema), a column_check telling whether
    the decoder would return every value of that column as it is, or None for a column the
    function does not set (not in `schema`, the output schema pruned to outPaths). None overall
    when some column the function sets cannot be checked this way (a nested path, a kind whose
    values the decoder converts): its records are then decoded one by one.
    """
    properties = {p.name: p for p in schema.properties} if schema is not None else {}
    nested = {path.split(".", 1)[0] for path in leaf_paths if "." in path}
    if nested & properties.keys():
        return None
    checks = []
    for path in leaf_paths:
        prop = properties.get(path)
        if prop is None:
            checks.append(None)
            continue
        t = prop.type
        # JavaScript: an int of 64 bits must come back as a BigInt (digits); floats are converted.
        if t.kind not in ("string", "boolean", "int", "year") or (
                t.kind == "int" and language == JAVASCRIPT and t.bit_size == 64):
            return None
        check = column_check(t, True)  # a null, allowed or dropped, leaves the column NULL
        if check is None:
            return None
        checks.append(check)
    return checks


def output_decoder(schema: Type | None, language: str, preserve_json: bool) -> Callable[[dict], dict]:
    """transformed record (a dict decoded from the runtime's JSON) -> nested dict of model values.

    `schema` is the output schema pruned to outPaths (None: nothing may be returned).
    Raises OutputError with the per-record message.
    """
    decode = _object_decoder(schema, language, preserve_json)
    return lambda value: decode(value, "")
