"""Query placeholders (reference krenalis-api.md §8.1 and §13.4)."""

import pytest

from pipelines.placeholders import (UPDATED_AT_HINT, PlaceholderError, QUERY_PLACEHOLDERS, check_placeholders,
                                    replace_placeholders, with_updated_at_hint)

VALUES = {"updated_at": "NULL", "limit": "20"}


@pytest.mark.parametrize("query,expected", [
    ("SELECT * FROM users LIMIT ${limit}", "SELECT * FROM users LIMIT 20"),
    ("SELECT * FROM users LIMIT ${ limit }", "SELECT * FROM users LIMIT 20"),
    ("LIMIT ${\tlimit\n}", "LIMIT 20"),
    ("LIMIT ${\u3000limit\u00a0}", "LIMIT 20"),  # Unicode white space is trimmed too
    ("WHERE u >= ${updated_at} LIMIT ${limit}", "WHERE u >= NULL LIMIT 20"),
    ("${limit}${limit}", "2020"),
    ("${updated_at}", "NULL"),
    ("no placeholders", "no placeholders"),
    ("", ""),
    ("$ {limit}", "$ {limit}"),
    ("{limit}", "{limit}"),
    ("a } b", "a } b"),
    ("cost $5 {x} }", "cost $5 {x} }"),
    ("$${limit}", "$20"),
    ("${limit}}", "20}"),
])
def test_replace(query, expected):
    assert replace_placeholders(query, VALUES) == expected


def test_values_are_inserted_verbatim_and_not_rescanned():
    assert replace_placeholders("${a} ${b}", {"a": "${b}", "b": "x"}) == "${b} x"


@pytest.mark.parametrize("query", ["${}", "${   }", "x ${ } y"])
def test_empty_placeholder_is_the_name_empty_string(query):
    with pytest.raises(PlaceholderError) as info:
        replace_placeholders(query, VALUES)
    assert str(info.value) == 'placeholder "" does not exist'
    assert "|" in replace_placeholders(query, {"": "|"})


@pytest.mark.parametrize("query", [
    "users_${date.csv",
    "${ ${ date.csv",
    "${limit",
    "SELECT id FROM customers WHERE updated_at >= ${updated_at",
    "SELECT id FROM customers WHERE updated_at >= ${updated",
    "${a ${limit}",  # another ${ before the closing brace
    "${limit} and ${",
    "${",
])
def test_unclosed(query):
    with pytest.raises(PlaceholderError) as info:
        replace_placeholders(query, VALUES)
    assert str(info.value) == "a placeholder is not closed"
    with pytest.raises(PlaceholderError, match="^a placeholder is not closed$"):
        check_placeholders(query)


@pytest.mark.parametrize("query,name", [
    ("users_${yesterday}.csv", "yesterday"),
    ("WHERE updated_at >= ${since}", "since"),
    ("WHERE updated_at >= ${Updated_At}", "Updated_At"),  # case-sensitive
    ("${ LIMIT }", "LIMIT"),
    ("${a b}", "a b"),
    ("${limit} ${nope} ${", "nope"),  # the first problem, left to right
])
def test_unknown(query, name):
    with pytest.raises(PlaceholderError) as info:
        replace_placeholders(query, VALUES)
    assert str(info.value) == f'placeholder "{name}" does not exist'
    with pytest.raises(PlaceholderError) as info:
        check_placeholders(query)
    assert str(info.value) == f'placeholder "{name}" does not exist'


def test_error_is_a_value_error():
    assert issubclass(PlaceholderError, ValueError)


@pytest.mark.parametrize("query,used", [
    ("SELECT 1", set()),
    ("$ {date} {date}", set()),
    ("WHERE u >= ${ updated_at } LIMIT ${limit}", {"updated_at", "limit"}),
    ("LIMIT ${limit}", {"limit"}),
])
def test_check_returns_the_names_used(query, used):
    assert check_placeholders(query) == used


def test_check_with_other_names():
    assert QUERY_PLACEHOLDERS == ("updated_at", "limit")
    assert check_placeholders("${ date }", names=["date"]) == {"date"}
    with pytest.raises(PlaceholderError, match='^placeholder "limit" does not exist$'):
        check_placeholders("${limit}", names=("date",))


def test_check_does_not_substitute():
    query = "SELECT ${limit}"
    assert check_placeholders(query) == {"limit"}
    assert query == "SELECT ${limit}"


class _Failure(Exception):
    def __init__(self, message, sqlstate=None):
        super().__init__(message)
        self.sqlstate = sqlstate


@pytest.mark.parametrize("query,sqlstate,hinted", [
    ("SELECT a FROM t WHERE a >= COALESCE(${updated_at}, '-infinity')", "42883", True),
    ("SELECT a FROM t WHERE a >= COALESCE(${ updated_at }, '-infinity')", "42804", True),
    ("SELECT a FROM t WHERE a >= COALESCE(NULL, '-infinity')", "42883", False),  # no placeholder
    ("SELECT a FROM t WHERE a >= ${updated_at}", "42P01", False),                 # another error
    ("SELECT a FROM t WHERE a >= ${updated_at}", None, False),                    # MySQL: no SQLSTATE
    ("SELECT a FROM t WHERE a >= ${updated_at", "42883", False),                  # not a placeholder
])
def test_an_untyped_updated_at_comparison_gets_a_hint(query, sqlstate, hinted):
    message = "query failed: operator does not exist: timestamp with time zone >= text (SQLSTATE 42883)"
    expected = f"{message}. {UPDATED_AT_HINT}" if hinted else message
    assert with_updated_at_hint(query, _Failure(message, sqlstate)) == expected
