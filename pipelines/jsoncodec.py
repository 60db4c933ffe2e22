"""JSON as the API speaks it.

Decoding is strict (duplicate keys, invalid UTF-8, NaN, trailing data and nesting deeper than
MAX_DEPTH are errors) and keeps numbers exact: non-integers decode to Decimal. Encoding writes Decimal values as bare JSON
numbers with their exact digits, which the standard library cannot do.
"""
import json
import unicodedata
from decimal import Decimal

from .types import dumps_json


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


# Writing: the type system's writer (compact; Decimal as a bare number with its exact digits).
dumps = dumps_json
