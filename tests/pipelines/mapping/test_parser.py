"""Grammar of mapping expressions (§3.1): literals, paths, calls, concatenation, syntax errors."""

from decimal import Decimal

import pytest

from pipelines.mapping import MappingError
from pipelines.mapping.parser import Call, Concat, Literal, Path, parse
from pipelines.types import int_, string

from .helpers import compile_error, run


def literal(source):
    node = parse(source)
    assert isinstance(node, Literal), node
    return node.kind, node.value


@pytest.mark.parametrize("source, value", [
    ("'abc'", "abc"),
    ('"abc"', "abc"),
    ("''", ""),
    ('""', ""),
    ("'it\"s'", 'it"s'),
    ('"it\'s"', "it's"),
    (r"'\a\b\f\n\r\t\v'", "\a\b\f\n\r\t\v"),
    (r"'\\'", "\\"),
    (r"'\''", "'"),
    (r'"\""', '"'),
    (r"'\u00e8'", "è"),
    (r"'\U0001F600'", "😀"),
    (r"'\x'", "x"),  # [QUIRK] an unknown escape keeps the bare character
    (r"'a\qb'", "aqb"),
    ("'line\nbreak'", "line\nbreak"),  # raw newlines are allowed
    ("'»'", "»"),
])
def test_string_literals(source, value):
    assert literal(source) == ("string", value)


@pytest.mark.parametrize("source, kind, value", [
    ("0", "int", 0),
    ("42", "int", 42),
    ("-12", "int", -12),
    ("1.0", "int", 1),
    ("5e3", "int", 5000),
    ("551e3", "int", 551000),
    ("0.", "int", 0),
    (".5", "int", 5),  # [QUIRK] the leading period of a path is ignored
    ("-.5", "decimal", Decimal("-0.5")),
    ("1.36", "decimal", Decimal("1.36")),
    ("-7.0284710e-3", "decimal", Decimal("-0.0070284710")),
    ("1E2", "int", 100),
    ("9223372036854775807", "int", 9223372036854775807),
    ("-9223372036854775808", "int", -9223372036854775808),
    ("9223372036854775808", "decimal", Decimal("9223372036854775808")),
    ("0.1234567890123456789012345678901234567", "decimal",
     Decimal("0.1234567890123456789012345678901234567")),
])
def test_number_literals(source, kind, value):
    assert literal(source) == (kind, value)


@pytest.mark.parametrize("source, kind, value", [
    ("true", "boolean", True),
    ("false", "boolean", False),
    ("null", "null", None),
    ("  true  ", "boolean", True),
])
def test_keywords(source, kind, value):
    assert literal(source) == (kind, value)


@pytest.mark.parametrize("source", ["truevalue", "false_", "null1", "nullable"])
def test_keyword_prefix_is_a_path(source):
    node = parse(source)
    assert isinstance(node, Path) and node.source == source


def segments(source):
    node = parse(source)
    assert isinstance(node, Path), node
    return [(s.key, s.bracket, s.optional) for s in node.segments]


@pytest.mark.parametrize("source, expected", [
    ("a", [("a", False, False)]),
    (".a", [("a", False, False)]),
    ("_a1.b_2.c", [("_a1", False, False), ("b_2", False, False), ("c", False, False)]),
    ("a?", [("a", False, True)]),
    ("a.b?", [("a", False, False), ("b", False, True)]),
    ("a['k']", [("a", False, False), ("k", True, False)]),
    ('a["any key"]?', [("a", False, False), ("any key", True, True)]),
    ('a[ "k" ].b', [("a", False, False), ("k", True, False), ("b", False, False)]),
    ('a["[x]?"]', [("a", False, False), ("[x]?", True, False)]),
    ("a.b?.c", [("a", False, False), ("b", False, True), ("c", False, False)]),
])
def test_paths(source, expected):
    assert segments(source) == expected


def test_path_source_excludes_the_leading_period():
    assert parse(".a.b").source == "a.b"


@pytest.mark.parametrize("source, name, arity", [
    ("lower(a)", "lower", 1),
    ("lower (a)", "lower", 1),
    ("coalesce( a , b )", "coalesce", 2),
    ("coalesce(\n\ta,\r\n b\n)", "coalesce", 2),
    ("array()", "array", 0),
    ("array( )", "array", 0),
    ("map('a', 1, 'b', 2)", "map", 4),
])
def test_calls(source, name, arity):
    node = parse(source)
    assert isinstance(node, Call) and node.name == name and len(node.args) == arity
    assert node.source == source


def test_nested_calls_and_concatenated_arguments():
    node = parse("upper(coalesce(a 'x', lower(b)))")
    assert isinstance(node, Call) and node.name == "upper"
    inner = node.args[0]
    assert isinstance(inner, Call) and inner.name == "coalesce"
    first, second = inner.args
    assert isinstance(first, Concat) and first.source == "a 'x'"
    assert isinstance(second, Call) and second.source == "lower(b)"


@pytest.mark.parametrize("source, count", [
    ("a b", 2),
    ("'x'a", 2),
    ("a'x'", 2),
    ("1 2", 2),
    ("first ' ' last", 3),
    ("'a' lower(b) c.d 'e'", 4),
    ("not true", 2),  # a path named like a function, then a keyword
])
def test_concatenation(source, count):
    node = parse(source)
    assert isinstance(node, Concat) and len(node.operands) == count
    assert node.source == source.strip()


@pytest.mark.parametrize("source, message", [
    ("", "expression is empty"),
    ("   ", "expression is empty"),
    ("\t\r\n", "expression is empty"),
    ("!true", "unexpected character '!'"),
    ("1 + 2", "unexpected character '+'"),
    ("a * b", "unexpected character '*'"),
    ("a == b", "unexpected character '='"),
    ("a && b", "unexpected character '&'"),
    ("1,000", "unexpected character ','"),
    (")", "unexpected character ')'"),
    ("lower(a))", "unexpected character ')'"),
    ("(a)", "unexpected character '('"),
    ("'abc", "string is not terminated"),
    ('"abc', "string is not terminated"),
    ("'abc\\", "string is not terminated"),
    ("coalesce(a, ", "arguments are not terminated"),
    ("coalesce(a", "arguments are not terminated"),
    ("lower(", "arguments are not terminated"),
    ("coalesce( , )", "expected argument, got ','"),
    ("coalesce(,a)", "expected argument, got ','"),
    ("coalesce(a, )", "expected argument, got ')'"),
    ("coalesce(a,,b)", "expected argument, got ','"),
    ("a.", "path is not terminated"),
    ("a.b.", "path is not terminated"),
    ('a["k"', "path is not terminated"),
    ("a[", "path is not terminated"),
    ('a["k" b]', "path is not terminated"),
    ("a..b", "unexpected period in path"),
    ("..a", "unexpected period"),
    (". a", "unexpected period"),
    ("a[k]", "map key is not a string"),
    ("a[]", "map key is not a string"),
    ("a[1]", "map key is not a string"),
    ('"\\u0000"', "character 0x00 is not allowed in strings"),
    ("'\x00'", "character 0x00 is not allowed in strings"),
    ("'\\uD800'", "character 0xD800 is not allowed in strings"),
    ("'\\U00110000'", "character 0x110000 is not allowed in strings"),
    ("'\\u12'", "escape sequence is not valid"),
    ("'\\uZZZZ'", "escape sequence is not valid"),
    ("foo('x')", 'function "foo" does not exist'),
    ("Lower(a)", 'function "Lower" does not exist'),
    ("a.b(1)", 'function "a.b" does not exist'),
    ("manufacturer (x)", 'function "manufacturer" does not exist'),
    ("a?(1)", "unexpected character '('"),
    ("a??", "unexpected character '?'"),
    ("3e", "number syntax is not valid"),
    ("2.7name", "number syntax is not valid"),
    ("1_000", "number syntax is not valid"),
    ("0x123", "number syntax is not valid"),
    ("1-2", "number syntax is not valid"),
    ("1.2.3", "number syntax is not valid"),
    ("5e3abc", "number syntax is not valid"),
    ("first-name", "the ‘-’ character is used for negation. Did you mean the ‘_’ character?"),
    ("-name", "the ‘-’ character is used for negation. Did you mean the ‘_’ character?"),
    ("- 1", "unexpected character '-'"),
    ("1e39", "number 1e39 is out of range"),
    ("0.12345678901234567890123456789012345678", "number 0.12345678901234567890123456789012345678 is out of range"),
    ("é", "unexpected character 'é'"),
])
def test_syntax_errors(source, message):
    with pytest.raises(MappingError) as info:
        parse(source)
    assert str(info.value) == message


def test_syntax_errors_surface_from_compile_mapping_without_prefix():
    assert compile_error("1 + 2", int_(32)) == "unexpected character '+'"


def test_a_name_not_followed_by_a_parenthesis_is_a_path():
    assert compile_error("not true", string()) == 'property "not" does not exist'
    assert compile_error("'Engine power: ' coalesce engine.power", string()) == 'property "coalesce" does not exist'


@pytest.mark.parametrize("expression, expected", [
    ("'a' \"b\"", "ab"),
    ("' '   '  '", "   "),
    ("1 2", "12"),
    ("1.50 'x'", "1.50x"),
    ("1.0 'x'", "1x"),
    ("5e3 'x'", "5000x"),
    ("true false null 'x'", "truefalsex"),
    ("-7.0284710e-3 ''", "-0.0070284710"),
])
def test_literals_in_concatenations(expression, expected):
    assert run(expression, string()) == expected
