"""Paths inside expressions (§3.3): resolution, `?`, map keys, json traversal, referenced input paths."""

import pytest

from pipelines.mapping import compile_mapping
from pipelines.types import (
    Property, RawJSON, array_, datetime_, int_, json_, map_, object_type, string,
)

from .helpers import compile_error, run, run_error

ENGINE = object_type(Property("name", string()), Property("power", int_(32)))
IN = object_type(
    Property("manufacturer", string()),
    Property("engine", ENGINE, nullable=True),
    Property("d", map_(object_type(Property("e", string()))), nullable=True),
    Property("m", map_(int_(32)), nullable=True),
    Property("e", json_(), nullable=True),
    Property("properties", json_(), nullable=True),
    Property("revision_dates", array_(datetime_())),
)


def ev(expression, record, destination=None):
    return run(expression, destination or json_(), record, inputs=IN)


@pytest.mark.parametrize("expression, message", [
    ("passenger", 'property "passenger" does not exist'),
    ("engine.pover", 'invalid engine.pover: property "pover" does not exist'),
    ('engine["a name"]', 'invalid engine["a name"]: "a name" is not a valid property name'),
    ('engine[""]', 'invalid engine[""]: "" is not a valid property name'),
    ("manufacturer.power", "invalid manufacturer.power: manufacturer (type string) cannot have properties or keys"),
    ("revision_dates.x", "invalid revision_dates.x: revision_dates (type array(datetime)) cannot have properties or keys"),
    ('engine.name["x"]', 'invalid engine.name["x"]: engine.name (type string) cannot have properties or keys'),
    ("engine.name?", "invalid engine.name?: operator '?' can be used only with json"),
    ("m.x?", "invalid m.x?: operator '?' can be used only with json"),
    ("engine?", "invalid engine?: operator '?' can be used only with json"),
    ("e?", "invalid e?: operator '?' can be used only with json"),
])
def test_path_compile_errors(expression, message):
    assert compile_error(expression, json_(), inputs=IN) == message


@pytest.mark.parametrize("expression, in_paths", [
    ("d['foo']", ["d"]),
    ("d.boo.e", ["d.e"]),
    ("d['boo'].e", ["d.e"]),
    ("e.foo?.boo", ["e"]),
    ("e", ["e"]),
    ("engine['power']", ["engine.power"]),
    ("engine.name ' ' engine.power", ["engine.name", "engine.power"]),
    ("coalesce(m.x, 1)", ["m"]),
    ("'x'", []),
])
def test_referenced_input_paths(expression, in_paths):
    out = object_type(Property("x", json_(), nullable=True))
    assert compile_mapping({"x": expression}, IN, out).in_paths == in_paths


@pytest.mark.parametrize("expression, record, expected", [
    ("engine.name", {"engine": {"name": "TurboX", "power": 1}}, RawJSON('"TurboX"')),
    ("engine.name", {}, None),
    ("engine.name", {"engine": None}, None),
    ("engine.name", {"engine": {"power": 1}}, None),
    ("m.x", {"m": {"x": 1}}, RawJSON("1")),
    ("m['any key']", {"m": {"any key": 2}}, RawJSON("2")),
    ("m.y", {"m": {"x": 1}}, None),
    ("d.boo.e", {"d": {"boo": {"e": "v"}}}, RawJSON('"v"')),
    ("d.foo.e", {"d": {"boo": {"e": "v"}}}, None),
    ("properties.b.c", {"properties": RawJSON('{"b":{"c":[1.0, 2]}}')}, RawJSON("[1.0,2]")),
    ('properties["[x]?"]', {"properties": RawJSON('{"[x]?": "y"}')}, RawJSON('"y"')),
    ("properties.missing", {"properties": RawJSON('{"a": 1}')}, None),
    ("properties.a.x?", {"properties": RawJSON('{"a": 1}')}, None),
    ("properties.a?.x", {"properties": RawJSON('{"a": {"x": true}}')}, RawJSON("true")),
    ("properties.a.x?.y", {"properties": RawJSON('{"a": 1}')}, None),
    ("properties.a", {"properties": RawJSON('{"a": null}')}, RawJSON("null")),
    ("properties", {"properties": RawJSON(' {"a" : 1} ')}, RawJSON(' {"a" : 1} ')),
    ("properties.a", {}, None),
])
def test_path_lookups(expression, record, expected):
    assert ev(expression, record) == expected


@pytest.mark.parametrize("value, kind", [
    ("1", "number"), ('"s"', "string"), ("[1]", "array"), ("true", "true"), ("false", "false"), ("null", "null"),
])
def test_descending_into_a_json_value_that_is_not_an_object(value, kind):
    record = {"properties": RawJSON(f'{{"a": {value}}}')}
    assert run_error("properties.a.x", json_(), record, inputs=IN) == (
        f"invalid properties.a.x: properties.a is not JSON object, it is {kind} while mapping to «x»",
        "Transformation")


def test_descending_into_a_top_level_json_scalar():
    assert run_error('e["k"]', json_(), {"e": RawJSON("3")}, inputs=IN) == (
        'invalid e["k"]: e is not JSON object, it is number while mapping to «x»', "Transformation")
    assert ev('e["k"]?', {"e": RawJSON("3")}) is None
