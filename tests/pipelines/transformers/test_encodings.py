"""Value encodings of every kind, both ways, in both languages (§4.3, §4.4, §4.6)."""

import json
import math
from datetime import date, datetime, time, timezone
from decimal import Decimal

import pytest

from pipelines.transformers import RecordError
from pipelines.types import (
    RawJSON, array_, boolean, date_, datetime_, decimal, float_, int_, ip, json_, map_, string, time_,
    uuid_, year,
)

from .helpers import out_prop, prop, run, schema, transformer

UTC = timezone.utc

IN_SCHEMA = schema(
    prop("s", string()),
    prop("b", boolean()),
    prop("i8", int_(8)),
    prop("i32", int_(32)),
    prop("i64", int_(64)),
    prop("u64", int_(64, unsigned=True)),
    prop("f", float_(64)),
    prop("fnan", float_(64)),
    prop("finf", float_(64)),
    prop("fninf", float_(64)),
    prop("f32", float_(32)),
    prop("d", decimal(10, 3)),
    prop("dt", datetime_()),
    prop("dt0", datetime_()),
    prop("dd", date_()),
    prop("tm", time_()),
    prop("y", year()),
    prop("u", uuid_()),
    prop("ip", ip()),
    prop("j", json_()),
    prop("jnull", json_()),
    prop("jsql", json_(), nullable=True),
    prop("arr", array_(int_(64))),
    prop("obj", schema(prop("a", string()), prop("b", int_(64)), prop("c", decimal(5, 2)))),
    prop("m", map_(float_(64))),
    prop("absent", string()),
    prop("null", string(), nullable=True),
)

RECORD = {
    "s": "héllo 'x' \"q\" <&>\u2028",
    "b": True,
    "i8": -5,
    "i32": 2147483647,
    "i64": 927041163082605,
    "u64": 2**64 - 1,
    "f": 1.5,
    "fnan": math.nan,
    "finf": math.inf,
    "fninf": -math.inf,
    "f32": 23.9476,
    "d": Decimal("1752.060"),
    "dt": datetime(2023, 10, 17, 9, 34, 25, 836042, tzinfo=UTC),
    "dt0": datetime(2023, 10, 17, 9, 34, 25, 500000, tzinfo=UTC),
    "dd": date(2023, 10, 17),
    "tm": time(9, 34, 25, 836040),
    "y": 2023,
    "u": "550e8400-e29b-41d4-a716-446655440000",
    "ip": "::ffff:1.2.3.4",
    "j": RawJSON('{"foo":true,"boo":[5,8.25],"big":12345678901234567890,"s":"x"}'),
    "jnull": RawJSON("null"),
    "jsql": None,
    "arr": [1, 2**63 - 1],
    "obj": {"a": "x", "b": -(2**63), "c": Decimal("1.50")},
    "m": {"k": 1.25, "z": math.inf},
    # "absent" is not in the record
    "null": None,
}

OUT = schema(out_prop("out", string()))

JS_DESCRIBE = r"""
function d(v) {
  if (v === null) return "null";
  if (v === undefined) return "undefined";
  switch (typeof v) {
    case "bigint": return v.toString() + "n";
    case "number": return "number:" + String(v);
    case "string": return "string:" + v;
    case "boolean": return "boolean:" + v;
  }
  if (Array.isArray(v)) return "[" + v.map(d).join(",") + "]";
  if (v instanceof Date) return "Date";
  return "{" + Object.keys(v).map(k => k + "=" + d(v[k])).join(",") + "}";
}
const transform = (user) => {
  const out = {};
  for (const k of Object.keys(user)) out[k] = d(user[k]);
  return {out: JSON.stringify(out)};
};
"""

PY_DESCRIBE = """
import json
def transform(user):
    return {"out": json.dumps({k: repr(v) for k, v in user.items()})}
"""


def _described(language, source, preserve_json, via="batch"):
    """What the function saw of RECORD: sent as a dict (transform_batch, "absent" absent), or as the
    run engine sends it (transform_rows: a row of every property, inPaths leaving "absent" out)."""
    if via == "batch":
        [result] = run(language, source, IN_SCHEMA, OUT, [RECORD], preserve_json=preserve_json)
        assert not isinstance(result, RecordError), result
        return json.loads(result["out"])
    names = [p.name for p in IN_SCHEMA.properties]
    with transformer(language, source, IN_SCHEMA, OUT, preserve_json=preserve_json,
                     in_paths=[name for name in names if name != "absent"]) as t:
        [result] = t.transform_rows([tuple(RECORD.get(name) for name in names)])
    assert not isinstance(result, RecordError), result
    return json.loads(result[0])


VIA = pytest.mark.parametrize("via", ["batch", "rows"])


@VIA
def test_javascript_input_encodings(via):
    got = _described("JavaScript", JS_DESCRIBE, False, via)
    assert list(got) == [p.name for p in IN_SCHEMA.properties if p.name != "absent"]  # schema order
    assert got == {
        "s": "string:héllo 'x' \"q\" <&>\u2028",
        "b": "boolean:true",
        "i8": "number:-5",
        "i32": "number:2147483647",
        "i64": "927041163082605n",
        "u64": "18446744073709551615n",
        "f": "number:1.5",
        "fnan": "number:NaN",
        "finf": "number:Infinity",
        "fninf": "number:-Infinity",
        "f32": "number:23.9476",
        "d": "string:1752.06",
        "dt": "string:2023-10-17T09:34:25.836042Z",
        "dt0": "string:2023-10-17T09:34:25.5Z",
        "dd": "string:2023-10-17",
        "tm": "string:09:34:25.83604",
        "y": "number:2023",
        "u": "string:550e8400-e29b-41d4-a716-446655440000",
        "ip": "string:::ffff:1.2.3.4",
        "j": "{foo=boolean:true,boo=[number:5,number:8.25],big=number:12345678901234567000,s=string:x}",
        "jnull": "null",
        "jsql": "null",
        "arr": "[1n,9223372036854775807n]",
        "obj": "{a=string:x,b=-9223372036854775808n,c=string:1.5}",
        "m": "{k=number:1.25,z=number:Infinity}",
        "null": "null",
    }


@VIA
def test_python_input_encodings(via):
    got = _described("Python", PY_DESCRIBE, False, via)
    assert list(got) == [p.name for p in IN_SCHEMA.properties if p.name != "absent"]
    assert got == {
        "s": repr(RECORD["s"]),
        "b": "True",
        "i8": "-5",
        "i32": "2147483647",
        "i64": "927041163082605",
        "u64": "18446744073709551615",
        "f": "1.5",
        "fnan": "nan",
        "finf": "inf",
        "fninf": "-inf",
        "f32": "23.9476",
        "d": "Decimal('1752.06')",
        "dt": "datetime.datetime(2023, 10, 17, 9, 34, 25, 836042)",  # naive, UTC implied
        "dt0": "datetime.datetime(2023, 10, 17, 9, 34, 25, 500000)",
        "dd": "datetime.date(2023, 10, 17)",
        "tm": "datetime.time(9, 34, 25, 836040)",
        "y": "2023",
        "u": "UUID('550e8400-e29b-41d4-a716-446655440000')",
        "ip": "'::ffff:1.2.3.4'",
        "j": "{'foo': True, 'boo': [5, 8.25], 'big': 12345678901234567890, 's': 'x'}",
        "jnull": "None",
        "jsql": "None",
        "arr": "[1, 9223372036854775807]",
        "obj": "{'a': 'x', 'b': -9223372036854775808, 'c': Decimal('1.5')}",
        "m": "{'k': 1.25, 'z': inf}",
        "null": "None",
    }


@VIA
def test_javascript_input_preserve_json(via):
    got = _described("JavaScript", JS_DESCRIBE, True, via)
    assert got["j"] == 'string:{"foo":true,"boo":[5,8.25],"big":12345678901234567890,"s":"x"}'
    assert got["jnull"] == "string:null"  # a JSON null is the text 'null'
    assert got["jsql"] == "null"          # SQL NULL stays null


@VIA
def test_python_input_preserve_json(via):
    got = _described("Python", PY_DESCRIBE, True, via)
    assert got["j"] == repr('{"foo":true,"boo":[5,8.25],"big":12345678901234567890,"s":"x"}')
    assert got["jnull"] == "'null'"
    assert got["jsql"] == "None"


@pytest.mark.parametrize("language", ["JavaScript", "Python"])
def test_in_paths_prune_the_input(language):
    in_schema = schema(prop("a", string()), prop("b", string()),
                       prop("c", schema(prop("x", string()), prop("y", string()))))
    source = {
        "JavaScript": "const transform = (u) => ({out: JSON.stringify(u)})",
        "Python": "import json\ndef transform(u):\n    return {'out': json.dumps(u, separators=(',', ':'))}\n",
    }[language]
    record = {"a": "1", "b": "2", "c": {"x": "3", "y": "4"}}
    [result] = run(language, source, in_schema, OUT, [record], in_paths=["a", "c.x"])
    assert result == {"out": '{"a":"1","c":{"x":"3"}}'}
    [result] = run(language, source, in_schema, OUT, [record], in_paths=[])
    assert result == {"out": "{}"}


# --------------------------------------------------------------------------- output

OUT_SCHEMA = schema(
    out_prop("s", string()),
    out_prop("b", boolean()),
    out_prop("i8", int_(8)),
    out_prop("i64", int_(64)),
    out_prop("i64s", int_(64)),
    out_prop("u64", int_(64, unsigned=True)),
    out_prop("f", float_(64)),
    out_prop("fi", float_(64)),
    out_prop("fnan", float_(64)),
    out_prop("finf", float_(64)),
    out_prop("f32", float_(32)),
    out_prop("d", decimal(10, 3)),
    out_prop("dt", datetime_()),
    out_prop("dt2", datetime_()),
    out_prop("dd", date_()),
    out_prop("tm", time_()),
    out_prop("y", year()),
    out_prop("u", uuid_()),
    out_prop("ip", ip()),
    out_prop("j", json_()),
    out_prop("jnull", json_()),
    out_prop("arr", array_(int_(64))),
    out_prop("obj", schema(out_prop("a", string()), out_prop("n", int_(32)))),
    out_prop("m", map_(int_(32))),
    out_prop("dropped", string()),
)

JS_OUTPUT = """
function transform(user) {
  return {
    s: "x", b: true, i8: -5, i64: 9007199254740993n, i64s: "-42", u64: 18446744073709551615n,
    f: 1.5, fi: 7, fnan: NaN, finf: -Infinity, f32: 0.1,
    d: "1752.064",
    dt: new Date(Date.UTC(2023, 9, 17, 9, 34, 25, 836)),
    dt2: "2023-10-17T11:34:25.836042841+02:00",
    dd: "2023-10-17", tm: "09:34:25.836042841", y: 2023,
    u: "{550E8400-E29B-41D4-A716-446655440000}", ip: "::FFFF:1.2.3.4",
    j: {a: [1, 2.5, null], b: "x"}, jnull: null,
    arr: [1n, 2n], obj: {a: "x", n: 3}, m: {k: 5},
    dropped: null, ignored: undefined,
  };
}
"""

PY_OUTPUT = """
import datetime, decimal, uuid
def transform(user):
    return {
        "s": "x", "b": True, "i8": -5, "i64": 9007199254740993, "i64s": -42, "u64": 2**64 - 1,
        "f": 1.5, "fi": 7, "fnan": float("nan"), "finf": float("-inf"), "f32": 0.1,
        "d": decimal.Decimal("1752.064"),
        "dt": datetime.datetime(2023, 10, 17, 9, 34, 25, 836000),
        "dt2": datetime.datetime(2023, 10, 17, 9, 34, 25, 836042),
        "dd": datetime.date(2023, 10, 17), "tm": datetime.time(9, 34, 25, 836042), "y": 2023,
        "u": uuid.UUID("550E8400-E29B-41D4-A716-446655440000"), "ip": "::ffff:1.2.3.4",
        "j": {"a": [1, 2.5, None], "b": "x"}, "jnull": None,
        "arr": [1, 2], "obj": {"a": "x", "n": 3}, "m": {"k": 5},
        "dropped": None,
    }
"""


@pytest.mark.parametrize("language,source", [("JavaScript", JS_OUTPUT), ("Python", PY_OUTPUT)])
def test_output_decoding(language, source):
    [result] = run(language, source, schema(prop("x", string())), OUT_SCHEMA, [{"x": "a"}])
    assert not isinstance(result, RecordError), result
    fnan = result.pop("fnan")
    assert math.isnan(fnan)
    assert result == {
        "s": "x", "b": True, "i8": -5, "i64": 9007199254740993, "i64s": -42, "u64": 2**64 - 1,
        "f": 1.5, "fi": 7.0, "finf": -math.inf, "f32": 0.1,
        "d": Decimal("1752.064"),
        "dt": datetime(2023, 10, 17, 9, 34, 25, 836000, tzinfo=UTC),
        "dt2": datetime(2023, 10, 17, 9, 34, 25, 836042, tzinfo=UTC),
        "dd": date(2023, 10, 17), "tm": time(9, 34, 25, 836042), "y": 2023,
        "u": "550e8400-e29b-41d4-a716-446655440000", "ip": "::ffff:1.2.3.4",
        "j": RawJSON('{"a":[1,2.5,null],"b":"x"}'),
        "jnull": RawJSON("null"),  # null for a non-nullable json property is a JSON null
        "arr": [1, 2], "obj": {"a": "x", "n": 3}, "m": {"k": 5},
        # "dropped": null for a non-nullable property is silently dropped on import
    }
    assert type(result["fi"]) is float


@pytest.mark.parametrize("language,source", [
    ("JavaScript", 'const transform = (u) => ({j: \'{"b": [1, 2.50], "a": null}\', jnull: "null"})'),
    ("Python", 'def transform(u):\n    return {"j": \'{"b": [1, 2.50], "a": null}\', "jnull": "null"}\n'),
])
def test_output_preserve_json_keeps_the_text(language, source):
    out = schema(out_prop("j", json_()), out_prop("jnull", json_()))
    [result] = run(language, source, schema(prop("x", string())), out, [{"x": "a"}], preserve_json=True)
    assert result == {"j": RawJSON('{"b": [1, 2.50], "a": null}'), "jnull": RawJSON("null")}


@pytest.mark.parametrize("language,source,message", [
    ("JavaScript", "const transform = (u) => ({j: {a: 1}})", "property «j» has a value that is not of type «string»"),
    ("JavaScript", "const transform = (u) => ({j: '{a: 1}'})", "property «j» does not contain valid JSON"),
    ("Python", "def transform(u):\n    return {'j': {'a': 1}}\n", "property «j» has a value that is not of type «str»"),
    ("Python", "def transform(u):\n    return {'j': 'NaN'}\n", "property «j» does not contain valid JSON"),
])
def test_output_preserve_json_requires_json_text(language, source, message):
    out = schema(out_prop("j", json_()))
    [result] = run(language, source, schema(prop("x", string())), out, [{"x": "a"}], preserve_json=True)
    assert result == RecordError("OutputValidation", message)


@pytest.mark.parametrize("language,source", [
    ("JavaScript", "const transform = (u) => ({j: u.j})"),
    ("Python", "def transform(u):\n    return {'j': u['j']}\n"),
])
@pytest.mark.parametrize("preserve_json", [False, True])
def test_json_round_trip(language, source, preserve_json):
    in_schema = schema(prop("j", json_(), nullable=True))
    out = schema(out_prop("j", json_(), nullable=True))
    records = [{"j": RawJSON('{"k":[1,"a",{"z":false}]}')}, {"j": RawJSON("null")}, {"j": None}]
    got = run(language, source, in_schema, out, records, preserve_json=preserve_json)
    # Without preserveJSON a JSON null reaches the function as null, and null for a nullable
    # property is stored as null: only preserveJSON tells the two apart.
    json_null = RawJSON("null") if preserve_json else None
    assert got == [{"j": RawJSON('{"k":[1,"a",{"z":false}]}')}, {"j": json_null}, {"j": None}]


# Per-record validation messages, with the per-language type names.
VALIDATION_CASES = [
    # (language, output type, returned value (source expression), message)
    ("JavaScript", int_(8, minimum=-20, maximum=20), "21", "property «x» is greater than 20"),
    ("JavaScript", int_(8, minimum=-20, maximum=20), "-21", "property «x» is less than -20"),
    ("JavaScript", int_(16, unsigned=True), "-1", "property «x» is less than 0"),
    ("JavaScript", int_(64), "5", "property «x» has a value that is not of type «bigint»"),
    ("JavaScript", int_(32), "'5'", "property «x» has a value that is not of type «number»"),
    ("JavaScript", int_(32), "1.5", "property «x» has a value that is not an integer"),
    ("JavaScript", boolean(), "3", "property «x» has a value that is not of type «boolean»"),
    ("JavaScript", string(), "3", "property «x» has a value that is not of type «string»"),
    ("JavaScript", decimal(10, 3), "1.5", "property «x» has a value that is not of type «string»"),
    ("JavaScript", decimal(10, 3), "'1.2345'", "property «x» has a value which is not in range of «decimal(10, 3)»"),
    ("JavaScript", decimal(10, 3, minimum=0), "'-1'", "property «x» is less than 0"),
    ("JavaScript", float_(64, real=True), "NaN", 'property «x» is "NaN", which is not a valid real number'),
    ("JavaScript", float_(64, real=True), "Infinity", "property «x» is greater than 1.7976931348623157e+308"),
    ("JavaScript", float_(32, minimum=3.99, maximum=5.31), "6", "property «x» is greater than 5.31"),
    ("JavaScript", date_(), "new Date(0)", "property «x» is not in the expected date format"),
    ("JavaScript", datetime_(), "'2023-10-17 09:34:25'", "property «x» is not in the expected datetime format"),
    ("JavaScript", datetime_(), "'0000-10-17T09:34:25Z'", "property «x» has a year outside the allowed range (1–9999)"),
    ("JavaScript", datetime_(), "'9999-12-31T23:00:00-02:00'", "property «x» has a year outside the allowed range (1–9999)"),
    ("JavaScript", time_(), "'25:00:00'", "property «x» is not in the expected time format"),
    ("JavaScript", year(), "0", "property «x» year is not in range [1,9999]"),
    ("JavaScript", uuid_(), "'nope'", "property «x» is not a valid UUID"),
    ("JavaScript", ip(), "'1.2.3'", "property «x» is not a valid IP address"),
    ("JavaScript", string(max_length=3), "'abcd'", "property «x» exceeds the 3-char limit"),
    ("JavaScript", string(max_bytes=3), "'éé'", "property «x» exceeds the 3-byte limit"),
    ("JavaScript", string(values=["a", "b"]), "'c'", "property «x» is not one of the allowed values"),
    ("JavaScript", string(pattern="^a/b$"), "'b'", "property «x» does not match «/^a\\/b$/»"),
    ("JavaScript", array_(int_(32), max_elements=2), "[1, 2, 3]", "property «x» contains more than 2 elements"),
    ("JavaScript", array_(int_(32), min_elements=2), "[1]", "property «x» contains less than 2 elements"),
    ("JavaScript", array_(int_(32), unique_elements=True), "[1, 1]", "property «x» contains a duplicated value"),
    ("JavaScript", array_(int_(8)), "[1, 300]", "property «x[1]» is greater than 127"),
    ("JavaScript", array_(string()), "'a'", "property «x» has a value that is not of type «array of string»"),
    ("JavaScript", map_(int_(64)), "[]", "property «x» has a value that is not of type «object with bigint values»"),
    ("JavaScript", map_(int_(32)), "{k: 'v'}", "property «x.k» has a value that is not of type «number»"),
    ("Python", boolean(), "3", "property «x» has a value that is not of type «bool»"),
    ("Python", int_(32), "True", "property «x» has a value that is not of type «int»"),
    ("Python", int_(32), "1.0", "property «x» has a value that is not of type «int»"),
    ("Python", int_(8, minimum=-20, maximum=20), "21", "property «x» is greater than 20"),
    ("Python", decimal(10, 3), "1.5", "property «x» has a value that is not of type «decimal.Decimal»"),
    ("Python", datetime_(), "__import__('datetime').datetime(2023, 1, 1, tzinfo=__import__('datetime').timezone.utc)",
     "property «x» is not in the expected datetime format"),
    ("Python", datetime_(), "__import__('datetime').date(2023, 1, 1)", "property «x» is not in the expected datetime format"),
    ("Python", date_(), "5", "property «x» has a value that is not of type «datetime.date»"),
    ("Python", time_(), "5", "property «x» has a value that is not of type «datetime.time»"),
    ("Python", uuid_(), "5", "property «x» has a value that is not of type «uuid.UUID»"),
    ("Python", float_(64, real=True), "float('nan')", 'property «x» is "NaN", which is not a valid real number'),
    ("Python", float_(64), "'NaN'", "property «x» has a value that is not of type «float»"),
    ("Python", array_(int_(32), max_elements=2), "[1, 2, 3]", "property «x» contains more than 2 items"),
    ("Python", array_(string()), "('a',)", None),  # a tuple is JSON array: accepted
    ("Python", map_(string()), "{'k': 1}", "property «x.k» has a value that is not of type «str»"),
    ("Python", array_(int_(32)), "'a'", "property «x» has a value that is not of type «list[int]»"),
    ("Python", map_(int_(32)), "[]", "property «x» has a value that is not of type «dict[str, int]»"),
    ("Python", schema(out_prop("a", string())), "5", "property «x» has a value that is not of type «dict»"),
]


@pytest.mark.parametrize("language,out_type,expression,message", VALIDATION_CASES,
                         ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in VALIDATION_CASES])
def test_output_validation_messages(language, out_type, expression, message):
    if language == "JavaScript":
        source = f"const transform = (u) => ({{x: {expression}}})"
    else:
        source = f"def transform(u):\n    return {{'x': {expression}}}\n"
    out = schema(out_prop("x", out_type))
    [result] = run(language, source, schema(prop("y", string())), out, [{"y": "a"}])
    if message is None:
        assert not isinstance(result, RecordError), result
    else:
        assert result == RecordError("OutputValidation", message)
