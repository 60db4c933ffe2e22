"""Converters of decoded JSON values (see formats.loads_json) into the types of a mapping."""

from __future__ import annotations

import math
import re
from decimal import Decimal

from pipelines.types import RawJSON, Type

from .checks import array_checks, decimal_post, float_post, int_check, string_check
from .errors import ConvertError
from .formats import JSON_NULL, JSONNumber, dumps_json
from .textparsers import parse_ip, parse_iso8601, parse_iso_date, parse_time_text, parse_uuid


def from_json(dst: Type, nullable: bool):
    """Converter of a decoded JSON value (see formats.loads_json) into `dst`.

    A JSON null stays a JSON null into json, becomes null when nullable,
    and fails otherwise.
    """
    if dst.kind == "json":
        return lambda p: JSON_NULL if p is None else RawJSON(dumps_json(p))
    inner = _JSON_BUILDERS[dst.kind](dst, nullable)
    t = str(dst)

    def conv(p):
        if p is None:
            if nullable:
                return None
            raise ConvertError("not_convertible", t)
        return inner(p)
    return conv


def _json_to_string(dst: Type, nullable: bool):
    check = string_check(dst, nullable)
    t = str(dst)

    def conv(p):
        kind = type(p)
        if kind is str:
            s = p
        elif kind is JSONNumber:
            s = p.text
        elif kind is bool:
            s = "true" if p else "false"
        else:
            raise ConvertError("not_convertible", t)
        return s if check is None else check(s)
    return conv


def _json_to_boolean(dst: Type, nullable: bool):
    t = str(dst)

    def conv(p):
        if type(p) is bool:
            return p
        raise ConvertError("not_convertible", t)
    return conv
_JSON_INT = re.compile(r"-?([0-9]+)(?:\.0+)?\Z")


def json_integer(p, t: str) -> int:
    """A JSON number that is an integer (a trailing `.0` is tolerated)."""
    if type(p) is not JSONNumber:
        raise ConvertError("not_convertible", t)
    m = _JSON_INT.match(p.text)
    if m is None:
        raise ConvertError("not_convertible", t)
    digits = m[1].lstrip("0")
    if len(digits) > 20:
        raise ConvertError("not_value", t)
    n = int(m[1])
    return -n if p.text[0] == "-" else n


def _json_to_int(dst: Type, nullable: bool):
    check = int_check(dst)
    t = str(dst)
    return lambda p: check(json_integer(p, t))


def _json_to_float(dst: Type, nullable: bool):
    post = float_post(dst)
    t = str(dst)

    def conv(p):
        if type(p) is not JSONNumber:
            raise ConvertError("not_convertible", t)
        v = float(p.text)
        if v == math.inf or v == -math.inf:
            raise ConvertError("not_value", t)
        return post(v)
    return conv


def _json_to_decimal(dst: Type, nullable: bool):
    post = decimal_post(dst)
    t = str(dst)

    def conv(p):
        if type(p) is not JSONNumber:
            raise ConvertError("not_convertible", t)
        return post(Decimal(p.text))
    return conv


def _json_string(parse):
    def build(dst: Type, nullable: bool):
        t = str(dst)

        def conv(p):
            if type(p) is not str:
                raise ConvertError("not_convertible", t)
            return parse(p, dst)
        return conv
    return build


def _json_to_array(dst: Type, nullable: bool):
    element = from_json(dst.element_type, False)
    finish = array_checks(dst)
    t = str(dst)

    def conv(p):
        kind = type(p)
        if kind is list:
            return finish([element(item) for item in p])
        if kind is dict:
            raise ConvertError("not_convertible", t)
        return finish([element(p)])
    return conv


def _json_to_object(dst: Type, nullable: bool):
    plan = [(prop.name, from_json(prop.type, prop.nullable)) for prop in dst.properties]
    t = str(dst)

    def conv(p):
        if type(p) is not dict:
            raise ConvertError("not_convertible", t)
        out = {}
        for name, c in plan:
            if name in p:
                out[name] = c(p[name])
        return out
    return conv


def _json_to_map(dst: Type, nullable: bool):
    element = from_json(dst.element_type, False)
    t = str(dst)

    def conv(p):
        if type(p) is not dict:
            raise ConvertError("not_convertible", t)
        return {key: element(item) for key, item in p.items()}
    return conv
_JSON_BUILDERS = {
    "string": _json_to_string,
    "boolean": _json_to_boolean,
    "int": _json_to_int,
    "float": _json_to_float,
    "decimal": _json_to_decimal,
    "datetime": _json_string(parse_iso8601),
    "date": _json_string(parse_iso_date),
    "time": _json_string(parse_time_text),
    "year": _json_to_int,  # int_check knows years
    "uuid": _json_string(parse_uuid),
    "ip": _json_string(parse_ip),
    "array": _json_to_array,
    "object": _json_to_object,
    "map": _json_to_map,
}
