"""The 18 functions (§3.5): results, null behaviour, arity and type errors, run-time coercions."""

from datetime import date, datetime, time, timezone
from decimal import Decimal

import pytest

from pipelines.mapping import FUNCTIONS
from pipelines.types import (
    Property, RawJSON, array_, boolean, date_, datetime_, decimal, float_, int_, ip, json_, map_,
    object_type, string, time_, uuid_, year,
)

from .helpers import compile_error, run, run_error, schema

UTC = timezone.utc
INPUTS = schema(
    s=string(), s2=string(), n=int_(32), n64=int_(64), n8=int_(8), b=boolean(), f=float_(64), d=decimal(10, 3),
    j=json_(), j2=json_(), tags=array_(string()), m=map_(int_(32)),
    o=object_type(Property("a", int_(32)), Property("b", string())), dt=datetime_(), dd=date_(),
    tt=time_(), y=year(), u=uuid_(), addr=ip(),
)


def ev(expression, destination=None, **record):
    return run(expression, destination or string(), record, inputs=INPUTS)


def err(expression, destination=None, **record):
    return run_error(expression, destination or string(), record, inputs=INPUTS)


def cerr(expression, destination=None):
    return compile_error(expression, destination or string(), inputs=INPUTS)


def test_there_are_eighteen_functions():
    assert sorted(FUNCTIONS) == [
        "and", "array", "coalesce", "eq", "if", "initcap", "json_parse", "len", "lower", "ltrim",
        "map", "ne", "not", "or", "rtrim", "substring", "trim", "upper"]


# --------------------------------------------------------------------------- arity

@pytest.mark.parametrize("expression, message", [
    ("and(true)", "'and' function requires at least two argument"),
    ("and()", "'and' function requires at least two argument"),
    ("or(true)", "'or' function requires at least two argument"),
    ("coalesce()", "'coalesce' function requires at least one argument"),
    ("eq(1)", "'eq' function requires two arguments"),
    ("eq(1, 2, 3)", "'eq' function requires two arguments"),
    ("ne(1)", "'ne' function requires two arguments"),
    ("if(true)", "'if' function requires either two or three arguments"),
    ("if(true, 1, 2, 3)", "'if' function requires either two or three arguments"),
    *[(f"{name}()", f"'{name}' function requires a single argument") for name in
      ("initcap", "json_parse", "len", "lower", "ltrim", "not", "rtrim", "trim", "upper")],
    *[(f"{name}('a', 'b')", f"'{name}' function requires a single argument") for name in
      ("initcap", "json_parse", "len", "lower", "ltrim", "not", "rtrim", "trim", "upper")],
    ("substring('a')", "'substring' function requires two or three arguments"),
    ("substring('a', 1, 2, 3)", "'substring' function requires two or three arguments"),
    ("map('a')", "'map' function requires an even number of arguments"),
    ("map('a', 1, 'b')", "'map' function requires an even number of arguments"),
])
def test_arity_errors(expression, message):
    assert cerr(expression, json_()) == message


# --------------------------------------------------------------------------- and / or / not

T, F, N = "true", "false", "null"


@pytest.mark.parametrize("args, expected", [
    ((T, T), True), ((T, F), False), ((F, T), False), ((F, F), False),
    ((T, N), None), ((N, T), None), ((N, N), None), ((F, N), False), ((N, F), False),
    ((T, T, T), True), ((T, N, F), False), ((T, T, N), None),
    (("'yes'", "'TRUE'"), True), (("'no'", T), False),
])
def test_and(args, expected):
    assert ev(f"and({', '.join(args)})", boolean()) == expected


@pytest.mark.parametrize("args, expected", [
    ((T, T), True), ((T, F), True), ((F, T), True), ((F, F), False),
    ((T, N), True), ((N, T), True), ((N, N), None), ((F, N), None), ((N, F), None),
    ((F, F, F), False), ((F, N, T), True), ((F, F, N), None),
    (("'No'", "'YES'"), True),
])
def test_or(args, expected):
    assert ev(f"or({', '.join(args)})", boolean()) == expected


def test_and_or_with_paths_and_coercions():
    assert ev("and(s, b)", boolean(), s="yes", b=True) is True
    assert ev("and(n8, b)", boolean(), n8=0, b=True) is False
    assert ev("or(j, b)", boolean(), j=RawJSON("true"), b=False) is True
    assert ev("and(s, b)", boolean(), s="", b=True) is None  # "" converts to null
    assert ev("or(j, b)", boolean(), j=RawJSON("null"), b=False) is None


@pytest.mark.parametrize("expression, message", [
    ("and(s, true)", "«s» (type string) does not represent a boolean when passed to the «and» function"),
    ("or(false, s)", "«s» (type string) does not represent a boolean when passed to the «or» function"),
    ("not(s)", "«s» (type string) does not represent a boolean when passed to the «not» function"),
    ("if(s, 'a')", "«s» (type string) does not represent a boolean when passed to the «if» function"),
])
def test_boolean_arguments_from_strings(expression, message):
    assert err(expression, string(), s="maybe") == (f"{message} while mapping to «x»", "Transformation")


@pytest.mark.parametrize("value, kind", [
    ('"true"', "JSON string"), ("1", "JSON number"), ("[true]", "JSON array"), ('{"a":1}', "JSON object"),
])
def test_boolean_arguments_from_json(value, kind):
    assert err("if(j, 'a')", string(), j=RawJSON(value)) == (
        f"«j», of type {kind}, cannot be passed as boolean to the «if» function while mapping to «x»",
        "Transformation")


@pytest.mark.parametrize("expression, message", [
    ("and(tags, true)", "cannot convert tags (type array(string)) to boolean"),
    ("or(true, n)", "cannot convert n (type int(32)) to boolean"),
    ("not(dt)", "cannot convert dt (type datetime) to boolean"),
    ("if(f, 1)", "cannot convert f (type float(64)) to boolean"),
    ("and(true, 'maybe')", '"maybe" is not convertible to the boolean type'),
    ("and(true, 1)", "1 is not convertible to the boolean type"),
    ("not('')", '"" is not convertible to the boolean type'),
])
def test_boolean_argument_type_errors(expression, message):
    assert cerr(expression, boolean()) == message


@pytest.mark.parametrize("expression, expected", [
    ("not(true)", False), ("not(false)", True), ("not(null)", None), ("not('false')", True),
    ("not('YES')", False), ("not(not(true))", True),
])
def test_not(expression, expected):
    assert ev(expression, boolean()) == expected


def test_not_paths_and_destination_typing():
    assert ev("not(b)", boolean(), b=True) is False
    assert ev("not(b)", boolean()) is None
    assert ev("not(n8)", boolean(), n8=3) is False
    assert ev("not(b)", string(), b=False) == "true"
    # The result is typed as the destination: this compiles and fails for every record.
    assert err("not(b)", int_(32), b=True) == (
        "«not(b)» is not convertible to the «int(32)» type while mapping to «x»", "OutputValidation")


# --------------------------------------------------------------------------- if

@pytest.mark.parametrize("expression, expected", [
    ("if(true, 1, 2)", 1), ("if(false, 1, 2)", 2), ("if(null, 1, 2)", 2), ("if(false, 1)", None),
    ("if(true, 1)", 1), ("if('yes', '7', 2)", 7), ("if(true, null, 2)", None),
])
def test_if(expression, expected):
    assert ev(expression, int_(32)) == expected


def test_if_with_paths():
    assert ev("if(b, s, s2)", string(), b=True, s="a", s2="b") == "a"
    assert ev("if(b, s, s2)", string(), b=None, s="a", s2="b") == "b"
    assert ev("if(b, n, s)", string(), b=True, n=5, s="x") == "5"
    assert ev("if(b, n, s)", int_(32), b=False, n=5, s="12") == 12
    assert ev("if(b, n, s)", int_(32), b=False, n=5, s="") is None
    assert ev("if(b, n, 'x')", string(), b=False, n=5) == "x"
    assert ev("if(eq(n, 1), 'one', 'other')", string(), n=1) == "one"


@pytest.mark.parametrize("expression, destination, message", [
    ("if(true, tags, 1)", int_(32), "cannot convert tags (type array(string)) to int(32)"),
    ("if(true, 1, dt)", int_(32), "cannot convert dt (type datetime) to int(32)"),
    ("if(true, 'x')", int_(32), '"x" is not convertible to the int(32) type'),
    ("if(tags, 1)", int_(32), "cannot convert tags (type array(string)) to boolean"),
])
def test_if_type_errors(expression, destination, message):
    assert cerr(expression, destination) == message


# --------------------------------------------------------------------------- eq / ne

@pytest.mark.parametrize("expression, expected", [
    ("eq(1, '1')", True), ("ne('2', 1)", True), ("eq(1, 2)", False), ("ne(1, 1)", False),
    ("eq('a', 'a')", True), ("eq('a', 'A')", False),
    ("eq('yes', true)", True), ("eq(true, 'yes')", False),  # the first is converted to the second's type
    ("eq(null, 1)", None), ("ne(1, null)", None), ("eq(null, null)", None),
    ("eq('a', 1)", False), ("ne('a', 1)", True),  # a failed conversion means "different"
    ("eq(1.5, 1.50)", True), ("eq(1, 1.0)", True), ("eq(1, 1.5)", False),
])
def test_eq_ne(expression, expected):
    assert ev(expression, boolean()) == expected


def test_eq_with_wide_int_literals():
    assert ev("eq(n64, 3000000000)", boolean(), n64=3000000000) is True
    assert ev("eq(3000000000, n64)", boolean(), n64=3000000000) is True


def test_eq_ne_with_paths():
    assert ev("eq(n, s)", boolean(), n=5, s="5") is True
    assert ev("eq(s, n)", boolean(), n=5, s="05") is True
    assert ev("eq(n, s)", boolean(), n=5, s="05") is False
    assert ev("eq(n, s)", boolean(), n=5) is None
    assert ev("eq(dt, dd)", boolean(), dt=datetime(2023, 1, 2, tzinfo=UTC), dd=date(2023, 1, 2)) is True
    assert ev("eq(j, j2)", boolean(), j=RawJSON('{"a": [1, 2.0]}'), j2=RawJSON('{"a":[1.0,2]}')) is True
    assert ev("ne(j, j2)", boolean(), j=RawJSON('{"a": 1}'), j2=RawJSON('{"a": 2}')) is True
    assert ev("eq(j, 1)", boolean(), j=RawJSON("null")) is None
    assert ev("eq(tags, tags)", boolean(), tags=["a"]) is True


@pytest.mark.parametrize("expression, message", [
    ("eq(tags, 1)", "first argument of 'eq(...)' is not convertible to the type of the second"),
    ("ne(dt, b)", "first argument of 'ne(...)' is not convertible to the type of the second"),
    ("eq(1, tags)", "first argument of 'eq(...)' is not convertible to the type of the second"),
    ("eq(dt, tt)", "second argument of 'eq(...)' is not convertible to the type of the first"),
])
def test_eq_type_errors(expression, message):
    assert cerr(expression, boolean()) == message


# --------------------------------------------------------------------------- coalesce

def test_coalesce():
    assert ev("coalesce(null, 'a')") == "a"
    assert ev("coalesce(s, s2, 'c')", s=None, s2="b") == "b"
    assert ev("coalesce(s, s2)") is None
    assert ev("coalesce(s)", s="x") == "x"
    assert ev("coalesce(j, 'd')", j=RawJSON("null")) == "d"  # a JSON null counts as null
    assert ev("coalesce(n, s)", int_(32), n=None, s="7") == 7
    assert ev("coalesce(n, 'x')", string(), n=3) == "3"
    # The first non-null value is chosen, then converted: "" becomes null into an int.
    assert ev("coalesce(s, n)", int_(32), s="", n=5) is None
    assert ev("'Afterburner: ' coalesce(s, 'no afterburner')") == "Afterburner: no afterburner"
    assert ev("len(coalesce(s, n))", int_(32), n=1234) == 4


@pytest.mark.parametrize("expression, destination, message", [
    ("coalesce(tags, 'x')", string(), "cannot convert tags (type array(string)) to string"),
    ("coalesce(b)", int_(32), "cannot convert b (type boolean) to int(32)"),
    ("coalesce(n, 'x')", int_(32), '"x" is not convertible to the int(32) type'),
])
def test_coalesce_type_errors(expression, destination, message):
    assert cerr(expression, destination) == message


# --------------------------------------------------------------------------- len

@pytest.mark.parametrize("expression, record, expected", [
    ("len(s)", {}, 0),
    ("len(null)", {}, 0),
    ("len('Hello World')", {}, 11),
    ("len(s)", {"s": "héllo"}, 5),
    ("len(true)", {}, 4),
    ("len(false)", {}, 5),
    ("len(b)", {"b": False}, 5),
    ("len(-12)", {}, 3),
    ("len(n)", {"n": 7000}, 4),
    ("len(f)", {"f": 1e6}, 5),
    ("len(f)", {"f": 1.5}, 3),
    ("len(1.25)", {}, 4),
    ("len(d)", {"d": Decimal("0.142")}, 5),
    ("len(dt)", {"dt": datetime(2023, 1, 2, 3, 4, 5, 600000, tzinfo=UTC)}, 20),
    ("len(dd)", {"dd": date(2023, 1, 2)}, 10),
    ("len(tt)", {"tt": time(9, 1, 57)}, 8),
    ("len(tt)", {"tt": time(9, 1, 57, 500000)}, 10),
    ("len(y)", {"y": 2023}, 4),
    ("len(u)", {"u": "f81d4fae-7dec-11d0-a765-00a0c91e6bf6"}, 36),
    ("len(addr)", {"addr": "1.2.3.4"}, 7),
    ("len(j)", {"j": RawJSON("null")}, 0),
    ("len(j)", {"j": RawJSON("12.50")}, 5),
    ("len(j)", {"j": RawJSON("true")}, 4),
    ("len(j)", {"j": RawJSON("false")}, 5),
    ("len(j)", {"j": RawJSON('"héllo"')}, 5),
    ("len(j)", {"j": RawJSON('{"a":1,"b":{"c":2}}')}, 2),
    ("len(j)", {"j": RawJSON("[1,2,3]")}, 3),
    ("len(tags)", {"tags": ["a", "b"]}, 2),
    ("len(o)", {"o": {"a": 1, "b": "x"}}, 2),
    ("len(m)", {"m": {"x": 1}}, 1),
    ("len(s 'abc')", {"s": "é"}, 4),
    ("len(array(1, 2))", {}, 2),
])
def test_len(expression, record, expected):
    assert ev(expression, int_(32), **record) == expected


# --------------------------------------------------------------------------- lower / upper / initcap

@pytest.mark.parametrize("expression, record, expected", [
    ("upper('hello')", {}, "HELLO"),
    ("upper(false)", {}, "FALSE"),
    ("upper(s)", {"s": "straße"}, "STRAßE"),  # simple case mapping: ß stays
    ("upper(s)", {"s": "élan"}, "ÉLAN"),
    ("upper(s)", {}, None),
    ("upper(n)", {"n": 5}, "5"),
    ("upper(j)", {"j": RawJSON('"abc"')}, "ABC"),
    ("upper(j)", {"j": RawJSON("null")}, None),
    ("lower('HeLLo')", {}, "hello"),
    ("lower(s)", {"s": "ÀÉ"}, "àé"),
    ("lower(s)", {"s": "İ"}, "i"),
    ("lower(s)", {}, None),
    ("lower(dd)", {"dd": date(2023, 1, 2)}, "2023-01-02"),
    ("initcap('neW YORK')", {}, "NeW YORK"),
    ("initcap(' new york ')", {}, " New York "),
    ("initcap(true)", {}, "True"),
    ("initcap(s)", {"s": "o'neil"}, "O'Neil"),
    ("initcap(s)", {"s": "a_b"}, "A_b"),
    ("initcap(s)", {"s": "a-b.c,d"}, "A-B.C,D"),
    ("initcap(s)", {"s": "élan vital"}, "Élan Vital"),
    ("initcap(s)", {"s": "x\u3000y"}, "X\u3000Y"),
    ("initcap(s)", {"s": "1st place"}, "1st Place"),
    ("initcap(s)", {}, None),
])
def test_case_functions(expression, record, expected):
    assert ev(expression, string(), **record) == expected


def test_case_functions_are_typed_as_the_destination():
    assert ev("upper(s)", int_(32), s="42") == 42
    assert ev("lower(s)", boolean(), s="TRUE") is True


@pytest.mark.parametrize("function", ["upper", "lower", "initcap", "trim", "ltrim", "rtrim"])
@pytest.mark.parametrize("value, kind", [("[1]", "array"), ('{"a":1}', "object")])
def test_string_arguments_from_json(function, value, kind):
    assert err(f"{function}(j)", string(), j=RawJSON(value)) == (
        f"«j» (a JSON {kind}) cannot be converted to a string value to be passed to the «{function}» function"
        " while mapping to «x»", "Transformation")


@pytest.mark.parametrize("function", ["upper", "lower", "initcap", "trim", "ltrim", "rtrim", "json_parse"])
def test_string_argument_type_errors(function):
    assert cerr(f"{function}(tags)") == "cannot convert tags (type array(string)) to string"
    assert cerr(f"{function}(m)") == "cannot convert m (type map(int(32))) to string"


# --------------------------------------------------------------------------- trim

@pytest.mark.parametrize("expression, record, expected", [
    ("trim('  a b  ')", {}, "a b"),
    ("ltrim('  a b  ')", {}, "a b  "),
    ("rtrim('  a b  ')", {}, "  a b"),
    ("trim(55)", {}, "55"),
    ("trim(s)", {"s": "\t\n\u00a0x\u3000\u2028"}, "x"),
    ("trim(s)", {"s": "\x1cx"}, "\x1cx"),  # not Unicode white space
    ("trim(s)", {}, None),
    ("ltrim(s)", {}, None),
    ("rtrim(s)", {}, None),
    ("trim(j)", {"j": RawJSON('" j "')}, "j"),
])
def test_trim(expression, record, expected):
    assert ev(expression, string(), **record) == expected


def test_trim_result_is_a_string():
    assert ev("trim(s)", int_(32), s=" 42 ") == 42
    assert cerr("trim(s)", array_(string())) == "cannot convert expression (type string) to array(string)"
    # upper() is typed as its destination, so this compiles and fails for every record.
    assert err("upper(s)", array_(string()), s="a") == (
        "«upper(s)» is not convertible to the «array(string)» type while mapping to «x»", "OutputValidation")


# --------------------------------------------------------------------------- substring

@pytest.mark.parametrize("expression, expected", [
    ("substring('Hello World', 7, 5)", "World"),
    ("substring('Hello World', 7)", "World"),
    ("substring('Hello World', -5, 5)", "Hello"),
    ("substring('Hello World', 0)", "Hello World"),
    ("substring('Hello World', 1, 0)", ""),
    ("substring('Hello World', 20)", ""),
    ("substring('Hello World', 20, 3)", ""),
    ("substring('Hello World', 10, 30)", "ld"),
    ("substring('héllo', 2, 3)", "éll"),
    ("substring('Hello', '2', '2')", "el"),
    ("substring(null, 1)", None),
    ("substring('abc', null)", None),
    ("substring('abc', 1, null)", None),
])
def test_substring(expression, expected):
    assert ev(expression) == expected


def test_substring_paths_and_destination():
    assert ev("substring(250, 2, 2)", int_(32)) == 50
    assert ev("substring(s, n, n8)", string(), s="abcdef", n=2, n8=3) == "bcd"
    assert ev("substring(s, f)", string(), s="abcdef", f=3.0) == "cdef"
    assert ev("substring(s, d, j)", string(), s="abcdef", d=Decimal("2.000"), j=RawJSON("2.0")) == "bc"
    assert ev("substring(s, s2)", string(), s="abcdef", s2="+4") == "def"
    assert ev("substring(s, s2)", string(), s="abcdef", s2="") is None
    assert ev("substring(s, j)", string(), s="abcdef", j=RawJSON("null")) is None


@pytest.mark.parametrize("expression, record, message", [
    ("substring('abc', 1, -1)", {}, "substring: negative substring length is not allowed"),
    ("substring(s, 1, n)", {"s": "abc", "n": -2}, "substring: negative substring length is not allowed"),
    ("substring('abc', f)", {"f": 5.5}, "«f», with a value of 5.5, cannot be passed as a 32-bit int to the «substring» function"),
    ("substring('abc', 1, f)", {"f": 5.5}, "«f», with a value of 5.5, cannot be passed as a 32-bit int to the «substring» function"),
    ("substring('abc', f, 1)", {"f": 3e10}, "«f», with a value of 3e+10, cannot be passed as a 32-bit int to the «substring» function"),
    ("substring('abc', d)", {"d": Decimal("1.5")}, "«d», with a value of 1.5, cannot be passed as a 32-bit int to the «substring» function"),
    ("substring('abc', j)", {"j": RawJSON("5.5")}, "«j», with a value of 5.5, cannot be passed as a 32-bit int to the «substring» function"),
    ("substring('abc', j)", {"j": RawJSON('"5"')}, "«j», of type JSON string, cannot be passed as an int to the «substring» function"),
    ("substring('abc', 1, j)", {"j": RawJSON("[]")}, "«j», of type JSON array, cannot be passed as an int to the «substring» function"),
    ("substring('abc', s)", {"s": "x"}, "«s» (type string) does not represent an int when passed to the «substring» function"),
    ("substring('abc', s)", {"s": "9999999999"}, "«s», with a value of 9999999999, cannot be passed as a 32-bit int to the «substring» function"),
    ("substring(j, 1)", {"j": RawJSON("[1]")}, "«j» (a JSON array) cannot be converted to a string value to be passed to the «substring» function"),
])
def test_substring_errors(expression, record, message):
    assert err(expression, string(), **record) == (f"{message} while mapping to «x»", "Transformation")


@pytest.mark.parametrize("expression, message", [
    ("substring('abc', b)", "cannot convert b (type boolean) to int(32)"),
    ("substring('abc', 1, dt)", "cannot convert dt (type datetime) to int(32)"),
    ("substring('abc', 1.5)", "number 1.5 is not a int(32) value"),
    ("substring('abc', 'x')", '"x" is not convertible to the int(32) type'),
    ("substring('abc', 3000000000)", "number 3000000000 is greater than 2147483647"),
    ("substring(tags, 1)", "cannot convert tags (type array(string)) to string"),
])
def test_substring_type_errors(expression, message):
    assert cerr(expression) == message


# --------------------------------------------------------------------------- json_parse

@pytest.mark.parametrize("expression, record, expected", [
    ("json_parse('[1, 2, 3]')", {}, RawJSON("[1,2,3]")),
    ("json_parse(false)", {}, RawJSON("false")),
    ("json_parse(12)", {}, RawJSON("12")),
    ("json_parse(s)", {"s": ' {"a": 1.50, "b": null} '}, RawJSON('{"a":1.50,"b":null}')),
    ("json_parse(s)", {"s": "null"}, RawJSON("null")),
    ("json_parse(j)", {"j": RawJSON('"[1, {\\"a\\": true}]"')}, RawJSON('[1,{"a":true}]')),
    ("json_parse(s)", {}, None),
    ("json_parse(j)", {"j": RawJSON("null")}, None),
    ("json_parse(n)", {}, None),
    ("json_parse(s 'x' s)", {"s": '"'}, RawJSON('"x"')),
])
def test_json_parse(expression, record, expected):
    assert ev(expression, json_(), **record) == expected


@pytest.mark.parametrize("expression, record, message", [
    ("json_parse('foo boo')", {}, "«'foo boo'» cannot be parsed by «json_parse» because it is not valid JSON"),
    ("json_parse(s)", {"s": ""}, "«s» cannot be parsed by «json_parse» because it is not valid JSON"),
    ("json_parse(s)", {"s": "NaN"}, "«s» cannot be parsed by «json_parse» because it is not valid JSON"),
    ("json_parse(s)", {"s": "[1,]"}, "«s» cannot be parsed by «json_parse» because it is not valid JSON"),
    ("json_parse(n)", {"n": 5}, "«n» has type int and cannot be passed as a string value to the «json_parse» function"),
    ("json_parse(b)", {"b": True}, "«b» has type boolean and cannot be passed as a string value to the «json_parse» function"),
    ("json_parse(u)", {"u": "f81d4fae-7dec-11d0-a765-00a0c91e6bf6"},
     "«u» has type uuid and cannot be passed as a string value to the «json_parse» function"),
    ("json_parse(j)", {"j": RawJSON("5")}, "«j» is a JSON number and cannot be passed as a string value to the «json_parse» function"),
    ("json_parse(j)", {"j": RawJSON("[]")}, "«j» is a JSON array and cannot be passed as a string value to the «json_parse» function"),
])
def test_json_parse_errors(expression, record, message):
    assert err(expression, json_(), **record) == (f"{message} while mapping to «x»", "Transformation")


def test_json_parse_into_other_types():
    assert ev("json_parse(s)", array_(int_(32)), s="[1, 2.0]") == [1, 2]
    assert ev("json_parse(s)", int_(32), s="3") == 3


# --------------------------------------------------------------------------- array

@pytest.mark.parametrize("expression, destination, record, expected", [
    ("array()", array_(json_()), {}, []),
    ('array(1, "a", false)', array_(json_()), {}, [RawJSON("1"), RawJSON('"a"'), RawJSON("false")]),
    ("array('foo', true, 5)", array_(string()), {}, ["foo", "true", "5"]),
    ("array(n, s)", array_(int_(32)), {"n": 1, "s": "2"}, [1, 2]),
    ("array(s)", array_(json_()), {}, [RawJSON("null")]),
    ("array(dt)", array_(json_()), {"dt": datetime(2023, 1, 2, tzinfo=UTC)}, [RawJSON('"2023-01-02T00:00:00Z"')]),
    ("array(dd)", array_(date_()), {"dd": date(2023, 1, 2)}, [date(2023, 1, 2)]),
    ("array(j, tags)", array_(json_()), {"j": RawJSON("[1]"), "tags": ["a"]}, [RawJSON("[1]"), RawJSON('["a"]')]),
    ("array(1, 2)", json_(), {}, RawJSON("[1,2]")),
    ("array(upper(s), 'b')", array_(string()), {"s": "a"}, ["A", "b"]),
])
def test_array(expression, destination, record, expected):
    assert ev(expression, destination, **record) == expected


@pytest.mark.parametrize("expression, destination, message", [
    ("array(null)", array_(string()), "null is not convertible to the string type"),
    ("array(null)", array_(json_()), "null is not convertible to the json type"),
    ("array('x')", array_(int_(32)), '"x" is not convertible to the int(32) type'),
    ("array(tags)", array_(string()), "cannot convert tags (type array(string)) to string"),
    ("array(1)", string(), "cannot convert expression (type array(json)) to string"),
    ("'x' array(1)", string(), "cannot convert array(...) (type array(json)) to string"),
])
def test_array_errors(expression, destination, message):
    assert cerr(expression, destination) == message


def test_array_elements_are_converted_to_the_element_type():
    assert err("array(s)", array_(int_(32)), s="x") == (
        "«array(s)» is not convertible to the «int(32)» type while mapping to «x»", "OutputValidation")
    assert ev("array(n, f)", array_(string()), n=1, f=1e6) == ["1", "1e+06"]


def test_array_element_null_at_run_time_fails_non_nullable_elements():
    assert err("array(s)", array_(string())) == (
        "«array(s)» is not convertible to the «string» type while mapping to «x»", "OutputValidation")


# --------------------------------------------------------------------------- map

@pytest.mark.parametrize("expression, destination, record, expected", [
    ("map('foo', 'bar', 'baz', true)", map_(json_()), {}, {"foo": RawJSON('"bar"'), "baz": RawJSON("true")}),
    ("map()", map_(json_()), {}, {}),
    ("map('a' 'b', 1)", map_(json_()), {}, {"ab": RawJSON("1")}),
    ("map('a' 1 true, 1)", map_(json_()), {}, {"a1true": RawJSON("1")}),
    ("map('k', s, 'h', 5)", json_(), {}, RawJSON('{"h":5}')),
    ("map('k', s, 'h', 5)", json_(), {"s": "v"}, RawJSON('{"h":5,"k":"v"}')),
    ("map('k', upper(s))", map_(json_()), {}, {"k": RawJSON("null")}),
    ("map('k', null)", map_(json_()), {}, {"k": RawJSON("null")}),
    ("map('k', j)", map_(json_()), {"j": RawJSON("null")}, {"k": RawJSON("null")}),
    ("map('k', o)", map_(json_()), {"o": {"a": 1, "b": "x"}}, {"k": RawJSON('{"a":1,"b":"x"}')}),
    ("map('b', 1, 'a', 2)", json_(), {}, RawJSON('{"a":2,"b":1}')),
    ("map('a', n, 'b', s)", map_(int_(32)), {"n": 1, "s": "2"}, {"a": 1, "b": 2}),
    ("map('a', n)", object_type(Property("a", string())), {"n": 1}, {"a": "1"}),
])
def test_map(expression, destination, record, expected):
    assert ev(expression, destination, **record) == expected


@pytest.mark.parametrize("expression, message", [
    ("map(s, 1)", "'map' key is not constant"),
    ("map('a' s, 1)", "'map' key is not constant"),
    ("map(upper('a'), 1)", "'map' key is not constant"),
    ("map(1, 2)", "'map' key is not string"),
    ("map(true, 2)", "'map' key is not string"),
    ("map(null, 2)", "'map' key is not string"),
    ("map('a', 1, 'a', 2)", "duplicate key in 'map' function"),
    ("map('ab', 1, 'a' 'b', 2)", "duplicate key in 'map' function"),
])
def test_map_errors(expression, message):
    assert cerr(expression, json_()) == message


def test_map_into_a_string_does_not_compile():
    assert cerr("'x' map('a', 1)") == "cannot convert map(...) (type map(json)) to string"


# --------------------------------------------------------------------------- nesting

def test_nested_calls():
    assert ev("upper(substring(trim(s), 1, 3)) '-' lower(coalesce(s2, 'X'))", s="  hello ") == "HEL-x"
    assert ev("if(and(eq(len(s), 3), not(false)), 'three', 'other')", s="abc") == "three"
    assert ev("json_parse('{\"a\":' n '}')", json_(), n=5) == RawJSON('{"a":5}')
