"""Typed reads of JSON request fields (and of query parameters, at the end). A missing key or null
gives the default (as Go's decoder leaves a zero value); a value of the wrong JSON type is a 400
that names the field."""
from ..errors import BadRequest

MISSING = object()


def _wrong(key: str, expected: str):
    return BadRequest(f'"{key}" must be {expected}')


def _read(body: dict, key: str, accepts, expected: str, default):
    value = body.get(key)
    if value is None:
        return default
    if not accepts(value):
        raise _wrong(key, expected)
    return value


def string(body: dict, key: str, default: str | None = "") -> str | None:
    return _read(body, key, lambda v: isinstance(v, str), "a string", default)


def nullable_string(body: dict, key: str) -> str | None:
    return string(body, key, None)


def boolean(body: dict, key: str, default: bool | None = False) -> bool | None:
    return _read(body, key, lambda v: isinstance(v, bool), "a boolean", default)


def nullable_boolean(body: dict, key: str) -> bool | None:
    return boolean(body, key, None)


def integer(body: dict, key: str, default: int | None = None) -> int | None:
    # booleans and non-integers (Decimal) are refused
    return _read(body, key, lambda v: type(v) is int, "an integer", default)


def obj(body: dict, key: str) -> dict | None:
    return _read(body, key, lambda v: isinstance(v, dict), "an object", None)


def array(body: dict, key: str):
    value = body.get(key, MISSING)
    if value is MISSING or value is None:
        return value
    if not isinstance(value, list):
        raise _wrong(key, "an array")
    return value


def query_int(params, name: str, default: int, low: int, high: int) -> int:
    """The integer query parameter `name` (`default` when absent), or 400 unless in [low, high]."""
    text = params.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise BadRequest(f"{name} is not valid") from None
    if not low <= value <= high:
        raise BadRequest(f"{name} {value} is not valid")
    return value


def query_flag(params, name: str) -> bool:
    """A true/false query parameter: absent or empty is false."""
    text = params.get(name)
    if text is None or text == "":
        return False
    if text not in ("true", "false"):
        raise BadRequest(f"{name} is not valid")
    return text == "true"
