"""Null handling (§3.8): nulls, JSON nulls, empty strings, nullable and non-nullable destinations."""

import pytest

from pipelines.mapping import compile_mapping
from pipelines.types import (
    Property, RawJSON, boolean, date_, int_, json_, map_, object_type, string,
)

from .helpers import compile_error, run, schema

OUT = object_type(
    Property("A", string()),
    Property("B", string(), nullable=True),
    Property("C", json_()),
    Property("D", json_(), nullable=True),
)
IN = schema(a=string(), d=json_(), e=json_())


@pytest.mark.parametrize("key, expression, record, expected", [
    ("A", "''", {}, {"A": ""}),
    ("A", "null", {}, {}),
    ("A", "a", {}, {}),
    ("A", "a", {"a": None}, {}),
    ("B", "null", {}, {"B": None}),
    ("B", "a", {}, {"B": None}),
    ("C", "'boo'", {}, {"C": RawJSON('"boo"')}),
    ("C", "''", {}, {"C": RawJSON('""')}),
    ("C", "null", {}, {}),
    ("D", "null", {}, {"D": None}),
    ("D", "a", {}, {"D": None}),
    ("C", "d", {"d": RawJSON("null")}, {"C": RawJSON("null")}),
    ("D", "d", {"d": RawJSON("null")}, {"D": RawJSON("null")}),
    ("A", "e", {"e": RawJSON("null")}, {}),
    ("B", "e", {"e": RawJSON("null")}, {"B": None}),
    ("C", "map('k', a, 'h', 5)", {}, {"C": RawJSON('{"h":5}')}),
])
def test_reference_cases(key, expression, record, expected):
    mapping = compile_mapping({key: expression}, IN, OUT)
    assert mapping.apply(record) == expected


@pytest.mark.parametrize("destination", [
    int_(32), boolean(), date_(), string(values=["a", "b"]), string(pattern="^a"),
])
def test_empty_string_from_data_becomes_null(destination):
    assert run("s", destination, {"s": ""}, s=string()) is None
    assert run("s", destination, {"s": ""}, s=string(), nullable=False) == "<omitted>"


def test_empty_string_from_data_stays_into_string_and_json():
    assert run("s", string(), {"s": ""}, s=string()) == ""
    assert run("s", string(max_length=3), {"s": ""}, s=string()) == ""
    assert run("s", json_(), {"s": ""}, s=string()) == RawJSON('""')
    assert run("s", string(values=["", "a"]), {"s": ""}, s=string()) == ""


@pytest.mark.parametrize("expression, destination, message", [
    ("''", int_(32), '"" is not convertible to the int(32) type'),
    ("''", boolean(), '"" is not convertible to the boolean type'),
    ("''", date_(), '"" is not parsable as a date in ISO 8601 format'),
    ("''", map_(string()), '"" is not convertible to the map(string) type'),
    ("''", string(values=["a"]), '"" is not one of the allowed values'),
    ("''", string(pattern="^a"), '"" does not match /^a/'),
])
def test_empty_string_constants_are_not_null(expression, destination, message):
    assert compile_error(expression, destination) == message


def test_json_null_behaves_as_null_outside_json():
    assert run("j", int_(32), {"j": RawJSON("null")}, j=json_()) is None
    assert run("j.a", int_(32), {"j": RawJSON('{"a": null}')}, j=json_()) is None
    assert run("j.a", json_(), {"j": RawJSON('{"a": null}')}, j=json_()) == RawJSON("null")
    assert run("j.b", json_(), {"j": RawJSON('{"a": null}')}, j=json_()) is None


def test_null_into_non_nullable_destination_is_omitted():
    assert run("n", int_(32), {}, n=int_(32), nullable=False) == "<omitted>"
    assert run("null", int_(32), {}, nullable=False) == "<omitted>"
    assert run("n", int_(32), {}, n=int_(32)) is None


def test_null_operands_in_concatenation():
    assert run("a ' ' b", string(), {"a": "John"}, a=string(), b=string()) == "John "
    assert run("a b", string(), {}, a=string(), b=string()) == ""
    assert run("j 'x'", string(), {"j": RawJSON("null")}, j=json_()) == "nullx"
