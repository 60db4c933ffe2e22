"""The query checks of querycheck.py, as pure functions: what each lexer reads as code, string or
comment, and the message of every refusal. The same attacks against the real servers are in
test_mysql.py, test_postgresql.py and tests/reliability/test_source_safety.py."""

import pytest

from pipelines.connectors import ConnectorUnavailable
from pipelines.connectors.querycheck import (MULTIPLE_COMMANDS, MYSQL_FUNCTIONS, POSTGRESQL_FUNCTION_PREFIXES,
                                             POSTGRESQL_FUNCTIONS, QueryNotAllowed, check_mysql_query,
                                             check_postgresql_query)

NOT_A_SELECT = "the query must be a SELECT, not {}"
SINGLE = "the query must be a single statement"
INTO = "SELECT ... INTO is not allowed: the query may only read"
LOCKING = "{} is not allowed: the query may not lock rows"
FUNCTION = ("function {} is not allowed in the query: it can reach the server's files, other servers or sessions, "
            "or write")


def refusal(check, sql) -> str:
    with pytest.raises(QueryNotAllowed) as info:
        check(sql)
    assert isinstance(info.value, ConnectorUnavailable)  # a 503 in a preview, the run's error in a run
    return str(info.value)


# --------------------------------------------------------------------------- MySQL / MariaDB

MYSQL_ALLOWED = [
    ("SELECT 1", "SELECT 1"),
    ("select id from customers;", "select id from customers"),
    ("SELECT 1 ;  -- done\n", "SELECT 1 "),
    ("SELECT 1;;", "SELECT 1"),
    ("  -- leading comment\n# another\n/* and another */ SELECT 1", None),
    ("WITH recent AS (SELECT id FROM t WHERE d > NOW() - INTERVAL 1 DAY) SELECT * FROM recent", None),
    ("WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5) SELECT i FROM n", None),
    ("(SELECT id FROM a) UNION (SELECT id FROM b) ORDER BY id LIMIT 10", None),
    ("SELECT id, ROW_NUMBER() OVER (PARTITION BY kind ORDER BY ts DESC) AS rn FROM t", None),
    ("SELECT * FROM (SELECT id FROM t WHERE id IN (SELECT id FROM u)) AS s", None),
    ("VALUES (1, 'a'), (2, 'b')", None),
    ("TABLE customers", None),
    # the forbidden words inside strings, quoted identifiers and comments
    ("SELECT 'INTO OUTFILE', \"FOR UPDATE\", 'LOAD_FILE(1)' AS x", None),
    ("SELECT `into`, `update`, `LOAD_FILE`, `delete` FROM `order`", None),
    ("SELECT 1 /* CALL p(); DELETE FROM t; INTO @x */", None),
    ("SELECT 1 -- ; DELETE FROM t\n", None),
    ("SELECT 1 # ; DELETE FROM t", None),
    ("SELECT 'it''s; DELETE', 'a\\'; DELETE FROM t; --' AS s", None),
    ("SELECT \"a\\\" INTO @x\" AS s", None),
    ("SELECT 'a\\\\' AS s, ';' AS t", None),
    # names that spell keywords after a dot or an @, as MariaDB reads them
    ("SELECT t.update, t.into, `t`.delete, @into, @lock FROM t", None),
    # functions whose names are keywords
    ("SELECT REPLACE(a, 'x', 'y'), INSERT(a, 1, 2, 'z'), LEFT(a, 2) FROM t", None),
    # MariaDB's own syntax
    ("SELECT * FROM t FOR SYSTEM_TIME AS OF TIMESTAMP '2024-01-01 00:00:00'", None),
    ("SELECT seq FROM seq_1_to_5", None),
    ("SELECT JSON_VALUE(attrs, '$.plan'), attrs->>'$.plan' FROM customers", None),
    ("SELECT id FROM t WHERE id <=> NULL OR name RLIKE '^a' LIMIT 10 OFFSET 5", None),
    ("SELECT _utf8mb4'abc' COLLATE utf8mb4_bin, N'x', X'41', B'01', 0x41, 1e3, .5, $a FROM t", None),
    ("SELECT 1--1", None),  # minus minus one: "--" starts a comment only before a space
    ("SELECT /*+ BKA(t) NO_ICP(t) */ id FROM t", None),
    ("SELECT CAST(x AS CHAR CHARACTER SET utf8mb4), CONVERT(x USING latin1) FROM t", None),
    ("SELECT GET_LOCK('a', 0), SLEEP(0), BENCHMARK(1, 1)", None),
    ("SELECT ${updated_at}", None),  # a placeholder left in the text is not code either way
]


@pytest.mark.parametrize("sql,expected", MYSQL_ALLOWED)
def test_mysql_allows_single_read_only_queries(sql, expected):
    assert check_mysql_query(sql) == (sql if expected is None else expected)


@pytest.mark.parametrize("sql,message", [
    # the issue's attack: a compound statement commits and writes
    ("BEGIN NOT ATOMIC SET SESSION TRANSACTION READ WRITE; COMMIT; DELETE FROM canary; COMMIT; END",
     NOT_A_SELECT.format("BEGIN")),
    ("CALL some_procedure()", NOT_A_SELECT.format("CALL")),
    ("lbl: BEGIN NOT ATOMIC END", NOT_A_SELECT.format("LBL")),
    ("IF 1 THEN SELECT 1; END IF", NOT_A_SELECT.format("IF")),
    ("FOR i IN 1..3 DO SELECT 1; END FOR", NOT_A_SELECT.format("FOR")),
    ("SET SESSION TRANSACTION READ WRITE", NOT_A_SELECT.format("SET")),
    ("DO RELEASE_ALL_LOCKS()", NOT_A_SELECT.format("DO")),
    ("HANDLER t OPEN", NOT_A_SELECT.format("HANDLER")),
    ("LOAD DATA INFILE '/etc/passwd' INTO TABLE t", NOT_A_SELECT.format("LOAD")),
    ("EXECUTE stmt", NOT_A_SELECT.format("EXECUTE")),
    ("XA START 'x'", NOT_A_SELECT.format("XA")),
    ("INSERT INTO t VALUES (1)", NOT_A_SELECT.format("INSERT")),
    ("SELEC id FROM customers", NOT_A_SELECT.format("SELEC")),
    ("`select` 1", NOT_A_SELECT.format('"select"')),
    ("WITH x AS (SELECT 1) UPDATE t SET a = 1", NOT_A_SELECT.format("UPDATE")),
    ("WITH x AS (SELECT 1) DELETE FROM t", NOT_A_SELECT.format("DELETE")),
    ("-- nothing\n", "the query has no statement, only comments"),
    ("; SELECT 1", "the query has no statement, only comments"),
    # a second statement
    ("SELECT 1; DELETE FROM t", SINGLE),
    ("SELECT 1 ; ; COMMIT", SINGLE),
    ("SELECT 'a\\\\'; DELETE FROM t; -- '", SINGLE),  # an escaped backslash, then the closing quote
    ("SELECT 1 --x\n; DELETE FROM t", SINGLE),  # "--x" is not a comment
    # writing files or variables, locking
    ("SELECT * FROM t INTO OUTFILE '/tmp/x'", INTO),
    ("SELECT 'x' INTO DUMPFILE '/tmp/x'", INTO),
    ("SELECT 1 INTO @v", INTO),
    ("SELECT 1.into @v", INTO),  # 1. is a number: INTO is the keyword
    ("SELECT @@into", INTO),
    ("(SELECT 1) UNION (SELECT 2 INTO @v)", INTO),
    ("SELECT * FROM t FOR UPDATE", LOCKING.format("FOR UPDATE")),
    ("SELECT * FROM t for update skip locked", LOCKING.format("FOR UPDATE")),
    ("SELECT * FROM t FOR SHARE", LOCKING.format("FOR SHARE")),
    ("SELECT * FROM t LOCK IN SHARE MODE", LOCKING.format("LOCK IN SHARE MODE")),
    # comments the server executes, and what the lexer cannot read as the server does
    ("SELECT 1 /*!, (SELECT 2) */", "executable comments (/*! ... */) are not allowed in the query"),
    ("SELECT 1 /*!50000 INTO OUTFILE '/tmp/x' */", "executable comments (/*! ... */) are not allowed in the query"),
    ("SELECT 1 /*M!100000 , 2 */", "executable comments (/*M! ... */) are not allowed in the query"),
    ("SELECT /*+ MAX_EXECUTION_TIME(0) */ 1", "the optimizer hint MAX_EXECUTION_TIME is not allowed in the query"),
    ("SELECT /*+ SET_VAR(sort_buffer_size = 16M) */ 1", "the optimizer hint SET_VAR is not allowed in the query"),
    ("SELECT 'abc", "the query has an unterminated quoted string"),
    ("SELECT 'abc\\'", "the query has an unterminated quoted string"),
    ("SELECT \"abc", "the query has an unterminated quoted string"),
    ("SELECT `abc", "the query has an unterminated quoted identifier"),
    ("SELECT 1 /* abc", "the query has an unterminated /* comment"),
    ("SELECT 1 -- a\x00\nb", "the query contains the control character U+0000 outside a string"),
    ("SELECT 1 # \x01", "the query contains the control character U+0001 outside a string"),
    ("SELECT 1 --\x7f", "the query contains the control character U+007F outside a string"),
    # functions that reach outside the transaction
    ("SELECT LOAD_FILE('/etc/passwd')", FUNCTION.format("LOAD_FILE")),
    ("SELECT load_file ('/etc/passwd')", FUNCTION.format("LOAD_FILE")),
    ("SELECT `load_file`('/etc/passwd')", FUNCTION.format("LOAD_FILE")),
    ("SELECT sys_exec('id')", FUNCTION.format("SYS_EXEC")),
])
def test_mysql_refuses_what_is_not_one_read_only_query(sql, message):
    assert refusal(check_mysql_query, sql) == message


def test_mysql_functions_are_the_documented_ones():
    assert MYSQL_FUNCTIONS == {"load_file", "sys_exec", "sys_eval", "sys_get", "sys_set"}


# --------------------------------------------------------------------------- PostgreSQL

@pytest.mark.parametrize("sql,expected", [
    ("SELECT 1", "SELECT 1"),
    ("SELECT 1;", "SELECT 1"),
    ("SELECT 1 ;  -- done\n", "SELECT 1 "),
    ("SELECT ';' AS s", "SELECT ';' AS s"),
    ("SELECT 'it''s;' AS s", "SELECT 'it''s;' AS s"),
    ("SELECT E'\\';' AS s", "SELECT E'\\';' AS s"),
    ("SELECT \"a;b\" FROM t", "SELECT \"a;b\" FROM t"),
    ("SELECT $$;$$ AS s, $x$ ; $$ ; $x$ AS t", "SELECT $$;$$ AS s, $x$ ; $$ ; $x$ AS t"),
    ("SELECT 1 -- ; no\n", "SELECT 1 -- ; no\n"),
    ("SELECT /* ; /* nested ; */ ; */ 1", "SELECT /* ; /* nested ; */ ; */ 1"),
    ("SELECT a$b FROM t WHERE x = $1", "SELECT a$b FROM t WHERE x = $1"),
    ("SELECT 1;;", "SELECT 1"),
    ("SELECT 1; /* trailing */", "SELECT 1"),
    # the forbidden names as strings, comments, columns
    ("SELECT 'dblink_exec(1)', $$ pg_read_file('x') $$, E'\\' set_config(' AS s -- lo_export(1)\n", None),
    ("SELECT /* dblink( /* nested */ dblink( */ 1", None),
    ("SELECT dblink_exec, lo_price, t.set_config FROM t", None),
    ("SELECT pg_sleep(0.1), pg_advisory_xact_lock(1), current_setting('TimeZone'), lower(x) FROM t", None),
    ("WITH RECURSIVE n AS (SELECT 1 AS i UNION ALL SELECT i + 1 FROM n WHERE i < 3) "
     "SELECT i, sum(i) OVER (ORDER BY i) FROM n", None),
    ("VALUES (1), (2)", None),
    ("TABLE customers", None),
])
def test_postgresql_allows_queries_that_call_no_listed_function(sql, expected):
    assert check_postgresql_query(sql) == (sql if expected is None else expected)


@pytest.mark.parametrize("sql", [
    "SELECT 1; SELECT 2",
    "SELECT 'x'; DROP TABLE t",
    "SELECT E'\\''; DROP TABLE t",
    "SELECT 'a\\'; DROP TABLE t --'",  # standard_conforming_strings: the backslash is a plain character
    "SELECT $$x$$; DROP TABLE t",
    "SELECT e'x'; DROP TABLE t",
    "SELECT 1 /* c */; DROP TABLE t",
    "SELECT 1;\nCOMMIT",
    "SELECT 1 -- c\r; DROP TABLE t",  # a comment ends at a carriage return too
])
def test_postgresql_refuses_a_second_statement(sql):
    assert refusal(check_postgresql_query, sql) == MULTIPLE_COMMANDS


@pytest.mark.parametrize("sql,name", [
    ("SELECT dblink_exec('dbname=src', 'DELETE FROM canary')", "dblink_exec"),
    ("SELECT * FROM dblink('dbname=src', 'SELECT 1') AS t(x int)", "dblink"),
    ("SELECT public.DBLINK_EXEC('x', 'y')", "dblink_exec"),
    ("SELECT \"public\".\"dblink_exec\" ('x', 'y')", "dblink_exec"),
    ("SELECT U&\"dblink\\005Fexec\"('x', 'y')", "dblink_exec"),
    ("SELECT dblink_exec /* comment */ ('x', 'y')", "dblink_exec"),
    ("SELECT 1 -- comment\r, dblink_exec('x', 'y')", "dblink_exec"),
    # an E'' string continues on the next line with its backslash escapes: the call is outside it
    ("SELECT E'x'\n'\\' || ' , dblink_exec(''x'', ''y'') -- '", "dblink_exec"),
    ("SELECT pg_read_file('/etc/passwd')", "pg_read_file"),
    ("SELECT pg_catalog.pg_read_binary_file('PG_VERSION')", "pg_read_binary_file"),
    ("SELECT pg_ls_dir('.')", "pg_ls_dir"),
    ("SELECT * FROM pg_ls_waldir()", "pg_ls_waldir"),
    ("SELECT pg_stat_file('PG_VERSION')", "pg_stat_file"),
    ("SELECT lo_import('/etc/passwd')", "lo_import"),
    ("SELECT lo_export(1, '/tmp/x')", "lo_export"),
    ("SELECT pg_file_write('x', 'y', false)", "pg_file_write"),
    ("SELECT pg_terminate_backend(1)", "pg_terminate_backend"),
    ("SELECT pg_cancel_backend(1)", "pg_cancel_backend"),
    ("SELECT pg_reload_conf()", "pg_reload_conf"),
    ("SELECT pg_rotate_logfile()", "pg_rotate_logfile"),
    ("SELECT set_config('statement_timeout', '0', false)", "set_config"),
    ("SELECT query_to_xml('SELECT 1', true, true, '')", "query_to_xml"),
    ("SELECT ts_stat('SELECT 1')", "ts_stat"),
    ("SELECT postgres_fdw_disconnect_all()", "postgres_fdw_disconnect_all"),
    ("SELECT net.http_get('http://169.254.169.254/')", "http_get"),
    ("SELECT pg_stat_reset()", "pg_stat_reset"),
    ("SELECT pg_notify('c', 'x')", "pg_notify"),
    ("SELECT pg_logical_slot_get_changes('s', NULL, NULL)", "pg_logical_slot_get_changes"),
])
def test_postgresql_refuses_functions_that_reach_outside_the_transaction(sql, name):
    assert refusal(check_postgresql_query, sql) == FUNCTION.format(name)


@pytest.mark.parametrize("sql,message", [
    ("SELECT 'abc", "the query has an unterminated quoted string"),
    ("SELECT E'abc\\'", "the query has an unterminated quoted string"),
    ("SELECT \"abc", "the query has an unterminated quoted identifier"),
    ("SELECT $x$ abc $y$", "the query has an unterminated dollar-quoted string"),
    ("SELECT 1 /* a /* b */", "the query has an unterminated /* comment"),
    ("SELECT U&\"!0064blink_exec\" UESCAPE '!' ('x', 'y')", "UESCAPE is not supported in the query"),
])
def test_postgresql_refuses_what_it_cannot_read_as_the_server_does(sql, message):
    assert refusal(check_postgresql_query, sql) == message


def test_postgresql_list_covers_the_issue_and_leaves_pg_sleep():
    listed = [name for name in ("dblink_exec", "dblink_connect", "lo_import", "lo_export", "pg_read_file",
                                "pg_read_binary_file", "pg_ls_dir", "pg_ls_logdir", "pg_stat_file", "pg_file_write",
                                "pg_terminate_backend", "pg_cancel_backend", "pg_reload_conf", "pg_rotate_logfile",
                                "set_config", "query_to_xml")
              if name in POSTGRESQL_FUNCTIONS or name.startswith(POSTGRESQL_FUNCTION_PREFIXES)]
    assert len(listed) == 16
    assert "pg_sleep" not in POSTGRESQL_FUNCTIONS and not "pg_sleep".startswith(POSTGRESQL_FUNCTION_PREFIXES)
