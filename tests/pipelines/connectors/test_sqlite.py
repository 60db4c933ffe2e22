"""SQLite connector (embedded demo source)."""

import datetime as dt
import os
import sqlite3
import time
from decimal import Decimal

import pytest

from pipelines.connectors import (ConnectorUnavailable, InvalidSettings, QueryControl, QueryFailed, QueryInterrupted,
                                  SQLiteConnector)
from pipelines.connectors.base import INVALID_NAME_ISSUE
from pipelines.types import RawJSON, Type

from .conftest import column_types, interrupt_when, read_all

LITE = SQLiteConnector(allowed_root="")
UTC = dt.timezone.utc


def T(kind, **kw):
    return Type(kind=kind, **kw)


@pytest.fixture()
def db(tmp_path):
    path = tmp_path / "source.db"
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE users (
            id INTEGER PRIMARY KEY, email VARCHAR(120) NOT NULL, score REAL, amount DECIMAL(10,2), total NUMERIC,
            active BOOLEAN, born DATE, seen_at DATETIME, stamp TIMESTAMP, wake TIME, attrs JSON, bio TEXT,
            avatar BLOB, big BIGINT, anything, tiny_int TINYINT, fancy_int_type UNSIGNED MEDIUMINT
        );
        INSERT INTO users VALUES (1, 'a@example.com', 1.5, 12.34, 7, 1, '2000-02-29', '2024-01-02 03:04:05.123456',
            '2024-01-02T03:04:05+02:00', '13:14:15', '{"b": 1,  "a": [1, 2.50]}', 'hello', X'C3A9',
            9223372036854775807, 42, 1, 2);
        INSERT INTO users VALUES (2, 'b@example.com', 2, '1.5', 2.5, 0, '2001-01-01', 1700000000, NULL, NULL, '[]',
            NULL, X'FF', NULL, 'text', NULL, NULL);
        INSERT INTO users (id, email, seen_at, born, active) VALUES (3, 'c@example.com', 'not a date', 'bad', 'true');
    """)
    conn.commit()
    conn.close()
    return str(path)


def settings(path):
    return {"path": path}


def test_settings():
    assert LITE.validate_settings({"path": "/x/y.db", "other": 1}) == {"path": "/x/y.db"}
    for bad, message in [({}, "path length must be in range [1,1024]"),
                         ({"path": ""}, "path length must be in range [1,1024]"),
                         ({"path": "x" * 1025}, "path length must be in range [1,1024]"),
                         ({"path": "a\x00b"}, "path cannot contain the NUL character"),
                         ({"path": 5}, "path must be a string")]:
        with pytest.raises(InvalidSettings) as info:
            LITE.validate_settings(bad)
        assert str(info.value) == message


def test_allowed_root(tmp_path, db):
    connector = SQLiteConnector(allowed_root=str(tmp_path))
    assert connector.validate_settings({"path": "source.db"}) == {"path": "source.db"}
    connector.test_connection({"path": "source.db"})
    connector.test_connection({"path": db})
    for outside in ("../elsewhere.db", "/etc/passwd", str(tmp_path) + "-other/x.db"):
        # the message names the directory, so that whoever types the path knows where to put the file
        with pytest.raises(InvalidSettings) as info:
            connector.validate_settings({"path": outside})
        assert str(info.value) == (f"path must be inside the directory of the SQLite databases, "
                                   f"{os.path.realpath(tmp_path)} (a relative path is read from there)")
    os.symlink("/etc", tmp_path / "link")
    with pytest.raises(InvalidSettings):
        connector.validate_settings({"path": "link/passwd"})


def test_allowed_root_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("KRENALIS_SQLITE_ROOT", str(tmp_path))
    assert SQLiteConnector().allowed_root == str(tmp_path)


def test_test_connection(db, tmp_path):
    LITE.test_connection(settings(db))
    with pytest.raises(ConnectorUnavailable, match='^database file ".*missing.db" does not exist$'):
        LITE.test_connection(settings(str(tmp_path / "missing.db")))
    not_a_db = tmp_path / "text.db"
    not_a_db.write_text("hello, this is not a database file at all" * 10)
    with pytest.raises(ConnectorUnavailable, match="file is not a database"):
        LITE.test_connection(settings(str(not_a_db)))


def test_types(db):
    schema, rows = read_all(LITE, settings(db), "SELECT * FROM users ORDER BY id")
    assert column_types(schema) == {
        "id": T("int", bit_size=64), "email": T("string"), "score": T("float", bit_size=64),
        "amount": T("decimal", precision=10, scale=2), "total": T("decimal", precision=76, scale=37),
        "active": T("boolean"), "born": T("date"), "seen_at": T("datetime"), "stamp": T("datetime"),
        "wake": T("time"), "attrs": T("json"), "bio": T("string"), "avatar": T("string"),
        "big": T("int", bit_size=64), "anything": T("string"), "tiny_int": T("int", bit_size=64),
        "fancy_int_type": T("int", bit_size=64),
    }
    assert all(c.nullable for c in schema.columns)
    assert schema.issues == []
    assert rows[0] == (1, "a@example.com", 1.5, Decimal("12.34"), Decimal("7"), True, dt.date(2000, 2, 29),
                       dt.datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=UTC), dt.datetime(2024, 1, 2, 1, 4, 5, tzinfo=UTC),
                       dt.time(13, 14, 15), RawJSON('{"b": 1,  "a": [1, 2.50]}'), "hello", "é",
                       9223372036854775807, "42", 1, 2)
    assert rows[1] == (2, "b@example.com", 2.0, Decimal("1.5"), Decimal("2.5"), False, dt.date(2001, 1, 1),
                       dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC), None, None, RawJSON("[]"), None, b"\xff",
                       None, "text", None, None)
    # Values that do not fit are passed through, for the row validation to reject.
    assert rows[2][5:8] == (True, "bad", "not a date")


def test_expressions_and_invalid_names(db):
    schema, rows = read_all(LITE, settings(db), 'SELECT id, email AS "e-mail", count(*), 1 + 1 AS two, '
                                                "CAST(id AS INTEGER) AS cid FROM users WHERE id = 1")
    assert [(c.name, c.type) for c in schema.columns] == [("id", T("int", bit_size=64)), ("two", T("string")),
                                                          ("cid", T("string"))]
    assert schema.issues == [INVALID_NAME_ISSUE.format("e-mail"), INVALID_NAME_ISSUE.format("count(*)")]
    assert rows == [(1, "2", "1")]


def test_duplicate_names(db):
    with pytest.raises(ConnectorUnavailable, match='^the names of the 1st and 3rd columns are the same: "id"$'):
        read_all(LITE, settings(db), "SELECT id, email, id FROM users")


def test_batches_and_max_rows(db):
    sql = ("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 25003) "
           "SELECT CAST(n AS INTEGER) AS n FROM r")
    with LITE.query(settings(db), sql, timeout_seconds=10, batch_size=10_000) as result:
        sizes = [len(b) for b in result]
    assert sizes == [10_000, 10_000, 5_003]
    _, rows = read_all(LITE, settings(db), "SELECT id FROM users ORDER BY id", max_rows=2, batch_size=1)
    assert rows == [(1,), (2,)]
    schema, rows = read_all(LITE, settings(db), "SELECT id FROM users", max_rows=0)
    assert rows == [] and [c.name for c in schema.columns] == ["id"]


@pytest.mark.parametrize("sql", [
    "INSERT INTO users (id, email) VALUES (9, 'x')",
    "DELETE FROM users",
    "UPDATE users SET email = 'x'",
    "DROP TABLE users",
    "CREATE TABLE other (x)",
    "SELECT 1; DELETE FROM users",
    "PRAGMA user_version = 5",
    "ATTACH DATABASE '{dir}/created.db' AS other",
    "VACUUM INTO '{dir}/copy.db'",
])
def test_writes_are_rejected(db, tmp_path, sql):
    with pytest.raises(ConnectorUnavailable):
        read_all(LITE, settings(db), sql.format(dir=tmp_path))
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*), group_concat(email) FROM users").fetchone() == \
        (3, "a@example.com,b@example.com,c@example.com")
    assert conn.execute("PRAGMA user_version").fetchone() == (0,)
    conn.close()
    assert sorted(os.listdir(tmp_path)) == ["source.db"]


def test_statement_timeout(db):
    sql = "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) AS c FROM r"
    started = time.monotonic()
    with pytest.raises(ConnectorUnavailable) as info:
        read_all(LITE, settings(db), sql, timeout_seconds=1)
    assert time.monotonic() - started < 3
    assert str(info.value) == "canceling statement due to statement timeout (1 s)"


def test_a_control_stops_a_running_query(db):
    sql = "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) AS c FROM r"
    control = QueryControl()
    stopper = interrupt_when(control, lambda: (control.busy_for() or 0) > 0.5, "stopped by the test")
    with pytest.raises(QueryInterrupted) as info:
        read_all(LITE, settings(db), sql, timeout_seconds=60, control=control)
    stopper.join()
    assert str(info.value) == "stopped by the test"
    with pytest.raises(QueryInterrupted):  # and nothing runs after
        read_all(LITE, settings(db), "SELECT 1 AS one", control=control)
    assert LITE.end_session(settings(db), None) is False  # in-process: nothing to end from elsewhere


def test_sql_errors_say_the_query_failed(db):
    with pytest.raises(QueryFailed, match="^query failed: no such table: no_such_table$"):
        read_all(LITE, settings(db), "SELECT id FROM no_such_table")
    with pytest.raises(QueryFailed, match='^query failed: near "SELEC": syntax error$'):
        read_all(LITE, settings(db), "SELEC id FROM users")
    with pytest.raises(QueryFailed, match="^query failed: "):
        read_all(LITE, settings(db), "SELECT 1 AS a; SELECT 2 AS b")
    with pytest.raises(QueryFailed, match="^query failed: not authorized$"):
        read_all(LITE, settings(db), "DELETE FROM users")


def test_updated_at_literal(db):
    literal = LITE.sql_literal("a'b", Type(kind="string"))
    _, rows = read_all(LITE, settings(db), f"SELECT {literal} AS v, id FROM users WHERE id = 1")
    assert rows == [("a'b", 1)]
    literal = LITE.sql_literal(dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), Type(kind="datetime"))
    _, rows = read_all(LITE, settings(db), f"SELECT id FROM users WHERE seen_at >= {literal} ORDER BY id")
    assert rows == [(1,), (3,)]  # text comparison, as SQLite does
