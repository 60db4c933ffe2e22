"""What a source query may contain, checked on the text a connector is about to send (placeholders
already replaced) and before it connects. Pure Python, no Django.

Each dialect has a small lexer that reads the text as its server does (strings, quoted identifiers,
comments), so that words inside strings and comments never count, and nothing the server would
execute is hidden from the check: text the two could read differently (an unterminated string or
comment, a control character in MySQL code) is refused rather than guessed. These checks are
defence in depth; a database user that can only read is the real defence (README, Security).

MySQL / MariaDB (``check_mysql_query``): one statement that starts with SELECT, WITH, VALUES, TABLE or
``(``, so nothing like ``BEGIN NOT ATOMIC ... END``, CALL, SET, DO, HANDLER, LOAD, a label, or a
second statement after a ``;``. Inside it: no INTO (``INTO OUTFILE``/``DUMPFILE``/``@var``), no
UPDATE or DELETE (``WITH ... UPDATE``), no locking read (``FOR UPDATE``, ``FOR SHARE``,
``LOCK IN SHARE MODE``: it would block the application's writes), no executable comment (``/*! */``,
``/*M! */``: the server runs their content), no optimizer hint that lifts the statement timeout
(MAX_EXECUTION_TIME, SET_VAR), and none of MYSQL_FUNCTIONS. The lexer follows MariaDB's: '...' and
"..." strings with backslash escapes and doubled quotes (the connector's session turns off
NO_BACKSLASH_ESCAPES and ANSI_QUOTES so that the server reads them so too), `...` identifiers,
``#`` and ``-- `` comments to the end of the line, ``/* */`` comments that do not nest.

PostgreSQL (``check_postgresql_query``): one statement (the connector declares a cursor over it,
which PostgreSQL accepts only for a query: SELECT, WITH, VALUES, TABLE) that calls none of
POSTGRESQL_FUNCTIONS, matched as function names (unquoted in any case, "quoted", U&"quoted",
schema-qualified) followed by ``(``. The lexer follows PostgreSQL's with standard_conforming_strings
on: '...' strings, E'...' strings with backslash escapes (also in their continuation on the next
line), $tag$ dollar quotes $tag$, "identifiers", ``--`` comments to the end of the line (``\\n`` or
``\\r``) and nested ``/* */`` comments.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from .base import ConnectorUnavailable

__all__ = ["QueryNotAllowed", "check_mysql_query", "check_postgresql_query", "MYSQL_FUNCTIONS",
           "POSTGRESQL_FUNCTIONS", "POSTGRESQL_FUNCTION_PREFIXES", "MULTIPLE_COMMANDS"]


class QueryNotAllowed(ConnectorUnavailable):
    """A query the connector refuses to send; str() says why."""


NOT_A_SELECT = "the query must be a SELECT, not {}"
NO_STATEMENT = "the query has no statement, only comments"
SINGLE_STATEMENT = "the query must be a single statement"
MULTIPLE_COMMANDS = "cannot insert multiple commands into a prepared statement"  # PostgreSQL's own words
INTO = "SELECT ... INTO is not allowed: the query may only read"
LOCKING = "{} is not allowed: the query may not lock rows"
EXECUTABLE_COMMENT = "executable comments ({} ... */) are not allowed in the query"
HINT = "the optimizer hint {} is not allowed in the query"
FUNCTION = ("function {} is not allowed in the query: it can reach the server's files, other servers or sessions, "
            "or write")
UNTERMINATED = "the query has an unterminated {}"
CONTROL = "the query contains the control character U+{:04X} outside a string"
UESCAPE = "UESCAPE is not supported in the query"

# Functions that work in a read-only transaction and reach outside it. MySQL/MariaDB: the server's
# files (LOAD_FILE) and the commands, environment and files of lib_mysqludf_sys.
MYSQL_FUNCTIONS = frozenset(("load_file", "sys_exec", "sys_eval", "sys_get", "sys_set"))

# PostgreSQL, by what they reach (pg_sleep, advisory locks and the pg_stat_* views stay allowed).
POSTGRESQL_FUNCTIONS = frozenset((
    # other servers: pgsql-http and pg_net, the aws_s3 extension (which also runs SQL text)
    "http", "query_export_to_s3", "table_import_from_s3",
    # the server's files, and large objects (lo_import/lo_export read and write server files)
    "pg_read_file", "pg_read_binary_file", "pg_stat_file", "pg_logdir_ls", "loread", "lowrite",
    # other sessions and the server itself
    "pg_terminate_backend", "pg_cancel_backend", "pg_reload_conf", "pg_rotate_logfile", "pg_rotate_logfile_old",
    "pg_promote", "pg_switch_wal", "pg_create_restore_point", "pg_backup_start", "pg_backup_stop",
    "pg_start_backup", "pg_stop_backup", "pg_wal_replay_pause", "pg_wal_replay_resume",
    "pg_log_backend_memory_contexts", "pg_log_standby_snapshot", "pg_import_system_collations", "pg_notify",
    "pg_drop_replication_slot", "pg_replication_slot_advance",
    # settings of the session (statement_timeout, search_path...)
    "set_config",
    # SQL text run inside the query, where this check cannot see it
    "query_to_xml", "query_to_xmlschema", "query_to_xml_and_xmlschema", "cursor_to_xml", "cursor_to_xmlschema",
    "ts_stat", "ts_rewrite",
))
POSTGRESQL_FUNCTION_PREFIXES = (
    "dblink",            # dblink, dblink_exec, dblink_connect, dblink_send_query...: other connections
    "postgres_fdw_",     # postgres_fdw's connection helpers
    "http_",             # pgsql-http and pg_net (net.http_get, net.http_post)
    "pg_background_",    # pg_background: SQL in another session
    "lo_",               # large objects: lo_import, lo_export, lo_create, lo_unlink, lo_put...
    "pg_ls_",            # pg_ls_dir, pg_ls_logdir, pg_ls_waldir, pg_ls_tmpdir...
    "pg_file_",          # adminpack: pg_file_write, pg_file_rename, pg_file_unlink, pg_file_sync
    "pg_stat_reset",     # statistics of the whole server
    "pg_create_",        # replication slots
    "pg_copy_",          # replication slots
    "pg_logical_",       # logical decoding: reads (and consumes) every change of the database
    "pg_replication_origin_",
)


class Token(NamedTuple):
    kind: str    # "word" (unquoted identifier or keyword), "name" (quoted identifier), "string", "number", "op"
    value: str   # the text; a quoted identifier without its quotes
    start: int   # offset in the query


def _ident_char(ch: str) -> bool:
    """A character of an unquoted identifier, in MySQL and PostgreSQL alike: an ASCII letter or digit,
    _ or $, or any non-ASCII character (PostgreSQL's first character is narrower: _pg_ident_start)."""
    return ch.isascii() and (ch.isalnum() or ch in "_$") or not ch.isascii()


# --------------------------------------------------------------------------- MySQL / MariaDB

_MYSQL_STARTS = frozenset(("SELECT", "WITH", "VALUES", "TABLE"))
_MYSQL_SPACE = " \t\n\v\f\r"
_HINT_WORDS = re.compile(r"\b(MAX_EXECUTION_TIME|SET_VAR)\b", re.IGNORECASE)


def _mysql_control(text: str) -> None:
    for ch in text:
        if (ord(ch) < 0x20 and ch not in _MYSQL_SPACE) or ch == "\x7f":
            raise QueryNotAllowed(CONTROL.format(ord(ch)))


def _mysql_tokens(sql: str):
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in _MYSQL_SPACE:
            i += 1
        elif ch == "#" or (ch == "-" and sql.startswith("--", i) and (i + 2 == n or sql[i + 2] in _MYSQL_SPACE)):
            end = sql.find("\n", i)
            end = n if end < 0 else end
            _mysql_control(sql[i:end])
            i = end
        elif ch == "/" and sql.startswith("/*", i):
            for opener in ("/*!", "/*M!"):
                if sql.startswith(opener, i):
                    raise QueryNotAllowed(EXECUTABLE_COMMENT.format(opener))
            end = sql.find("*/", i + 2)
            if end < 0:
                raise QueryNotAllowed(UNTERMINATED.format("/* comment"))
            body = sql[i + 2:end]
            _mysql_control(body)
            if body.startswith("+"):
                hint = _HINT_WORDS.search(body)
                if hint:
                    raise QueryNotAllowed(HINT.format(hint.group(1).upper()))
            i = end + 2
        elif ch in "'\"":
            end = _mysql_string_end(sql, i)
            yield Token("string", sql[i:end], i)
            i = end
        elif ch == "`":
            end, name = _quoted_end(sql, i, "quoted identifier")
            yield Token("name", name, i)
            i = end
        elif _ident_char(ch):
            j = i + 1
            while j < n and _ident_char(sql[j]):
                j += 1
            yield Token("word", sql[i:j], i)
            i = j
        else:
            _mysql_control(ch)
            yield Token("op", ch, i)
            i += 1


def _mysql_string_end(sql: str, i: int) -> int:
    """The end of the '...' or "..." string at i: a backslash escapes the next character, a doubled
    quote is a quote."""
    quote, i, n = sql[i], i + 1, len(sql)
    while i < n:
        ch = sql[i]
        if ch == "\\":
            i += 2
        elif ch == quote:
            if i + 1 < n and sql[i + 1] == quote:
                i += 2
            else:
                return i + 1
        else:
            i += 1
    raise QueryNotAllowed(UNTERMINATED.format("quoted string"))


def _quoted_end(sql: str, i: int, what: str) -> tuple[int, str]:
    """(end, name) of the identifier quoted by sql[i], where a doubled quote is a quote."""
    quote, j, n = sql[i], i + 1, len(sql)
    while j < n:
        if sql[j] == quote:
            if j + 1 < n and sql[j + 1] == quote:
                j += 2
                continue
            return j + 1, sql[i + 1:j].replace(quote * 2, quote)
        j += 1
    raise QueryNotAllowed(UNTERMINATED.format(what))


def check_mysql_query(sql: str) -> str:
    """Returns `sql` without its trailing ``;``, or raises QueryNotAllowed (see the module docstring)."""
    tokens = list(_mysql_tokens(sql))
    if not tokens or tokens[0].kind == "op" and tokens[0].value == ";":
        raise QueryNotAllowed(NO_STATEMENT)
    first = tokens[0]
    if not (first.kind == "op" and first.value == "(" or first.kind == "word" and first.value.upper() in _MYSQL_STARTS):
        raise QueryNotAllowed(NOT_A_SELECT.format(_shown(first)))
    tokens, sql = _one_statement(sql, tokens, SINGLE_STATEMENT)
    for index, token in enumerate(tokens):
        after = tokens[index + 1] if index + 1 < len(tokens) else None
        if token.kind in ("word", "name") and after is not None and after.kind == "op" and after.value == "(" \
                and token.value.lower() in MYSQL_FUNCTIONS:
            raise QueryNotAllowed(FUNCTION.format(token.value.upper()))
        if token.kind != "word" or _mysql_is_name(tokens, index):
            continue
        word = token.value.upper()
        following = after.value.upper() if after is not None and after.kind == "word" else ""
        if word == "INTO":
            raise QueryNotAllowed(INTO)
        if word == "FOR" and following in ("UPDATE", "SHARE"):
            raise QueryNotAllowed(LOCKING.format(f"FOR {following}"))
        if word == "LOCK":
            raise QueryNotAllowed(LOCKING.format("LOCK IN SHARE MODE"))
        if word in ("UPDATE", "DELETE"):
            raise QueryNotAllowed(NOT_A_SELECT.format(word))
    return sql


def _mysql_is_name(tokens: list[Token], index: int) -> bool:
    """Whether the word at `index` is a name whatever it spells, as MariaDB's lexer reads it: right
    after a '.' that is not the end of a number (t.update, `t`.into; but 1.into is 1. INTO), or
    right after a single '@' (@into, a user variable)."""
    start = tokens[index].start
    before = tokens[index - 1] if index > 0 else None
    if before is None or before.kind != "op" or before.start != start - 1:
        return False
    owner = tokens[index - 2] if index > 1 else None
    if before.value == ".":
        return owner is not None and (owner.kind == "name" or owner.kind == "word" and not owner.value[0].isdigit())
    if before.value == "@":
        return not (owner is not None and owner.kind == "op" and owner.value == "@" and owner.start == start - 2)
    return False


def _shown(token: Token) -> str:
    return token.value.upper() if token.kind == "word" else f'"{token.value[:20]}"'


def _one_statement(sql: str, tokens: list[Token], message: str) -> tuple[list[Token], str]:
    """The tokens and text before the first top-level ``;``; raises when a statement follows it."""
    for index, token in enumerate(tokens):
        if token.kind == "op" and token.value == ";":
            if any(not (t.kind == "op" and t.value == ";") for t in tokens[index + 1:]):
                raise QueryNotAllowed(message)
            return tokens[:index], sql[:token.start]
    return tokens, sql


# --------------------------------------------------------------------------- PostgreSQL

_PG_SPACE = " \t\n\r\f\v"
_PG_NUMBER = re.compile(r"[0-9][0-9_]*(?:\.[0-9_]*)?(?:[eE][+-]?[0-9]+)?|\.[0-9][0-9_]*(?:[eE][+-]?[0-9]+)?")
_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_\u0080-\U0010ffff][A-Za-z0-9_\u0080-\U0010ffff]*)?\$")
# A string continues after a quote when a newline separates it from the next quote (scan.l's
# quotecontinue); the continuation keeps the string's kind (an E'' string's backslashes).
_QUOTE_CONTINUE = re.compile(r"(?:[ \t\f]|--[^\n\r]*)*[\n\r](?:[ \t\n\r\f]+|--[^\n\r]*[\n\r])*'")
_U_ESCAPE = re.compile(r"\\(?:\\|[0-9A-Fa-f]{4}|\+[0-9A-Fa-f]{6})")


def _pg_ident_start(ch: str) -> bool:
    return ch.isascii() and (ch.isalpha() or ch == "_") or not ch.isascii()


def _postgresql_tokens(sql: str):
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in _PG_SPACE:
            i += 1
        elif ch == "-" and sql.startswith("--", i):
            while i < n and sql[i] not in "\n\r":
                i += 1
        elif ch == "/" and sql.startswith("/*", i):
            i = _pg_comment_end(sql, i)
        elif ch == "'":
            end = _pg_string_end(sql, i, backslash=False)
            yield Token("string", sql[i:end], i)
            i = end
        elif ch == '"':
            end, name = _quoted_end(sql, i, "quoted identifier")
            yield Token("name", name, i)
            i = end
        elif ch == "$" and _DOLLAR_TAG.match(sql, i):
            tag = _DOLLAR_TAG.match(sql, i).group()
            close = sql.find(tag, i + len(tag))
            if close < 0:
                raise QueryNotAllowed(UNTERMINATED.format("dollar-quoted string"))
            yield Token("string", sql[i:close + len(tag)], i)
            i = close + len(tag)
        elif _pg_ident_start(ch):
            j = i + 1
            while j < n and _ident_char(sql[j]):
                j += 1
            word = sql[i:j]
            if word in ("e", "E") and sql.startswith("'", j):
                end = _pg_string_end(sql, j, backslash=True)
                yield Token("string", sql[i:end], i)
                i = end
            elif word in ("u", "U") and sql.startswith('&"', j):
                end, name = _quoted_end(sql, j + 1, "quoted identifier")
                yield Token("name", _U_ESCAPE.sub(_unicode_escape, name), i)
                i = end
            else:  # U&'...', B'...', X'...' and N'...' strings lex as a word and a standard string
                yield Token("word", word, i)
                i = j
        elif ch.isdigit() or (ch == "." and i + 1 < n and sql[i + 1].isdigit()):
            end = _PG_NUMBER.match(sql, i).end()
            yield Token("number", sql[i:end], i)
            i = end
        else:
            yield Token("op", ch, i)
            i += 1


def _unicode_escape(match: re.Match) -> str:
    text = match.group()
    return "\\" if text == "\\\\" else chr(int(text.lstrip("\\+"), 16))


def _pg_string_end(sql: str, i: int, *, backslash: bool) -> int:
    """The end of the string whose opening quote is at i, continuation lines included."""
    i, n = i + 1, len(sql)
    while i < n:
        ch = sql[i]
        if backslash and ch == "\\":
            i += 2
        elif ch == "'":
            if i + 1 < n and sql[i + 1] == "'":
                i += 2
                continue
            more = _QUOTE_CONTINUE.match(sql, i + 1)
            if not more:
                return i + 1
            i = more.end()
        else:
            i += 1
    raise QueryNotAllowed(UNTERMINATED.format("quoted string"))


def _pg_comment_end(sql: str, i: int) -> int:
    depth, n = 0, len(sql)
    while i < n:
        if sql.startswith("/*", i):
            depth += 1
            i += 2
        elif sql.startswith("*/", i):
            depth -= 1
            i += 2
            if depth == 0:
                return i
        else:
            i += 1
    raise QueryNotAllowed(UNTERMINATED.format("/* comment"))


def postgresql_function_allowed(name: str) -> bool:
    name = name.lower()
    return name not in POSTGRESQL_FUNCTIONS and not name.startswith(POSTGRESQL_FUNCTION_PREFIXES)


def check_postgresql_query(sql: str) -> str:
    """Returns `sql` without its trailing ``;``, or raises QueryNotAllowed (see the module docstring)."""
    tokens, sql = _one_statement(sql, list(_postgresql_tokens(sql)), MULTIPLE_COMMANDS)
    if any(t.kind == "word" and t.value.lower() == "uescape" for t in tokens):
        raise QueryNotAllowed(UESCAPE)  # a U&"name" is read with the default escape, a backslash
    for token, after in zip(tokens, tokens[1:]):
        if token.kind in ("word", "name") and after.kind == "op" and after.value == "(" \
                and not postgresql_function_allowed(token.value):
            raise QueryNotAllowed(FUNCTION.format(token.value.lower()))
    return sql
