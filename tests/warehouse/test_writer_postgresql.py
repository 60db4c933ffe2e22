"""The PostgreSQL identity writer, against a real PostgreSQL (a fresh database per test)."""
import io
import json
import math
import secrets
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

import psycopg2
import pytest

from pipelines.errors import ServiceUnavailable
from pipelines.types import RawJSON, dumps_json, parse_type
from tests import support
from warehouse.backends import PostgreSQLWarehouse
from warehouse.columns import profile_columns

UTC = timezone.utc
T0 = datetime(2024, 1, 1, 12, 0, 0, tzinfo=UTC)


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
    prop("s10", {"kind": "string", "maxLength": 10}),
    prop("b", {"kind": "boolean"}),
    prop("i8", {"kind": "int", "bitSize": 8}),
    prop("i16", {"kind": "int", "bitSize": 16}),
    prop("i24", {"kind": "int", "bitSize": 24}),
    prop("i32", {"kind": "int", "bitSize": 32}),
    prop("i64", {"kind": "int", "bitSize": 64}),
    prop("u8", {"kind": "int", "bitSize": 8, "unsigned": True}),
    prop("u32", {"kind": "int", "bitSize": 32, "unsigned": True}),
    prop("u64", {"kind": "int", "bitSize": 64, "unsigned": True}),
    prop("f32", {"kind": "float", "bitSize": 32}),
    prop("f64", {"kind": "float", "bitSize": 64}),
    prop("dec", {"kind": "decimal", "precision": 76, "scale": 37}),
    prop("dec0", {"kind": "decimal", "precision": 20, "scale": 0}),
    prop("dt", {"kind": "datetime"}),
    prop("d", {"kind": "date"}),
    prop("t", {"kind": "time"}),
    prop("y", {"kind": "year"}),
    prop("u", {"kind": "uuid"}),
    prop("ip", {"kind": "ip"}),
    prop("j", {"kind": "json"}),
    prop("as", {"kind": "array", "elementType": {"kind": "string"}}),
    prop("ai", {"kind": "array", "elementType": {"kind": "int", "bitSize": 64}}),
    prop("adt", {"kind": "array", "elementType": {"kind": "datetime"}}),
    prop("aj", {"kind": "array", "elementType": {"kind": "json"}}),
    prop("adec", {"kind": "array", "elementType": {"kind": "decimal", "precision": 10, "scale": 3}}),
    prop("m", {"kind": "map", "elementType": {"kind": "string"}}),
    prop("mdec", {"kind": "map", "elementType": {"kind": "decimal", "precision": 30, "scale": 10}}),
]})

NASTY = "quote ' \" tab\t newline\n cr\r backslash \\ \\N \\. é 漢字 🎉"


def columns_of(schema):
    return [(c.name, c.type) for c in profile_columns(schema)]


def settings_for(dbname, password=""):
    return {"host": support.PG["host"], "port": support.PG["port"], "username": support.PG["user"],
            "password": password, "database": dbname, "schema": "public"}


@pytest.fixture
def pg_database():
    name = support.create_pg_database("krenalis_test_wr")
    yield name
    support.drop_pg_database(name)


@pytest.fixture
def warehouse(pg_database):
    backend = PostgreSQLWarehouse(settings_for(pg_database))
    backend.initialize(SCHEMA)
    return backend


@pytest.fixture
def kinds_warehouse(pg_database):
    backend = PostgreSQLWarehouse(settings_for(pg_database))
    backend.initialize(KINDS_SCHEMA)
    return backend


def query(backend, sql, params=()):
    conn = support.pg_connect(backend.settings["database"])
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else None
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


# ------------------------------------------------------------------------------------------ upserts

def test_insert_then_update(warehouse):
    with writer(warehouse, run=100) as w:
        assert w.write([("1", T0, ("a@x.com", "Ann", 30, "Rome", "00100")),
                        ("2", T0, ("b@x.com", "Bob", None, None, None))]) == 2
    before = identities(warehouse)
    assert before["1"][:9] == (1, 10, T0.replace(tzinfo=None), 100, False, "a@x.com", "Ann", 30, "Rome")
    assert before["2"][5:10] == ("b@x.com", "Bob", None, None, None)

    later = T0 + timedelta(days=1, microseconds=7)
    with writer(warehouse, connection=11, run=101) as w:
        assert w.write([("1", later, ("a2@x.com", None, 31, "Milan", "20100"))]) == 1
    after = identities(warehouse)
    # values, _updated_at and _run change; _connection and _pk stay
    assert after["1"] == (1, 10, later.replace(tzinfo=None), 101, False, "a2@x.com", None, 31, "Milan", "20100",
                          before["1"][10])
    assert after["2"] == before["2"]


def test_only_written_columns_are_touched(warehouse):
    with writer(warehouse) as w:
        w.write([("1", T0, ("a@x.com", "Ann", 30, "Rome", "00100"))])
    partial = [(c.name, c.type) for c in profile_columns(SCHEMA) if c.name in ("score", "email")]
    with warehouse.identity_writer(pipeline_id=1, connection_id=10, run_id=101, columns=partial) as w:
        w.write([("1", T0, (None, 99))])  # values come in the order of `columns`
    row = identities(warehouse)["1"]
    assert row[5:10] == (None, "Ann", 99, "Rome", "00100")


def test_duplicates_in_one_batch_last_wins(warehouse):
    with writer(warehouse) as w:
        written = w.write([("1", T0, ("first@x.com", "A", 1, None, None)),
                           ("2", T0, ("two@x.com", "B", 2, None, None)),
                           ("1", T0 + timedelta(hours=1), ("last@x.com", "C", 3, None, None))])
    assert written == 2
    rows = identities(warehouse)
    assert len(rows) == 2
    assert rows["1"][2] == (T0 + timedelta(hours=1)).replace(tzinfo=None)
    assert rows["1"][5:8] == ("last@x.com", "C", 3)


def test_nulls_overwrite_values(warehouse):
    with writer(warehouse) as w:
        w.write([("1", T0, ("a@x.com", "Ann", 30, "Rome", "00100"))])
        w.write([("1", T0, (None, None, None, None, None))])
    assert identities(warehouse)["1"][5:10] == (None, None, None, None, None)


def test_empty_write(warehouse):
    with writer(warehouse) as w:
        assert w.write([]) == 0
    assert identities(warehouse) == {}


def test_strings_needing_escapes_mixed_with_clean_rows(warehouse):
    rows = []
    for i in range(300):
        name = NASTY if i % 7 == 0 else f"name{i}"
        city = None if i % 5 == 0 else ("a\\b" if i % 11 == 0 else f"city{i}")
        rows.append((f"id\t{i}\\" if i % 13 == 0 else f"id{i}", T0, (f"u{i}@x.com", name, i, city, "")))
    with writer(warehouse) as w:
        assert w.write(rows) == 300
    stored = identities(warehouse)
    assert len(stored) == 300
    for identity_id, _, values in rows:
        assert stored[identity_id][5:10] == values


def test_datetimes_are_stored_in_utc(warehouse):
    rome = timezone(timedelta(hours=2))
    with writer(warehouse) as w:
        w.write([("aware", datetime(2024, 6, 1, 14, 0, 0, 123456, tzinfo=rome), (None,) * 5),
                 ("naive", datetime(2024, 6, 1, 12, 0, 0, 5), (None,) * 5)])
    rows = identities(warehouse)
    assert rows["aware"][2] == datetime(2024, 6, 1, 12, 0, 0, 123456)
    assert rows["naive"][2] == datetime(2024, 6, 1, 12, 0, 0, 5)


# ------------------------------------------------------------------------------------------ kinds

def kinds_row(**overrides):
    values = {name: None for name, _ in columns_of(KINDS_SCHEMA)}
    values.update(overrides)
    return tuple(values[name] for name, _ in columns_of(KINDS_SCHEMA))


KIND_ROWS = {
    "max": dict(
        s=NASTY, s10="ten chars!", b=True, i8=-128, i16=32767, i24=-8388608, i32=2147483647,
        i64=-9223372036854775808, u8=255, u32=4294967295, u64=18446744073709551615,
        f32=23.9476, f64=1.7976931348623157e308,
        dec=Decimal("123456789012345678901234567890123456789.1234567890123456789012345678901234567"),
        dec0=Decimal("99999999999999999999"),
        dt=datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), d=date(9999, 12, 31),
        t=time(23, 59, 59, 999999), y=9999, u="f81d4fae-7dec-11d0-a765-00a0c91e6bf6", ip="2001:db8::1",
        j=RawJSON('{"a": [1, 2.50, "x\\ny\\\\z\\"q"], "b": null, "t\\tab": "é"}'),
        **{"as": ['a"b', "c\\d", "NULL", "", "tab\tnl\n", "{}", "é,🎉"]},
        ai=[9223372036854775807, -1, 0], adt=[datetime(2024, 2, 29, 1, 2, 3, 4, tzinfo=UTC)],
        aj=[RawJSON('{"k": "v\\"w"}'), RawJSON('"s"'), RawJSON("null"), RawJSON("[1, 2]")],
        adec=[Decimal("1234567.125"), Decimal("-0.001")],
        m={"k": "v", 'q"uote': "line\nbreak", "back\\slash": "\\"},
        mdec={"pi": Decimal("3.1415926535"), "big": Decimal("12345678901234567890.0000000001")},
    ),
    "min": dict(
        s="", s10="", b=False, i8=127, i16=-32768, i24=8388607, i32=-2147483648,
        i64=9223372036854775807, u8=0, u32=0, u64=0, f32=-3.4028235e38, f64=float("nan"),
        dec=Decimal("-0.0000000000000000000000000000000000001"), dec0=Decimal("-99999999999999999999"),
        dt=datetime(1, 1, 1, 0, 0, 0, 1, tzinfo=UTC), d=date(1, 1, 1), t=time(0, 0), y=1,
        u="00000000-0000-0000-0000-000000000000", ip="192.168.0.1", j=RawJSON('"just a string"'),
        **{"as": []}, ai=[], adt=[], aj=[], adec=[], m={}, mdec={},
    ),
    "special": dict(
        s="\\", f64=float("inf"), f32=float("-inf"), dec=Decimal("1E+2"), dec0=Decimal("1.0E+1"),
        dt=datetime(2024, 2, 29, 12, 34, 56, 789012, tzinfo=UTC), t=time(12, 0, 0, 1),
        ip="::ffff:1.2.3.4", j=RawJSON("null"),
    ),
    "nulls": {},
}


def read_kinds(backend):
    names = [name for name, _ in columns_of(KINDS_SCHEMA)]
    special = {"j": "j::text", "m": "m::text", "mdec": "mdec::text", "u": "u::text", "ip": "host(ip)",
               "aj": "CASE WHEN aj IS NOT NULL THEN array(select x::text from unnest(aj) x) END"}
    select = ", ".join(special.get(n, f'"{n}"') for n in names)
    rows = query(backend, f"SELECT _identity_id, {select} FROM krenalis_identities")
    return {r[0]: dict(zip(names, r[1:])) for r in rows}


def test_every_kind_round_trips(kinds_warehouse):
    with writer(kinds_warehouse, schema=KINDS_SCHEMA) as w:
        assert w.write([(key, T0, kinds_row(**values)) for key, values in KIND_ROWS.items()]) == len(KIND_ROWS)
    stored = read_kinds(kinds_warehouse)
    names = [name for name, _ in columns_of(KINDS_SCHEMA)]

    def naive(value):
        return value.replace(tzinfo=None)

    def exact_json(text):
        return json.loads(text, parse_float=Decimal)

    for key, values in KIND_ROWS.items():
        row = stored[key]
        for name, expected in dict(zip(names, kinds_row(**values))).items():
            got = row[name]
            if expected is None:
                assert got is None, (key, name, got)
            elif name in ("j", "m", "mdec"):
                want = expected.text if isinstance(expected, RawJSON) else dumps_json(expected)
                assert exact_json(got) == exact_json(want), (key, name, got)
            elif name == "aj":
                assert [exact_json(x) for x in got] == [exact_json(x.text) for x in expected], (key, name, got)
            elif name == "dt":
                assert got == naive(expected), (key, name, got)
            elif name == "adt":
                assert got == [naive(x) for x in expected], (key, name, got)
            elif name in ("f64", "f32") and isinstance(expected, float) and math.isnan(expected):
                assert math.isnan(got), (key, name, got)
            else:
                assert got == expected and type(got) in (type(expected), Decimal), (key, name, got, expected)
    # a JSON null is a jsonb null, not an SQL NULL
    assert query(kinds_warehouse, "SELECT j IS NULL, jsonb_typeof(j) FROM krenalis_identities "
                                  "WHERE _identity_id = 'special'") == [(False, "null")]
    assert query(kinds_warehouse, "SELECT mdec->>'big' FROM krenalis_identities WHERE _identity_id = 'max'") == [
        ("12345678901234567890.0000000001",)]


def test_every_kind_updates(kinds_warehouse):
    with writer(kinds_warehouse, schema=KINDS_SCHEMA) as w:
        w.write([("x", T0, kinds_row(**KIND_ROWS["max"]))])
        w.write([("x", T0, kinds_row(**KIND_ROWS["special"]))])
    row = read_kinds(kinds_warehouse)["x"]
    assert row["s"] == "\\" and row["dec"] == Decimal(100) and row["as"] is None and row["f64"] == math.inf


# ------------------------------------------------------------------------------------------ keep, purge, unset

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
    query(warehouse, "UPDATE krenalis_identities SET _run = NULL WHERE _pipeline = 1 AND _identity_id = 'd'")

    with writer(warehouse, pipeline=1, run=2) as w:
        w.write([("a", T0 + timedelta(hours=1), ("new@x.com", None, 2, None, None))])
        w.keep(["b", "unknown", "b"])  # failed records with a known id; unknown ids are not created
        assert w.purge() == 2  # c (not seen) and d (NULL _run)

    rows = identities(warehouse, 1)
    assert sorted(rows) == ["a", "b"]
    assert rows["a"][3:8] == (2, False, "new@x.com", None, 2)
    assert rows["b"][2:8] == (T0.replace(tzinfo=None), 2, False, "b@x.com", "b", 1)  # only _run changed
    assert list(identities(warehouse, 2)) == ["a"]
    assert identities(warehouse, 2)["a"][3] == 1


def test_purge_without_writes_deletes_everything_of_the_pipeline(warehouse):
    with writer(warehouse, pipeline=1, run=1) as w:
        w.write([("a", T0, (None,) * 5), ("b", T0, (None,) * 5)])
    with writer(warehouse, pipeline=2, run=1) as w:
        w.write([("a", T0, (None,) * 5)])
    with writer(warehouse, pipeline=1, run=2) as w:
        assert w.purge() == 2
        assert w.purge() == 0
    assert identities(warehouse, 1) == {} and len(identities(warehouse, 2)) == 1


def test_keep_many_ids(warehouse):
    ids = [str(i) for i in range(25000)]
    with writer(warehouse, run=1) as w:
        w.write([(i, T0, (None,) * 5) for i in ids])
    with writer(warehouse, run=2) as w:
        w.keep(ids[:24000])
        assert w.purge() == 1000
    assert query(warehouse, "SELECT count(*), min(_run), max(_run) FROM krenalis_identities") == [(24000, 2, 2)]


def test_unset(warehouse):
    with writer(warehouse, pipeline=1) as w:
        w.write([("a", T0, ("a@x.com", "Ann", 1, "Rome", "00100")), ("b", T0, ("b@x.com", None, 2, None, None))])
    with writer(warehouse, pipeline=2) as w:
        w.write([("a", T0, ("a@y.com", "Al", 3, "Paris", "75000"))])
    with writer(warehouse, pipeline=1, run=200) as w:
        w.unset(["name", "address_city"])
        w.unset([])
        with pytest.raises(ValueError):
            w.unset(["_run"])
    p1, p2 = identities(warehouse, 1), identities(warehouse, 2)
    assert p1["a"][5:10] == ("a@x.com", None, 1, None, "00100")
    assert p1["a"][3] == 100  # unset is not a write: _run stays
    assert p1["b"][5:10] == ("b@x.com", None, 2, None, None)
    assert p2["a"][5:10] == ("a@y.com", "Al", 3, "Paris", "75000")


# ------------------------------------------------------------------------------------------ connections

def test_batches_commit_without_waiting_for_the_disk_and_flush_waits_for_all_of_them(warehouse):
    with writer(warehouse) as w:
        assert w.write([("1", T0, ("a@x.com", "Ann", 30, "Rome", "00100"))]) == 1
        with w._conn.cursor() as cur:
            cur.execute("SHOW synchronous_commit")
            assert cur.fetchone() == ("off",)
        written_up_to = query(warehouse, "SELECT pg_current_wal_insert_lsn()")[0][0]
        w.flush()
        # The flush's synchronous commit comes after the batch's: the WAL is on disk up to it.
        assert query(warehouse, "SELECT pg_current_wal_flush_lsn() >= %s::pg_lsn", (written_up_to,)) == [(True,)]
        with w._conn.cursor() as cur:
            cur.execute("SHOW synchronous_commit")
            assert cur.fetchone() == ("off",)  # SET LOCAL: only the flush's own transaction waited
    assert identities(warehouse)["1"][5] == "a@x.com"


def test_a_role_that_may_not_emit_wal_messages_keeps_every_commit_synchronous(warehouse):
    role = f"krenalis_test_plain_{secrets.token_hex(4)}"
    database = warehouse.settings["database"]
    query(warehouse, f"CREATE ROLE {role} LOGIN")
    try:
        query(warehouse, "REVOKE EXECUTE ON FUNCTION pg_logical_emit_message(boolean, text, text) FROM PUBLIC")
        query(warehouse, f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}")
        query(warehouse, f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {role}")
        query(warehouse, f'GRANT TEMPORARY ON DATABASE "{database}" TO {role}')
        plain = PostgreSQLWarehouse({**settings_for(database), "username": role})
        with writer(plain) as w:
            with w._conn.cursor() as cur:
                cur.execute("SHOW synchronous_commit")
                assert cur.fetchone() == ("on",)
            assert w.write([("1", T0, ("a@x.com", "Ann", 30, "Rome", "00100"))]) == 1
            w.flush()
        assert identities(warehouse)["1"][5] == "a@x.com"
    finally:
        support.drop_pg_database(database)
        query_postgres = support.pg_connect("postgres")
        with query_postgres.cursor() as cur:
            cur.execute(f"DROP ROLE IF EXISTS {role}")
        query_postgres.close()


def test_close_is_idempotent(warehouse):
    w = writer(warehouse)
    w.write([("a", T0, (None,) * 5)])
    w.close()
    w.close()
    with pytest.raises(RuntimeError):
        w.write([("b", T0, (None,) * 5)])


def test_unreachable_warehouse(pg_database):
    backend = PostgreSQLWarehouse({**settings_for(pg_database, password="s3cret-Pa55"), "port": 1})
    with pytest.raises(ServiceUnavailable) as info:
        backend.identity_writer(pipeline_id=1, connection_id=1, run_id=1, columns=[])
    assert "s3cret-Pa55" not in info.value.message
    assert info.value.message.startswith("data warehouse is unavailable")


def test_missing_database(pg_database):
    backend = PostgreSQLWarehouse({**settings_for(pg_database + "_missing", password="s3cret-Pa55")})
    with pytest.raises(ServiceUnavailable) as info:
        backend.identity_writer(pipeline_id=1, connection_id=1, run_id=1, columns=[])
    assert "s3cret-Pa55" not in info.value.message


def test_failed_write_changes_nothing_and_the_writer_recovers(warehouse):
    with writer(warehouse) as w:
        w.write([("a", T0, ("a@x.com", None, None, None, None))])
        with pytest.raises(ServiceUnavailable):  # longer than varchar(254): the whole batch is rolled back
            w.write([("b", T0, ("b@x.com", None, None, None, None)), ("c", T0, ("x" * 300, None, None, None, None))])
        assert sorted(identities(warehouse)) == ["a"]
        # the connection is killed under the writer: the next call fails, the one after reconnects
        query(warehouse, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE application_name = 'krenalis-warehouse' AND datname = current_database()")
        with pytest.raises(ServiceUnavailable):
            w.write([("b", T0, ("b@x.com", None, None, None, None))])
        assert w.write([("b", T0, ("b@x.com", None, None, None, None))]) == 1
    assert sorted(identities(warehouse)) == ["a", "b"]


# ------------------------------------------------------------------------------ against a plain upsert

THREE_STRINGS = parse_type({"kind": "object", "properties": [
    prop("first_name", {"kind": "string"}), prop("last_name", {"kind": "string"}), prop("email", {"kind": "string"}),
]})


def _plain_copy_upsert(conn, rows, run):
    """The reference: a plain COPY into a temporary table and one INSERT ... ON CONFLICT."""
    with conn.cursor() as cur:
        cur.execute("CREATE TEMPORARY TABLE IF NOT EXISTS plain_batch (_identity_id text, _updated_at timestamp, "
                    "first_name text, last_name text, email text) ON COMMIT DELETE ROWS")
        text = "".join(f"{i}\t{u.replace(tzinfo=None)}\t{a}\t{b}\t{c}\n" for i, u, (a, b, c) in rows)
        cur.copy_expert("COPY plain_batch FROM STDIN", io.StringIO(text))
        cur.execute("INSERT INTO krenalis_identities (_pipeline, _identity_id, _connection, _updated_at, _run, "
                    "first_name, last_name, email) SELECT 1, _identity_id, 10, _updated_at, %s, first_name, "
                    "last_name, email FROM plain_batch ON CONFLICT (_pipeline, _identity_id, _is_anonymous) DO UPDATE "
                    "SET _updated_at = EXCLUDED._updated_at, _run = EXCLUDED._run, first_name = EXCLUDED.first_name, "
                    "last_name = EXCLUDED.last_name, email = EXCLUDED.email", (run,))
    conn.commit()


def test_writes_what_a_plain_copy_and_upsert_writes():
    """20k rows written, then updated twice, through write() and through the plain statements:
    the same table. (Speed is the bench's business: bench/run.py, measure (a) against (b).)"""
    count = 20_000
    databases = [support.create_pg_database("krenalis_test_plain") for _ in range(2)]
    try:
        ours = PostgreSQLWarehouse(settings_for(databases[0]))
        ours.initialize(THREE_STRINGS)
        theirs = PostgreSQLWarehouse(settings_for(databases[1]))
        theirs.initialize(THREE_STRINGS)
        plain_conn = psycopg2.connect(dbname=databases[1], **support.PG)
        try:
            for run in (1, 2, 3):  # 1 inserts, 2 and 3 update every row
                rows = [(str(i), T0 + timedelta(seconds=i + run, microseconds=i),
                         (f"First{i}-{run}", f"Last{i}", f"user{i}@example.com")) for i in range(count)]
                with ours.identity_writer(pipeline_id=1, connection_id=10, run_id=run,
                                          columns=columns_of(THREE_STRINGS)) as w:
                    assert w.write(rows) == count
                _plain_copy_upsert(plain_conn, rows, run)
        finally:
            plain_conn.close()
        assert query(ours, "SELECT count(*), min(_run), min(first_name) FROM krenalis_identities") == \
            [(count, 3, "First0-3")]
        digest = ("SELECT md5(string_agg(_identity_id || _updated_at || first_name || last_name || email, ',' "
                  "ORDER BY _identity_id)) FROM krenalis_identities")
        assert query(ours, digest) == query(theirs, digest)
    finally:
        for name in databases:
            support.drop_pg_database(name)
