"""Query placeholders: ``${ name }`` (reference krenalis-api.md §8.1).

Pure Python, no Django. Rules:

- A placeholder is ``${`` name ``}``; whitespace around the name is trimmed, so ``${ limit }``
  equals ``${limit}``, and ``${}`` / ``${   }`` name the empty placeholder ``""``.
  Names are case-sensitive.
- ``${`` without a closing ``}``, or with another ``${`` before the closing ``}``, is the error
  ``a placeholder is not closed``.
- A name that is not known is the error ``placeholder "name" does not exist``.
- Everything else is literal text: ``$ {x}``, ``{x}``, a bare ``}`` or ``$``. There is no escape.

Errors are reported for the first offending placeholder, reading left to right.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

__all__ = ["PlaceholderError", "replace_placeholders", "check_placeholders", "with_updated_at_hint", "QUERY_PLACEHOLDERS"]

# The only placeholders a database query may use.
QUERY_PLACEHOLDERS = ("updated_at", "limit")


# Go's strings.TrimSpace set (Unicode White_Space); Python's str.strip() would also trim U+001C..U+001F.
_WHITE_SPACE = ("\t\n\v\f\r \u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
                "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")


class PlaceholderError(ValueError):
    """A malformed or unknown placeholder; str() is the message the API reports (422 InvalidPlaceholder)."""


def _scan(query: str) -> Iterator[tuple[int, int, str]]:
    """Yields (start, end, name) for each placeholder; query[start:end] is the whole ``${...}``."""
    pos = 0
    while True:
        start = query.find("${", pos)
        if start < 0:
            return
        close = query.find("}", start + 2)
        if close < 0:
            raise PlaceholderError("a placeholder is not closed")
        nested = query.find("${", start + 2, close)
        if nested >= 0:
            raise PlaceholderError("a placeholder is not closed")
        yield start, close + 1, query[start + 2:close].strip(_WHITE_SPACE)
        pos = close + 1


def replace_placeholders(query: str, values: dict[str, str]) -> str:
    """Returns `query` with every placeholder replaced by ``values[name]`` (inserted verbatim).

    Raises PlaceholderError for an unclosed placeholder or a name missing from `values`.
    """
    parts: list[str] = []
    pos = 0
    for start, end, name in _scan(query):
        if name not in values:
            raise PlaceholderError(f'placeholder "{name}" does not exist')
        parts.append(query[pos:start])
        parts.append(values[name])
        pos = end
    if not parts:
        return query
    parts.append(query[pos:])
    return "".join(parts)


def check_placeholders(query: str, names: Iterable[str] = QUERY_PLACEHOLDERS) -> set[str]:
    """Validates the placeholders of `query` without replacing them.

    Returns the set of placeholder names the query uses (e.g. to know whether it contains
    ``${updated_at}``). Raises PlaceholderError like replace_placeholders.
    """
    allowed = set(names)
    used: set[str] = set()
    for _, _, name in _scan(query):
        if name not in allowed:
            raise PlaceholderError(f'placeholder "{name}" does not exist')
        used.add(name)
    return used


# PostgreSQL's SQLSTATEs for "no operator/function for these types" and "datatype mismatch".
_TYPE_ERRORS = frozenset({"42883", "42804"})

UPDATED_AT_HINT = ("${updated_at} is an untyped SQL literal (NULL, or the cursor as text), so next to another "
                   "literal it is text: give the other side a type, as in "
                   "updated_at >= COALESCE(${updated_at}, '-infinity'::timestamptz), or write "
                   "${updated_at} IS NULL OR updated_at >= ${updated_at}")


def with_updated_at_hint(query: str, error: Exception) -> str:
    """The message of a failed query, with what to write instead when PostgreSQL refused it (its
    `sqlstate`) for comparing a column with text and `query` uses ``${updated_at}``:
    COALESCE(${updated_at}, '-infinity') is text there, since both arguments are untyped literals."""
    message = str(error)
    if getattr(error, "sqlstate", None) not in _TYPE_ERRORS:
        return message
    try:
        used = check_placeholders(query)
    except PlaceholderError:
        return message
    return f"{message}. {UPDATED_AT_HINT}" if "updated_at" in used else message
