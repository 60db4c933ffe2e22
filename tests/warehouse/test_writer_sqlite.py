"""The SQLite identity writer (the embedded warehouse), on a file under tmp_path."""
import json
import sqlite3
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

import pytest

from pipelines.errors import ServiceUnavailable
from pipelines.types import RawJSON, parse_type
from warehouse.backends import SQLiteWarehouse
from warehouse.columns import profile_columns

UTC = timezone.utc
T0 = datetime(2024, 1, 1, 12, 0, 0, tzinfo=UTC)
NASTY = "quote ' \" tab\t newline\n cr\r backslash \\ \\N é 漢字 🎉"


def prop(name, type_):
    return {"name": name, "type": type_, "readOptional": True}


SCHEMA = parse_type({"kind": "object", "properties": [
    prop("email", {"kind": "string", "maxLength": 254}),
    prop("name", {"kind": "string"}),
    prop("score", {"kind": "int", "bitSize": 32}),
    prop("address", {"kind": "object", "properties": [
        prop("city", {"kind": "string"}),
        prop("zip", {"kind": "string"}),
    ]}),
]})

KINDS_SCHEMA = parse_type({"kind": "object", "properties": [
    prop("s", {"kind": "string"}),
    prop("b", {"kind": "boolean"}),
    prop("i8", {"kind": "int", "bitSize": 8}),
    prop("i64", {"kind": "int", "bitSize": 64}),
    prop("u64", {"kind": "int", "bitSize": 64, "unsigned": True}),
    prop("f32", {"kind": "float", "bitSize": 32}),
    prop("f64", {"kind": "float", "bitSize": 64}),
    prop("dec", {"kind": "decimal", "precision": 76, "scale": 37}),
    prop("dt", {"kind": "datetime"}),
    prop("d", {"kind": "date"}),
    prop("t", {"kind": "time"}),
    prop("y", {"kind": "year"}),
    prop("u", {"kind": "uuid"}),
    prop("ip", {"kind": "ip"}),
    prop("j", {"kind": "json"}),
    prop("as", {"kind": "array", "elementType": {"kind": "string"}}),
    prop("adt", {"kind": "array", "elementType": {"kind": "datetime"}}),
    prop("aj", {"kind": "array", "elementType": {"kind": "json"}}),
    prop("m", {"kind": "map", "elementType": {"kind": "decimal", "precision": 30, "scale": 10}}),
]})


def columns_of(schema):
    return [(c.name, c.type) for c in profile_columns(schema)]


@pytest.fixture
def warehouse(tmp_path):
    backend = SQLiteWarehouse({"path": str(tmp_path / "wh" / "warehouse.sqlite3")})
    backend.initialize(SCHEMA)
    return backend


@pytest.fixture
def kinds_warehouse(tmp_path):
    backend = SQLiteWarehouse({"path": str(tmp_path / "kinds.sqlite3")})
    backend.initialize(KINDS_SCHEMA)
    return backend


def query(backend, sql, params=()):
    conn = sqlite3.connect(backend.path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def identities(backend, pipeline=None):
    where = "" if pipeline is None else f" WHERE _pipeline = {int(pipeline)}"
    rows = query(backend, "SELECT _identity_id, _pipeline, _connection, _updated_at, _run, _is_anonymous, email, name, "
                          f"score, address_city, address_zip, _pk FROM krenalis_identities{where} ORDER BY _pk")
    return {r[0]: r[1:] for r in rows}


def writer(backend, pipeline=1, connection=10, run=100, schema=SCHEMA):
    return backend.identity_writer(pipeline_id=pipeline, connection_id=connection, run_id=run,
                                   columns=columns_of(schema))


def test_insert_then_update(warehouse):
    with writer(warehouse, run=100) as w:
        assert w.write([("1", T0, ("a@x.com", "Ann", 30, "Rome", "00100")),
                        ("2", T0, ("b@x.com", "Bob", None, None, None))]) == 2
    before = identities(warehouse)
    assert before["1"][:10] == (1, 10, "2024-01-01 12:00:00.000000", 100, 0, "a@x.com", "Ann", 30, "Rome", "00100")
    later = T0 + timedelta(days=1, microseconds=7)
    with writer(warehouse, connection=11, run=101) as w:
        assert w.write([("1", later, ("a2@x.com", None, 31, "Milan", None))]) == 1
    after = identities(warehouse)
    assert after["1"] == (1, 10, "2024-01-02 12:00:00.000007", 101, 0, "a2@x.com", None, 31, "Milan", None,
                          before["1"][10])
    assert after["2"] == before["2"]


def test_duplicates_in_one_batch_last_wins(warehouse):
    with writer(warehouse) as w:
        assert w.write([("1", T0, ("first@x.com", "A", 1, None, None)),
                        ("2", T0, ("two@x.com", "B", 2, None, None)),
                        ("1", T0 + timedelta(hours=1), ("last@x.com", None, 3, None, None))]) == 2
    rows = identities(warehouse)
    assert len(rows) == 2
    assert rows["1"][2] == "2024-01-01 13:00:00.000000" and rows["1"][5:8] == ("last@x.com", None, 3)


def test_nulls_and_escapes(warehouse):
    with writer(warehouse) as w:
        w.write([("id\t\\1", T0, (NASTY, "Ann", 30, "Rome", ""))])
        w.write([("id\t\\1", T0, (NASTY, None, None, None, ""))])
    assert identities(warehouse)["id\t\\1"][5:10] == (NASTY, None, None, None, "")


def test_datetimes_are_stored_in_utc(warehouse):
    with writer(warehouse) as w:
        w.write([("aware", datetime(2024, 6, 1, 14, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2))), (None,) * 5),
                 ("naive", datetime(2024, 6, 1, 12, 0, 0), (None,) * 5)])
    rows = identities(warehouse)
    assert rows["aware"][2] == "2024-06-01 12:00:00.123456"
    assert rows["naive"][2] == "2024-06-01 12:00:00.000000"


def test_every_kind_is_stored(kinds_warehouse):
    names = [name for name, _ in columns_of(KINDS_SCHEMA)]
    values = {
        "s": NASTY, "b": True, "i8": -128, "i64": -9223372036854775808, "u64": 18446744073709551615,
        "f32": 23.9476, "f64": float("nan"),
        "dec": Decimal("123456789012345678901234567890123456789.1234567890123456789012345678901234567"),
        "dt": datetime(1, 1, 1, 0, 0, 0, 1, tzinfo=UTC), "d": date(9999, 12, 31), "t": time(23, 59, 59, 999999),
        "y": 2024, "u": "f81d4fae-7dec-11d0-a765-00a0c91e6bf6", "ip": "2001:db8::1",
        "j": RawJSON('{"a": [1, 2.50], "b": null}'), "as": ['a"b', "c\\d", ""],
        "adt": [datetime(2024, 2, 29, 1, 2, 3, 4, tzinfo=UTC)], "aj": [RawJSON('{"k": 1}'), RawJSON("null")],
        "m": {"pi": Decimal("3.1415926535")},
    }
    other = {"b": False, "i64": 9223372036854775807, "u64": 0, "f64": float("-inf"), "t": time(0, 0),
             "j": RawJSON("null"), "as": [], "m": {}}
    with writer(kinds_warehouse, schema=KINDS_SCHEMA) as w:
        w.write([("max", T0, tuple(values[n] for n in names)),
                 ("other", T0, tuple(other.get(n) for n in names))])
    select = ", ".join(f'"{n}"' for n in names)
    rows = {r[0]: dict(zip(names, r[1:])) for r in query(kinds_warehouse,
                                                         f"SELECT _identity_id, {select} FROM krenalis_identities")}
    assert rows["max"] == {
        "s": NASTY, "b": 1, "i8": -128, "i64": -9223372036854775808, "u64": b"18446744073709551615",
        "f32": 23.9476, "f64": "NaN",
        "dec": "123456789012345678901234567890123456789.1234567890123456789012345678901234567",
        "dt": "0001-01-01 00:00:00.000001", "d": "9999-12-31", "t": "23:59:59.999999", "y": 2024,
        "u": "f81d4fae-7dec-11d0-a765-00a0c91e6bf6", "ip": "2001:db8::1", "j": '{"a": [1, 2.50], "b": null}',
        "as": '["a\\"b","c\\\\d",""]', "adt": '["2024-02-29T01:02:03.000004Z"]', "aj": '[{"k": 1},null]',
        "m": '{"pi":3.1415926535}',
    }
    assert json.loads(rows["max"]["as"]) == values["as"]
    assert rows["other"] == {n: None for n in names} | {
        "b": 0, "i64": 9223372036854775807, "u64": 0, "f64": float("-inf"), "t": "00:00:00.000000", "j": "null",
        "as": "[]", "m": "{}"}


def test_has_identities_is_per_pipeline(warehouse):
    with writer(warehouse, pipeline=1) as w:
        assert w.has_identities() is False
        w.write([("1", T0, ("a@x.com", "Ann", 30, "Rome", "00100"))])
        assert w.has_identities() is True
    with writer(warehouse, pipeline=2, run=101) as other:
        assert other.has_identities() is False


def test_keep_and_purge(warehouse):
    with writer(warehouse, pipeline=1, run=1) as w:
        w.write([(i, T0, (f"{i}@x.com", i, 1, None, None)) for i in ("a", "b", "c", "d")])
    with writer(warehouse, pipeline=2, connection=20, run=1) as w:
        w.write([("a", T0, ("other@x.com", None, None, None, None))])
    query_conn = sqlite3.connect(warehouse.path)
    query_conn.execute("UPDATE krenalis_identities SET _run = NULL WHERE _pipeline = 1 AND _identity_id = 'd'")
    query_conn.commit()
    query_conn.close()
    with writer(warehouse, pipeline=1, run=2) as w:
        w.write([("a", T0 + timedelta(hours=1), ("new@x.com", None, 2, None, None))])
        w.keep(["b", "unknown", "b"])
        assert w.purge() == 2
    rows = identities(warehouse, 1)
    assert sorted(rows) == ["a", "b"]
    assert rows["a"][3:8] == (2, 0, "new@x.com", None, 2)
    assert rows["b"][2:8] == ("2024-01-01 12:00:00.000000", 2, 0, "b@x.com", "b", 1)
    assert list(identities(warehouse, 2)) == ["a"] and identities(warehouse, 2)["a"][3] == 1


def test_unset(warehouse):
    with writer(warehouse, pipeline=1) as w:
        w.write([("a", T0, ("a@x.com", "Ann", 1, "Rome", "00100"))])
    with writer(warehouse, pipeline=2) as w:
        w.write([("a", T0, ("a@y.com", "Al", 3, "Paris", "75000"))])
    with writer(warehouse, pipeline=1, run=200) as w:
        w.unset(["name", "address_city"])
        with pytest.raises(ValueError):
            w.unset(["_pipeline"])
    assert identities(warehouse, 1)["a"][3:10] == (100, 0, "a@x.com", None, 1, None, "00100")
    assert identities(warehouse, 2)["a"][5:10] == ("a@y.com", "Al", 3, "Paris", "75000")


def test_failed_write_is_rolled_back(warehouse):
    with writer(warehouse) as w:
        with pytest.raises(ServiceUnavailable):  # the writer's column does not exist
            with warehouse.identity_writer(pipeline_id=1, connection_id=1, run_id=1,
                                           columns=[("missing", parse_type({"kind": "string"}))]) as bad:
                bad.write([("a", T0, ("x",))])
        assert w.write([("a", T0, (None,) * 5)]) == 1
    assert list(identities(warehouse)) == ["a"]


def test_close_is_idempotent(warehouse):
    w = writer(warehouse)
    w.close()
    w.close()
    with pytest.raises(RuntimeError):
        w.purge()


def test_unopenable_file(tmp_path):
    backend = SQLiteWarehouse({"path": str(tmp_path / "no" / "such" / "dir" / "w.sqlite3")})
    with pytest.raises(ServiceUnavailable):
        backend.identity_writer(pipeline_id=1, connection_id=1, run_id=1, columns=[])
