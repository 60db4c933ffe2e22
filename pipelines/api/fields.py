"""Typed reads of JSON request fields. A missing key or null gives the default (as Go's decoder
leaves a zero value); a value of the wrong JSON type is a 400 that names the field."""
from ..errors import BadRequest

MISSING = object()


def _wrong(key: str, expected: str):
    return BadRequest(f'"{key}" must be {expected}')


def string(body: dict, key: str, default: str = "") -> str:
    value = body.get(key)
    if value is None:
        return default
    if not isinstance(value, str):
        raise _wrong(key, "a string")
    return value


def nullable_string(body: dict, key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise _wrong(key, "a string")
    return value


def boolean(body: dict, key: str, default: bool = False) -> bool:
    value = body.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise _wrong(key, "a boolean")
    return value


def nullable_boolean(body: dict, key: str) -> bool | None:
    value = body.get(key)
    if value is not None and not isinstance(value, bool):
        raise _wrong(key, "a boolean")
    return value


def integer(body: dict, key: str, default: int | None = None) -> int | None:
    value = body.get(key)
    if value is None:
        return default
    if type(value) is not int:  # booleans and non-integers (Decimal) are refused
        raise _wrong(key, "an integer")
    return value


def obj(body: dict, key: str) -> dict | None:
    value = body.get(key)
    if value is not None and not isinstance(value, dict):
        raise _wrong(key, "an object")
    return value


def array(body: dict, key: str):
    value = body.get(key, MISSING)
    if value is MISSING or value is None:
        return value
    if not isinstance(value, list):
        raise _wrong(key, "an array")
    return value
