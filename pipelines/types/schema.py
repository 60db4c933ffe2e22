"""Krenalis types: the 15 kinds, their parameters, and their exact JSON form.

Pure Python (no Django): schemas are parsed from API bodies, compared for
alignment, stored, and sent back; all of that goes through this module.
"""

from __future__ import annotations

import json
import math
import re
import struct
import unicodedata
from dataclasses import dataclass, replace
from decimal import Context, Decimal

try:  # RE2 has no look-arounds nor back-references; the parser lets us spot them.
    from re import _parser as _re_parser
except ImportError:  # pragma: no cover - older/newer Pythons
    _re_parser = None

KINDS = (
    "string", "boolean", "int", "float", "decimal", "datetime", "date", "time", "year",
    "uuid", "json", "ip", "array", "object", "map",
)
NUMBER_KINDS = ("int", "float", "decimal")

MAX_STRING_LENGTH = 4294967295
MAX_ELEMENTS = 2147483647
MAX_DECIMAL_PRECISION = 76
MAX_DECIMAL_SCALE = 37
MIN_YEAR = 1
MAX_YEAR = 9999
INT_BIT_SIZES = (8, 16, 24, 32, 64)
FLOAT_BIT_SIZES = (32, 64)
MAX_FLOAT32 = 3.4028234663852886e38
MAX_FLOAT64 = 1.7976931348623157e308

# Decimal arithmetic wide enough for decimal(76,37) values; the default context
# (28 digits) would silently round them.
DECIMAL_CONTEXT = Context(prec=200, Emax=999999, Emin=-999999)

_F32 = struct.Struct("<f")


class SchemaError(ValueError):
    """An invalid type or property; str() is the message the API reports."""


@dataclass(frozen=True)
class Property:
    name: str
    type: "Type"
    prefilled: str = ""
    create_required: bool = False
    update_required: bool = False
    read_optional: bool = False
    nullable: bool = False
    description: str = ""


@dataclass(frozen=True)
class Type:
    """One Krenalis type; `None` bounds mean "the kind's natural bound"."""

    kind: str
    max_length: int | None = None
    max_bytes: int | None = None
    values: tuple[str, ...] | None = None
    pattern: str | None = None
    bit_size: int | None = None
    unsigned: bool = False
    real: bool = False
    minimum: int | float | Decimal | None = None
    maximum: int | float | Decimal | None = None
    precision: int | None = None
    scale: int = 0
    element_type: "Type | None" = None
    min_elements: int = 0
    max_elements: int | None = None
    unique_elements: bool = False
    properties: tuple[Property, ...] | None = None

    def __str__(self) -> str:
        kind = self.kind
        if kind in ("int", "float"):
            return f"{kind}({self.bit_size})"
        if kind == "decimal":
            return f"decimal({self.precision},{self.scale})"
        if kind in ("array", "map"):
            return f"{kind}({self.element_type})"
        return kind

    @property
    def bounds(self) -> tuple:
        """The effective [minimum, maximum] of a number type (natural bound when unset)."""
        low, high = natural_bounds(self)
        return (low if self.minimum is None else self.minimum,
                high if self.maximum is None else self.maximum)

    def property_named(self, name: str) -> Property | None:
        for prop in self.properties or ():
            if prop.name == name:
                return prop
        return None


# --------------------------------------------------------------------------- numbers

def to_float32(value: float) -> float:
    """Round a float to the nearest float32 (raises OverflowError beyond its range)."""
    return _F32.unpack(_F32.pack(value))[0]


def shortest_float32_text(value: float) -> str:
    """Shortest decimal text that reads back as the float32 nearest `value` (Go's
    FormatFloat(v, 'g', -1, 32)); OverflowError when that is beyond the float32 range."""
    single = to_float32(value)
    for digits in range(1, 10):
        text = "%.*g" % (digits, single)
        try:
            if to_float32(float(text)) == single:
                return text
        except OverflowError:  # rounded up beyond the float32 range
            continue
    return repr(single)  # pragma: no cover - 9 digits always suffice


def natural_bounds(t: Type) -> tuple:
    """The range a number type has without explicit minimum/maximum."""
    if t.kind == "int":
        bits = t.bit_size
        if t.unsigned:
            return 0, (1 << bits) - 1
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    if t.kind == "float":
        if not t.real:
            return -math.inf, math.inf
        top = MAX_FLOAT32 if t.bit_size == 32 else MAX_FLOAT64
        return -top, top
    if t.kind == "decimal":
        top = Decimal(10 ** t.precision - 1).scaleb(-t.scale, DECIMAL_CONTEXT)
        return -top, top
    if t.kind == "year":
        return MIN_YEAR, MAX_YEAR
    raise TypeError(f"{t} is not a number type")


def decimal_fits(value: Decimal, precision: int, scale: int) -> bool:
    """At most precision-scale integer digits and scale fractional digits (trailing zeros ignored)."""
    if not value.is_finite():
        return False
    _, digits, exponent = value.as_tuple()
    if exponent < -scale:
        if not any(digits):
            return True  # zero, whatever its written scale
        significant = len(digits)
        while significant > 1 and exponent < -scale and digits[significant - 1] == 0:
            significant -= 1
            exponent += 1
        if exponent < -scale:
            return False
        digits = digits[:significant]
    if digits == (0,):
        return True
    return len(digits) + exponent <= precision - scale


def decimal_text(value: Decimal) -> str:
    """Plain positional text of a decimal, never in exponent form."""
    return format(value, "f")


def canonical_decimal(value: Decimal) -> Decimal:
    """Drop trailing fractional zeros without switching to exponent form (1.50 -> 1.5, 100 -> 100)."""
    if value.is_zero():
        return Decimal(0)
    reduced = DECIMAL_CONTEXT.normalize(value)
    if reduced.as_tuple().exponent > 0:
        reduced = reduced.quantize(Decimal(1), context=DECIMAL_CONTEXT)
    return reduced


# --------------------------------------------------------------------------- JSON helpers

class JSONObject(dict):
    """A decoded JSON object that remembers its first repeated key (JSON allows them, we don't)."""

    repeated_key: str | None = None


def _object_pairs(pairs):
    obj = JSONObject()
    for key, value in pairs:
        if key in obj and obj.repeated_key is None:
            obj.repeated_key = key
        obj[key] = value
    return obj


def _reject_constant(name):
    raise ValueError(f"invalid JSON constant {name}")


_SCHEMA_DECODER = json.JSONDecoder(parse_float=Decimal, object_pairs_hook=_object_pairs,
                                   parse_constant=_reject_constant)


def loads_json(text: str | bytes):
    """Decode JSON as the schema parser wants it: exact non-integer numbers, repeated keys noted."""
    if isinstance(text, (bytes, bytearray)):
        text = text.decode("utf-8")
    return _SCHEMA_DECODER.decode(text)


_encode_string = json.encoder.encode_basestring


def dumps_json(obj) -> str:
    """Compact JSON where Decimal is a bare number with its exact digits.

    json.dumps cannot do this, and type bounds, decimal values and JSON
    values all carry Decimals; RawJSON-like objects (with a `text`
    attribute) are embedded verbatim.
    """
    parts: list[str] = []
    _dump(obj, parts.append)
    return "".join(parts)


def _dump(obj, emit) -> None:
    if obj is None:
        emit("null")
    elif obj is True:
        emit("true")
    elif obj is False:
        emit("false")
    elif isinstance(obj, str):
        emit(_encode_string(obj))
    elif isinstance(obj, int):
        emit(int.__repr__(obj))
    elif isinstance(obj, float):
        if obj != obj or obj in (math.inf, -math.inf):
            raise ValueError(f"{obj!r} is not representable in JSON")
        emit(float.__repr__(obj))
    elif isinstance(obj, Decimal):
        if not obj.is_finite():
            raise ValueError(f"{obj} is not representable in JSON")
        # Positional digits, except for the numbers of JSON values whose exponent would write
        # thousands of zeros (1e999999999 is a billion): those keep an exponent, valid JSON too.
        emit(decimal_text(obj) if -1000 < obj.adjusted() < 1000 else str(obj))
    elif isinstance(obj, dict):
        emit("{")
        first = True
        for key, value in obj.items():
            if not first:
                emit(",")
            first = False
            emit(_encode_string(str(key)))
            emit(":")
            _dump(value, emit)
        emit("}")
    elif isinstance(obj, (list, tuple)):
        emit("[")
        for index, value in enumerate(obj):
            if index:
                emit(",")
            _dump(value, emit)
        emit("]")
    elif hasattr(obj, "text") and isinstance(obj.text, str):
        emit(obj.text)
    else:
        raise TypeError(f"{type(obj).__name__} is not JSON serializable")


# --------------------------------------------------------------------------- parsing

_TYPE_KEYS = (
    "kind", "maxBytes", "maxLength", "pattern", "values", "bitSize", "unsigned", "real",
    "minimum", "maximum", "precision", "scale", "elementType", "minElements", "maxElements",
    "uniqueElements", "properties",
)
_PROPERTY_KEYS = (
    "name", "prefilled", "type", "createRequired", "updateRequired", "readOptional",
    "nullable", "description",
)
_KEY_HINTS = {
    "elements": "elementType", "element": "elementType", "elementsType": "elementType",
    "items": "elementType", "itemType": "elementType", "type": "kind",
    "length": "maxLength", "size": "bitSize", "bits": "bitSize",
    "min": "minimum", "max": "maximum", "enum": "values", "unique": "uniqueElements",
}
# Which kinds accept each parameter, and the message when another kind carries it.
_KEY_KINDS = {
    "maxBytes": (("string",), "unexpected length in bytes for non-string type"),
    "maxLength": (("string",), "unexpected length in characters for non-string type"),
    "pattern": (("string",), "unexpected pattern for non-string type"),
    "values": (("string",), "unexpected values for non-string type"),
    "bitSize": (("int", "float"), "unexpected bit size for non-int and non-float type"),
    "unsigned": (("int",), "unexpected unsigned for non-int type"),
    "real": (("float",), "unexpected real for non-float type"),
    "minimum": (NUMBER_KINDS, "unexpected minimum for non-number type"),
    "maximum": (NUMBER_KINDS, "unexpected maximum for non-number type"),
    "precision": (("decimal",), "unexpected precision for non-decimal type"),
    "elementType": (("array", "map"), "unexpected element type for non-array and non-map type"),
    "minElements": (("array",), "unexpected minimum elements for non-array type"),
    "maxElements": (("array",), "unexpected maximum elements for non-array type"),
    "uniqueElements": (("array",), "unexpected unique elements for non-array type"),
    "properties": (("object",), "unexpected properties for non-object type"),
}


def _nfc(text: str) -> str:
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def _unknown_key_message(key: str, known: tuple[str, ...]) -> str:
    hint = _KEY_HINTS.get(key)
    if hint is None:
        hint = next((k for k in known if k.lower() == key.lower()), None)
    if hint is None:
        return f"unknown key {json.dumps(key, ensure_ascii=False)}"
    return f"unknown key {json.dumps(key, ensure_ascii=False)} (maybe {json.dumps(hint)}?)"


def _is_int(value) -> bool:
    return type(value) is int


def _as_bool(data: dict, key: str) -> bool:
    value = data[key]
    if type(value) is not bool:
        raise SchemaError(f"unexpected value for '{key}' key")
    return value


def _as_count(data: dict, key: str, low: int, high: int, message: str) -> int:
    value = data[key]
    if not _is_int(value) or not low <= value <= high:
        raise SchemaError(message)
    return value


def _is_json_number(value) -> bool:
    return (type(value) is int or type(value) is float or type(value) is Decimal)


def compile_pattern(pattern: str) -> re.Pattern:
    """Compile a Krenalis (RE2) pattern with Python's re, as close to RE2 as re allows.

    \\d, \\w, \\s and \\b are ASCII-only in RE2, and \\z is RE2's end of text.
    Constructs RE2 rejects (look-arounds, back-references, conditionals,
    atomic groups, possessive repeats) are rejected here too.
    """
    translated = re.sub(r"(\\\\)|\\z", lambda m: m.group(1) or r"\Z", pattern)
    try:
        compiled = re.compile(translated, re.ASCII)
        if _re_parser is not None and _has_unsupported_regex(_re_parser.parse(translated)):
            raise SchemaError("invalid pattern")
    except (re.error, OverflowError, RecursionError):
        raise SchemaError("invalid pattern") from None
    return compiled


def _has_unsupported_regex(parsed) -> bool:
    unsupported = {getattr(_re_parser, name) for name in (
        "ASSERT", "ASSERT_NOT", "GROUPREF", "GROUPREF_EXISTS", "ATOMIC_GROUP", "POSSESSIVE_REPEAT",
    ) if hasattr(_re_parser, name)}
    for op, arg in parsed:
        if op in unsupported:
            return True
        for item in (arg if isinstance(arg, (list, tuple)) else (arg,)):
            subs = item if isinstance(item, (list, tuple)) else (item,)
            for sub in subs:
                if isinstance(sub, _re_parser.SubPattern) and _has_unsupported_regex(sub):
                    return True
    return False


def parse_type(data) -> Type:
    """Parse the JSON form of a type (decoded JSON), enforcing every Krenalis rule."""
    if isinstance(data, Type):
        return data
    if not isinstance(data, dict):
        raise SchemaError("invalid type syntax")
    repeated = getattr(data, "repeated_key", None)
    if repeated is not None:
        raise SchemaError(f"repeated '{repeated}' key")
    for key in data:
        if key not in _TYPE_KEYS:
            raise SchemaError(_unknown_key_message(key, _TYPE_KEYS))
    if "kind" not in data:
        raise SchemaError("missing 'kind' key")
    kind = data["kind"]
    if not isinstance(kind, str):
        raise SchemaError("unexpected value for 'kind' key")
    if kind not in KINDS:
        raise SchemaError(f"invalid kind {json.dumps(kind, ensure_ascii=False)}")

    fields: dict = {"kind": kind}
    raw_minimum = raw_maximum = None
    seen: list[str] = []
    for key, value in data.items():
        if key == "kind":
            continue
        if key == "scale":
            if "precision" not in data:
                raise SchemaError("scale also requires precision")
        else:
            allowed, message = _KEY_KINDS[key]
            if kind not in allowed:
                raise SchemaError(message)
        if key == "maxBytes":
            fields["max_bytes"] = _as_count(data, key, 1, MAX_STRING_LENGTH, "invalid maxBytes")
            if "values" in seen:
                raise SchemaError("maxBytes cannot be provided if values are provided")
        elif key == "maxLength":
            fields["max_length"] = _as_count(data, key, 1, MAX_STRING_LENGTH, "invalid maxLength")
            if "values" in seen:
                raise SchemaError("maxLength cannot be provided if values are provided")
        elif key == "pattern":
            if not isinstance(value, str):
                raise SchemaError("unexpected value for 'pattern' key")
            if "values" in seen:
                raise SchemaError("pattern cannot be provided if values are provided")
            value = _nfc(value)
            compile_pattern(value)
            fields["pattern"] = value
        elif key == "values":
            fields["values"] = _parse_values(value)
            for other in ("pattern", "maxLength", "maxBytes"):
                if other in seen:
                    raise SchemaError(f"values cannot be provided if {other} is provided")
        elif key == "bitSize":
            if not _is_int(value) or value not in (INT_BIT_SIZES if kind == "int" else FLOAT_BIT_SIZES):
                raise SchemaError("invalid bit size")
            fields["bit_size"] = value
        elif key == "unsigned":
            fields["unsigned"] = _as_bool(data, key)
        elif key == "real":
            fields["real"] = _as_bool(data, key)
        elif key == "minimum":
            if not _is_json_number(value):
                raise SchemaError("invalid minimum")
            raw_minimum = value
        elif key == "maximum":
            if not _is_json_number(value):
                raise SchemaError("invalid maximum")
            raw_maximum = value
        elif key == "precision":
            fields["precision"] = _as_count(data, key, 1, MAX_DECIMAL_PRECISION, "invalid precision")
        elif key == "scale":
            fields["scale"] = _as_count(data, key, 0, MAX_DECIMAL_SCALE, "invalid scale")
        elif key == "elementType":
            fields["element_type"] = parse_type(value)
        elif key == "minElements":
            fields["min_elements"] = _as_count(data, key, 0, MAX_ELEMENTS, "invalid minElements")
        elif key == "maxElements":
            fields["max_elements"] = _as_count(data, key, 0, MAX_ELEMENTS, "invalid maxElements")
        elif key == "uniqueElements":
            fields["unique_elements"] = _as_bool(data, key)
        elif key == "properties":
            fields["properties"] = _parse_properties(value)
        seen.append(key)

    if kind in ("int", "float") and "bit_size" not in fields:
        raise SchemaError("missing 'bitSize' key")
    if kind == "decimal":
        if "precision" not in fields:
            raise SchemaError("missing precision")
        if fields.get("scale", 0) > fields["precision"]:
            raise SchemaError("invalid scale")
    if kind in ("array", "map") and "element_type" not in fields:
        raise SchemaError("missing element type")
    if kind == "object" and "properties" not in fields:
        raise SchemaError("missing object properties")
    if kind == "array":
        if fields.get("max_elements") == MAX_ELEMENTS:
            fields["max_elements"] = None
        maximum = fields.get("max_elements")
        if maximum is not None and maximum < fields.get("min_elements", 0):
            raise SchemaError("maxElements must be greater or equal to minElements")
        if fields.get("unique_elements") and fields["element_type"].kind in ("json", "array", "map", "object"):
            raise SchemaError(f"uniqueElements is not allowed for array({fields['element_type']})")

    t = Type(**fields)
    if kind in NUMBER_KINDS and (raw_minimum is not None or raw_maximum is not None):
        t = _with_bounds(t, raw_minimum, raw_maximum)
    return t


def _parse_values(value) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise SchemaError("unexpected value for 'values' key")
    if not value:
        raise SchemaError("invalid empty values")
    values: list[str] = []
    for item in value:
        if not isinstance(item, str):
            raise SchemaError("unexpected value for 'values' key")
        item = _nfc(item)
        if item in values:
            raise SchemaError("repeated value")
        values.append(item)
    return tuple(values)


def _bound(t: Type, raw, which: str):
    """Convert a JSON bound to the kind's number type; None when it is the natural bound."""
    invalid = SchemaError(f"invalid {which}")
    low, high = natural_bounds(t)
    if t.kind == "int":
        if not _is_int(raw):
            raise invalid
        bound = raw
    elif t.kind == "float":
        try:
            bound = float(raw)
            if t.bit_size == 32:
                bound = to_float32(bound)
        except OverflowError:
            raise invalid from None
        if not math.isfinite(bound):
            raise invalid
    else:
        bound = raw if isinstance(raw, Decimal) else Decimal(repr(raw) if isinstance(raw, float) else raw)
        if not decimal_fits(bound, t.precision, t.scale):
            raise invalid
        bound = canonical_decimal(bound)
    if not low <= bound <= high:
        raise invalid
    natural = low if which == "minimum" else high
    return None if bound == natural else bound


def _with_bounds(t: Type, raw_minimum, raw_maximum) -> Type:
    minimum = None if raw_minimum is None else _bound(t, raw_minimum, "minimum")
    maximum = None if raw_maximum is None else _bound(t, raw_maximum, "maximum")
    t = replace(t, minimum=minimum, maximum=maximum)
    low, high = t.bounds
    if high < low:
        raise SchemaError("maximum must be greater or equal to minimum")
    return t


def _parse_properties(value) -> tuple[Property, ...]:
    if not isinstance(value, list):
        raise SchemaError("unexpected value for 'properties' key")
    if not value:
        raise SchemaError("invalid empty properties")
    properties: list[Property] = []
    names: set[str] = set()
    for item in value:
        prop = parse_property(item)
        if prop.name in names:
            raise SchemaError("repeated property name")
        names.add(prop.name)
        properties.append(prop)
    return tuple(properties)


_PROPERTY_FLAGS = {
    "createRequired": "create_required", "updateRequired": "update_required",
    "readOptional": "read_optional", "nullable": "nullable",
}


def parse_property(data) -> Property:
    """Parse the JSON form of one property of an object type."""
    if not isinstance(data, dict):
        raise SchemaError("invalid property syntax")
    repeated = getattr(data, "repeated_key", None)
    if repeated is not None:
        raise SchemaError(f"repeated '{repeated}' key of property")
    fields: dict = {}
    for key, value in data.items():
        if key not in _PROPERTY_KEYS:
            raise SchemaError(f"unknown property '{key}'")
        if key == "name":
            if not isinstance(value, str):
                raise SchemaError("unexpected value for 'name' key of property")
            if value == "":
                raise SchemaError("property name is empty")
            if not is_valid_name(value):
                raise SchemaError("invalid property name")
            fields["name"] = value
        elif key == "type":
            fields["type"] = parse_type(value)
        elif key in ("prefilled", "description"):
            if not isinstance(value, str):
                raise SchemaError(f"unexpected value for '{key}' key of property")
            value = _nfc(value)
            _check_text(key, value)
            fields[key] = value
        else:
            if type(value) is not bool:
                raise SchemaError(f"unexpected value for '{key}' key of property")
            fields[_PROPERTY_FLAGS[key]] = value
    if "name" not in fields:
        raise SchemaError("missing property name")
    if "type" not in fields:
        raise SchemaError("missing property type")
    return Property(**fields)


def _check_text(key: str, value: str) -> None:
    if "\x00" in value:
        raise SchemaError(f"property {key} contains the NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise SchemaError(f"property {key} is not valid UTF-8") from None


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def is_valid_name(name: str) -> bool:
    return isinstance(name, str) and _NAME.match(name) is not None


# --------------------------------------------------------------------------- serialization

def _json_float(value: float, bit_size: int):
    """A float whose JSON text is the shortest form for its bit size (3.99, not 3.990000009536743)."""
    if bit_size == 32:
        value = float(shortest_float32_text(value))
    if value.is_integer() and abs(value) < 2 ** 53:
        return int(value)
    return value


def type_to_json(t: Type) -> dict:
    """The JSON form of a type, keys in Krenalis' fixed order and defaults omitted."""
    out: dict = {"kind": t.kind}
    kind = t.kind
    if kind == "string":
        if t.max_bytes is not None:
            out["maxBytes"] = t.max_bytes
        if t.max_length is not None:
            out["maxLength"] = t.max_length
        if t.pattern is not None:
            out["pattern"] = t.pattern
        elif t.values is not None:
            out["values"] = list(t.values)
    elif kind == "int":
        out["bitSize"] = t.bit_size
        if t.unsigned:
            out["unsigned"] = True
        if t.minimum is not None:
            out["minimum"] = t.minimum
        if t.maximum is not None:
            out["maximum"] = t.maximum
    elif kind == "float":
        out["bitSize"] = t.bit_size
        if t.real:
            out["real"] = True
        if t.minimum is not None:
            out["minimum"] = _json_float(t.minimum, t.bit_size)
        if t.maximum is not None:
            out["maximum"] = _json_float(t.maximum, t.bit_size)
    elif kind == "decimal":
        if t.minimum is not None:
            out["minimum"] = t.minimum
        if t.maximum is not None:
            out["maximum"] = t.maximum
        out["precision"] = t.precision
        if t.scale:
            out["scale"] = t.scale
    elif kind == "array":
        if t.min_elements:
            out["minElements"] = t.min_elements
        if t.max_elements is not None and t.max_elements < MAX_ELEMENTS:
            out["maxElements"] = t.max_elements
        if t.unique_elements:
            out["uniqueElements"] = True
        out["elementType"] = type_to_json(t.element_type)
    elif kind == "object":
        out["properties"] = [property_to_json(p) for p in t.properties]
    elif kind == "map":
        out["elementType"] = type_to_json(t.element_type)
    return out


def property_to_json(p: Property) -> dict:
    out: dict = {"name": p.name}
    if p.prefilled:
        out["prefilled"] = p.prefilled
    out["type"] = type_to_json(p.type)
    if p.create_required:
        out["createRequired"] = True
    if p.update_required:
        out["updateRequired"] = True
    if p.read_optional:
        out["readOptional"] = True
    if p.nullable:
        out["nullable"] = True
    if p.description:
        # The seed omits an empty description (the reference always writes one); the seed wins.
        out["description"] = p.description
    return out


# --------------------------------------------------------------------------- constructors
# Each goes through the JSON parser, so constructed types obey the same rules
# and normalization (natural bounds dropped, float32 bounds rounded).

def _build(**json_form) -> Type:
    return parse_type({k: v for k, v in json_form.items() if v is not None})


def string(max_length: int | None = None, max_bytes: int | None = None,
           values=None, pattern: str | None = None) -> Type:
    return _build(kind="string", maxBytes=max_bytes, maxLength=max_length,
                  values=None if values is None else list(values), pattern=pattern)


def boolean() -> Type:
    return Type("boolean")


def int_(bits: int, unsigned: bool = False, minimum: int | None = None, maximum: int | None = None) -> Type:
    return _build(kind="int", bitSize=bits, unsigned=unsigned or None, minimum=minimum, maximum=maximum)


def float_(bits: int, real: bool = False, minimum=None, maximum=None) -> Type:
    return _build(kind="float", bitSize=bits, real=real or None, minimum=minimum, maximum=maximum)


def decimal(precision: int, scale: int = 0, minimum=None, maximum=None) -> Type:
    return _build(kind="decimal", precision=precision, scale=scale, minimum=minimum, maximum=maximum)


def datetime_() -> Type:
    return Type("datetime")


def date_() -> Type:
    return Type("date")


def time_() -> Type:
    return Type("time")


def year() -> Type:
    return Type("year")


def uuid_() -> Type:
    return Type("uuid")


def json_() -> Type:
    return Type("json")


def ip() -> Type:
    return Type("ip")


def array_(element: Type, min_elements: int = 0, max_elements: int | None = None,
           unique_elements: bool = False) -> Type:
    t = Type("array", element_type=element, min_elements=min_elements,
             max_elements=max_elements, unique_elements=unique_elements)
    return parse_type({**type_to_json(t), "elementType": element})


def map_(element: Type) -> Type:
    return Type("map", element_type=element)


def object_type(*properties: Property) -> Type:
    """An object type from properties, with Krenalis' ObjectOf checks."""
    if not properties:
        raise SchemaError("invalid empty properties")
    names: set[str] = set()
    for prop in properties:
        if not is_valid_name(prop.name):
            raise SchemaError(f"property name {json.dumps(prop.name, ensure_ascii=False)} is not valid")
        if prop.name in names:
            raise SchemaError(f'property name "{prop.name}" is repeated')
        names.add(prop.name)
        _check_text("prefilled", prop.prefilled)
        _check_text("description", prop.description)
    return Type("object", properties=tuple(properties))


object_ = object_type
