"""PostgreSQL connector against the real server on 127.0.0.1:5432."""

import datetime as dt
import secrets
import threading
import time
from decimal import Decimal

import pytest

from pipelines.connectors import (REGISTRY, ConnectorUnavailable, InvalidSettings, QueryControl, QueryFailed,
                                  QueryInterrupted)
from pipelines.connectors.base import INVALID_NAME_ISSUE
from pipelines.connectors.postgresql import canonical_ip
from pipelines.connectors.querycheck import MULTIPLE_COMMANDS
from pipelines.types import RawJSON, Type

from .conftest import column_types, interrupt_when, read_all

PG = REGISTRY["postgresql"]
UTC = dt.timezone.utc


def T(kind, **kw):
    return Type(kind=kind, **kw)


# --------------------------------------------------------------------------- settings

VALID = {"host": "127.0.0.1", "port": 5432, "username": "postgres", "password": "", "database": "postgres",
         "schema": "public"}


def test_valid_settings_are_normalized():
    assert PG.validate_settings(dict(VALID, extra="ignored")) == dict(VALID, sslmode="prefer", sslrootcert="")
    assert PG.validate_settings(dict(VALID, password="p" * 100))["password"] == "p" * 100
    assert PG.validate_settings(dict(VALID, host="h" * 253, port=65535, username="u" * 63, database="d" * 63,
                                     schema="s" * 63))["port"] == 65535
    assert PG.validate_settings(dict(VALID, password="é" * 100))["password"] == "é" * 100  # runes, not bytes


@pytest.mark.parametrize("key,value,message", [
    ("host", "", "host length in bytes must be in range [1,253]"),
    ("host", "h" * 254, "host length in bytes must be in range [1,253]"),
    ("host", "é" * 127, "host length in bytes must be in range [1,253]"),  # 254 bytes
    ("port", 0, "port must be in range [1,65535]"),
    ("port", 65536, "port must be in range [1,65535]"),
    ("port", -1, "port must be in range [1,65535]"),
    ("username", "", "username length in bytes must be in range [1,63]"),
    ("username", "u" * 64, "username length in bytes must be in range [1,63]"),
    ("password", "p" * 101, "password must be no longer than 100 characters"),
    ("database", "", "database length in bytes must be in range [1,63]"),
    ("database", "d" * 64, "database length in bytes must be in range [1,63]"),
    ("schema", "", "schema length in bytes must be in range [1,63]"),
    ("schema", "s" * 64, "schema length in bytes must be in range [1,63]"),
    # Wrong JSON types: InvalidSettings (the reference answers 503 here; 422 is friendlier).
    ("port", "5432", "port must be an integer"),
    ("port", 5432.0, "port must be an integer"),
    ("port", True, "port must be an integer"),
    ("host", 5, "host must be a string"),
    ("password", ["x"], "password must be a string"),
])
def test_invalid_settings(key, value, message):
    with pytest.raises(InvalidSettings) as info:
        PG.validate_settings(dict(VALID, **{key: value}))
    assert str(info.value) == message


def test_missing_or_null_settings_are_zero_values():
    with pytest.raises(InvalidSettings, match=r"^host length in bytes must be in range \[1,253\]$"):
        PG.validate_settings({})
    with pytest.raises(InvalidSettings, match=r"^port must be in range \[1,65535\]$"):
        PG.validate_settings(dict(VALID, port=None))
    settings = dict(VALID)
    del settings["password"]
    assert PG.validate_settings(settings)["password"] == ""
    with pytest.raises(InvalidSettings, match="^settings must be a JSON object$"):
        PG.validate_settings(["x"])


# --------------------------------------------------------------------------- connecting


def test_test_connection(pg):
    PG.test_connection(pg.settings())
    PG.test_connection(pg.settings(password="anything"))  # trust authentication


@pytest.mark.parametrize("changes,expected", [
    ({"port": 1}, "Connection refused"),
    ({"database": "krenalis_no_such_database"}, 'database "krenalis_no_such_database" does not exist'),
    ({"host": "no-such-host.invalid"}, "no-such-host.invalid"),
])
def test_unreachable_database(pg, changes, expected):
    password = "Secret-P4ss'word"
    with pytest.raises(ConnectorUnavailable) as info:
        PG.test_connection(pg.settings(password=password, **changes), connect_timeout=3)
    message = str(info.value)
    assert expected in message
    assert password not in message and "Secret" not in message
    assert "\n" not in message
    with pytest.raises(ConnectorUnavailable):
        with PG.query(pg.settings(password=password, **changes), "SELECT 1", timeout_seconds=5, connect_timeout=3):
            pass


def test_password_echoed_by_the_driver_is_removed(pg):
    """The server echoes the role name; a role named like the password makes a real driver error carry it."""
    password = "Top-S3cret'\\x"
    with pytest.raises(ConnectorUnavailable) as info:
        PG.test_connection(pg.settings(username=password, password=password), connect_timeout=3)
    assert "Top-S3cret" not in str(info.value)
    assert str(info.value) == ('connection to server at "127.0.0.1", port 5432 failed: '
                               'FATAL: role "********" does not exist')


def test_schema_sets_the_search_path(pg):
    pg.execute("CREATE SCHEMA IF NOT EXISTS other; CREATE TABLE IF NOT EXISTS other.things (x int);"
               "DELETE FROM other.things; INSERT INTO other.things VALUES (42)")
    _, rows = read_all(PG, pg.settings(schema="other"), "SELECT x FROM things")
    assert rows == [(42,)]
    with pytest.raises(ConnectorUnavailable, match=r'relation "things" does not exist \(SQLSTATE 42P01\)'):
        read_all(PG, pg.settings(), "SELECT x FROM things")


# --------------------------------------------------------------------------- column typing


@pytest.fixture(scope="module")
def typed_table(pg):
    pg.execute("""
        CREATE TYPE mood AS ENUM ('sad', 'happy');
        CREATE TYPE pair AS (a integer, b integer);
        CREATE TABLE typed (
            c_bool boolean, c_int2 smallint, c_int4 integer, c_serial serial, c_int8 bigint, c_bigserial bigserial,
            c_float4 real, c_float8 double precision, c_num numeric(10,2), c_num_free numeric, c_num_neg numeric(5,-2),
            c_num_small numeric(2,5), c_num_max numeric(76,37), c_ts timestamp, c_tstz timestamptz, c_date date,
            c_time time, c_timetz timetz, c_uuid uuid, c_json json, c_jsonb jsonb, c_inet inet, c_char char(7),
            c_bpchar bpchar, c_varchar varchar(120), c_varchar_free varchar, c_text text, c_bytea bytea,
            c_money money, c_interval interval, c_cidr cidr, c_point point, c_arr int[], c_tags text[], c_mood mood,
            c_oid oid NOT NULL DEFAULT 1, c_pair pair
        )""")
    return "typed"


def test_every_postgresql_type(pg, typed_table):
    schema, rows = read_all(PG, pg.settings(), "SELECT * FROM typed")
    assert rows == []
    assert column_types(schema) == {
        "c_bool": T("boolean"),
        "c_int2": T("int", bit_size=16),
        "c_int4": T("int", bit_size=32),
        "c_serial": T("int", bit_size=32),
        "c_int8": T("int", bit_size=64),
        "c_bigserial": T("int", bit_size=64),
        "c_float4": T("float", bit_size=32),
        "c_float8": T("float", bit_size=64),
        "c_num": T("decimal", precision=10, scale=2),
        "c_num_free": T("decimal", precision=76, scale=37),
        "c_num_neg": T("decimal", precision=7, scale=0),
        "c_num_small": T("decimal", precision=5, scale=5),
        "c_num_max": T("decimal", precision=76, scale=37),
        "c_ts": T("datetime"),
        "c_tstz": T("datetime"),
        "c_date": T("date"),
        "c_time": T("time"),
        "c_timetz": T("time"),
        "c_uuid": T("uuid"),
        "c_json": T("json"),
        "c_jsonb": T("json"),
        "c_inet": T("ip"),
        "c_char": T("string", max_length=7),
        "c_bpchar": T("string"),
        "c_varchar": T("string", max_length=120),
        "c_varchar_free": T("string"),
        "c_text": T("string"),
        "c_bytea": T("string"),
        "c_mood": T("string"),  # an enum: its labels (the reference leaves enums out)
    }
    assert all(c.nullable for c in schema.columns)  # every PostgreSQL column is nullable, even NOT NULL ones
    pair_oid = pg.execute("SELECT 'pair'::regtype::oid")[0][0]
    assert schema.issues == [
        'Column "c_money" has an unsupported type "MONEY".',
        'Column "c_interval" has an unsupported type "INTERVAL".',
        'Column "c_cidr" has an unsupported type "CIDR".',
        'Column "c_point" has an unsupported type "POINT".',
        'Column "c_arr" has an unsupported type "array".',
        'Column "c_tags" has an unsupported type "array".',
        'Column "c_oid" has an unsupported type "OID".',
        f'Column "c_pair" has an unsupported type "{pair_oid}".',
    ]


def test_numeric_precision_and_scale_beyond_the_limits_are_issues(pg):
    schema, _ = read_all(PG, pg.settings(), "SELECT 1::numeric(100,2) AS wide, 0::numeric(60,40) AS fine, "
                                            "SUM(x)::numeric AS total, 1::numeric(12,0) AS whole "
                                            "FROM (VALUES (1)) v(x)")
    assert column_types(schema) == {"total": T("decimal", precision=76, scale=37),
                                    "whole": T("decimal", precision=12, scale=0)}
    assert schema.issues == [
        'Column "wide" has a precision of 100, which exceeds the maximum supported precision of 76.',
        'Column "fine" has a scale of 40, which exceeds the maximum supported scale of 37.',
    ]


def test_expressions_and_query_order(pg):
    schema, rows = read_all(PG, pg.settings(),
                            "SELECT 'x' AS lit, 1 AS one, 2::int8 AS two, NULL AS nothing, now() AS ts, "
                            "'a'::varchar(3) || 'b' AS cat")
    assert [c.name for c in schema.columns] == ["lit", "one", "two", "nothing", "ts", "cat"]
    assert column_types(schema) == {"lit": T("string"), "one": T("int", bit_size=32), "two": T("int", bit_size=64),
                                    "nothing": T("string"), "ts": T("datetime"), "cat": T("string")}
    assert rows[0][:4] == ("x", 1, 2, None)


def test_invalid_names_are_issues(pg):
    schema, rows = read_all(PG, pg.settings(),
                            'SELECT 1 AS id, 2 AS "e-mail", 3 AS "a.b", 4 AS "é", 5 AS "_ok", 6 AS "8a", '
                            "'{1}'::int[] AS \"bad name\"")
    assert [c.name for c in schema.columns] == ["id", "_ok"]
    assert schema.issues == [INVALID_NAME_ISSUE.format(n) for n in ("e-mail", "a.b", "é", "8a", "bad name")]
    assert rows == [(1, 5)]


def test_no_supported_column_gives_no_rows(pg):
    schema, rows = read_all(PG, pg.settings(), "SELECT '1'::money AS m FROM generate_series(1, 3)")
    assert schema.columns == [] and schema.object_type() is None
    assert schema.issues == ['Column "m" has an unsupported type "MONEY".']
    assert rows == []


def test_duplicate_column_names_fail(pg):
    with pytest.raises(ConnectorUnavailable) as info:
        read_all(PG, pg.settings(), "SELECT 1 AS id, 2 AS name, 3 AS id")
    assert str(info.value) == 'the names of the 1st and 3rd columns are the same: "id"'


# --------------------------------------------------------------------------- values


def test_values_are_converted(pg, typed_table):
    pg.execute("DELETE FROM typed")
    pg.execute("""INSERT INTO typed (c_bool, c_int2, c_int4, c_int8, c_float4, c_float8, c_num, c_num_free, c_num_max,
            c_ts, c_tstz, c_date, c_time, c_timetz, c_uuid, c_json, c_jsonb, c_inet, c_char, c_varchar, c_text,
            c_bytea)
        VALUES (true, -32768, 2147483647, 9223372036854775807, 1.1, 0.1, 12345678.91,
            123456789012345678901234567890.123456789, 1.0000000000000000000000000000000000001,
            '2024-02-29 23:59:59.123456', '2024-03-01 01:30:00+02', '0001-01-01', '13:14:15.5', '12:00+02',
            'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', '{"b": 1,  "a": [1, 2.50]}', '{"b": 1,  "a": [1, 2.50]}',
            '192.168.0.1/24', 'ab', 'Ünïcødé', 'plain', '\\xc3a9')""")
    pg.execute("INSERT INTO typed (c_inet, c_bytea, c_int8) VALUES ('::ffff:1.2.3.4', '\\xff', 1), "
               "('2001:DB8::0:1', NULL, 2), ('127.0.0.1', 'abc', 3)")
    _, rows = read_all(PG, pg.settings(),
                       "SELECT c_bool, c_int2, c_int4, c_int8, c_float4, c_float8, c_num, c_num_free, c_num_max, "
                       "c_ts, c_tstz, c_date, c_time, c_timetz, c_uuid, c_json, c_jsonb, c_inet, c_char, c_varchar, "
                       "c_text, c_bytea, c_money FROM typed ORDER BY c_int8 NULLS FIRST")
    assert rows[2] == (None, None, None, 3) + (None,) * 13 + ("127.0.0.1", None, None, None, "abc")
    first = rows[3]
    assert first == (
        True, -32768, 2147483647, 9223372036854775807, 1.1, 0.1, Decimal("12345678.91"),
        Decimal("123456789012345678901234567890.123456789"), Decimal("1.0000000000000000000000000000000000001"),
        dt.datetime(2024, 2, 29, 23, 59, 59, 123456, tzinfo=UTC), dt.datetime(2024, 2, 28 + 1, 23, 30, tzinfo=UTC),
        dt.date(1, 1, 1), dt.time(13, 14, 15, 500000), dt.time(10, 0),
        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", RawJSON('{"b": 1,  "a": [1, 2.50]}'),
        RawJSON('{"a": [1, 2.50], "b": 1}'), "192.168.0.1", "ab     ", "Ünïcødé", "plain", "é",
    )
    assert len(first) == 22  # c_money is left out
    assert first[9].tzinfo is UTC or first[9].utcoffset() == dt.timedelta(0)
    assert [r[17] for r in rows[:3]] == ["::ffff:1.2.3.4", "2001:db8::1", "127.0.0.1"]
    assert rows[0][21] == b"\xff"  # not UTF-8: passed through so that the row fails validation
    assert rows[1][21] is None


def test_values_no_python_value_stands_for_stay_text(pg):
    """psycopg2 reads 24:00:00 as 00:00:00 and infinity as 9999-12-31 (another value, silently), and
    fails the whole query on a BC date or a year beyond 9999: the connector hands these over as
    PostgreSQL writes them, so that the run fails that row alone and says why."""
    _, rows = read_all(PG, pg.settings(), """
        SELECT '24:00:00'::time AS t, '24:00:00+00'::timetz AS tz, '24:00:00+02'::timetz AS tz2,
               '23:59:59.999999'::time AS last, 'infinity'::date AS d, '-infinity'::date AS d2,
               '0044-03-15 BC'::date AS bc, '10000-01-01'::date AS far, 'infinity'::timestamptz AS ts,
               '-infinity'::timestamp AS ts2, '0044-03-15 12:00 BC'::timestamp AS ts_bc,
               '10000-01-01 00:00:00'::timestamptz AS ts_far, '2024-02-29'::date AS leap""")
    assert rows == [("24:00:00", "24:00:00+00", "24:00:00+02", dt.time(23, 59, 59, 999999), "infinity", "-infinity",
                     "0044-03-15 BC", "10000-01-01", "infinity", "-infinity", "0044-03-15 12:00:00 BC",
                     "10000-01-01 00:00:00+00", dt.date(2024, 2, 29))]


def test_enum_values_are_their_labels(pg):
    pg.execute("CREATE TYPE rating AS ENUM ('G', 'PG', 'PG-13'); "
               "CREATE TABLE films (id int, rating rating); INSERT INTO films VALUES (1, 'PG-13'), (2, NULL)")
    schema, rows = read_all(PG, pg.settings(), "SELECT id, rating FROM films ORDER BY id")
    assert column_types(schema)["rating"] == T("string") and schema.issues == []
    assert rows == [(1, "PG-13"), (2, None)]


def test_float4_values_are_in_the_float32_value_model(pg):
    _, rows = read_all(PG, pg.settings(), "SELECT 3.1415927::real AS pi, 0.3::real AS a, 1e38::real AS big, "
                                          "'NaN'::real AS nan")
    pi, a, big, nan = rows[0]
    assert (pi, a, big) == (3.1415927, 0.3, 1e38)
    assert nan != nan


def test_timestamps_are_utc_whatever_the_server_time_zone(pg):
    pg.execute(f'ALTER DATABASE "{pg.name}" SET TimeZone = \'Asia/Tokyo\'')
    try:
        _, rows = read_all(PG, pg.settings(), "SELECT '2024-01-01 09:00:00+09'::timestamptz AS t, "
                                              "'2024-01-01 00:00:00'::timestamptz = '2024-01-01 00:00:00+00' AS eq")
    finally:
        pg.execute(f'ALTER DATABASE "{pg.name}" RESET TimeZone')
    assert rows == [(dt.datetime(2024, 1, 1, 0, 0, tzinfo=UTC), True)]


def test_global_psycopg2_typecasters_do_not_leak_in(pg):
    import psycopg2.extras
    psycopg2.extras.register_uuid()  # what Django does, process-wide
    psycopg2.extras.register_default_json(globally=True, loads=lambda s: {"parsed": s})
    try:
        _, rows = read_all(PG, pg.settings(), "SELECT 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'::uuid AS u, "
                                              "'[1]'::json AS j")
    finally:
        import json
        psycopg2.extras.register_default_json(globally=True, loads=json.loads)
    assert rows == [("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", RawJSON("[1]"))]


def test_canonical_ip():
    assert canonical_ip("127.0.0.1/32") == "127.0.0.1"
    assert canonical_ip("10.0.0.1/8") == "10.0.0.1"
    assert canonical_ip("FE80::1%eth0") == "fe80::1"
    assert canonical_ip("::ffff:1.2.3.4") == "::ffff:1.2.3.4"
    assert canonical_ip("2001:0db8:0000::0001/64") == "2001:db8::1"


# --------------------------------------------------------------------------- streaming


def test_streaming_in_batches(pg):
    sql = "SELECT g AS n, repeat('x', 10) AS pad FROM generate_series(1, 25003) g ORDER BY g"
    with PG.query(pg.settings(), sql, timeout_seconds=10, batch_size=10_000) as result:
        assert [c.name for c in result.schema.columns] == ["n", "pad"]
        sizes, last = [], 0
        for batch in result:
            sizes.append(len(batch))
            assert isinstance(batch, list) and isinstance(batch[0], tuple)
            assert batch[0][0] == last + 1
            last = batch[-1][0]
    assert sizes == [10_000, 10_000, 5_003]


def test_server_side_cursor_does_not_materialize_the_result(pg):
    # 50 million rows would take far longer than this test if they were read before the first batch
    # (a set-returning function in the select list is evaluated lazily by the server).
    sql = "SELECT generate_series(1, 50000000) AS n"
    started = time.monotonic()
    with PG.query(pg.settings(), sql, timeout_seconds=30, batch_size=1000) as result:
        first = next(iter(result))
    assert len(first) == 1000 and time.monotonic() - started < 5


def test_max_rows(pg):
    sql = "SELECT g AS n FROM generate_series(1, 100) g ORDER BY g"
    schema, rows = read_all(PG, pg.settings(), sql, max_rows=7, batch_size=3)
    assert rows == [(i,) for i in range(1, 8)]
    schema, rows = read_all(PG, pg.settings(), sql, max_rows=0)
    assert rows == [] and [c.name for c in schema.columns] == ["n"]


def test_limit_placeholder_style_query(pg):
    _, rows = read_all(PG, pg.settings(), "SELECT 7 AS n WHERE NULL IS NULL LIMIT 20")
    assert rows == [(7,)]


# --------------------------------------------------------------------------- read-only, single statement, timeout


@pytest.fixture()
def victim(pg):
    pg.execute("DROP TABLE IF EXISTS victim; CREATE TABLE victim (id int); INSERT INTO victim VALUES (1), (2)")
    yield "victim"
    pg.execute("DROP TABLE IF EXISTS victim")


@pytest.mark.parametrize("sql", [
    "INSERT INTO victim VALUES (3) RETURNING id",
    "DELETE FROM victim",
    "WITH d AS (DELETE FROM victim RETURNING id) SELECT id FROM d",
    "SELECT 1 AS x; DELETE FROM victim",
    "SELECT 1 AS x; COMMIT; SET default_transaction_read_only = off; DELETE FROM victim",
    "SELECT 1 AS x; SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE; DROP TABLE victim",
    "SELECT nextval('victim_seq')",
    "SELECT * INTO copy_of_victim FROM victim",
    "CREATE TABLE other_table (x int)",
])
def test_writes_are_rejected(pg, victim, sql):
    pg.execute("CREATE SEQUENCE IF NOT EXISTS victim_seq")
    with pytest.raises(ConnectorUnavailable):
        read_all(PG, pg.settings(), sql)
    assert pg.execute("SELECT id FROM victim ORDER BY id") == [(1,), (2,)]
    assert pg.execute("SELECT last_value, is_called FROM victim_seq") == [(1, False)]
    assert pg.execute("SELECT to_regclass('copy_of_victim'), to_regclass('other_table')") == [(None, None)]


def test_read_only_transaction_error_message(pg, victim):
    with pytest.raises(ConnectorUnavailable) as info:
        read_all(PG, pg.settings(), "WITH d AS (DELETE FROM victim RETURNING id) SELECT id FROM d")
    assert "read-only transaction" in str(info.value) or "DECLARE CURSOR" in str(info.value)


def test_several_statements_are_rejected(pg):
    # Refused by the query check before anything is sent, in its own words (not "query failed").
    with pytest.raises(ConnectorUnavailable) as info:
        read_all(PG, pg.settings(), "SELECT 1 AS a; SELECT 2 AS b")
    assert str(info.value) == MULTIPLE_COMMANDS and not isinstance(info.value, QueryFailed)


# --------------------------------------------------------------------------- side channels (issue 16)

FUNCTION = ("function {} is not allowed in the query: it can reach the server's files, other servers or sessions, "
            "or write")


@pytest.fixture()
def canary(pg):
    """A canary table, and dblink: a function that opens its own connection, outside the read-only
    transaction (postgresql-contrib ships it with Debian's PostgreSQL)."""
    pg.execute("CREATE EXTENSION IF NOT EXISTS dblink")
    pg.execute("DROP TABLE IF EXISTS canary; CREATE TABLE canary (id int, note text); "
               "INSERT INTO canary VALUES (1, 'a'), (2, 'b'), (3, 'c')")
    yield f"dbname={pg.name} host=127.0.0.1 port=5432 user=postgres"
    pg.execute("DROP TABLE IF EXISTS canary; DROP EXTENSION IF EXISTS dblink")


def test_dblink_cannot_write_through_its_own_connection(pg, canary):
    """The issue's attack: dblink_exec deleted a row in spite of the read-only transaction."""
    attacks = [
        (f"SELECT dblink_exec('{canary}', 'DELETE FROM canary WHERE id = 1') AS r", "dblink_exec"),
        (f"SELECT public.DBLINK_EXEC('{canary}', 'DELETE FROM canary') AS r", "dblink_exec"),
        (f'SELECT "public"."dblink_exec" /* c */ (\'{canary}\', \'DELETE FROM canary\') AS r', "dblink_exec"),
        (f"SELECT r FROM dblink('{canary}', 'DELETE FROM canary RETURNING 1') AS t(r int)", "dblink"),
        (f"SELECT 1 AS x -- a comment ends at a carriage return\r, dblink_exec('{canary}', 'DELETE FROM canary')",
         "dblink_exec"),
        (f"SELECT query_to_xml('SELECT dblink_exec(''{canary}'', ''DELETE FROM canary'')', true, true, '') AS x",
         "query_to_xml"),
    ]
    for sql, name in attacks:
        with pytest.raises(ConnectorUnavailable) as info:
            read_all(PG, pg.settings(), sql)
        assert str(info.value) == FUNCTION.format(name), sql
        assert pg.execute("SELECT id FROM canary ORDER BY id") == [(1,), (2,), (3,)], sql
    # The functions themselves work here (a superuser, dblink installed): only the check stops them.
    assert pg.execute(f"SELECT n FROM dblink('{canary}', 'SELECT count(*) FROM canary') AS t(n bigint)") == [(3,)]


@pytest.mark.parametrize("sql,name", [
    ("SELECT pg_read_file('PG_VERSION') AS v", "pg_read_file"),
    ("SELECT pg_catalog.pg_read_binary_file('PG_VERSION') AS v", "pg_read_binary_file"),
    ("SELECT f AS name FROM pg_ls_dir('.') AS f", "pg_ls_dir"),
    ("SELECT (pg_stat_file('PG_VERSION')).size AS s", "pg_stat_file"),
    ("SELECT lo_import('/etc/hostname') AS oid", "lo_import"),
    ("SELECT pg_reload_conf() AS ok", "pg_reload_conf"),
    ("SELECT pg_terminate_backend(pg_backend_pid()) AS ok", "pg_terminate_backend"),
    ("SELECT set_config('statement_timeout', '0', false) AS t", "set_config"),
    ("SELECT pg_notify('krenalis', 'x') AS n", "pg_notify"),
    ("SELECT pg_stat_reset() AS n", "pg_stat_reset"),
])
def test_functions_that_reach_outside_the_transaction_are_refused(pg, sql, name):
    # Each of them runs in the read-only transaction today (or fails only for lack of privilege).
    with pytest.raises(ConnectorUnavailable) as info:
        read_all(PG, pg.settings(), sql)
    assert str(info.value) == FUNCTION.format(name)


@pytest.mark.parametrize("sql,rows", [
    ("WITH c AS (SELECT id FROM canary WHERE id > 1) SELECT id FROM c ORDER BY id", [(2,), (3,)]),
    ("SELECT id, sum(id) OVER (ORDER BY id) AS total FROM canary ORDER BY id", [(1, 1), (2, 3), (3, 6)]),
    ("SELECT id FROM canary WHERE id = 1 UNION ALL SELECT id FROM canary WHERE id = 3 ORDER BY id", [(1,), (3,)]),
    ("SELECT id FROM canary WHERE id IN (SELECT id FROM canary WHERE note <> 'b') ORDER BY id;", [(1,), (3,)]),
    ("SELECT 'dblink_exec(''x'', ''DELETE'')' AS s, $q$ pg_read_file('x') $q$ AS t, E'\\' set_config(' AS u "
     "/* lo_export(1, 'x') */ -- pg_terminate_backend(1)\n", [("dblink_exec('x', 'DELETE')", " pg_read_file('x') ",
                                                               "' set_config(")]),
    ("SELECT note AS dblink_exec, pg_sleep(0) IS NULL AS slept FROM canary WHERE id = 2", [("b", False)]),
    ('SELECT "id" AS "set_config" FROM public."canary" WHERE id = 1', [(1,)]),
    ("VALUES (1), (2)", [(1,), (2,)]),
])
def test_read_only_queries_still_run(pg, canary, sql, rows):
    assert read_all(PG, pg.settings(), sql)[1] == rows


# --------------------------------------------------------------------------- Test connection's warnings


@pytest.fixture()
def role(pg):
    """A login role of this test, dropped after it."""
    name = f"kt_{secrets.token_hex(4)}"
    pg.execute(f"CREATE ROLE {name} LOGIN")
    pg.execute("DROP TABLE IF EXISTS customers, orders, audit; CREATE TABLE customers (id int); "
               "CREATE TABLE orders (id int); CREATE TABLE audit (id int); CREATE SCHEMA IF NOT EXISTS other; "
               "CREATE TABLE IF NOT EXISTS other.elsewhere (id int)")
    pg.execute(f"GRANT USAGE ON SCHEMA other TO {name}")
    yield name
    pg.execute("DROP TABLE IF EXISTS customers, orders, audit; DROP SCHEMA other CASCADE")
    pg.execute(f"DROP OWNED BY {name}; DROP ROLE {name}")


def test_test_connection_warns_about_a_login_that_can_do_more_than_read(pg, role):
    assert PG.test_connection(pg.settings()) == [
        'user "postgres" is a superuser: a user that can only read the source tables is safer']
    pg.execute(f"GRANT SELECT ON customers, orders, audit TO {role}")
    assert PG.test_connection(pg.settings(username=role)) == []
    pg.execute(f"GRANT INSERT ON other.elsewhere TO {role}")  # not the connection's schema
    assert PG.test_connection(pg.settings(username=role)) == []
    pg.execute(f"GRANT UPDATE (id) ON orders TO {role}")
    pg.execute(f"GRANT TRUNCATE ON customers TO {role}")
    assert PG.test_connection(pg.settings(username=role)) == [
        f'user "{role}" can write 2 tables (customers, orders): a user that can only read the source tables is safer']
    assert PG.test_connection(pg.settings(username=role, schema="other")) == [
        f'user "{role}" can write 1 table (elsewhere): a user that can only read the source tables is safer']


def test_query_with_semicolon_inside_strings_runs(pg):
    _, rows = read_all(PG, pg.settings(), "SELECT ';' AS a, $$;$$ AS b, 'it''s' AS c; -- end")
    assert rows == [(";", ";", "it's")]


def test_statement_timeout(pg):
    started = time.monotonic()
    with pytest.raises(ConnectorUnavailable) as info:
        read_all(PG, pg.settings(), "SELECT pg_sleep(5) IS NULL AS slept", timeout_seconds=1)
    assert time.monotonic() - started < 4
    assert str(info.value) == "canceling statement due to statement timeout (SQLSTATE 57014)"


def test_statement_timeout_applies_to_each_batch(pg):
    # Slow processing between batches does not count: each FETCH is a statement of its own.
    sql = "SELECT g AS n FROM generate_series(1, 4) g"
    with PG.query(pg.settings(), sql, timeout_seconds=1, batch_size=1) as result:
        seen = []
        for batch in result:
            seen.extend(batch)
            time.sleep(0.4)
    assert seen == [(1,), (2,), (3,), (4,)]


def test_sql_errors_say_the_query_failed(pg):
    """The statement's own errors (by SQLSTATE class) are QueryFailed, "query failed: ...", with their
    SQLSTATE; the statement timeout and a database that does not exist are not the query's fault."""
    with pytest.raises(QueryFailed) as info:
        read_all(PG, pg.settings(), "SELEC id FROM customers")
    assert str(info.value) == 'query failed: syntax error at or near "SELEC" (SQLSTATE 42601)'
    assert info.value.sqlstate == "42601"
    with pytest.raises(QueryFailed, match=r"^query failed: division by zero \(SQLSTATE 22012\)$"):
        read_all(PG, pg.settings(), "SELECT 1 / (g - 3) AS x FROM generate_series(1, 5) g", batch_size=1)
    with pytest.raises(QueryFailed) as info:
        read_all(PG, pg.settings(), "SELECT now() >= COALESCE(NULL, '-infinity') AS later")
    assert (str(info.value), info.value.sqlstate) == (
        "query failed: operator does not exist: timestamp with time zone >= text (SQLSTATE 42883)", "42883")
    with pytest.raises(ConnectorUnavailable) as info:
        read_all(PG, pg.settings(), "SELECT pg_sleep(3) IS NULL AS slept", timeout_seconds=1)
    assert not isinstance(info.value, QueryFailed)
    with pytest.raises(ConnectorUnavailable) as info:
        read_all(PG, pg.settings(database="krenalis_no_such_database"), "SELECT 1 AS one")
    assert not isinstance(info.value, QueryFailed) and not str(info.value).startswith("query failed")


def test_error_inside_the_with_block_is_not_wrapped(pg):
    with pytest.raises(KeyError):
        with PG.query(pg.settings(), "SELECT 1 AS x", timeout_seconds=5):
            raise KeyError("mine")


def test_connection_is_closed_after_the_query(pg):
    def count():
        return pg.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND application_name = 'krenalis'",
                          (pg.name,))[0][0]
    with PG.query(pg.settings(), "SELECT g AS n FROM generate_series(1, 100000) g", timeout_seconds=5,
                  batch_size=10) as result:
        next(iter(result))
        assert count() == 1
    deadline = time.monotonic() + 5
    while count() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert count() == 0


def test_updated_at_literal_round_trip(pg):
    pg.execute("DROP TABLE IF EXISTS events; CREATE TABLE events (id int, at timestamptz, day date, label text);"
               "INSERT INTO events VALUES (1, '2024-01-01 10:00:00.000001+00', '2024-01-01', 'a''b\\c'),"
               "(2, '2024-01-01 10:00:00+00', '2024-01-02', 'x')")
    cursor = dt.datetime(2024, 1, 1, 12, 0, 0, 1, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    literal = PG.sql_literal(cursor, Type(kind="datetime"))
    _, rows = read_all(PG, pg.settings(), f"SELECT id FROM events WHERE at >= {literal} ORDER BY id")
    assert rows == [(1,)]
    literal = PG.sql_literal(dt.date(2024, 1, 2), Type(kind="date"))
    _, rows = read_all(PG, pg.settings(), f"SELECT id FROM events WHERE day >= {literal}")
    assert rows == [(2,)]
    literal = PG.sql_literal("a'b\\c", Type(kind="string"))
    _, rows = read_all(PG, pg.settings(), f"SELECT id FROM events WHERE label = {literal}")
    assert rows == [(1,)]


def test_queries_can_run_concurrently(pg):
    errors = []

    def run():
        try:
            _, rows = read_all(PG, pg.settings(), "SELECT g AS n FROM generate_series(1, 1000) g", batch_size=100)
            assert len(rows) == 1000
        except Exception as error:  # pragma: no cover
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


# --------------------------------------------------------------------------- interrupting a query


def sleeping(pg) -> int:
    """Sessions of the database (other than the fixture's) blocked in pg_sleep."""
    return pg.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' "
                      "AND wait_event = 'PgSleep' AND pid <> pg_backend_pid()")[0][0]


SLEEP_60 = "SELECT pg_sleep(60) IS NULL AS slept"


def test_a_control_stops_a_blocked_query_in_the_source(pg):
    control = QueryControl()
    stopper = interrupt_when(control, lambda: sleeping(pg), "stopped by the test")
    with pytest.raises(QueryInterrupted) as info:
        read_all(PG, pg.settings(), SLEEP_60, timeout_seconds=120, control=control)
    stopper.join()
    assert str(info.value) == "stopped by the test"
    assert sleeping(pg) == 0


def test_a_control_stops_a_query_between_batches_and_before_it_starts(pg):
    control = QueryControl()
    with PG.query(pg.settings(), "SELECT g AS n FROM generate_series(1, 10) g", timeout_seconds=10, batch_size=2,
                  control=control) as result:
        assert result.next_batch() == [(1,), (2,)]
        control.interrupt("enough")
        with pytest.raises(QueryInterrupted, match="^enough$"):
            result.next_batch()
    with pytest.raises(QueryInterrupted, match="^enough$"):
        read_all(PG, pg.settings(), SLEEP_60, control=control)
    assert sleeping(pg) == 0


def test_end_session_ends_the_recorded_session_and_no_other(pg):
    sessions, failure = [], []
    control = QueryControl(on_session=sessions.append)

    def read():
        try:
            read_all(PG, pg.settings(), SLEEP_60, timeout_seconds=120, control=control)
        except ConnectorUnavailable as exc:
            failure.append(str(exc))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    deadline = time.monotonic() + 30
    while not sleeping(pg) and time.monotonic() < deadline:
        time.sleep(0.05)
    (session,) = sessions
    # A pid that another session uses now (pids are reused) is not that session: nothing ended.
    assert PG.end_session(pg.settings(), {**session, "backendStart": "2000-01-01 00:00:00+00"}) is False
    assert sleeping(pg) == 1
    assert PG.end_session(pg.settings(), session) is True
    reader.join(10)
    assert not reader.is_alive()
    assert failure  # the session is gone: the read fails (the driver says how)
    assert sleeping(pg) == 0 and sessions == [session, None]
    assert PG.end_session(pg.settings(), session) is False
