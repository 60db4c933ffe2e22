"""check_function: what the API runs on create/update (FunctionCompileError -> 400)."""

import pytest

from pipelines.transformers import FunctionCompileError, Limits, check_function

CASES = [
    ("JavaScript", "function transform(user) {\n  const a = 1;\n  return {a: a +};\n}",
     "transformation function has a syntax error at line 3: unexpected token in expression: '}'"),
    ("JavaScript", "const transform = (user) => {\n  return {a: 1};\n",
     "transformation function has a syntax error at line 3: unexpected token in expression: ''"),  # at EOF
    ("JavaScript", "const x = 1;\nfunction transformer(u) { return {}; }",
     'transformation function does not define "transform"'),
    ("JavaScript", "const transform = {};",
     'transformation function defines "transform" but it is not a function'),
    ("JavaScript", "\n\nundefinedFunction();\nfunction transform(u) { return {}; }",
     "transformation function raised an error at line 3: ReferenceError: 'undefinedFunction' is not defined"),
    ("Python", "def transform(user):\n    a = 1\n    return {'a': a +}\n",
     "transformation function has a syntax error at line 3: invalid syntax"),
    ("Python", "def transform(user):\n    return {\n",
     "transformation function has a syntax error at line 2: '{' was never closed"),
    ("Python", "def transform(user):\n  return {}\n    x = 1\n",
     "transformation function has a syntax error at line 3: unexpected indent"),
    ("Python", "x = 1\ndef transformer(u):\n    return {}\n",
     'transformation function does not define "transform"'),
    ("Python", "transform = 5\n",
     'transformation function defines "transform" but it is not a function'),
    ("Python", "\n\nundefined_function()\ndef transform(u):\n    return {}\n",
     "transformation function raised an error at line 3: NameError: name 'undefined_function' is not defined"),
    ("Python", "import requests\ndef transform(u):\n    return {}\n",
     "transformation function raised an error at line 1: ModuleNotFoundError: No module named 'requests'"),
]


@pytest.mark.parametrize("language,source,message", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_unusable_sources(language, source, message):
    with pytest.raises(FunctionCompileError) as info:
        check_function(language, source)
    assert str(info.value) == message
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("language,source", [
    ("JavaScript", "const transform = (user) => {\n  return {email: user.email};\n};"),
    ("JavaScript", "function transform(event) { return {}; }"),
    ("JavaScript", "transform = (u) => ({})"),
    ("Python", "def transform(user: dict) -> dict:\n    return {'email': user['email']}\n"),
    ("Python", "import datetime, decimal, uuid, json, re, math\ntransform = lambda user: {}\n"),
])
def test_usable_sources(language, source):
    check_function(language, source)


@pytest.mark.parametrize("language,source", [
    ("JavaScript", "while (true) {}\nfunction transform(u) { return {}; }"),
    ("Python", "while True:\n    pass\ndef transform(u):\n    return {}\n"),
])
def test_top_level_that_never_ends(language, source):
    with pytest.raises(FunctionCompileError, match=r"^transformation function timed out after 1 s; "
                                                   r"KRENALIS_FUNCTION_BATCH_TIMEOUT raises the limit$"):
        check_function(language, source, Limits(batch_timeout_seconds=1))


def test_check_function_does_not_call_transform():
    # transform itself is not run by the check (it would loop forever here).
    check_function("JavaScript", "function transform(u) { while (true) {} }", Limits(batch_timeout_seconds=1))
    check_function("Python", "def transform(u):\n    while True:\n        pass\n", Limits(batch_timeout_seconds=1))


def test_unknown_language():
    with pytest.raises(FunctionCompileError, match='transformation language "Ruby" is not valid'):
        check_function("Ruby", "def transform(u) end")
