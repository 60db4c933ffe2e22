"""Per-record errors, outPaths, returned shapes, one runtime call per batch of a fast function."""

import pytest

from pipelines.transformers import FatalTransformError, FunctionTransformer, RecordError
from pipelines.types import int_, string

from .helpers import LANGUAGES, out_prop, prop, run, schema, transformer

IN = schema(prop("email", string(), nullable=True), prop("n", int_(32)))
OUT = schema(out_prop("email", string()), out_prop("n", int_(32)))

THROWS_ON_SOME = {
    "JavaScript": """
const transform = (user) => {
  if (user.n === 2) throw new TypeError("bad row " + user.n);
  if (user.n === 4) return {email: user.email.toLowerCase()};  // email is null here
  if (user.n === 5) throw "boom";
  return {email: user.email.toLowerCase(), n: user.n * 2};
};
""",
    "Python": """
def transform(user):
    if user["n"] == 2:
        raise ValueError(f"bad row {user['n']}")
    if user["n"] == 4:
        return {"email": user["email"].lower()}
    if user["n"] == 5:
        raise KeyError("email")
    return {"email": user["email"].lower(), "n": user["n"] * 2}
""",
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_exceptions_fail_only_their_records(language):
    records = [{"email": f"A{n}@X.COM", "n": n} for n in range(1, 7)]
    records[3]["email"] = None
    got = run(language, THROWS_ON_SOME[language], IN, OUT, records)
    expected_errors = {
        "JavaScript": [
            "JavaScript: TypeError: bad row 2",
            "JavaScript: TypeError: cannot read property 'toLowerCase' of null",
            'JavaScript: throw error of type string: "boom"',
        ],
        "Python": [
            "Python: ValueError: bad row 2",
            "Python: AttributeError: 'NoneType' object has no attribute 'lower'",
            "Python: KeyError: 'email'",
        ],
    }[language]
    assert got == [
        {"email": "a1@x.com", "n": 2},
        RecordError("Transformation", expected_errors[0]),
        {"email": "a3@x.com", "n": 6},
        RecordError("Transformation", expected_errors[1]),
        RecordError("Transformation", expected_errors[2]),
        {"email": "a6@x.com", "n": 12},
    ]
    assert all(r.step == "Transformation" for r in got if isinstance(r, RecordError))


@pytest.mark.parametrize("language,source", [
    ("JavaScript", "const transform = (u) => ({a: 1, b: 2})"),
    ("Python", "def transform(u):\n    return {'a': 1, 'b': 2}\n"),
])
def test_outputs_outside_out_paths_are_rejected(language, source):
    out = schema(out_prop("a", int_(32)), out_prop("b", int_(32)))
    [result] = run(language, source, IN, out, [{"email": "x", "n": 1}], out_paths=["a"])
    assert result == RecordError(
        "OutputValidation",
        "property «b» is not part of output schema; rename or remove it in the transformation function")
    [result] = run(language, source, IN, out, [{"email": "x", "n": 1}], out_paths=["a", "b"])
    assert result == {"a": 1, "b": 2}


@pytest.mark.parametrize("language,source", [
    ("JavaScript", "const transform = (u) => (u.n === 1 ? {c: {x: 'in'}} : {c: {x: 'in', y: 'out'}})"),
    ("Python", "def transform(u):\n    return {'c': {'x': 'in'}} if u['n'] == 1 else {'c': {'x': 'in', 'y': 'out'}}\n"),
])
def test_nested_out_paths(language, source):
    out = schema(out_prop("c", schema(out_prop("x", string()), out_prop("y", string()))))
    got = run(language, source, IN, out, [{"email": "x", "n": 1}, {"email": "x", "n": 2}], out_paths=["c.x"])
    assert got == [
        {"c": {"x": "in"}},
        RecordError("OutputValidation",
                    "property «c.y» is not part of output schema; rename or remove it in the transformation function"),
    ]


def test_unknown_property_from_spec_example():
    out = schema(out_prop("Int8", int_(8, minimum=-20, maximum=20)))
    got = run("JavaScript", "const transform = (u) => (u.n === 1 ? {Int8: 21} : {foo: 'boo'})", IN, out,
              [{"email": "x", "n": 1}, {"email": "x", "n": 2}])
    assert got == [
        RecordError("OutputValidation", "property «Int8» is greater than 20"),
        RecordError("OutputValidation",
                    "property «foo» is not part of output schema; rename or remove it in the transformation function"),
    ]


@pytest.mark.parametrize("expression,message", [
    ("undefined", "JavaScript: Error: transformed value is undefined"),
    ("null", "JavaScript: Error: transformed value is null"),
    ("[1]", "JavaScript: Error: transformed value is array"),
    ("'x'", "JavaScript: Error: transformed value is string, not object"),
    ("(() => { const o = {}; o.o = o; return o; })()", "JavaScript: Error: transformed value contains a circular reference"),
])
def test_javascript_returned_value_must_be_an_object(expression, message):
    [result] = run("JavaScript", f"function transform(u) {{ return {expression}; }}", IN, OUT, [{"email": "x", "n": 1}])
    assert result == RecordError("Transformation", message)


def test_javascript_async_function_gives_an_empty_object():
    [result] = run("JavaScript", "async function transform(u) { return {n: 1}; }", IN, OUT, [{"email": "x", "n": 1}])
    assert result == {}


def test_javascript_stack_overflow_is_a_record_error():
    source = "function f(n) { return f(n + 1) + 1; }\nfunction transform(u) { return u.n === 1 ? {n: f(0)} : {n: 1}; }"
    got = run("JavaScript", source, IN, OUT, [{"email": "x", "n": 1}, {"email": "x", "n": 2}])
    assert got == [RecordError("Transformation", "JavaScript: InternalError: stack overflow"), {"n": 1}]


@pytest.mark.parametrize("expression,message", [
    ("[1]", "Python: ValueError: transformed value is 'list', not 'dict'"),
    ("None", "Python: ValueError: transformed value is 'NoneType', not 'dict'"),
    ("__import__('collections').OrderedDict()", "Python: ValueError: transformed value is 'OrderedDict', not 'dict'"),
    ("(lambda d: (d.__setitem__('d', d), d)[1])({})", "Python: ValueError: transformed value contains a circular reference"),
    ("{(1, 2): 3}", "Python: TypeError: keys must be str, int, float, bool or None, not tuple"),
    ("__import__('sys').exit(3)", "Python: SystemExit: 3"),
])
def test_python_returned_value_must_be_a_dict(expression, message):
    source = f"def transform(u):\n    return {expression}\n"
    [result] = run("Python", source, IN, OUT, [{"email": "x", "n": 1}])
    assert result == RecordError("Transformation", message)


@pytest.mark.parametrize("language,source", [
    ("JavaScript", "console.log('x'); function transform(u) { return {n: u.n}; }"),
    ("Python", "print('noise')\ndef transform(u):\n    print('more noise')\n    import sys\n    sys.stdout.write('x' * 100000)\n    sys.stdout.flush()\n    return {'n': u['n']}\n"),
])
def test_printing_does_not_break_the_protocol(language, source):
    if language == "JavaScript":
        source = "const console = {log() {}};\n" + source  # quickjs has no console
    got = run(language, source, IN, OUT, [{"email": "x", "n": 1}, {"email": "x", "n": 2}])
    assert got == [{"n": 1}, {"n": 2}]


COUNTING = {
    "JavaScript": "let calls = 0;\nfunction transform(u) { calls++; return {n: calls}; }",
    "Python": "calls = 0\ndef transform(u):\n    global calls\n    calls += 1\n    return {'n': calls}\n",
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_fast_function_gets_a_batch_in_one_runtime_call(language):
    """The first calls take 1, 2, 4... records (the pacer measures the function); a fast function
    over small records then gets each batch whole, in one call."""
    records = [{"email": f"u{i}@x", "n": i} for i in range(1000)]
    with transformer(language, COUNTING[language], IN, OUT) as t:
        assert t.runtime_calls == 0
        got = t.transform_batch(records)
        assert t.runtime_calls == 10  # 1 + 2 + ... + 512 records
        assert [r["n"] for r in got] == list(range(1, 1001))  # transform ran once per record, in order
        got = t.transform_batch(records)
        assert t.runtime_calls == 11  # one eval of the JS wrapper / one message to the worker
        assert [r["n"] for r in got] == list(range(1001, 2001))  # state kept: the code is loaded once
        assert t.transform_batch([]) == []
        assert t.runtime_calls == 11


@pytest.mark.parametrize("language", LANGUAGES)
def test_absent_and_null_inputs(language):
    source = {
        "JavaScript": "const transform = (u) => ({email: ('email' in u) + ':' + u.email})",
        "Python": "def transform(u):\n    return {'email': f\"{'email' in u}:{u.get('email')}\"}\n",
    }[language]
    got = run(language, source, IN, OUT, [{"n": 1}, {"email": None, "n": 2}])
    if language == "JavaScript":
        assert got == [{"email": "false:undefined"}, {"email": "true:null"}]
    else:
        assert got == [{"email": "False:None"}, {"email": "True:None"}]


def test_transformer_rejects_unknown_language():
    with pytest.raises(ValueError):
        FunctionTransformer(language="Ruby", source="", in_schema=IN, out_schema=OUT, in_paths=["n"],
                            out_paths=["n"], preserve_json=False)


@pytest.mark.parametrize("language,source,message", [
    ("JavaScript", "function transform(u) {\n  return {n: 1,,};\n}", "transformation function has a syntax error at line 2"),
    ("Python", "def transform(u):\n    return {\n", "transformation function has a syntax error at line 2"),
    ("JavaScript", "const x = 1;", 'transformation function does not define "transform"'),
    ("Python", "x = 1", 'transformation function does not define "transform"'),
])
def test_unusable_source_ends_the_run(language, source, message):
    with transformer(language, source, IN, OUT) as t:
        with pytest.raises(FatalTransformError) as info:
            t.transform_batch([{"email": "x", "n": 1}])
        assert str(info.value).startswith(message)
        with pytest.raises(FatalTransformError):  # and stays failed
            t.transform_batch([{"email": "x", "n": 1}])


@pytest.mark.parametrize("language,source", [
    ("JavaScript", "const transform = (u) => (u.n === 1 ? {email: '\\ud800'} : {email: 'é€😀'})"),
    ("Python", "def transform(u):\n    return {'email': '\\ud800'} if u['n'] == 1 else {'email': 'é€😀'}\n"),
])
def test_invalid_unicode_is_a_record_error(language, source):
    got = run(language, source, IN, OUT, [{"email": "x", "n": 1}, {"email": "x", "n": 2}])
    assert got == [RecordError("OutputValidation", "property «email» does not contain valid UTF-8 characters"),
                   {"email": "é€😀"}]


def test_javascript_user_code_cannot_break_the_batch_wrapper():
    source = "JSON.parse = () => { throw new Error('hijacked'); };\nJSON.stringify = () => 'x';\n" \
             "function transform(u) { return {n: u.n}; }"
    assert run("JavaScript", source, IN, OUT, [{"email": "x", "n": 1}]) == [{"n": 1}]
