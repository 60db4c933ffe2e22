"""Mapping-level behaviour (§2, §3.6, §3.9, §3.11): keys, compile-time types, run-time messages."""

from datetime import date
from decimal import Decimal

import pytest

from pipelines.mapping import MappingError, TransformError, compile_mapping
from pipelines.types import (
    Property, RawJSON, array_, boolean, date_, datetime_, decimal, float_, int_, ip, json_, map_,
    object_type, string, time_, uuid_, year,
)

from .helpers import compile_error, run_error, schema

ADDRESS = object_type(Property("city", string(), read_optional=True),
                      Property("zip", string(), read_optional=True))
OUT = object_type(
    Property("email", string(), read_optional=True),
    Property("first_name", string(max_length=10), read_optional=True),
    Property("age", int_(8), read_optional=True),
    Property("address", ADDRESS, read_optional=True),
    Property("value", string(), read_optional=True),
    Property("value_currency", string(), read_optional=True),
)
IN = schema(email=string(), name=string(), age=string(), city=string(), zip=string(), j=json_())


def error(mapping):
    with pytest.raises(MappingError) as info:
        compile_mapping(mapping, IN, OUT)
    return str(info.value)


# --------------------------------------------------------------------------- keys

@pytest.mark.parametrize("key, message", [
    ("a..b", 'output property path "a..b" is not valid'),
    ("", 'output property path "" is not valid'),
    (".a", 'output property path ".a" is not valid'),
    ("a.", 'output property path "a." is not valid'),
    ("a-b", 'output property path "a-b" is not valid'),
    ("a[0]", 'output property path "a[0]" is not valid'),
    ("not_existent_property", 'property path "not_existent_property" does not exist'),
    ("address.country", 'property path "address.country" does not exist'),
    ("email.x", 'property path "email.x" does not exist'),
])
def test_invalid_keys(key, message):
    assert error({key: "email"}) == message


def test_keys_may_not_nest():
    assert error({"address": "j", "address.city": "city"}) == 'paths "address" and "address.city" have the same prefix'


def test_prefixes_not_at_a_dot_boundary_are_fine():
    mapping = compile_mapping({"value": "email", "value_currency": "email"}, IN, OUT)
    assert mapping.out_paths == ["value", "value_currency"]


def test_expression_errors_have_no_key_prefix():
    assert error({"email": "nope"}) == 'property "nope" does not exist'


def test_empty_mapping():
    mapping = compile_mapping({}, IN, OUT)
    assert (mapping.in_paths, mapping.out_paths, mapping.apply({})) == ([], [], {})


def test_constants_use_no_input_property():
    mapping = compile_mapping({"email": "'a@b.c'", "age": "42"}, IN, OUT)
    assert mapping.in_paths == []
    assert mapping.apply({}) == {"age": 42, "email": "a@b.c"}


# --------------------------------------------------------------------------- apply

def test_nested_outputs_are_built_from_dotted_keys():
    mapping = compile_mapping({"address.zip": "zip", "address.city": "upper(city)", "email": "email"}, IN, OUT)
    assert mapping.out_paths == ["address.city", "address.zip", "email"]
    assert mapping.in_paths == ["city", "email", "zip"]
    assert mapping.apply({"email": "a@b.c", "city": "Milan", "zip": "20122"}) == {
        "address": {"city": "MILAN", "zip": "20122"}, "email": "a@b.c"}
    assert mapping.apply({"email": "a@b.c"}) == {"email": "a@b.c"}
    assert mapping.apply({"zip": "1"}) == {"address": {"zip": "1"}}


def test_expressions_read_the_input_record_not_earlier_outputs():
    out = object_type(Property("a", string(), nullable=True), Property("b", string(), nullable=True))
    mapping = compile_mapping({"a": "b", "b": "'x'"}, schema(b=string()), out)
    assert mapping.apply({"b": "input"}) == {"a": "input", "b": "x"}


def test_a_failing_record_does_not_prevent_the_next_one():
    mapping = compile_mapping({"age": "age"}, IN, OUT)
    with pytest.raises(TransformError):
        mapping.apply({"age": "x"})
    assert mapping.apply({"age": "7"}) == {"age": 7}


def test_apply_reports_the_first_failing_key_in_sorted_order():
    mapping = compile_mapping({"email": "age", "age": "age"}, IN, OUT)
    with pytest.raises(TransformError) as info:
        mapping.apply({"age": "300"})
    assert str(info.value) == "number «age» is greater than 127 while mapping to «age»"


def test_transform_error_is_a_value_error_with_a_step():
    assert issubclass(TransformError, ValueError)
    assert TransformError("m").step == "Transformation"


# --------------------------------------------------------------------------- §3.6 compile-time types

INPUTS = schema(b=boolean(), dates=array_(datetime_()), tags=array_(string()),
                o=object_type(Property("a", string())), m=map_(json_()), n=int_(32))


@pytest.mark.parametrize("expression, destination, message", [
    ("b", int_(32), "cannot convert expression (type boolean) to int(32)"),
    ("dates", array_(boolean()), "cannot convert expression (type array(datetime)) to array(boolean)"),
    ("o", object_type(Property("z", string())), "cannot convert expression (type object) to object"),
    ("len(tags)", date_(), "cannot convert expression (type int(32)) to date"),
    ("eq(n, 1)", date_(), "cannot convert expression (type boolean) to date"),
    ("n 'x'", array_(string()), "cannot convert expression (type string) to array(string)"),
    ("'x' tags", string(), "cannot convert tags (type array(string)) to string"),
    ("'x' m", string(), "cannot convert m (type map(json)) to string"),
    ("'x' map('a', 1)", string(), "cannot convert map(...) (type map(json)) to string"),
    ("'x' o", string(), "cannot convert o (type object) to string"),
    ("coalesce(b, n)", int_(32), "cannot convert b (type boolean) to int(32)"),
    ("true", int_(32), "true is not convertible to the int(32) type"),
    ("300", int_(8), "number 300 is greater than 127"),
    ("-129", int_(8), "number -129 is less than -128"),
    ("-1", int_(8, unsigned=True), "number -1 is not a int(8) value"),
    ("1.5", int_(32), "number 1.5 is not a int(32) value"),
    ("'abc'", string(max_length=2), '"abc" exceeds the 2-char limit'),
    ("'héé'", string(max_bytes=3), '"héé" exceeds the 3-byte limit'),
    ("'x'", string(values=["a"]), '"x" is not one of the allowed values'),
    ("'x'", string(pattern="^a/"), '"x" does not match /^a\\//'),
    ("'x'", date_(), '"x" is not parsable as a date in ISO 8601 format'),
    ("'0000-01-01'", date_(), 'year of "0000-01-01" is not in range [1,9999]'),
    ("'x'", datetime_(), '"x" is not parsable as a date time in ISO 8601 format'),
    ("'x'", time_(), '"x" is not parsable as a time in ISO 8601 format'),
    ("'x'", uuid_(), '"x" is not parsable as a UUID'),
    ("'x'", ip(), '"x" is not parsable as an IP address'),
    ("0", year(), "year of 0 is not in range [1,9999]"),
    ("1.5", decimal(2, 0), "number 1.5 is not a decimal(2,0) value"),
    ("'1e400'", float_(64), 'number "1e400" is not a float(64) value'),
])
def test_compile_time_type_errors(expression, destination, message):
    assert compile_error(expression, destination, inputs=INPUTS) == message


def test_coalesce_has_no_static_type():
    # Each argument is checked instead of the whole expression.
    assert compile_mapping({"x": "coalesce(n, '5')"}, INPUTS,
                           object_type(Property("x", year(), nullable=True))).apply({}) == {"x": 5}


def test_paths_need_an_input_schema():
    with pytest.raises(MappingError) as info:
        compile_mapping({"x": "a"}, None, object_type(Property("x", string())))
    assert str(info.value) == 'property "a" does not exist'
    assert compile_mapping({"x": "'a'"}, None, object_type(Property("x", string()))).apply({}) == {"x": "a"}


@pytest.mark.parametrize("expression, destination, expected", [
    ("1", float_(64), 1.0),
    ("1.25", float_(32), 1.25),
    ("'2023-01-02'", date_(), date(2023, 1, 2)),
    ("12.5", decimal(3, 1), Decimal("12.5")),
    ("true", json_(), RawJSON("true")),
    ("null", json_(), None),
    ("'7'", int_(8), 7),
])
def test_constants_are_converted_at_compile_time(expression, destination, expected):
    out = object_type(Property("x", destination, nullable=True))
    assert compile_mapping({"x": expression}, INPUTS, out).apply({}) == {"x": expected}


# --------------------------------------------------------------------------- §3.9 run-time messages

RT = schema(s=string(), n=int_(64), f=float_(64), j=json_(), a=string(), first_name=string(),
            age_str=string(), expr=string())


@pytest.mark.parametrize("expression, destination, record, message, step", [
    ("j.a.x", json_(), {"j": RawJSON('{"a": 1}')},
     "invalid j.a.x: j.a is not JSON object, it is number while mapping to «x»", "Transformation"),
    ("json_parse('foo boo')", json_(), {},
     "«'foo boo'» cannot be parsed by «json_parse» because it is not valid JSON while mapping to «x»", "Transformation"),
    ("'x' j", string(), {"j": RawJSON("[1]")}, "cannot convert while mapping to «x»", "Transformation"),
    ("'x' j", string(), {"j": RawJSON('{"a":1}')}, "cannot convert while mapping to «x»", "Transformation"),
    ("age_str", int_(32), {"age_str": "old"},
     "«age_str» is not convertible to the «int(32)» type while mapping to «x»", "OutputValidation"),
    ("s", int_(32), {"s": "99999999999999999999"}, "number «s» is not a «int(32)» value while mapping to «x»", "OutputValidation"),
    ("n", int_(32, unsigned=True), {"n": -1}, "number «n» is not a «int(32)» value while mapping to «x»", "OutputValidation"),
    ("f", int_(64), {"f": float("nan")}, "number «f» is not a «int(64)» value while mapping to «x»", "OutputValidation"),
    ("n", decimal(5, 2), {"n": 1000}, "number «n» is not a «decimal(5,2)» value while mapping to «x»", "OutputValidation"),
    ("n", int_(8), {"n": -200}, "number «n» is less than -128 while mapping to «x»", "OutputValidation"),
    ("n", int_(32), {"n": 1 << 40}, "number «n» is greater than 2147483647 while mapping to «x»", "OutputValidation"),
    ("n", int_(8, minimum=-20, maximum=20), {"n": 21}, "number «n» is greater than 20 while mapping to «x»", "OutputValidation"),
    ("s", datetime_(), {"s": "x"}, "«s» is not parsable as a date time in ISO 8601 format while mapping to «x»", "OutputValidation"),
    ("s", date_(), {"s": "x"}, "«s» is not parsable as a date in ISO 8601 format while mapping to «x»", "OutputValidation"),
    ("s", time_(), {"s": "x"}, "«s» is not parsable as a time in ISO 8601 format while mapping to «x»", "OutputValidation"),
    ("s", uuid_(), {"s": "x"}, "«s» is not parsable as a UUID while mapping to «x»", "OutputValidation"),
    ("s", ip(), {"s": "x"}, "«s» is not parsable as an IP address while mapping to «x»", "OutputValidation"),
    ("s", year(), {"s": "0"}, "year of «s» is not in range [1,9999] while mapping to «x»", "OutputValidation"),
    ("first_name", string(max_length=10), {"first_name": "some long text"},
     "«first_name» exceeds the 10-char limit while mapping to «x»", "OutputValidation"),
    ("s", string(max_bytes=2), {"s": "ééé"}, "«s» exceeds the 2-byte limit while mapping to «x»", "OutputValidation"),
    ("s", string(values=["a", "b"]), {"s": "c"}, "«s» is not one of the allowed values while mapping to «x»", "OutputValidation"),
    ("s", string(pattern="o/o$"), {"s": "faa"}, "«s» does not match «/o\\/o$/» while mapping to «x»", "OutputValidation"),
    ("s", string(pattern="»$"), {"s": "a"}, "«s» does not match «/≫$/» while mapping to «x»", "OutputValidation"),
    ("s '»'", int_(32), {"s": "a"}, "«s '≫'» is not convertible to the «int(32)» type while mapping to «x»", "OutputValidation"),
    ("  s  ", int_(32), {"s": "a"}, "«  s  » is not convertible to the «int(32)» type while mapping to «x»", "OutputValidation"),
])
def test_runtime_messages(expression, destination, record, message, step):
    assert run_error(expression, destination, record, inputs=RT) == (message, step)


def test_runtime_message_names_a_nested_key():
    out = object_type(Property("address", object_type(Property("zip", int_(32)))))
    mapping = compile_mapping({"address.zip": "s"}, RT, out)
    with pytest.raises(TransformError) as info:
        mapping.apply({"s": "x"})
    assert str(info.value) == "«s» is not convertible to the «int(32)» type while mapping to «address.zip»"
    assert info.value.step == "OutputValidation"


def test_boolean_operands_are_appended():
    # [BUG] fixed: Krenalis fails at run time on boolean paths in concatenations.
    out = object_type(Property("x", string()))
    mapping = compile_mapping({"x": "'active: ' b ', ' n"}, INPUTS, out)
    assert mapping.apply({"b": True, "n": 3}) == {"x": "active: true, 3"}
    assert mapping.apply({"b": False}) == {"x": "active: false, "}
