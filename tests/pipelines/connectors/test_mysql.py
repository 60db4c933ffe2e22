"""MySQL connector against the real MariaDB server on 127.0.0.1:3306."""

import datetime as dt
import re
import secrets
import threading
import time
from decimal import Decimal

import pytest

from pipelines.connectors import (REGISTRY, ConnectorUnavailable, InvalidSettings, QueryControl, QueryFailed,
                                  QueryInterrupted)
from pipelines.connectors.base import INVALID_NAME_ISSUE
from pipelines.connectors.mysql import grant_warnings, session_sql_mode
from pipelines.types import Type
from tests.support import wait_for

from .conftest import column_types, interrupt_when, mysql_connect, read_all

MY = REGISTRY["mysql"]
UTC = dt.timezone.utc


def T(kind, **kw):
    return Type(kind=kind, **kw)


# --------------------------------------------------------------------------- settings

VALID = {"host": "127.0.0.1", "port": 3306, "username": "someone", "password": "secret", "database": "somedb"}


NO_TLS_SETTING = {"ssl": {"mode": "PREFERRED", "ca": ""}}


def test_valid_settings_are_normalized():
    assert MY.validate_settings(dict(VALID, schema="ignored")) == dict(VALID, **NO_TLS_SETTING)
    assert MY.validate_settings(dict(VALID, username="é" * 16, password="p" * 200, database="d" * 64,
                                     host="h" * 253, port=1)) == \
        {"host": "h" * 253, "port": 1, "username": "é" * 16, "password": "p" * 200, "database": "d" * 64,
         **NO_TLS_SETTING}


@pytest.mark.parametrize("key,value,message", [
    ("host", "", "host length in bytes must be in range [1,253]"),
    ("host", "h" * 254, "host length in bytes must be in range [1,253]"),
    ("port", 0, "port must be in range [1,65535]"),
    ("port", 70000, "port must be in range [1,65535]"),
    ("username", "", "username length must be in range [1,16]"),
    ("username", "u" * 17, "username length must be in range [1,16]"),
    ("password", "", "password length must be in range [1,200]"),
    ("password", None, "password length must be in range [1,200]"),
    ("password", "p" * 201, "password length must be in range [1,200]"),
    ("database", "", "database length must be in range [1,64]"),
    ("database", "d" * 65, "database length must be in range [1,64]"),
    ("port", "3306", "port must be an integer"),
    ("username", 7, "username must be a string"),
])
def test_invalid_settings(key, value, message):
    with pytest.raises(InvalidSettings) as info:
        MY.validate_settings(dict(VALID, **{key: value}))
    assert str(info.value) == message


# --------------------------------------------------------------------------- connecting


def test_test_connection(my):
    MY.test_connection(my.settings())


ADVICE = "a user that can only read the source tables is safer"


@pytest.fixture()
def reader(my):
    """A user of this test that may only read the test database, dropped after it."""
    user, password = f"kr_{secrets.token_hex(4)}", "pw-" + secrets.token_hex(6)
    my.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (user, password))
    my.execute(f"GRANT SELECT ON `{my.name}`.* TO %s@'%%'", (user,))
    my.execute("CREATE TABLE IF NOT EXISTS notes (id INT)")
    yield my.settings(username=user, password=password)
    my.execute("DROP USER %s@'%%'", (user,))


def test_test_connection_warns_about_a_login_that_can_do_more_than_read(my, reader):
    assert MY.test_connection(my.settings()) == [f'user "{my.user}" can write database "{my.name}" (ALL PRIVILEGES): '
                                                 f'{ADVICE}']
    assert MY.test_connection(reader) == []
    user = reader["username"]
    my.execute("GRANT INSERT ON mysql.* TO %s@'%%'", (user,))  # another database
    assert MY.test_connection(reader) == []
    my.execute(f"GRANT UPDATE (id), DELETE ON `{my.name}`.notes TO %s@'%%'", (user,))
    assert MY.test_connection(reader) == [f'user "{user}" can write database "{my.name}" (UPDATE, DELETE): {ADVICE}']
    my.execute("GRANT FILE, SUPER ON *.* TO %s@'%%'", (user,))
    assert MY.test_connection(reader) == [f'user "{user}" has the SUPER and FILE privileges: {ADVICE}',
                                          f'user "{user}" can write database "{my.name}" (UPDATE, DELETE): {ADVICE}']


@pytest.mark.parametrize("grants,warnings", [
    (["GRANT USAGE ON *.* TO `u`@`%` IDENTIFIED BY PASSWORD '*0123'", "GRANT SELECT ON `shop`.* TO `u`@`%`"], []),
    (["GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION",
      "GRANT PROXY ON ''@'%' TO 'root'@'localhost' WITH GRANT OPTION"],
     [f'user "u" has ALL PRIVILEGES on every database: {ADVICE}']),
    (["GRANT SELECT, INSERT ON *.* TO `u`@`%`"], [f'user "u" can write database "shop" (INSERT): {ADVICE}']),
    (["GRANT ALL ON `sh_p`.* TO `u`@`%`"], [f'user "u" can write database "shop" (ALL PRIVILEGES): {ADVICE}']),
    (["GRANT ALL ON `sh\\_p`.* TO `u`@`%`"], []),  # an escaped _ is not a wildcard
    (["GRANT ALL ON `s%`.* TO `u`@`%`"], [f'user "u" can write database "shop" (ALL PRIVILEGES): {ADVICE}']),
    (["GRANT EXECUTE ON PROCEDURE `shop`.`p` TO `u`@`%`", "GRANT `reporting` TO `u`@`%`"], []),
    (["GRANT SELECT (`a`, `b`), UPDATE (`c`) ON `shop`.`t` TO `u`@`%`"],
     [f'user "u" can write database "shop" (UPDATE): {ADVICE}']),
    (["GRANT CREATE, DROP ON `my shop`.* TO `u`@`%`"], []),
])
def test_grant_warnings_read_show_grants(grants, warnings):
    assert grant_warnings("u", "shop", grants) == warnings


@pytest.mark.parametrize("changes,expected", [
    ({"port": 1}, "Can't connect"),
    ({"password": "not-the-password'\\"}, "Access denied"),
    ({"database": "krenalis_no_such_db"}, "krenalis_no_such_db"),
])
def test_unreachable_database(my, changes, expected):
    settings = my.settings(**changes)
    with pytest.raises(ConnectorUnavailable) as info:
        MY.test_connection(settings, connect_timeout=3)
    message = str(info.value)
    assert expected in message
    assert settings["password"] not in message and my.password not in message
    with pytest.raises(ConnectorUnavailable):
        with MY.query(settings, "SELECT 1", timeout_seconds=5, connect_timeout=3):
            pass


def test_password_echoed_by_the_driver_is_removed(my):
    """The server echoes the user name; a user named like the password makes a real driver error carry it."""
    with pytest.raises(ConnectorUnavailable) as info:
        MY.test_connection(my.settings(username=my.password), connect_timeout=3)
    assert my.password not in str(info.value) and "Pw-" not in str(info.value)
    assert re.fullmatch(r"Error (1045|1698): Access denied for user '\*{8}'@'[^']+'( \(using password: YES\))?",
                        str(info.value)), str(info.value)


# --------------------------------------------------------------------------- column typing


@pytest.fixture(scope="module")
def typed_table(my):
    my.execute("""CREATE TABLE typed (
        c_tiny TINYINT, c_utiny TINYINT UNSIGNED, c_bool BOOL, c_small SMALLINT, c_usmall SMALLINT UNSIGNED,
        c_medium MEDIUMINT, c_umedium MEDIUMINT UNSIGNED, c_int INT, c_uint INT UNSIGNED NOT NULL DEFAULT 0,
        c_big BIGINT NOT NULL DEFAULT 0, c_ubig BIGINT UNSIGNED, c_float FLOAT, c_double DOUBLE,
        c_dec DECIMAL(10,2), c_udec DECIMAL(12,4) UNSIGNED, c_dec0 DECIMAL(65,0), c_dec30 DECIMAL(65,30),
        c_date DATE, c_datetime DATETIME(6), c_timestamp TIMESTAMP NULL, c_time TIME(6), c_year YEAR,
        c_json JSON, c_varchar VARCHAR(120), c_char CHAR(7), c_latin VARCHAR(20) CHARACTER SET latin1,
        c_bin_coll VARCHAR(10) COLLATE utf8mb4_bin, c_varbinary VARBINARY(10), c_binary BINARY(4),
        c_text TEXT, c_mediumtext MEDIUMTEXT, c_blob BLOB, c_enum ENUM('a','b') NOT NULL DEFAULT 'a',
        c_set SET('x','y'), c_bit BIT(3), c_geometry GEOMETRY NULL
    ) DEFAULT CHARSET utf8mb4""")
    return "typed"


def test_every_mysql_type(my, typed_table):
    schema, rows = read_all(MY, my.settings(), "SELECT * FROM typed")
    assert rows == []
    assert column_types(schema) == {
        "c_tiny": T("int", bit_size=8),
        "c_utiny": T("int", bit_size=8, unsigned=True),
        "c_bool": T("int", bit_size=8),
        "c_small": T("int", bit_size=16),
        "c_usmall": T("int", bit_size=16, unsigned=True),
        "c_medium": T("int", bit_size=24),
        "c_umedium": T("int", bit_size=24, unsigned=True),
        "c_int": T("int", bit_size=32),
        "c_uint": T("int", bit_size=32, unsigned=True),
        "c_big": T("int", bit_size=64),
        "c_ubig": T("int", bit_size=64, unsigned=True),
        "c_float": T("float", bit_size=32),
        "c_double": T("float", bit_size=64),
        "c_dec": T("decimal", precision=10, scale=2),
        "c_udec": T("decimal", precision=12, scale=4),
        "c_dec0": T("decimal", precision=65, scale=0),
        "c_dec30": T("decimal", precision=65, scale=30),
        "c_date": T("date"),
        "c_datetime": T("datetime"),
        "c_timestamp": T("datetime"),
        "c_time": T("time"),
        "c_year": T("year"),
        "c_json": T("string"),  # MariaDB: JSON is LONGTEXT, the driver cannot tell
        "c_varchar": T("string", max_length=120),
        "c_char": T("string", max_length=7),
        "c_latin": T("string", max_length=20),
        "c_bin_coll": T("string"),
        "c_varbinary": T("string"),
        "c_binary": T("string"),
        "c_text": T("string"),
        "c_mediumtext": T("string"),
        "c_blob": T("string"),
        "c_enum": T("string"),
    }
    nullable = {c.name: c.nullable for c in schema.columns}
    assert [n for n, v in nullable.items() if not v] == ["c_uint", "c_big", "c_enum"]
    assert schema.issues == ['Column "c_set" has an unsupported type "SET".',
                             'Column "c_bit" has an unsupported type "BIT".',
                             'Column "c_geometry" has an unsupported type "GEOMETRY".']


def test_expressions(my):
    schema, rows = read_all(MY, my.settings(), "SELECT 1 AS one, 'abc' AS lit, 1.5 AS d, -12.25 AS nd, NULL AS n, "
                                               "CAST(3 AS UNSIGNED) AS u, NOW() AS now, CONCAT('a', 'bc') AS cat")
    assert column_types(schema) == {"one": T("int", bit_size=32), "lit": T("string", max_length=3),
                                    "d": T("decimal", precision=2, scale=1), "nd": T("decimal", precision=4, scale=2),
                                    "u": T("int", bit_size=32, unsigned=True), "now": T("datetime"),
                                    "cat": T("string", max_length=3)}
    assert schema.issues == ['Column "n" has an unsupported type "NULL".']
    assert {c.name: c.nullable for c in schema.columns}["one"] is False
    assert rows[0][:5] == (1, "abc", Decimal("1.5"), Decimal("-12.25"), 3)


def test_conformance_customers_shape(my):
    my.execute("""CREATE TABLE customers (id BIGINT NOT NULL PRIMARY KEY, firstname VARCHAR(60), updated_ts DATETIME,
                  age INT) DEFAULT CHARSET=utf8mb4""")
    my.execute("INSERT INTO customers VALUES (1, 'Ann', '2024-01-02 03:04:05', 21), (2, 'Bob', NULL, NULL)")
    schema, rows = read_all(MY, my.settings(), "SELECT id, firstname, updated_ts, age FROM customers ORDER BY id")
    assert [(c.name, c.type, c.nullable) for c in schema.columns] == [
        ("id", T("int", bit_size=64), False), ("firstname", T("string", max_length=60), True),
        ("updated_ts", T("datetime"), True), ("age", T("int", bit_size=32), True)]
    assert rows == [(1, "Ann", dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), 21), (2, "Bob", None, None)]


def test_invalid_names_and_duplicates(my):
    schema, rows = read_all(MY, my.settings(), "SELECT 1 AS id, 2 AS `e-mail`, 3 AS `a.b`, COUNT(*)")
    assert [c.name for c in schema.columns] == ["id"]
    assert schema.issues == [INVALID_NAME_ISSUE.format(n) for n in ("e-mail", "a.b", "COUNT(*)")]
    assert rows == [(1,)]
    with pytest.raises(ConnectorUnavailable) as info:
        read_all(MY, my.settings(), "SELECT 1 AS id, 2 AS x, 3 AS id")
    assert str(info.value) == 'the names of the 1st and 3rd columns are the same: "id"'


# --------------------------------------------------------------------------- values


def test_values_are_converted(my, typed_table):
    my.execute("DELETE FROM typed")
    my.execute("""INSERT INTO typed (c_tiny, c_utiny, c_bool, c_small, c_usmall, c_medium, c_umedium, c_int, c_uint,
        c_big, c_ubig, c_float, c_double, c_dec, c_udec, c_dec0, c_dec30, c_date, c_datetime, c_timestamp, c_time,
        c_year, c_json, c_varchar, c_char, c_latin, c_bin_coll, c_varbinary, c_binary, c_text, c_mediumtext, c_blob,
        c_enum, c_set, c_bit)
        VALUES (-128, 255, TRUE, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295,
        -9223372036854775808, 18446744073709551615, 1.1, 0.1, -12345678.91, 12345678.1234,
        99999999999999999999999999999999999999999999999999999999999999999,
        12345678901234567890123456789012345.123456789012345678901234567890,
        '2024-02-29', '2024-02-29 23:59:59.123456', '2024-03-01 01:02:03', '13:14:15.5', 2024,
        '{"b": 1,  "a": [1, 2.50]}', 'Ünïcødé', 'ab', 'café', 'Bin', 'raw', 'ab', 'long text', 'medium', 'blob',
        'b', 'x,y', b'101')""")
    my.execute("INSERT INTO typed (c_time, c_varbinary, c_big) VALUES ('-01:00:00', x'ff', 1), ('25:00:00', NULL, 2), "
               "('00:00:00', '', 3)")
    _, rows = read_all(MY, my.settings(), "SELECT * FROM typed ORDER BY c_big")
    assert rows[0] == (
        -128, 255, 1, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295, -9223372036854775808,
        18446744073709551615, 1.1, 0.1, Decimal("-12345678.91"), Decimal("12345678.1234"),
        Decimal("99999999999999999999999999999999999999999999999999999999999999999"),
        Decimal("12345678901234567890123456789012345.123456789012345678901234567890"),
        dt.date(2024, 2, 29), dt.datetime(2024, 2, 29, 23, 59, 59, 123456, tzinfo=UTC),
        dt.datetime(2024, 3, 1, 1, 2, 3, tzinfo=UTC), dt.time(13, 14, 15, 500000), 2024,
        '{"b": 1,  "a": [1, 2.50]}', "Ünïcødé", "ab", "café", "Bin", "raw", "ab\x00\x00", "long text", "medium",
        "blob", "b")
    by_big = {r[9]: r for r in rows}
    assert by_big[1][20] == dt.timedelta(hours=-1)  # not a time of day: left for the validator
    assert by_big[1][27] == b"\xff"  # not UTF-8: left for the validator
    assert by_big[2][20] == dt.timedelta(hours=25)
    assert by_big[2][27] is None
    assert by_big[3][20] == dt.time(0, 0) and by_big[3][27] == ""


def test_timestamp_is_read_in_utc_whatever_the_server_time_zone(my):
    conn = mysql_connect(my.name, init_command="SET time_zone = '+09:00'")
    cur = conn.cursor()
    cur.execute("CREATE TABLE stamps (t TIMESTAMP NULL)")
    cur.execute("INSERT INTO stamps VALUES ('2024-01-01 09:00:00')")  # 09:00 at +09:00 = 00:00 UTC
    conn.close()
    _, rows = read_all(MY, my.settings(), "SELECT t FROM stamps")
    assert rows == [(dt.datetime(2024, 1, 1, 0, 0, tzinfo=UTC),)]


def test_datetimes_keep_their_fraction_and_zero_dates_read_as_null(my):
    """As the driver reads them, a zero date is NULL, so date columns are nullable even when NOT NULL
    (the schema allows what the rows hold); a date with a zero month is no date and no NULL either: it
    stays text, which fails its row rather than changing silently."""
    conn = mysql_connect(my.name, init_command="SET SESSION sql_mode = ''")
    cur = conn.cursor()
    cur.execute("CREATE TABLE moments (n INT NOT NULL, d DATETIME(3) NOT NULL, t TIMESTAMP(6) NULL, "
                "day DATE NOT NULL)")
    cur.execute("INSERT INTO moments VALUES (1, '2024-01-02 03:04:05.12', '2024-01-02 03:04:05.000001', "
                "'2024-01-02'), (2, '0000-00-00 00:00:00', '0000-00-00 00:00:00', '0000-00-00'), "
                "(3, '2024-00-10 10:00:00', NULL, '2024-00-10')")
    conn.commit()
    conn.close()
    schema, rows = read_all(MY, my.settings(), "SELECT n, d, t, day FROM moments ORDER BY n")
    assert [(c.name, c.nullable) for c in schema.columns] == [("n", False), ("d", True), ("t", True), ("day", True)]
    assert rows == [(1, dt.datetime(2024, 1, 2, 3, 4, 5, 120000, tzinfo=UTC),
                     dt.datetime(2024, 1, 2, 3, 4, 5, 1, tzinfo=UTC), dt.date(2024, 1, 2)),
                    (2, None, None, None), (3, "2024-00-10 10:00:00.000", None, "2024-00-10")]


def test_times_beyond_one_day_stay_durations(my):
    """A TIME holds -838:59:59 to 838:59:59: what is not a time of day stays a timedelta, which the
    run rejects for its row (no wrapping into another time)."""
    my.execute("CREATE TABLE clocks (n INT, t TIME)")
    my.execute("INSERT INTO clocks VALUES (1, '23:59:59'), (2, '24:00:00'), (3, '838:59:59'), (4, '-01:00:00')")
    _, rows = read_all(MY, my.settings(), "SELECT n, t FROM clocks ORDER BY n")
    assert rows == [(1, dt.time(23, 59, 59)), (2, dt.timedelta(hours=24)),
                    (3, dt.timedelta(hours=838, minutes=59, seconds=59)), (4, dt.timedelta(hours=-1))]


def test_float_values_are_in_the_float32_value_model(my):
    my.execute("CREATE TABLE floats (f FLOAT)")
    my.execute("INSERT INTO floats VALUES (3.1415927), (0.3), (1e38)")
    _, rows = read_all(MY, my.settings(), "SELECT f, f * 1 AS g FROM floats")
    # MariaDB sends FLOAT as text with 6 significant digits; the value is the float32 of that text,
    # as the double nearest to its shortest text (the value model of float(32)).
    assert [r[0] for r in rows] == [3.14159, 0.3, 1e38]


# --------------------------------------------------------------------------- streaming


def test_streaming_in_batches(my):
    sql = "SELECT seq AS n, REPEAT('x', 10) AS pad FROM seq_1_to_25003"
    with MY.query(my.settings(), sql, timeout_seconds=10, batch_size=10_000) as result:
        sizes, last = [], 0
        for batch in result:
            sizes.append(len(batch))
            assert isinstance(batch, list) and isinstance(batch[0], tuple)
            assert batch[0][0] == last + 1
            last = batch[-1][0]
    assert sizes == [10_000, 10_000, 5_003]
    assert result.exhausted


def test_early_exit_does_not_read_the_rest(my):
    sql = "SELECT seq AS n FROM seq_1_to_50000000"
    started = time.monotonic()
    with MY.query(my.settings(), sql, timeout_seconds=30, batch_size=1000) as result:
        first = next(iter(result))
    assert len(first) == 1000
    assert time.monotonic() - started < 5


def test_max_rows(my):
    schema, rows = read_all(MY, my.settings(), "SELECT seq AS n FROM seq_1_to_100", max_rows=7, batch_size=3)
    assert rows == [(i,) for i in range(1, 8)]
    schema, rows = read_all(MY, my.settings(), "SELECT seq AS n FROM seq_1_to_100", max_rows=0)
    assert rows == [] and [c.name for c in schema.columns] == ["n"]


def test_statement_without_result_set_is_not_sent(my):
    with pytest.raises(ConnectorUnavailable) as info:
        read_all(MY, my.settings(), "DO 1")
    assert str(info.value) == "the query must be a SELECT, not DO"


# --------------------------------------------------------------------------- read-only, timeout


@pytest.fixture()
def victim(my):
    my.execute("DROP TABLE IF EXISTS victim")
    my.execute("CREATE TABLE victim (id INT)")
    my.execute("INSERT INTO victim VALUES (1), (2)")
    yield "victim"
    my.execute("DROP TABLE IF EXISTS victim")


@pytest.mark.parametrize("sql", [
    "INSERT INTO victim VALUES (3)",
    "DELETE FROM victim",
    "UPDATE victim SET id = 9",
    "SELECT 1; DELETE FROM victim",
    "DROP TABLE victim",
    "CREATE TABLE other_table (x INT)",
    "TRUNCATE TABLE victim",
])
def test_writes_are_rejected(my, victim, sql):
    with pytest.raises(ConnectorUnavailable):
        read_all(MY, my.settings(), sql)
    assert my.execute("SELECT id FROM victim ORDER BY id") == [(1,), (2,)]
    assert my.execute("SHOW TABLES LIKE 'other_table'") == []


def test_read_only_message(my, victim):
    with pytest.raises(ConnectorUnavailable) as info:
        read_all(MY, my.settings(), "DELETE FROM victim")
    assert str(info.value) == "the query must be a SELECT, not DELETE"
    # What the query check cannot see, the read-only transaction stops: a function that writes.
    my.execute("DROP FUNCTION IF EXISTS shrink")
    my.execute("CREATE FUNCTION shrink() RETURNS INT MODIFIES SQL DATA BEGIN DELETE FROM victim; RETURN 1; END")
    with pytest.raises(QueryFailed) as info:
        read_all(MY, my.settings(), "SELECT shrink() AS n")
    assert str(info.value) == "query failed: Error 1792: Cannot execute statement in a READ ONLY transaction"
    assert my.execute("SELECT id FROM victim ORDER BY id") == [(1,), (2,)]
    my.execute("DROP FUNCTION shrink")


def test_statement_timeout(my):
    started = time.monotonic()
    with pytest.raises(ConnectorUnavailable) as info:
        read_all(MY, my.settings(), "SELECT SLEEP(5) AS s, seq FROM seq_1_to_2", timeout_seconds=1)
    elapsed = time.monotonic() - started
    assert elapsed < 4
    assert "max_statement_time exceeded" in str(info.value) or "interrupted" in str(info.value)


def test_statement_timeout_on_heavy_query(my):
    with pytest.raises(ConnectorUnavailable) as info:
        read_all(MY, my.settings(), "SELECT COUNT(*) AS c FROM seq_1_to_100000 a JOIN seq_1_to_100000 b ON a.seq + b.seq = 7", timeout_seconds=1)
    assert str(info.value) == "Error 1969: Query execution was interrupted (max_statement_time exceeded)"


def test_sql_errors_say_the_query_failed(my):
    """The statement's own errors are QueryFailed ("query failed: ..."), still 503 for the API; the
    statement timeout and connection failures are not the query's fault and keep the server's text."""
    with pytest.raises(QueryFailed) as info:
        read_all(MY, my.settings(), "SELECT id FROM no_such_table")
    assert str(info.value) == f"query failed: Error 1146: Table '{my.name}.no_such_table' doesn't exist"
    with pytest.raises(QueryFailed, match="^query failed: Error 1064: You have an error in your SQL syntax"):
        read_all(MY, my.settings(), "SELECT id FROM FROM customers")
    with pytest.raises(ConnectorUnavailable, match="^the query must be a SELECT, not SELEC$"):
        read_all(MY, my.settings(), "SELEC id FROM customers")
    with pytest.raises(QueryFailed, match="^query failed: Error 1054: Unknown column 'nope'"):
        read_all(MY, my.settings(), "SELECT nope FROM seq_1_to_2")
    with pytest.raises(ConnectorUnavailable) as info:
        read_all(MY, my.settings(), "SELECT SLEEP(3) AS s", timeout_seconds=1)
    assert not isinstance(info.value, QueryFailed) and not str(info.value).startswith("query failed")
    with pytest.raises(ConnectorUnavailable) as info:
        read_all(MY, my.settings(database="krenalis_no_such_database"), "SELECT 1 AS one")
    assert not isinstance(info.value, QueryFailed) and str(info.value).startswith("Error 1044: ")


def test_updated_at_literal_round_trip(my):
    my.execute("CREATE TABLE events (id INT, at DATETIME(6), day DATE, label VARCHAR(50))")
    my.execute("INSERT INTO events VALUES (1, '2024-01-01 10:00:00.000001', '2024-01-01', %s), "
               "(2, '2024-01-01 10:00:00', '2024-01-02', 'x')", ("a'b\\c\"d",))
    cursor = dt.datetime(2024, 1, 1, 12, 0, 0, 1, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    literal = MY.sql_literal(cursor, Type(kind="datetime"))
    assert literal == "'2024-01-01 10:00:00.000001'"
    _, rows = read_all(MY, my.settings(), f"SELECT id FROM events WHERE at >= {literal} ORDER BY id")
    assert rows == [(1,)]
    literal = MY.sql_literal(dt.date(2024, 1, 2), Type(kind="date"))
    _, rows = read_all(MY, my.settings(), f"SELECT id FROM events WHERE day >= {literal}")
    assert rows == [(2,)]
    literal = MY.sql_literal("a'b\\c\"d", Type(kind="string"))
    _, rows = read_all(MY, my.settings(), f"SELECT id FROM events WHERE label = {literal}")
    assert rows == [(1,)]


def test_session_allows_backslash_escapes(my):
    # sql_literal escapes with backslashes, and the query check reads "..." as a string: the session
    # must have neither NO_BACKSLASH_ESCAPES nor ANSI_QUOTES.
    _, rows = read_all(MY, my.settings(), "SELECT @@SESSION.sql_mode AS mode, @@SESSION.time_zone AS tz, "
                                          "@@SESSION.tx_read_only AS ro")
    mode, tz, ro = rows[0]
    assert "NO_BACKSLASH_ESCAPES" not in mode and "ANSI_QUOTES" not in mode and tz == "+00:00" and ro == 1
    server = my.execute("SELECT @@SESSION.sql_mode")[0][0]
    assert set(mode.split(",")) == set(server.split(",")) - {"NO_BACKSLASH_ESCAPES", "ANSI_QUOTES", ""}


@pytest.mark.parametrize("server,session", [
    ("STRICT_TRANS_TABLES,NO_BACKSLASH_ESCAPES", "STRICT_TRANS_TABLES"),
    ("REAL_AS_FLOAT,PIPES_AS_CONCAT,ANSI_QUOTES,IGNORE_SPACE,ONLY_FULL_GROUP_BY,ANSI",
     "REAL_AS_FLOAT,PIPES_AS_CONCAT,IGNORE_SPACE,ONLY_FULL_GROUP_BY"),
    ("PIPES_AS_CONCAT,ANSI_QUOTES,IGNORE_SPACE,ORACLE,NO_KEY_OPTIONS", "PIPES_AS_CONCAT,IGNORE_SPACE,NO_KEY_OPTIONS"),
    ("", ""),
])
def test_session_sql_mode_drops_the_modes_that_change_strings(server, session):
    # ANSI and ORACLE would set ANSI_QUOTES again: "..." would be an identifier for the server but a
    # string for the query check. (A pure test: the shared server's global sql_mode is not changed.)
    assert session_sql_mode(server) == session


# --------------------------------------------------------------------------- one read-only query (issue 16)


@pytest.fixture()
def canary(my):
    """A table to protect, a procedure that writes it whatever the transaction, and the user's
    privileges: ALL on the database (only the connector stands between a query and the data)."""
    my.execute("DROP TABLE IF EXISTS canary")
    my.execute("CREATE TABLE canary (id INT PRIMARY KEY, note VARCHAR(40), `update` INT)")
    my.execute("INSERT INTO canary VALUES (1, 'a', 10), (2, 'b', 20), (3, 'c', 30)")
    my.execute("DROP PROCEDURE IF EXISTS wipe")
    my.execute("CREATE PROCEDURE wipe() BEGIN SET SESSION TRANSACTION READ WRITE; COMMIT; DELETE FROM canary; "
               "COMMIT; END")
    yield
    my.execute("DROP PROCEDURE IF EXISTS wipe")
    my.execute("DROP TABLE IF EXISTS canary")
    my.execute("DROP TABLE IF EXISTS stolen")


def canary_state(my):
    return my.execute("SELECT id, note FROM canary ORDER BY id"), my.execute("SHOW TABLES LIKE 'stolen'")


MYSQL_ATTACKS = [
    # The issue's preview query: a compound statement commits the read-only transaction and writes.
    ("BEGIN NOT ATOMIC SET SESSION TRANSACTION READ WRITE; COMMIT; DELETE FROM canary; COMMIT; END",
     "the query must be a SELECT, not BEGIN"),
    ("BEGIN NOT ATOMIC SET SESSION TRANSACTION READ WRITE; COMMIT; CREATE TABLE stolen AS SELECT * FROM canary; "
     "END", "the query must be a SELECT, not BEGIN"),
    ("CALL wipe()", "the query must be a SELECT, not CALL"),
    ("  /* a comment first */ call wipe();", "the query must be a SELECT, not CALL"),
    ("SET SESSION TRANSACTION READ WRITE", "the query must be a SELECT, not SET"),
    ("SELECT id FROM canary /*!, (SELECT note FROM canary LIMIT 1) AS leaked */",
     "executable comments (/*! ... */) are not allowed in the query"),
    ("SELECT id FROM canary /*M!100000 , 2 AS two */",
     "executable comments (/*M! ... */) are not allowed in the query"),
    ("SELECT id FROM canary LOCK IN SHARE MODE", "LOCK IN SHARE MODE is not allowed: the query may not lock rows"),
    ("SELECT id FROM canary WHERE id = 1 INTO @stolen", "SELECT ... INTO is not allowed: the query may only read"),
    ("SELECT LOAD_FILE('/etc/hostname') AS f", "function LOAD_FILE is not allowed in the query: it can reach the "
                                               "server's files, other servers or sessions, or write"),
]


@pytest.mark.parametrize("sql,message", MYSQL_ATTACKS)
def test_queries_that_could_write_or_run_more_are_refused_before_connecting(my, canary, sql, message):
    before = canary_state(my)
    with pytest.raises(ConnectorUnavailable) as info:
        read_all(MY, my.settings(port=1), sql)  # nothing listens there: a refusal came before connecting
    assert str(info.value) == message
    with pytest.raises(ConnectorUnavailable) as info:
        read_all(MY, my.settings(), sql)
    assert str(info.value) == message
    assert canary_state(my) == before == ([(1, "a"), (2, "b"), (3, "c")], [])


@pytest.mark.parametrize("sql,rows", [
    ("WITH c AS (SELECT id, note FROM canary WHERE id > 1) SELECT id FROM c ORDER BY id", [(2,), (3,)]),
    ("WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3) SELECT i FROM n ORDER BY i",
     [(1,), (2,), (3,)]),
    ("(SELECT id FROM canary WHERE id = 1) UNION (SELECT id FROM canary WHERE id = 3) ORDER BY id", [(1,), (3,)]),
    ("SELECT id, ROW_NUMBER() OVER (ORDER BY id DESC) AS rn FROM canary ORDER BY id", [(1, 3), (2, 2), (3, 1)]),
    ("SELECT id FROM canary WHERE id IN (SELECT id FROM canary WHERE note <> 'b') ORDER BY id;", [(1,), (3,)]),
    ("SELECT 'INTO OUTFILE; DELETE FROM canary' AS s, \"CALL wipe()\" AS t /* BEGIN NOT ATOMIC DELETE FROM canary; "
     "END */ -- ; DELETE FROM canary\n # LOCK IN SHARE MODE", [("INTO OUTFILE; DELETE FROM canary", "CALL wipe()")]),
    ("SELECT 'it''s' AS a, 'a\\'; DELETE FROM canary; --' AS s", [("it's", "a'; DELETE FROM canary; --")]),
    ("SELECT `id` AS `into`, c.update, `note` AS `lock` FROM `canary` AS c WHERE id = 2", [(2, 20, "b")]),
    ("SELECT seq FROM seq_1_to_3 WHERE seq <> 2", [(1,), (3,)]),
    ("VALUES ('x', 'y'), ('z', 'w')", [("x", "y"), ("z", "w")]),
    ("SELECT GROUP_CONCAT(note ORDER BY id SEPARATOR ';') AS notes FROM canary WHERE note RLIKE '^[ab]'",
     [("a;b",)]),
    ("SELECT JSON_VALUE('{\"plan\": \"pro\"}', '$.plan') AS plan, 1--1 AS two, REPLACE(note, 'a', 'z') AS r "
     "FROM canary WHERE id = 1", [("pro", 2, "z")]),
    ("SELECT id FROM canary ORDER BY id LIMIT 1 OFFSET 1", [(2,)]),
])
def test_read_only_queries_still_run(my, canary, sql, rows):
    assert read_all(MY, my.settings(), sql)[1] == rows


# --------------------------------------------------------------------------- interrupting a query


def sleeping(my) -> int:
    """Sessions of the database blocked in SLEEP()."""
    return my.execute("SELECT count(*) FROM information_schema.PROCESSLIST WHERE DB = DATABASE() "
                      "AND ID <> CONNECTION_ID() AND STATE = 'User sleep'")[0][0]


def stops_sleeping(my) -> bool:
    """No session of the database sleeps any more, within 10 s: a killed statement may still show
    in the process list for a moment on a loaded server."""
    return bool(wait_for(lambda: sleeping(my) == 0, timeout=10))


SLEEP_60 = "SELECT seq FROM seq_1_to_10 WHERE SLEEP(6) = 0"


def test_a_control_stops_a_blocked_query_with_kill_query(my):
    """KILL QUERY on a second connection, as the same user (who has no PROCESS privilege)."""
    control = QueryControl()
    stopper = interrupt_when(control, lambda: sleeping(my), "stopped by the test")
    with pytest.raises(QueryInterrupted) as info:
        read_all(MY, my.settings(), SLEEP_60, timeout_seconds=120, control=control)
    stopper.join()
    assert str(info.value) == "stopped by the test"
    assert stops_sleeping(my)


def test_a_control_stops_a_query_between_batches_and_before_it_starts(my):
    control = QueryControl()
    with MY.query(my.settings(), "SELECT seq FROM seq_1_to_10", timeout_seconds=10, batch_size=2,
                  control=control) as result:
        assert result.next_batch() == [(1,), (2,)]
        control.interrupt("enough")
        with pytest.raises(QueryInterrupted, match="^enough$"):
            result.next_batch()
    with pytest.raises(QueryInterrupted, match="^enough$"):
        read_all(MY, my.settings(), SLEEP_60, control=control)
    assert stops_sleeping(my)


def test_end_session_kills_the_recorded_connection_of_the_same_user_only(my):
    sessions, failure = [], []
    control = QueryControl(on_session=sessions.append)

    def read():
        try:
            read_all(MY, my.settings(), SLEEP_60, timeout_seconds=120, control=control)
        except ConnectorUnavailable as exc:
            failure.append(str(exc))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    deadline = time.monotonic() + 30
    while not sleeping(my) and time.monotonic() < deadline:
        time.sleep(0.05)
    (session,) = sessions
    # Another user's connection (the fixture's, as root) is never killed.
    assert MY.end_session(my.settings(), {"id": my.conn.thread_id()}) is False
    my.conn.ping()
    assert MY.end_session(my.settings(), session) is True
    reader.join(10)
    assert not reader.is_alive() and failure
    assert stops_sleeping(my) and sessions == [session, None]
    assert MY.end_session(my.settings(), session) is False
