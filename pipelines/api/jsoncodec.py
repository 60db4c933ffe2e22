"""JSON as the API speaks it.

Decoding is strict (duplicate keys, invalid UTF-8, NaN, trailing data and nesting deeper than
MAX_DEPTH are errors) and keeps numbers exact: non-integers decode to Decimal. Encoding writes Decimal values as bare JSON
numbers with their exact digits, which the standard library cannot do.
"""
import json
import math
import unicodedata
from decimal import Decimal


# Arrays and objects nested deeper than this are refused: no request needs more (a schema nests three
# levels per property level), and the code that walks a decoded value recurses.
MAX_DEPTH = 200


class JSONDecodeError(ValueError):
    pass


def _object_without_duplicates(pairs):
    result = {}
    for key, value in pairs:
        if key in result:
            raise JSONDecodeError(f"duplicate key {json.dumps(key)} in object")
        result[key] = value
    return result


def _reject_constant(name):
    raise JSONDecodeError(f"invalid JSON value {name}")


_decoder = json.JSONDecoder(object_pairs_hook=_object_without_duplicates, parse_float=Decimal,
                            parse_constant=_reject_constant)


def loads(data: bytes):
    """Decodes a request body: UTF-8, normalized to NFC, one JSON value."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise JSONDecodeError("request body contains invalid UTF-8") from None
    text = unicodedata.normalize("NFC", text)
    try:
        value, end = _decoder.raw_decode(text.lstrip(" \t\n\r"))
    except json.JSONDecodeError as exc:
        raise JSONDecodeError(f"invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:
        raise JSONDecodeError(f"invalid JSON: arrays and objects are nested more than {MAX_DEPTH} levels deep") \
            from None
    if text.lstrip(" \t\n\r")[end:].strip(" \t\n\r"):
        raise JSONDecodeError("invalid JSON: unexpected data after the top-level value")
    if _depth(value) > MAX_DEPTH:
        raise JSONDecodeError(f"invalid JSON: arrays and objects are nested more than {MAX_DEPTH} levels deep")
    return value


def _depth(value) -> int:
    """How deeply arrays and objects nest in a decoded value (0 for a scalar), without recursion."""
    deepest, level = 0, [value] if isinstance(value, (dict, list)) else []
    while level:
        deepest += 1
        children = []
        for item in level:
            children.extend(v for v in (item.values() if isinstance(item, dict) else item)
                            if isinstance(v, (dict, list)))
        level = children
    return deepest


_escape = json.encoder.encode_basestring


def _write(value, out: list) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(_escape(value))
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"non-finite float {value!r} cannot be written as JSON")
        out.append(float.__repr__(value))
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"non-finite decimal {value!r} cannot be written as JSON")
        out.append(format(value, "f"))
    elif isinstance(value, dict):
        out.append("{")
        first = True
        for key, item in value.items():
            if not first:
                out.append(",")
            first = False
            out.append(_escape(str(key)))
            out.append(":")
            _write(item, out)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _write(item, out)
        out.append("]")
    else:
        raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(value) -> str:
    """Compact JSON; Decimal values become bare numbers with exact digits."""
    out: list[str] = []
    _write(value, out)
    return "".join(out)
