"""Conversion to the destination type (§3.7): every pair of the matrix, success and failure."""

import math
from datetime import date, datetime, time, timezone
from decimal import Decimal

import pytest

from pipelines.mapping import MappingError
from pipelines.types import (
    Property, RawJSON, array_, boolean, date_, datetime_, decimal, float_, int_, ip, json_, map_,
    object_type, string, time_, uuid_, year,
)

from .helpers import compile_error, run, run_error

UTC = timezone.utc
OBJ = object_type(Property("a", string()))

# A representative type per kind, for the matrix itself.
KIND_TYPES = {
    "string": string(), "boolean": boolean(), "int": int_(32), "float": float_(64),
    "decimal": decimal(10, 3), "datetime": datetime_(), "date": date_(), "time": time_(),
    "year": year(), "uuid": uuid_(), "json": json_(), "ip": ip(), "array": array_(string()),
    "object": OBJ, "map": map_(string()),
}
ALLOWED = {
    "string": {"string", "boolean", "int", "float", "decimal", "datetime", "date", "time", "year", "uuid", "json", "ip"},
    "boolean": {"string", "boolean", "json"},  # and int(8), see below
    "int": {"string", "int", "float", "decimal", "year", "json"},  # int(8) also to boolean
    "float": {"string", "int", "float", "decimal", "json"},
    "decimal": {"string", "int", "float", "decimal", "json"},
    "datetime": {"string", "datetime", "date", "time", "json"},
    "date": {"string", "datetime", "date", "json"},
    "time": {"string", "time", "json"},
    "year": {"string", "int", "year", "json"},
    "uuid": {"string", "uuid", "json"},
    "json": set(KIND_TYPES),
    "ip": {"string", "ip", "json"},
    "array": {"json", "array"},
    "object": {"json", "object", "map"},
    "map": {"json", "object", "map"},
}
NOT_ALLOWED = [(s, d) for s in KIND_TYPES for d in KIND_TYPES if d not in ALLOWED[s]]
ALLOWED_PAIRS = [(s, d) for s in KIND_TYPES for d in KIND_TYPES if d in ALLOWED[s]]


@pytest.mark.parametrize("src, dst", NOT_ALLOWED)
def test_pairs_outside_the_matrix_do_not_compile(src, dst):
    assert compile_error("v", KIND_TYPES[dst], v=KIND_TYPES[src]) == \
        f"cannot convert expression (type {KIND_TYPES[src]}) to {KIND_TYPES[dst]}"


@pytest.mark.parametrize("src, dst", ALLOWED_PAIRS)
def test_pairs_of_the_matrix_compile(src, dst):
    run("v", KIND_TYPES[dst], {}, v=KIND_TYPES[src])  # null input: just compiles and runs


@pytest.mark.parametrize("src, dst, ok", [
    (boolean(), int_(8), True),
    (boolean(), int_(8, unsigned=True), True),
    (boolean(), int_(16), False),
    (boolean(), int_(64), False),
    (int_(8), boolean(), True),
    (int_(8, unsigned=True), boolean(), True),
    (int_(16), boolean(), False),
    (int_(64), boolean(), False),
])
def test_boolean_and_int8(src, dst, ok):
    if ok:
        run("v", dst, {}, v=src)
    else:
        assert compile_error("v", dst, v=src) == f"cannot convert expression (type {src}) to {dst}"


# --------------------------------------------------------------------------- successes

CX = object_type(Property("a", string()), Property("b", int_(32), nullable=True))

SUCCESS = [
    # string ->
    (string(), "abc", string(), "abc"),
    (string(), "", string(), ""),
    (string(), "héé", string(max_bytes=5), "héé"),
    (string(), "abc", string(max_length=3), "abc"),
    (string(), "b", string(values=["a", "b"]), "b"),
    (string(), "", string(values=["", "a"]), ""),
    (string(), "ab", string(pattern="^a"), "ab"),
    *[(string(), w, boolean(), True) for w in ("true", "True", "TRUE", "yes", "Yes", "YES")],
    *[(string(), w, boolean(), False) for w in ("false", "False", "FALSE", "no", "No", "NO")],
    (string(), "42", int_(32), 42),
    (string(), "-42", int_(32), -42),
    (string(), "+7", int_(32), 7),
    (string(), "007", int_(32), 7),
    (string(), "255", int_(8, unsigned=True), 255),
    (string(), "9223372036854775807", int_(64), 9223372036854775807),
    (string(), "18446744073709551615", int_(64, unsigned=True), 18446744073709551615),
    (string(), "1.5", float_(64), 1.5),
    (string(), "1e3", float_(64), 1000.0),
    (string(), "-.5", float_(64), -0.5),
    (string(), "Inf", float_(64), math.inf),
    (string(), "-infinity", float_(64), -math.inf),
    (string(), "3.14", float_(32), 3.140000104904175),
    (string(), "12.345", decimal(10, 3), Decimal("12.345")),
    (string(), "1.500", decimal(10, 1), Decimal("1.500")),
    (string(), "1e2", decimal(10, 3), Decimal("100")),
    (string(), "-0.5", decimal(3, 1), Decimal("-0.5")),
    (string(), "2023-05-24T09:01:57-07:00", datetime_(), datetime(2023, 5, 24, 16, 1, 57, tzinfo=UTC)),
    (string(), "2023-05-24T09:01:57.49361409Z", datetime_(), datetime(2023, 5, 24, 9, 1, 57, 493614, tzinfo=UTC)),
    (string(), "0001-01-01T00:00:00Z", datetime_(), datetime(1, 1, 1, tzinfo=UTC)),
    (string(), "2023-05-24", date_(), date(2023, 5, 24)),
    (string(), "05/24/2023", date_(), date(2023, 5, 24)),
    (string(), "05.24.2023", date_(), date(2023, 5, 24)),
    (string(), "44927", date_(), date(2023, 1, 1)),
    (string(), "44927.75", date_(), date(2023, 1, 1)),
    (string(), "059", date_(), date(1900, 2, 28)),
    (string(), "061", date_(), date(1900, 3, 1)),
    (string(), "09:01:57", time_(), time(9, 1, 57)),
    (string(), "09:01:57.49361409Z", time_(), time(9, 1, 57, 493614)),
    (string(), "23:59:59.5 and more", time_(), time(23, 59, 59, 500000)),
    (string(), "2023", year(), 2023),
    (string(), "1", year(), 1),
    (string(), "9999", year(), 9999),
    (string(), "F81D4FAE-7DEC-11D0-A765-00A0C91E6BF6", uuid_(), "f81d4fae-7dec-11d0-a765-00a0c91e6bf6"),
    (string(), "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6", uuid_(), "f81d4fae-7dec-11d0-a765-00a0c91e6bf6"),
    (string(), "{f81d4fae-7dec-11d0-a765-00a0c91e6bf6}", uuid_(), "f81d4fae-7dec-11d0-a765-00a0c91e6bf6"),
    (string(), "f81d4fae7dec11d0a76500a0c91e6bf6", uuid_(), "f81d4fae-7dec-11d0-a765-00a0c91e6bf6"),
    (string(), "abc", json_(), RawJSON('"abc"')),
    (string(), "", json_(), RawJSON('""')),
    (string(), 'a"\n', json_(), RawJSON('"a\\"\\n"')),
    (string(), "192.168.0.1", ip(), "192.168.0.1"),
    (string(), "2001:0db8:0000:0000:0000:ff00:0042:8329", ip(), "2001:db8::ff00:42:8329"),
    (string(), "::FFFF:1.2.3.4", ip(), "::ffff:1.2.3.4"),
    (string(), "::1", ip(), "::1"),
    # boolean ->
    (boolean(), True, string(), "true"),
    (boolean(), False, string(), "false"),
    (boolean(), True, boolean(), True),
    (boolean(), True, int_(8), 1),
    (boolean(), False, int_(8, unsigned=True), 0),
    (boolean(), False, json_(), RawJSON("false")),
    # int ->
    (int_(32), -12, string(), "-12"),
    (int_(8), 5, boolean(), True),
    (int_(8), -1, boolean(), True),
    (int_(8), 0, boolean(), False),
    (int_(8, unsigned=True), 3, boolean(), True),
    (int_(32), 127, int_(8), 127),
    (int_(32), -128, int_(8), -128),
    (int_(8), -5, int_(64), -5),
    (int_(64, unsigned=True), 9223372036854775807, int_(64), 9223372036854775807),
    (int_(32), 3, float_(64), 3.0),
    (int_(32), 16777217, float_(32), 16777216.0),
    (int_(32), 12, decimal(5, 2), Decimal(12)),
    (int_(32), -999, decimal(5, 2), Decimal(-999)),
    (int_(32), 2023, year(), 2023),
    (int_(64), 42, json_(), RawJSON("42")),
    # float ->
    (float_(64), 7928301735.704827, string(), "7.928301735704827e+09"),
    (float_(32), 3.140000104904175, string(), "3.14"),
    (float_(32), 57.160381317138672, string(), "57.16038"),
    (float_(64), 123456.0, string(), "123456"),
    (float_(64), 1e6, string(), "1e+06"),
    (float_(64), 1234567.0, string(), "1.234567e+06"),
    (float_(64), 0.0001, string(), "0.0001"),
    (float_(64), 0.00001, string(), "1e-05"),
    (float_(64), -2.5e-7, string(), "-2.5e-07"),
    (float_(64), 1e100, string(), "1e+100"),
    (float_(64), math.nan, string(), "NaN"),
    (float_(64), math.inf, string(), "+Inf"),
    (float_(64), -math.inf, string(), "-Inf"),
    (float_(64), 34.5, int_(32), 35),
    (float_(64), -0.5, int_(32), -1),
    (float_(64), -0.49, int_(32), 0),
    (float_(64), 2.5, int_(32), 3),
    (float_(64), 1e18, int_(64), 1000000000000000000),
    (float_(64), 1.5, float_(64), 1.5),
    (float_(64), 3.14, float_(32), 3.140000104904175),
    (float_(64), math.inf, float_(64), math.inf),
    (float_(64), 23.78, decimal(2, 0), Decimal(24)),
    (float_(64), 3.918347105316932e10, decimal(16, 5), Decimal("39183471053.16932")),
    (float_(32), 6316.05126953125, decimal(15, 11), Decimal("6316.05126953125")),
    (float_(64), 0.1, decimal(10, 5), Decimal("0.1")),
    (float_(64), 7000.0, json_(), RawJSON("7000")),
    (float_(64), 1.5, json_(), RawJSON("1.5")),
    (float_(64), 1e21, json_(), RawJSON("1e+21")),
    (float_(64), 1e-7, json_(), RawJSON("1e-7")),
    (float_(64), 0.000001, json_(), RawJSON("0.000001")),
    (float_(32), 3.140000104904175, json_(), RawJSON("3.14")),
    # decimal ->
    (decimal(4, 3), Decimal("0.142"), string(), "0.142"),
    (decimal(10, 2), Decimal("1.50"), string(), "1.50"),
    (decimal(10, 3), Decimal("12"), int_(32), 12),
    (decimal(10, 3), Decimal("12.000"), int_(32), 12),
    (decimal(10, 3), Decimal("1.5"), float_(64), 1.5),
    (decimal(10, 5), Decimal("1.23000"), decimal(10, 2), Decimal("1.23000")),
    (decimal(4, 3), Decimal("0.142"), decimal(10, 3), Decimal("0.142")),
    (decimal(4, 3), Decimal("0.142"), json_(), RawJSON("0.142")),
    # datetime ->
    (datetime_(), datetime(2023, 5, 24, 9, 1, 57, 493610, tzinfo=UTC), string(), "2023-05-24T09:01:57.49361Z"),
    (datetime_(), datetime(2023, 5, 24, 9, 1, 57, tzinfo=UTC), string(), "2023-05-24T09:01:57Z"),
    (datetime_(), datetime(2023, 5, 24, 9, 1, 57, tzinfo=UTC), datetime_(), datetime(2023, 5, 24, 9, 1, 57, tzinfo=UTC)),
    (datetime_(), datetime(2023, 5, 24, 23, 1, 57, tzinfo=UTC), date_(), date(2023, 5, 24)),
    (datetime_(), datetime(2023, 5, 24, 9, 1, 57, 5, tzinfo=UTC), time_(), time(9, 1, 57, 5)),
    (datetime_(), datetime(2023, 1, 2, 3, 4, 5, tzinfo=UTC), json_(), RawJSON('"2023-01-02T03:04:05Z"')),
    # date ->
    (date_(), date(2023, 1, 2), string(), "2023-01-02"),
    (date_(), date(2023, 1, 2), datetime_(), datetime(2023, 1, 2, tzinfo=UTC)),
    (date_(), date(2023, 1, 2), date_(), date(2023, 1, 2)),
    (date_(), date(2023, 1, 2), json_(), RawJSON('"2023-01-02"')),
    # time ->
    (time_(), time(9, 1, 57, 500000), string(), "09:01:57.5"),
    (time_(), time(9, 1, 57), time_(), time(9, 1, 57)),
    (time_(), time(9, 1, 57), json_(), RawJSON('"09:01:57"')),
    # year ->
    (year(), 2023, string(), "2023"),
    (year(), 2023, int_(16), 2023),
    (year(), 2023, year(), 2023),
    (year(), 2023, json_(), RawJSON("2023")),
    # uuid ->
    (uuid_(), "f81d4fae-7dec-11d0-a765-00a0c91e6bf6", string(), "f81d4fae-7dec-11d0-a765-00a0c91e6bf6"),
    (uuid_(), "f81d4fae-7dec-11d0-a765-00a0c91e6bf6", uuid_(), "f81d4fae-7dec-11d0-a765-00a0c91e6bf6"),
    (uuid_(), "f81d4fae-7dec-11d0-a765-00a0c91e6bf6", json_(), RawJSON('"f81d4fae-7dec-11d0-a765-00a0c91e6bf6"')),
    # ip ->
    (ip(), "::1", string(), "::1"),
    (ip(), "10.0.0.1", ip(), "10.0.0.1"),
    (ip(), "10.0.0.1", json_(), RawJSON('"10.0.0.1"')),
    # json ->
    (json_(), RawJSON('"abc"'), string(), "abc"),
    (json_(), RawJSON("1.50"), string(), "1.50"),
    (json_(), RawJSON("true"), string(), "true"),
    (json_(), RawJSON("false"), boolean(), False),
    (json_(), RawJSON("12"), int_(32), 12),
    (json_(), RawJSON("12.0"), int_(32), 12),
    (json_(), RawJSON("-3"), int_(8), -3),
    (json_(), RawJSON("1.5"), float_(64), 1.5),
    (json_(), RawJSON("1e2"), float_(64), 100.0),
    (json_(), RawJSON("1.234"), decimal(10, 3), Decimal("1.234")),
    (json_(), RawJSON('"2023-10-17"'), datetime_(), datetime(2023, 10, 17, tzinfo=UTC)),
    (json_(), RawJSON('"2023-10-17T10:20"'), datetime_(), datetime(2023, 10, 17, 10, 20, tzinfo=UTC)),
    (json_(), RawJSON('"2023-10-17T10:20:30+02"'), datetime_(), datetime(2023, 10, 17, 8, 20, 30, tzinfo=UTC)),
    (json_(), RawJSON('"2023-10-17 10:20:30.123456789-0130"'), datetime_(), datetime(2023, 10, 17, 11, 50, 30, 123456, tzinfo=UTC)),
    (json_(), RawJSON('"2023-10-17T10Z"'), datetime_(), datetime(2023, 10, 17, 10, tzinfo=UTC)),
    (json_(), RawJSON('"2023-290"'), datetime_(), datetime(2023, 10, 17, tzinfo=UTC)),
    (json_(), RawJSON('"2023-10"'), datetime_(), datetime(2023, 10, 1, tzinfo=UTC)),
    (json_(), RawJSON('"+2023"'), datetime_(), datetime(2023, 1, 1, tzinfo=UTC)),
    (json_(), RawJSON('"2023-10-17T10:20:30,5Z"'), datetime_(), datetime(2023, 10, 17, 10, 20, 30, 500000, tzinfo=UTC)),
    (json_(), RawJSON('"2023-10-17"'), date_(), date(2023, 10, 17)),
    (json_(), RawJSON('"09:01:57.25"'), time_(), time(9, 1, 57, 250000)),
    (json_(), RawJSON("2023"), year(), 2023),
    (json_(), RawJSON("2023.0"), year(), 2023),
    (json_(), RawJSON('"F81D4FAE7DEC11D0A76500A0C91E6BF6"'), uuid_(), "f81d4fae-7dec-11d0-a765-00a0c91e6bf6"),
    (json_(), RawJSON('{"a": [1, 2.50]}'), json_(), RawJSON('{"a": [1, 2.50]}')),
    (json_(), RawJSON('"::ffff:10.0.0.1"'), ip(), "::ffff:10.0.0.1"),
    (json_(), RawJSON("[1.0, 2.0]"), array_(int_(32)), [1, 2]),
    (json_(), RawJSON("6.0"), array_(int_(32)), [6]),
    (json_(), RawJSON('"foo"'), array_(string()), ["foo"]),
    (json_(), RawJSON('[1, "a", null]'), array_(json_()), [RawJSON("1"), RawJSON('"a"'), RawJSON("null")]),
    (json_(), RawJSON('{"@": 7, "a": 8, "b": null}'), CX, {"a": "8", "b": None}),
    (json_(), RawJSON('{"a": 1, "b": 2.0}'), map_(int_(32)), {"a": 1, "b": 2}),
    (json_(), RawJSON('{"a": null}'), map_(json_()), {"a": RawJSON("null")}),
    # array ->
    (array_(string()), ["1", "2"], array_(int_(32)), [1, 2]),
    (array_(int_(32)), [1, 2], array_(string()), ["1", "2"]),
    (array_(string()), ["a", "b"], array_(string(), unique_elements=True), ["a", "b"]),
    (array_(string()), ["a", "b"], array_(string(), min_elements=2, max_elements=2), ["a", "b"]),
    (array_(datetime_()), [datetime(2023, 7, 8, 13, 38, 23, tzinfo=UTC)], array_(date_()), [date(2023, 7, 8)]),
    (array_(string()), ["a", "b"], json_(), RawJSON('["a","b"]')),
    (array_(datetime_()), [datetime(2023, 7, 8, 13, 38, 23, tzinfo=UTC)], json_(), RawJSON('["2023-07-08T13:38:23Z"]')),
    # object ->
    (object_type(Property("a", string()), Property("z", int_(32))), {"a": "1", "z": 5},
     object_type(Property("a", int_(32)), Property("c", string())), {"a": 1}),
    (object_type(Property("a", string(), nullable=True)), {"a": None},
     object_type(Property("a", string(), nullable=True)), {"a": None}),
    (object_type(Property("a", int_(32)), Property("b", int_(32))), {"a": 1, "b": 2}, map_(string()), {"a": "1", "b": "2"}),
    (object_type(Property("b", string(), nullable=True), Property("a", int_(32))), {"b": None, "a": 1},
     json_(), RawJSON('{"a":1,"b":null}')),
    # map ->
    (map_(int_(32)), {"a": 1, "z": 2}, object_type(Property("a", string()), Property("b", string())), {"a": "1"}),
    (map_(int_(32)), {"a": 1, "z": 2}, map_(string()), {"a": "1", "z": "2"}),
    (map_(int_(32)), {"z": 1, "a": 2}, json_(), RawJSON('{"a":2,"z":1}')),
]


@pytest.mark.parametrize("src, value, dst, expected", SUCCESS)
def test_conversion_success(src, value, dst, expected):
    result = run("v", dst, {"v": value}, v=src)
    if isinstance(expected, float) and math.isnan(expected):
        assert math.isnan(result)
    else:
        assert result == expected
        assert type(result) is type(expected)


def test_nan_string_into_a_non_real_float():
    assert math.isnan(run("v", float_(64), {"v": "NaN"}, v=string()))


# --------------------------------------------------------------------------- failures

def not_convertible(t):
    return f"«v» is not convertible to the «{t}» type while mapping to «x»"


def not_a_value(t):
    return f"number «v» is not a «{t}» value while mapping to «x»"


def less(bound):
    return f"number «v» is less than {bound} while mapping to «x»"


def greater(bound):
    return f"number «v» is greater than {bound} while mapping to «x»"


def unparsable(what):
    return f"«v» is not parsable as {what} while mapping to «x»"


YEAR_RANGE = "year of «v» is not in range [1,9999] while mapping to «x»"
DT, D, T = "a date time in ISO 8601 format", "a date in ISO 8601 format", "a time in ISO 8601 format"

FAILURE = [
    # string ->
    (string(), "abc", string(max_length=2), "«v» exceeds the 2-char limit while mapping to «x»"),
    (string(), "héé", string(max_bytes=3), "«v» exceeds the 3-byte limit while mapping to «x»"),
    (string(), "c", string(values=["a", "b"]), "«v» is not one of the allowed values while mapping to «x»"),
    (string(), "ba", string(pattern="^a"), "«v» does not match «/^a/» while mapping to «x»"),
    (string(), "x", string(pattern="o/o$"), "«v» does not match «/o\\/o$/» while mapping to «x»"),
    (string(), "tRue", boolean(), not_convertible("boolean")),
    (string(), "1", boolean(), not_convertible("boolean")),
    (string(), "1.0", int_(32), not_convertible("int(32)")),
    (string(), " 5", int_(32), not_convertible("int(32)")),
    (string(), "1_000", int_(32), not_convertible("int(32)")),
    (string(), "٣", int_(32), not_convertible("int(32)")),
    (string(), "-1", int_(8, unsigned=True), not_convertible("int(8)")),
    (string(), "+1", int_(8, unsigned=True), not_convertible("int(8)")),
    (string(), "99999999999999999999", int_(32), not_a_value("int(32)")),
    (string(), "9223372036854775808", int_(64), not_a_value("int(64)")),
    (string(), "3000000000", int_(32), greater("2147483647")),
    (string(), "-3000000000", int_(32), less("-2147483648")),
    (string(), "300", int_(8), greater("127")),
    (string(), "256", int_(8, unsigned=True), greater("255")),
    (string(), "5", int_(32, minimum=10, maximum=20), less("10")),
    (string(), "abc", float_(64), not_convertible("float(64)")),
    (string(), "0x1p3", float_(64), not_convertible("float(64)")),
    (string(), "1e400", float_(64), not_a_value("float(64)")),
    (string(), "1e39", float_(32), not_a_value("float(32)")),
    (string(), "NaN", float_(64, real=True), not_a_value("float(64)")),
    (string(), "Inf", float_(64, real=True), not_a_value("float(64)")),
    (string(), "11", float_(64, maximum=10), greater("10")),
    (string(), "-0.5", float_(32, minimum=0), less("0")),
    (string(), "1.2345", decimal(10, 3), not_a_value("decimal(10,3)")),
    (string(), "123456789", decimal(10, 3), not_a_value("decimal(10,3)")),
    (string(), "abc", decimal(10, 3), not_convertible("decimal(10,3)")),
    (string(), "-1", decimal(10, 3, minimum=0), less("0")),
    (string(), "5.5", decimal(10, 3, maximum=Decimal("5.25")), greater("5.25")),
    (string(), "2023-05-24 09:01:57Z", datetime_(), unparsable(DT)),
    (string(), "2023-05-24T09:01:57", datetime_(), unparsable(DT)),
    (string(), "2023-05-24t09:01:57z", datetime_(), unparsable(DT)),
    (string(), "2023-02-30T00:00:00Z", datetime_(), unparsable(DT)),
    (string(), "2023-05-24T24:00:00Z", datetime_(), unparsable(DT)),
    (string(), "0000-01-01T00:00:00Z", datetime_(), YEAR_RANGE),
    (string(), "9999-12-31T23:00:00-05:00", datetime_(), YEAR_RANGE),
    (string(), "0001-01-01T00:00:00+01:00", datetime_(), YEAR_RANGE),
    (string(), "2023-13-01", date_(), unparsable(D)),
    (string(), "2000-02-30", date_(), unparsable(D)),
    (string(), "13/01/2023", date_(), unparsable(D)),
    (string(), "05/24.2023", date_(), unparsable(D)),
    (string(), "0000-01-01", date_(), YEAR_RANGE),
    (string(), "23-05-24", date_(), unparsable(D)),  # [BUG] fixed: 8-char forms are rejected
    (string(), "05/24/23", date_(), unparsable(D)),
    (string(), "05.24.23", date_(), unparsable(D)),
    (string(), "060", date_(), unparsable(D)),  # the Lotus 1900-02-29
    (string(), "12", date_(), unparsable(D)),
    (string(), "1.2.3", date_(), unparsable(D)),
    (string(), "99999999", date_(), YEAR_RANGE),
    (string(), "abc", date_(), unparsable(D)),
    (string(), "24:00:00", time_(), unparsable(T)),
    (string(), "12:60:00", time_(), unparsable(T)),
    (string(), "9:01:57", time_(), unparsable(T)),
    (string(), "09:01", time_(), unparsable(T)),
    (string(), "0", year(), YEAR_RANGE),
    (string(), "10000", year(), YEAR_RANGE),
    (string(), "0123", year(), not_convertible("year")),
    (string(), "-5", year(), not_convertible("year")),
    (string(), "20a3", year(), not_convertible("year")),
    (string(), "f81d4fae-7dec-11d0-a765-00a0c91e6bf", uuid_(), unparsable("a UUID")),
    (string(), "f81d4fae_7dec_11d0_a765_00a0c91e6bf6", uuid_(), unparsable("a UUID")),
    (string(), "urn:uuix:f81d4fae-7dec-11d0-a765-00a0c91e6bf6", uuid_(), unparsable("a UUID")),
    (string(), "10.0.0.0/8", ip(), unparsable("an IP address")),
    (string(), "010.0.0.1", ip(), unparsable("an IP address")),
    (string(), "example.com", ip(), unparsable("an IP address")),
    # boolean ->
    (boolean(), True, int_(8, minimum=5), less("5")),
    (boolean(), False, string(values=["true"]), "«v» is not one of the allowed values while mapping to «x»"),
    # any kind -> a constrained string
    (int_(32), 12345, string(max_length=3), "«v» exceeds the 3-char limit while mapping to «x»"),
    (float_(64), 1.5, string(pattern="^[0-9]+$"), "«v» does not match «/^[0-9]+$/» while mapping to «x»"),
    (decimal(4, 3), Decimal("0.142"), string(max_bytes=4), "«v» exceeds the 4-byte limit while mapping to «x»"),
    (datetime_(), datetime(2023, 1, 2, tzinfo=UTC), string(pattern="T00:00:01"),
     "«v» does not match «/T00:00:01/» while mapping to «x»"),
    (date_(), date(2023, 1, 2), string(max_length=4), "«v» exceeds the 4-char limit while mapping to «x»"),
    (time_(), time(9, 1, 57), string(max_length=5), "«v» exceeds the 5-char limit while mapping to «x»"),
    (year(), 2023, string(values=["2022"]), "«v» is not one of the allowed values while mapping to «x»"),
    (uuid_(), "f81d4fae-7dec-11d0-a765-00a0c91e6bf6", string(max_length=8), "«v» exceeds the 8-char limit while mapping to «x»"),
    (ip(), "10.0.0.1", string(pattern="^192"), "«v» does not match «/^192/» while mapping to «x»"),
    # year ->
    (year(), 2023, int_(8), greater("127")),
    (year(), 2023, int_(16, maximum=2000), greater("2000")),
    # int ->
    (int_(64), 300, int_(8), greater("127")),
    (int_(64), -200, int_(8), less("-128")),
    (int_(32), -1, int_(8, unsigned=True), not_a_value("int(8)")),
    (int_(32), 25, int_(32, minimum=10, maximum=20), greater("20")),
    (int_(64, unsigned=True), 9223372036854775808, int_(64), not_a_value("int(64)")),
    (int_(32), 11, float_(64, maximum=10), greater("10")),
    (int_(32), 1234, decimal(5, 2), not_a_value("decimal(5,2)")),
    (int_(32), 0, year(), YEAR_RANGE),
    (int_(32), 10000, year(), YEAR_RANGE),
    # float ->
    (float_(64), math.nan, int_(32), not_a_value("int(32)")),
    (float_(64), 1e19, int_(64), not_a_value("int(64)")),
    (float_(64), -1e19, int_(64), not_a_value("int(64)")),
    (float_(64), 3e9, int_(32), greater("2147483647")),
    (float_(64), -1.0, int_(32, unsigned=True), not_a_value("int(32)")),
    (float_(64), 1e300, float_(32), not_a_value("float(32)")),
    (float_(64), math.nan, float_(64, real=True), not_a_value("float(64)")),
    (float_(64), 2.5, float_(64, minimum=3), less("3")),
    (float_(64), math.nan, decimal(10, 2), not_a_value("decimal(10,2)")),
    (float_(64), math.inf, decimal(10, 2), not_a_value("decimal(10,2)")),
    (float_(64), 1e10, decimal(5, 2), not_a_value("decimal(5,2)")),
    (float_(64), 999.996, decimal(5, 2), not_a_value("decimal(5,2)")),
    (float_(64), math.nan, json_(), not_convertible("json")),
    # decimal ->
    (decimal(10, 3), Decimal("12.5"), int_(32), not_a_value("int(32)")),
    (decimal(12, 0), Decimal("3000000000"), int_(32), greater("2147483647")),
    (decimal(30, 0), Decimal("99999999999999999999"), int_(64), not_a_value("int(64)")),
    (decimal(10, 3), Decimal("-1"), int_(8, unsigned=True), not_a_value("int(8)")),
    (decimal(10, 5), Decimal("1.23456"), decimal(10, 2), not_a_value("decimal(10,2)")),  # [BUG] fixed
    (decimal(10, 1), Decimal("12345678.5"), decimal(5, 2), not_a_value("decimal(5,2)")),
    (decimal(10, 1), Decimal("-2.5"), decimal(10, 1, minimum=0), less("0")),
    (decimal(10, 3), Decimal("1.5"), float_(64, maximum=1), greater("1")),
    # json ->
    (json_(), RawJSON("[1]"), string(), not_convertible("string")),
    (json_(), RawJSON('{"a":1}'), string(), not_convertible("string")),
    (json_(), RawJSON('"abc"'), string(max_length=2), "«v» exceeds the 2-char limit while mapping to «x»"),
    (json_(), RawJSON('"true"'), boolean(), not_convertible("boolean")),
    (json_(), RawJSON("1"), boolean(), not_convertible("boolean")),
    (json_(), RawJSON("1e2"), int_(32), not_convertible("int(32)")),
    (json_(), RawJSON("12.5"), int_(32), not_convertible("int(32)")),
    (json_(), RawJSON('"12"'), int_(32), not_convertible("int(32)")),
    (json_(), RawJSON("3000000000"), int_(32), greater("2147483647")),
    (json_(), RawJSON("99999999999999999999"), int_(64), not_a_value("int(64)")),
    (json_(), RawJSON("-1"), int_(8, unsigned=True), not_a_value("int(8)")),
    (json_(), RawJSON('"1.5"'), float_(64), not_convertible("float(64)")),
    (json_(), RawJSON("1e400"), float_(64), not_a_value("float(64)")),
    (json_(), RawJSON("1.2345"), decimal(10, 3), not_a_value("decimal(10,3)")),
    (json_(), RawJSON('"1"'), decimal(10, 3), not_convertible("decimal(10,3)")),
    (json_(), RawJSON("5"), datetime_(), not_convertible("datetime")),
    (json_(), RawJSON('"20231017"'), datetime_(), unparsable(DT)),
    (json_(), RawJSON('"+20231"'), datetime_(), unparsable(DT)),
    (json_(), RawJSON('"2020T10"'), datetime_(), unparsable(DT)),
    (json_(), RawJSON('"2023-10T10:20"'), datetime_(), unparsable(DT)),
    (json_(), RawJSON('"9999-12-31T23:00:00-05:00"'), datetime_(), YEAR_RANGE),
    (json_(), RawJSON('"10:20:30"'), datetime_(), unparsable(DT)),
    (json_(), RawJSON('"2023-10-17T24:00:00Z"'), datetime_(), unparsable(DT)),
    (json_(), RawJSON('"2023-10-17T10:20:30z"'), datetime_(), unparsable(DT)),
    (json_(), RawJSON('"2023-10-17T10:20:30-00:00"'), datetime_(), unparsable(DT)),
    (json_(), RawJSON('"2023-10-17T10:20:30.1234567891Z"'), datetime_(), unparsable(DT)),
    (json_(), RawJSON('"2023-W42"'), datetime_(), unparsable(DT)),
    (json_(), RawJSON('"2023-366"'), datetime_(), unparsable(DT)),
    (json_(), RawJSON('"0000-01-01"'), datetime_(), YEAR_RANGE),
    (json_(), RawJSON('"2023-10-17T00:00:00Z"'), date_(), unparsable(D)),
    (json_(), RawJSON('"10/17/2023"'), date_(), unparsable(D)),
    (json_(), RawJSON('"0000-01-01"'), date_(), YEAR_RANGE),
    (json_(), RawJSON("5"), date_(), not_convertible("date")),
    (json_(), RawJSON('"x"'), time_(), unparsable(T)),
    (json_(), RawJSON("5"), time_(), not_convertible("time")),
    (json_(), RawJSON("0"), year(), YEAR_RANGE),
    (json_(), RawJSON('"2023"'), year(), not_convertible("year")),
    (json_(), RawJSON('"x"'), uuid_(), unparsable("a UUID")),
    (json_(), RawJSON("5"), uuid_(), not_convertible("uuid")),
    (json_(), RawJSON('"x"'), ip(), unparsable("an IP address")),
    (json_(), RawJSON("5"), ip(), not_convertible("ip")),
    (json_(), RawJSON("{}"), array_(int_(32)), not_convertible("array(int(32))")),
    (json_(), RawJSON('[1, "a"]'), array_(int_(32)), not_convertible("int(32)")),
    (json_(), RawJSON("[1, null]"), array_(int_(32)), not_convertible("int(32)")),
    (json_(), RawJSON("[1]"), array_(int_(32), min_elements=2), not_convertible("array(int(32))")),
    (json_(), RawJSON("1"), array_(int_(32), max_elements=0), not_convertible("array(int(32))")),
    (json_(), RawJSON("[1, 1.0]"), array_(int_(32), unique_elements=True), not_convertible("array(int(32))")),
    (json_(), RawJSON("[1]"), CX, not_convertible("object")),
    (json_(), RawJSON('{"a": null}'), CX, not_convertible("string")),
    (json_(), RawJSON("[1]"), map_(int_(32)), not_convertible("map(int(32))")),
    (json_(), RawJSON('{"a": null}'), map_(int_(32)), not_convertible("int(32)")),
    # array ->
    (array_(string()), ["x"], array_(int_(32)), not_convertible("int(32)")),
    (array_(string()), ["a", "a"], array_(string(), unique_elements=True), not_convertible("array(string)")),
    (array_(string()), ["a"], array_(string(), min_elements=2), not_convertible("array(string)")),
    (array_(string()), ["a", "b", "c"], array_(string(), max_elements=2), not_convertible("array(string)")),
    (array_(string()), ["abc"], array_(string(max_length=2)), "«v» exceeds the 2-char limit while mapping to «x»"),
    # object ->
    (object_type(Property("a", string(), nullable=True)), {"a": None},
     object_type(Property("a", string())), not_convertible("string")),
    (object_type(Property("a", string())), {"a": "x"},
     object_type(Property("a", int_(32))), not_convertible("int(32)")),
    (object_type(Property("a", string(), nullable=True)), {"a": None}, map_(string()), not_convertible("string")),
    # map ->
    (map_(string()), {"a": "x"}, map_(int_(32)), not_convertible("int(32)")),
    (map_(string()), {"a": "x"}, object_type(Property("a", int_(32))), not_convertible("int(32)")),
]


@pytest.mark.parametrize("src, value, dst, message", FAILURE)
def test_conversion_failure(src, value, dst, message):
    assert run_error("v", dst, {"v": value}, v=src) == (message, "OutputValidation")


@pytest.mark.parametrize("src, dst, message", [
    (array_(datetime_()), array_(boolean()), "cannot convert expression (type array(datetime)) to array(boolean)"),
    (object_type(Property("a", string())), object_type(Property("b", string())),
     "cannot convert expression (type object) to object"),
    (object_type(Property("a", array_(string()))), object_type(Property("a", string())),
     "cannot convert expression (type object) to object"),
    (object_type(Property("a", array_(string()))), map_(string()), "cannot convert expression (type object) to map(string)"),
    (map_(array_(string())), object_type(Property("a", string())), "cannot convert expression (type map(array(string))) to object"),
    (map_(boolean()), map_(int_(32)), "cannot convert expression (type map(boolean)) to map(int(32))"),
    (array_(string()), array_(array_(string())), "cannot convert expression (type array(string)) to array(array(string))"),
])
def test_container_pairs_that_do_not_compile(src, dst, message):
    assert compile_error("v", dst, v=src) == message


def test_nested_object_nullability_is_kept():
    dst = object_type(Property("a", string(), nullable=True), Property("b", int_(32)))
    src = object_type(Property("a", string(), nullable=True), Property("b", string()))
    assert run("v", dst, {"v": {"a": None, "b": "2"}}, v=src) == {"a": None, "b": 2}
    assert run("v", dst, {"v": {"b": "2"}}, v=src) == {"b": 2}


def test_unique_elements_accept_distinct_values():
    # [BUG] fixed: Krenalis compared each element with itself, failing every non-empty array.
    assert run("v", array_(int_(32), unique_elements=True), {"v": ["1", "2"]}, v=array_(string())) == [1, 2]


def test_float32_bounds_and_rounding():
    assert run("v", float_(32), {"v": 0.1}, v=float_(64)) == 0.10000000149011612
    assert run_error("v", float_(32, real=True), {"v": math.inf}, v=float_(64)) == (
        not_a_value("float(32)"), "OutputValidation")


def test_mapping_error_is_a_value_error():
    assert issubclass(MappingError, ValueError)
