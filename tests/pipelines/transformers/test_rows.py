"""transform_rows, the run engine's way in: rows of input values in, rows of warehouse columns out.

A batch whose results all pass a few column checks takes the fast way; any other batch is decoded
record by record. Both must give the same rows and the same errors.
"""

import pytest

from pipelines.transformers import FatalTransformError, RecordError
from pipelines.types import boolean, datetime_, int_, object_, string, year

from .helpers import LANGUAGES, out_prop, prop, schema, transformer

IN = schema(prop("id", int_(64)), prop("email", string(), nullable=True), prop("first", string(), nullable=True),
            prop("seen", datetime_(), nullable=True))
OUT = schema(out_prop("email", string(max_length=20)), out_prop("name", string()), out_prop("active", boolean()),
             out_prop("born", year()), out_prop("score", int_(32)))

COPY = {
    "JavaScript": "const transform = (u) => ({email: u.email, name: u.first, active: true, score: 7});",
    "Python": "def transform(u):\n    return {'email': u['email'], 'name': u['first'], 'active': True, 'score': 7}\n",
}


def rows(count):
    return [(n, f"u{n}@x.com", f"First{n}", None) for n in range(count)]


@pytest.mark.parametrize("language", LANGUAGES)
def test_rows_follow_the_output_leaf_paths_with_none_where_nothing_is_set(language):
    with transformer(language, COPY[language], IN, OUT, in_paths=["email", "first"],
                     out_paths=["email", "name", "active", "score"]) as t:
        got = t.transform_rows(rows(3))
    # columns: email, name, active, born (not in outPaths), score
    assert got == [(f"u{n}@x.com", f"First{n}", True, None, 7) for n in range(3)]


CHECKED = {
    "JavaScript": """
const transform = (u) => {
  const n = Number(u.id);
  if (n === 1) throw new Error("row one");
  if (n === 2) return {email: "far-too-long-for-twenty@x.com"};
  if (n === 3) return {email: u.email, unknown: 1};
  if (n === 4) return {email: u.email, score: 1.5};
  if (n === 5) return {email: null, name: null};
  return {email: u.email, name: u.first};
};
""",
    "Python": """
def transform(u):
    n = u["id"]
    if n == 1:
        raise ValueError("row one")
    if n == 2:
        return {"email": "far-too-long-for-twenty@x.com"}
    if n == 3:
        return {"email": u["email"], "unknown": 1}
    if n == 4:
        return {"email": u["email"], "score": 1.5}
    if n == 5:
        return {"email": None, "name": None}
    return {"email": u["email"], "name": u["first"]}
""",
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_batch_with_failures_fails_only_those_records(language):
    with transformer(language, CHECKED[language], IN, OUT) as t:
        got = t.transform_rows(rows(7))
        fast = t.transform_rows([row for row in rows(7) if row[0] in (0, 5, 6)])
    error = {"JavaScript": "JavaScript: Error: row one", "Python": "Python: ValueError: row one"}[language]
    score = {"JavaScript": "property «score» has a value that is not an integer",
             "Python": "property «score» has a value that is not of type «int»"}[language]
    assert got == [
        ("u0@x.com", "First0", None, None, None),
        RecordError("Transformation", error),
        RecordError("OutputValidation", "property «email» exceeds the 20-char limit"),
        RecordError("OutputValidation", "property «unknown» is not part of output schema; "
                                        "rename or remove it in the transformation function"),
        RecordError("OutputValidation", score),
        (None, None, None, None, None),
        ("u6@x.com", "First6", None, None, None),
    ]
    assert fast == [got[0], got[5], got[6]]


@pytest.mark.parametrize("language", LANGUAGES)
def test_values_the_checks_cannot_pass_are_decoded_one_by_one(language):
    """A year returned as 1990.0 by JavaScript, a string with a lone surrogate: same as transform_batch."""
    source = {
        "JavaScript": "const transform = (u) => ({email: u.email, born: 1990.0, name: '\\ud800'});",
        "Python": "def transform(u):\n    return {'email': u['email'], 'born': 1990, 'name': '\\ud800'}\n",
    }[language]
    with transformer(language, source, IN, OUT) as t:
        got = t.transform_rows(rows(2))
    assert got == [RecordError("OutputValidation", "property «name» does not contain valid UTF-8 characters")] * 2


NESTED_OUT = schema(out_prop("email", string()),
                    out_prop("address", object_(prop("city", string()), prop("zip", string()))))


@pytest.mark.parametrize("language", LANGUAGES)
def test_nested_outputs_are_flattened_into_columns(language):
    source = {
        "JavaScript": "const transform = (u) => ({email: u.email, address: {city: 'Rome'}});",
        "Python": "def transform(u):\n    return {'email': u['email'], 'address': {'city': 'Rome'}}\n",
    }[language]
    with transformer(language, source, IN, NESTED_OUT) as t:
        got = t.transform_rows(rows(2))
    assert got == [("u0@x.com", "Rome", None), ("u1@x.com", "Rome", None)]


@pytest.mark.parametrize("language", LANGUAGES)
def test_in_paths_pick_and_encode_the_row_values(language):
    """Only inPaths reach the function, with each kind's encoding (a JavaScript BigInt, a
    Python datetime), whatever their position in the row."""
    import datetime as dt

    source = {
        "JavaScript": "const transform = (u) => ({name: Object.keys(u).join(',') + ':' + typeof u.id + ':' + u.seen});",
        "Python": "def transform(u):\n    return {'name': ','.join(u) + ':' + type(u['id']).__name__ + ':' + "
                  "u['seen'].isoformat()}\n",
    }[language]
    seen = dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.timezone.utc)
    with transformer(language, source, IN, OUT, in_paths=["seen", "id"], out_paths=["name"]) as t:
        got = t.transform_rows([(12, "a@x", "A", seen)])
    expected = {"JavaScript": "id,seen:bigint:2024-05-06T07:08:09Z",
                "Python": "id,seen:int:2024-05-06T07:08:09"}[language]
    assert got == [(None, expected, None, None, None)]


def test_a_javascript_number_for_an_int64_is_rejected_as_in_transform_batch():
    out = schema(out_prop("score", int_(64)))
    with transformer("JavaScript", "const transform = (u) => ({score: 5});", IN, out) as t:
        assert t.transform_rows(rows(1)) == [
            RecordError("OutputValidation", "property «score» has a value that is not of type «bigint»")]


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_function_that_sets_nothing_gives_rows_of_nulls(language):
    source = {"JavaScript": "const transform = (u) => ({});", "Python": "def transform(u):\n    return {}\n"}[language]
    with transformer(language, source, IN, OUT, out_paths=[]) as t:
        assert t.transform_rows(rows(2)) == [(None,) * 5] * 2


def both_ways(language, source, count):
    """transform_rows over rows(count), and transform_batch over the same records as rows."""
    names = [p.name for p in OUT.properties]
    with transformer(language, source, IN, OUT) as t:
        got = t.transform_rows(rows(count))
        records = [dict(zip([p.name for p in IN.properties], row)) for row in rows(count)]
        expected = [result if isinstance(result, RecordError) else tuple(map(result.get, names))
                    for result in t.transform_batch(records)]
    return got, expected


EVERY_SHAPE = {
    "JavaScript": """
const transform = (u) => {
  const n = Number(u.id) % 12;
  if (n === 0) return {name: u.first, email: u.email};
  if (n === 1) return {email: u.email, name: undefined};
  if (n === 2) return {email: NaN, name: Infinity};
  if (n === 3) return {score: 12n};
  if (n === 4) return new Date(0);
  if (n === 5) { const value = Object.create({email: "inherited"}); value.name = "own"; return value; }
  if (n === 6) return {score: 1.5, email: "far-too-long-for-twenty@x.com"};
  if (n === 7) return {email: "far-too-long-for-twenty@x.com", score: 1.5};
  if (n === 8) return {email: u.email, toJSON() { return {name: "from toJSON"}; }};
  if (n === 9) return {email: u.email, name: {first: u.first}};
  if (n === 10) return {email: null, name: "N", active: "yes"};
  return {email: u.email, name: u.first, active: false, born: 1990, score: -3};
};
""",
    "Python": """
import datetime
def transform(u):
    n = u["id"] % 12
    if n == 0:
        return {"name": u["first"], "email": u["email"]}
    if n == 1:
        return {"email": u["email"], 1: "x"}
    if n == 2:
        return {"email": float("nan"), "name": float("inf")}
    if n == 3:
        return {"score": 2**70}
    if n == 4:
        return {"email": u["email"], "name": datetime.date(2024, 1, 2)}
    if n == 5:
        return {"active": 1}
    if n == 6:
        return {"score": 1.5, "email": "far-too-long-for-twenty@x.com"}
    if n == 7:
        return {"email": "far-too-long-for-twenty@x.com", "score": 1.5}
    if n == 8:
        return {"email": u["email"], "name": ["a"]}
    if n == 9:
        return {"email": u["email"], "born": True}
    if n == 10:
        return {"email": None, "name": "N", "active": "yes"}
    return {"email": u["email"], "name": u["first"], "active": False, "born": 1990, "score": -3}
""",
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_rows_give_what_records_give_whatever_the_function_returns(language):
    """Values come back as columns only when their JSON is exactly those columns (with the order
    of their keys); every other value (non-finite numbers, nested values, toJSON...) is decoded as
    transform_batch decodes it, so both ways give the same rows and the same errors."""
    got, expected = both_ways(language, EVERY_SHAPE[language], 24)
    assert got == expected
    assert got[11] == ("u11@x.com", "First11", False, 1990, -3)
    assert got[0] == ("u0@x.com", "First0", None, None, None)
    # With two invalid properties, the first in the function's own order is the one reported.
    assert "«score»" in got[6].message and "«email»" in got[7].message
    if language == "JavaScript":
        assert got[2] == ("NaN", "Infinity", None, None, None)
        assert got[8] == (None, "from toJSON", None, None, None)
        assert got[4] == RecordError("Transformation", "JavaScript: Error: transformed value is string, not object")
    else:
        assert got[4] == ("u4@x.com", "2024-01-02", None, None, None)
        assert got[1] == RecordError("OutputValidation", "property «1» is not part of output schema; "
                                                         "rename or remove it in the transformation function")


@pytest.mark.parametrize("language", LANGUAGES)
def test_rows_reach_a_function_that_reads_no_property(language):
    source = {"JavaScript": "const transform = (u) => ({name: String(Object.keys(u).length)});",
              "Python": "def transform(u):\n    return {'name': str(len(u))}\n"}[language]
    with transformer(language, source, IN, OUT, in_paths=[]) as t:
        assert t.transform_rows(rows(3)) == [(None, "0", None, None, None)] * 3


@pytest.mark.parametrize("language, source", [
    ("JavaScript", "Array.prototype.push = function () { return 0; };\n"
                   "const transform = (u) => ({email: u.email});"),
    ("Python", "import sys\n"
               "sys.modules['__main__']._dumps = lambda value: '{\"columns\": [[1]], \"indices\": [7], \"items\": [0]}'\n"
               "def transform(u):\n    return {'email': u['email']}\n"),
])
def test_a_reply_of_the_wrong_shape_ends_the_run(language, source):
    """User code shares the runtime that writes the reply: a reply it spoiled is refused whole."""
    with transformer(language, source, IN, OUT) as t:
        with pytest.raises(FatalTransformError, match="^transformer has unexpectedly returned an invalid JSON response$"):
            t.transform_rows(rows(3))


EVERY_ORDER = {
    "JavaScript": """
const names = ["email", "name", "active", "born", "score"];
const values = {email: "a@x", name: "N", active: true, born: 1990, score: 5};
const transform = (u) => {
  let n = Number(u.id);
  const pool = names.slice(), value = {};
  while (pool.length) {
    const key = pool.splice(n % pool.length, 1)[0];
    n = Math.floor(n / (pool.length + 1));
    value[key] = values[key];
  }
  if (Number(u.id) % 40 === 7) { value.email = "far-too-long-for-twenty@x.com"; value.score = 1.5; }
  return value;
};
""",
    "Python": """
import itertools
ORDERS = list(itertools.permutations(["email", "name", "active", "born", "score"]))
VALUES = {"email": "a@x", "name": "N", "active": True, "born": 1990, "score": 5}
def transform(u):
    value = {key: VALUES[key] for key in ORDERS[u["id"] % 120]}
    if u["id"] % 40 == 7:
        value["email"], value["score"] = "far-too-long-for-twenty@x.com", 1.5
    return value
""",
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_rows_keep_the_order_of_the_keys_of_every_value(language):
    """120 orders of the same keys in one batch (more than the runtime keeps apart: the rest come
    back one by one), with records whose two invalid properties come in different orders."""
    got, expected = both_ways(language, EVERY_ORDER[language], 120)
    assert got == expected
    failed = [got[n] for n in range(7, 120, 40)]
    assert all(isinstance(result, RecordError) for result in failed)
    assert {"«email»" in result.message for result in failed} == {True, False}  # both orders met
    assert [result for n, result in enumerate(got) if n % 40 != 7] == [("a@x", "N", True, 1990, 5)] * 117
