"""Every mapping example of §3.10, on the reference input schema and record."""

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from pipelines.mapping import MappingError, compile_mapping
from pipelines.types import (
    Property, RawJSON, array_, boolean, date_, datetime_, decimal, float_, int_, json_, map_, object_type,
    string,
)

from .helpers import run, run_error

UTC = timezone.utc
ENGINE = object_type(
    Property("name", string()),
    Property("power", int_(32, unsigned=True)),
    Property("afterburner", string(), nullable=True),
)
PLANE = object_type(
    Property("manufacturer", string()),
    Property("model", string()),
    Property("engine", ENGINE),
    Property("cx", decimal(4, 3)),
    Property("passengers", int_(32)),
    Property("revision_dates", array_(datetime_())),
    Property("map", map_(int_(32))),
    Property("properties", json_()),
)
RECORD = {
    "manufacturer": "MyPlaneCompany",
    "model": "SuperFast",
    "engine": {"name": "TurboX", "power": 7000, "afterburner": None},
    "cx": Decimal("0.142"),
    "passengers": 250,
    "revision_dates": [datetime(2023, 7, 8, 13, 38, 23, tzinfo=UTC)],
    "map": {"x": 1, "y": 2},
    "properties": RawJSON('{"a":1.0,"b":{"c":[1.0,2.0]}}'),
}


@pytest.mark.parametrize("expression, destination, expected", [
    ("manufacturer ' ' model", string(), "MyPlaneCompany SuperFast"),
    ("'Afterburner: ' coalesce(engine.afterburner, 'no afterburner')", string(), "Afterburner: no afterburner"),
    ("engine['power']", float_(64), 7000.0),
    ("engine", json_(), RawJSON('{"afterburner":null,"name":"TurboX","power":7000}')),
    ("revision_dates", array_(date_()), [date(2023, 7, 8)]),
    ("map.x", int_(32), 1),
    ("map['x']", int_(32), 1),
    ("map['not-exist']", int_(32), None),
    ("properties.a", int_(32), 1),
    ("properties.b.c", array_(int_(32)), [1, 2]),
    ("properties.a.x?", int_(32), None),
    ("'42'", int_(32), 42),
    ("42", json_(), RawJSON("42")),
    ("and(null, false)", boolean(), False),
    ("and(true, null)", boolean(), None),
    ("or(null, false)", boolean(), None),
    ("or(true, null)", boolean(), True),
    ("if(null, 1, 2)", int_(32), 2),
    ("if(false, 1)", int_(32), None),
    ("eq(1, '1')", boolean(), True),
    ("ne('2', 1)", boolean(), True),
    ("len('Hello World')", int_(32), 11),
    ("len(engine)", int_(32), 3),
    ("len(engine.power)", int_(32), 4),
    ("len(cx)", int_(32), 5),
    ("len(properties)", int_(32), 2),
    ("substring('Hello World', 7, 5)", string(), "World"),
    ('array(1, "a", false)', array_(json_()), [RawJSON("1"), RawJSON('"a"'), RawJSON("false")]),
    ("array('foo', true, 5)", array_(string()), ["foo", "true", "5"]),
    ("map('foo', 'bar', 'baz', true)", map_(json_()), {"foo": RawJSON('"bar"'), "baz": RawJSON("true")}),
    ("json_parse('[1, 2, 3]')", json_(), RawJSON("[1,2,3]")),
    # §3.4
    ("engine.power ' x ' 1.36", string(), "7000 x 1.36"),
    ("cx cx", string(), "0.1420.142"),
    ("' '   '  '", string(), "   "),
    ("manufacturer ' ' engine.afterburner", string(), "MyPlaneCompany "),
])
def test_reference_examples(expression, destination, expected):
    assert run(expression, destination, RECORD, inputs=PLANE) == expected


def test_compile_error_example():
    out = object_type(Property("x", string()))
    with pytest.raises(MappingError) as info:
        compile_mapping({"x": "'Engine power: ' coalesce engine.power"}, PLANE, out)
    assert str(info.value) == 'property "coalesce" does not exist'


def test_runtime_error_example():
    assert run_error("manufacturer", int_(32), RECORD, inputs=PLANE) == (
        "«manufacturer» is not convertible to the «int(32)» type while mapping to «x»", "OutputValidation")


def test_in_paths_of_the_examples():
    out = object_type(*(Property(n, string(), nullable=True) for n in "abcdef"))
    mapping = compile_mapping({
        "a": "manufacturer ' ' model",
        "b": "engine['power']",
        "c": "map['x']",
        "d": "properties.b.c",
        "e": "len(engine)",
        "f": "'constant'",
    }, PLANE, out)
    assert mapping.in_paths == ["engine", "engine.power", "manufacturer", "map", "model", "properties"]
    assert mapping.out_paths == ["a", "b", "c", "d", "e", "f"]
