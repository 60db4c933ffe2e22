import json
from decimal import Decimal

import pytest

from pipelines.types.schema import (
    KINDS, Property, SchemaError, Type, array_, boolean, decimal, dumps_json, float_, int_,
    loads_json, map_, object_type, parse_property, parse_type, property_to_json, string,
    type_to_json,
)

REFERENCE_EXAMPLES = [
    '{"kind":"string"}',
    '{"kind":"string","maxBytes":80,"maxLength":100}',
    '{"kind":"string","values":["a","b"]}',
    '{"kind":"string","pattern":"\\\\d+$"}',
    '{"kind":"int","bitSize":8,"minimum":10}',
    '{"kind":"int","bitSize":32,"unsigned":true,"minimum":20,"maximum":30}',
    '{"kind":"float","bitSize":64,"real":true}',
    '{"kind":"float","bitSize":32,"minimum":3.99,"maximum":5.31}',
    '{"kind":"decimal","precision":10}',
    '{"kind":"decimal","minimum":-3.9936173,"maximum":8.00002312,"precision":9,"scale":8}',
    '{"kind":"array","minElements":2,"maxElements":8,"uniqueElements":true,"elementType":{"kind":"decimal","precision":1}}',
    '{"kind":"object","properties":[{"name":"email","type":{"kind":"string"},"nullable":true}]}',
    '{"kind":"map","elementType":{"kind":"int","bitSize":32}}',
]


def parse(text: str) -> Type:
    return parse_type(loads_json(text))


def roundtrip(text: str) -> str:
    return dumps_json(type_to_json(parse(text)))


@pytest.mark.parametrize("text", REFERENCE_EXAMPLES)
def test_reference_examples_round_trip_exactly(text):
    assert roundtrip(text) == text


def test_examples_without_decimals_also_round_trip_through_stdlib_json():
    text = '{"kind":"float","bitSize":32,"minimum":3.99,"maximum":5.31}'
    assert json.dumps(type_to_json(parse(text)), separators=(",", ":")) == text


def test_pattern_example_keeps_the_backslash():
    assert parse(REFERENCE_EXAMPLES[3]).pattern == "\\d+$"


@pytest.mark.parametrize("kind", ["boolean", "datetime", "date", "time", "year", "uuid", "json", "ip"])
def test_simple_kinds_parse_and_serialize_as_kind_only(kind):
    t = parse_type({"kind": kind})
    assert t == Type(kind)
    assert type_to_json(t) == {"kind": kind}
    assert str(t) == kind


def test_kinds_are_the_fifteen_of_the_reference():
    assert len(KINDS) == 15
    assert "uint" not in KINDS and "text" not in KINDS and "inet" not in KINDS


def test_keys_are_emitted_in_fixed_order_whatever_the_input_order():
    text = '{"elementType":{"kind":"string"},"uniqueElements":true,"maxElements":3,"minElements":1,"kind":"array"}'
    assert roundtrip(text) == ('{"kind":"array","minElements":1,"maxElements":3,"uniqueElements":true,'
                               '"elementType":{"kind":"string"}}')
    text = '{"scale":2,"precision":5,"maximum":10,"minimum":-1.5,"kind":"decimal"}'
    assert roundtrip(text) == '{"kind":"decimal","minimum":-1.5,"maximum":10,"precision":5,"scale":2}'


@pytest.mark.parametrize("text,expected", [
    ('{"kind":"int","bitSize":8,"minimum":-128,"maximum":127}', '{"kind":"int","bitSize":8}'),
    ('{"kind":"int","bitSize":24,"unsigned":true,"maximum":16777215}', '{"kind":"int","bitSize":24,"unsigned":true}'),
    ('{"kind":"int","bitSize":16,"unsigned":false}', '{"kind":"int","bitSize":16}'),
    ('{"kind":"float","bitSize":64,"real":false}', '{"kind":"float","bitSize":64}'),
    ('{"kind":"decimal","precision":5,"scale":0,"minimum":-99999}', '{"kind":"decimal","precision":5}'),
    ('{"kind":"decimal","precision":5,"scale":2,"maximum":999.99}', '{"kind":"decimal","precision":5,"scale":2}'),
    ('{"kind":"array","elementType":{"kind":"int","bitSize":8},"minElements":0,"maxElements":2147483647,"uniqueElements":false}',
     '{"kind":"array","elementType":{"kind":"int","bitSize":8}}'),
    ('{"kind":"float","bitSize":32,"real":true,"maximum":3.4028234663852886e38}', '{"kind":"float","bitSize":32,"real":true}'),
])
def test_defaults_and_natural_bounds_are_omitted(text, expected):
    assert roundtrip(text) == expected


def test_float32_bounds_are_rounded_to_float32():
    t = parse('{"kind":"float","bitSize":32,"minimum":3.99}')
    assert t.minimum == 3.990000009536743
    assert t.bounds == (3.990000009536743, float("inf"))


def test_float_integral_bound_prints_like_go():
    assert roundtrip('{"kind":"float","bitSize":64,"minimum":3}') == '{"kind":"float","bitSize":64,"minimum":3}'


def test_decimal_bounds_are_exact_even_beyond_float_precision():
    text = '{"kind":"decimal","minimum":-1234567890123456789.123456789,"precision":30,"scale":9}'
    t = parse(text)
    assert t.minimum == Decimal("-1234567890123456789.123456789")
    assert roundtrip(text) == text


def test_decimal_natural_range():
    assert parse('{"kind":"decimal","precision":5,"scale":2}').bounds == (Decimal("-999.99"), Decimal("999.99"))
    assert parse('{"kind":"decimal","precision":76,"scale":37}').bounds[1] == Decimal("9" * 39 + "." + "9" * 37)


@pytest.mark.parametrize("bits,unsigned,low,high", [
    (8, False, -128, 127), (16, False, -32768, 32767), (24, False, -8388608, 8388607),
    (32, False, -2147483648, 2147483647), (64, False, -2 ** 63, 2 ** 63 - 1),
    (8, True, 0, 255), (24, True, 0, 16777215), (64, True, 0, 2 ** 64 - 1),
])
def test_int_natural_ranges(bits, unsigned, low, high):
    assert int_(bits, unsigned=unsigned).bounds == (low, high)


def test_real_float_ranges():
    assert float_(32, real=True).bounds == (-3.4028234663852886e38, 3.4028234663852886e38)
    assert float_(64, real=True).bounds == (-1.7976931348623157e308, 1.7976931348623157e308)


@pytest.mark.parametrize("t,text", [
    (string(), "string"), (boolean(), "boolean"), (int_(32), "int(32)"), (int_(32, unsigned=True), "int(32)"),
    (float_(64), "float(64)"), (decimal(10, 3), "decimal(10,3)"), (decimal(10), "decimal(10,0)"),
    (array_(string()), "array(string)"), (map_(int_(32)), "map(int(32))"),
    (array_(array_(int_(8))), "array(array(int(8)))"),
    (object_type(Property("a", string())), "object"), (Type("datetime"), "datetime"),
])
def test_textual_form(t, text):
    assert str(t) == text


def test_property_json_form_matches_reference_example():
    text = ('{"name":"a","prefilled":"<prefilled>","type":{"kind":"string"},"updateRequired":true,'
            '"readOptional":true,"nullable":true,"description":"some description"}')
    prop = parse_property(loads_json(text))
    assert prop == Property("a", string(), prefilled="<prefilled>", update_required=True,
                            read_optional=True, nullable=True, description="some description")
    assert dumps_json(property_to_json(prop)) == text


def test_empty_description_is_omitted_as_in_the_seed():
    assert property_to_json(Property("a", boolean())) == {"name": "a", "type": {"kind": "boolean"}}
    assert property_to_json(Property("a", boolean(), create_required=True, description="d")) == {
        "name": "a", "type": {"kind": "boolean"}, "createRequired": True, "description": "d"}
    assert parse_type({"kind": "object", "properties": [{"name": "a", "type": {"kind": "boolean"},
                                                          "description": ""}]}).properties[0].description == ""


def test_nested_object_round_trip():
    text = ('{"kind":"object","properties":[{"name":"address","type":{"kind":"object","properties":['
            '{"name":"city","type":{"kind":"string","maxLength":50},"readOptional":true}]},'
            '"description":"where"},{"name":"tags","type":{"kind":"array","elementType":{"kind":"string"}},'
            '"nullable":true}]}')
    assert roundtrip(text) == text


def test_input_is_nfc_normalized():
    t = parse_type({"kind": "string", "values": ["e\u0301"]})
    assert t.values == ("\u00e9",)
    with pytest.raises(SchemaError, match="^repeated value$"):
        parse_type({"kind": "string", "values": ["\u00e9", "e\u0301"]})


TYPE_ERRORS = [
    # syntax
    (None, "invalid type syntax"),
    ([], "invalid type syntax"),
    ("string", "invalid type syntax"),
    ({}, "missing 'kind' key"),
    ({"bitSize": 8}, "missing 'kind' key"),
    ({"kind": "uint"}, 'invalid kind "uint"'),
    ({"kind": "text"}, 'invalid kind "text"'),
    ({"kind": 3}, "unexpected value for 'kind' key"),
    ({"kind": "string", "foo": 1}, 'unknown key "foo"'),
    ({"kind": "array", "elements": {"kind": "string"}}, 'unknown key "elements" (maybe "elementType"?)'),
    ({"kind": "int", "bitsize": 8}, 'unknown key "bitsize" (maybe "bitSize"?)'),
    # string
    ({"kind": "int", "bitSize": 8, "maxBytes": 3}, "unexpected length in bytes for non-string type"),
    ({"kind": "int", "bitSize": 8, "maxLength": 3}, "unexpected length in characters for non-string type"),
    ({"kind": "boolean", "pattern": "a"}, "unexpected pattern for non-string type"),
    ({"kind": "boolean", "values": ["a"]}, "unexpected values for non-string type"),
    ({"kind": "string", "maxLength": 0}, "invalid maxLength"),
    ({"kind": "string", "maxLength": 4294967296}, "invalid maxLength"),
    ({"kind": "string", "maxBytes": 0}, "invalid maxBytes"),
    ({"kind": "string", "maxBytes": "10"}, "invalid maxBytes"),
    ({"kind": "string", "values": []}, "invalid empty values"),
    ({"kind": "string", "values": ["a", "a"]}, "repeated value"),
    ({"kind": "string", "values": [1]}, "unexpected value for 'values' key"),
    ({"kind": "string", "values": "a"}, "unexpected value for 'values' key"),
    ({"kind": "string", "pattern": "a", "values": ["a"]}, "values cannot be provided if pattern is provided"),
    ({"kind": "string", "values": ["a"], "pattern": "a"}, "pattern cannot be provided if values are provided"),
    ({"kind": "string", "maxLength": 3, "values": ["a"]}, "values cannot be provided if maxLength is provided"),
    ({"kind": "string", "values": ["a"], "maxBytes": 3}, "maxBytes cannot be provided if values are provided"),
    ({"kind": "string", "pattern": "("}, "invalid pattern"),
    ({"kind": "string", "pattern": "a(?=b)"}, "invalid pattern"),
    ({"kind": "string", "pattern": "(a)\\1"}, "invalid pattern"),
    ({"kind": "string", "pattern": 5}, "unexpected value for 'pattern' key"),
    # int / float
    ({"kind": "int"}, "missing 'bitSize' key"),
    ({"kind": "float"}, "missing 'bitSize' key"),
    ({"kind": "int", "bitSize": 12}, "invalid bit size"),
    ({"kind": "float", "bitSize": 16}, "invalid bit size"),
    ({"kind": "float", "bitSize": 8}, "invalid bit size"),
    ({"kind": "float", "bitSize": 24}, "invalid bit size"),
    ({"kind": "int", "bitSize": "32"}, "invalid bit size"),
    ({"kind": "string", "bitSize": 32}, "unexpected bit size for non-int and non-float type"),
    ({"kind": "float", "bitSize": 32, "unsigned": True}, "unexpected unsigned for non-int type"),
    ({"kind": "int", "bitSize": 32, "real": True}, "unexpected real for non-float type"),
    ({"kind": "int", "bitSize": 32, "unsigned": 1}, "unexpected value for 'unsigned' key"),
    ({"kind": "string", "minimum": 1}, "unexpected minimum for non-number type"),
    ({"kind": "year", "maximum": 1}, "unexpected maximum for non-number type"),
    ({"kind": "int", "bitSize": 8, "minimum": -129}, "invalid minimum"),
    ({"kind": "int", "bitSize": 8, "maximum": 128}, "invalid maximum"),
    ({"kind": "int", "bitSize": 8, "unsigned": True, "minimum": -1}, "invalid minimum"),
    ({"kind": "int", "bitSize": 8, "minimum": Decimal("1.5")}, "invalid minimum"),
    ({"kind": "int", "bitSize": 8, "minimum": "1"}, "invalid minimum"),
    ({"kind": "int", "bitSize": 8, "minimum": 5, "maximum": 4}, "maximum must be greater or equal to minimum"),
    ({"kind": "float", "bitSize": 64, "minimum": Decimal("1e400")}, "invalid minimum"),
    ({"kind": "float", "bitSize": 32, "maximum": Decimal("1e39")}, "invalid maximum"),
    ({"kind": "float", "bitSize": 64, "minimum": 2.5, "maximum": 1}, "maximum must be greater or equal to minimum"),
    # decimal
    ({"kind": "decimal"}, "missing precision"),
    ({"kind": "decimal", "scale": 2}, "scale also requires precision"),
    ({"kind": "int", "bitSize": 8, "scale": 2}, "scale also requires precision"),
    ({"kind": "int", "bitSize": 8, "precision": 2}, "unexpected precision for non-decimal type"),
    ({"kind": "decimal", "precision": 0}, "invalid precision"),
    ({"kind": "decimal", "precision": 77}, "invalid precision"),
    ({"kind": "decimal", "precision": 40, "scale": 38}, "invalid scale"),
    ({"kind": "decimal", "precision": 3, "scale": 4}, "invalid scale"),
    ({"kind": "decimal", "precision": 5, "scale": 2, "minimum": Decimal("1.234")}, "invalid minimum"),
    ({"kind": "decimal", "precision": 5, "scale": 2, "maximum": 1000}, "invalid maximum"),
    # array / map / object
    ({"kind": "array"}, "missing element type"),
    ({"kind": "map"}, "missing element type"),
    ({"kind": "string", "elementType": {"kind": "string"}}, "unexpected element type for non-array and non-map type"),
    ({"kind": "map", "elementType": {"kind": "string"}, "minElements": 1}, "unexpected minimum elements for non-array type"),
    ({"kind": "map", "elementType": {"kind": "string"}, "uniqueElements": True}, "unexpected unique elements for non-array type"),
    ({"kind": "array", "elementType": {"kind": "string"}, "minElements": 3, "maxElements": 2},
     "maxElements must be greater or equal to minElements"),
    ({"kind": "array", "elementType": {"kind": "string"}, "minElements": -1}, "invalid minElements"),
    ({"kind": "array", "elementType": {"kind": "string"}, "maxElements": 2147483648}, "invalid maxElements"),
    ({"kind": "array", "elementType": {"kind": "json"}, "uniqueElements": True}, "uniqueElements is not allowed for array(json)"),
    ({"kind": "array", "elementType": None}, "invalid type syntax"),
    ({"kind": "array", "elementType": {"kind": "int"}}, "missing 'bitSize' key"),
    ({"kind": "object"}, "missing object properties"),
    ({"kind": "object", "properties": []}, "invalid empty properties"),
    ({"kind": "object", "properties": {}}, "unexpected value for 'properties' key"),
    ({"kind": "string", "properties": []}, "unexpected properties for non-object type"),
    ({"kind": "object", "properties": [{"name": "a", "type": {"kind": "string"}},
                                       {"name": "a", "type": {"kind": "int", "bitSize": 8}}]}, "repeated property name"),
]


@pytest.mark.parametrize("data,message", TYPE_ERRORS)
def test_type_errors(data, message):
    with pytest.raises(SchemaError) as caught:
        parse_type(data)
    assert str(caught.value) == message


PROPERTY_ERRORS = [
    ({"Name": "a", "type": {"kind": "string"}}, "unknown property 'Name'"),
    ({"type": {"kind": "string"}}, "missing property name"),
    ({"name": "a"}, "missing property type"),
    ({"name": "", "type": {"kind": "string"}}, "property name is empty"),
    ({"name": "a-b", "type": {"kind": "string"}}, "invalid property name"),
    ({"name": "8a", "type": {"kind": "string"}}, "invalid property name"),
    ({"name": "a.b", "type": {"kind": "string"}}, "invalid property name"),
    ({"name": "é", "type": {"kind": "string"}}, "invalid property name"),
    ({"name": "a", "type": {"kind": "string"}, "nullable": "true"}, "unexpected value for 'nullable' key of property"),
    ({"name": "a", "type": {"kind": "string"}, "readOptional": 1}, "unexpected value for 'readOptional' key of property"),
    ({"name": "a", "type": {"kind": "string"}, "description": None}, "unexpected value for 'description' key of property"),
    ({"name": "a", "type": {"kind": "string"}, "description": "x\x00y"}, "property description contains the NUL character"),
    ({"name": "a", "type": None}, "invalid type syntax"),
    (None, "invalid property syntax"),
]


@pytest.mark.parametrize("data,message", PROPERTY_ERRORS)
def test_property_errors(data, message):
    with pytest.raises(SchemaError) as caught:
        parse_type({"kind": "object", "properties": [data]})
    assert str(caught.value) == message


@pytest.mark.parametrize("text,message", [
    ('{"kind":"int","bitSize":8,"bitSize":16}', "repeated 'bitSize' key"),
    ('{"kind":"int","kind":"string"}', "repeated 'kind' key"),
    ('{"kind":"object","properties":[{"name":"a","name":"b","type":{"kind":"string"}}]}', "repeated 'name' key of property"),
])
def test_repeated_keys_are_detected_when_decoded_with_loads_json(text, message):
    with pytest.raises(SchemaError) as caught:
        parse(text)
    assert str(caught.value) == message


def test_loads_json_keeps_exact_numbers_and_rejects_nan():
    assert loads_json('{"a": 0.1}')["a"] == Decimal("0.1")
    with pytest.raises(ValueError):
        loads_json('{"a": NaN}')


def test_floats_are_accepted_as_bounds():
    assert parse_type({"kind": "decimal", "precision": 5, "scale": 2, "minimum": 1.25}).minimum == Decimal("1.25")
    assert parse_type({"kind": "float", "bitSize": 64, "minimum": 1.25}).minimum == 1.25


def test_valid_names():
    for name in ("_", "_8", "foo53", "A_b"):
        assert parse_property({"name": name, "type": {"kind": "boolean"}}).name == name


def test_constructors_validate_and_normalize():
    assert int_(8, minimum=-128) == int_(8)
    assert string(max_length=10) == Type("string", max_length=10)
    assert decimal(5, 2, minimum=Decimal("-1.50")).minimum == Decimal("-1.5")
    with pytest.raises(SchemaError, match="^invalid bit size$"):
        int_(7)
    with pytest.raises(SchemaError, match="^uniqueElements is not allowed for array\\(object\\)$"):
        array_(object_type(Property("a", string())), unique_elements=True)


def test_object_type_checks_names():
    with pytest.raises(SchemaError) as caught:
        object_type(Property("x-y", string()))
    assert str(caught.value) == 'property name "x-y" is not valid'
    with pytest.raises(SchemaError) as caught:
        object_type(Property("id", string()), Property("id", int_(32)))
    assert str(caught.value) == 'property name "id" is repeated'
    with pytest.raises(SchemaError):
        object_type()


def test_types_are_hashable_and_comparable():
    a = parse('{"kind":"object","properties":[{"name":"a","type":{"kind":"string","values":["x"]}}]}')
    b = object_type(Property("a", string(values=["x"])))
    assert a == b and hash(a) == hash(b)
    assert int_(32) != int_(64)


def test_dumps_json():
    assert dumps_json({"a": [Decimal("1.50"), 2, 2.5, None, True, "é\""]}) == '{"a":[1.50,2,2.5,null,true,"é\\""]}'
    assert dumps_json(Decimal("1E+2")) == "100"
    with pytest.raises(ValueError):
        dumps_json(float("nan"))
