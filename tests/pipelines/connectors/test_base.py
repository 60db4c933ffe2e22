"""The connector registry and the shared helpers (no database needed)."""

import datetime as dt
import threading

import pytest

from pipelines.connectors import (REGISTRY, Column, Connector, ConnectorUnavailable, InvalidSettings,
                                  MySQLConnector, PostgreSQLConnector, QueryControl, QueryInterrupted, QueryResult,
                                  QuerySchema, SQLiteConnector, get_connector)
from pipelines.connectors.base import (INVALID_NAME_ISSUE, build_schema, check_duplicate_names, float32_value,
                                       make_batch_transform, ordinal, scrub_secrets)
from pipelines.types import Property, RawJSON, Type, object_type

INT64 = Type(kind="int", bit_size=64)
STRING = Type(kind="string")


def test_registry():
    assert set(REGISTRY) == {"postgresql", "mysql", "sqlite"}
    assert isinstance(get_connector("postgresql"), PostgreSQLConnector)
    assert isinstance(get_connector("mysql"), MySQLConnector)
    assert isinstance(get_connector("sqlite"), SQLiteConnector)
    assert get_connector("oracle") is None
    assert get_connector("") is None
    for code, connector in REGISTRY.items():
        assert isinstance(connector, Connector)
        assert connector.code == code
        assert connector.type == "Database"
        assert connector.sample_query == "SELECT *\nFROM users\n"
    assert [REGISTRY[c].label for c in ("postgresql", "mysql", "sqlite")] == ["PostgreSQL", "MySQL", "SQLite"]


@pytest.mark.parametrize("n,text", [(1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"), (10, "10th"), (11, "11th"),
                                    (12, "12th"), (13, "13th"), (21, "21st"), (22, "22nd"), (23, "23rd"),
                                    (101, "101st"), (111, "111th"), (112, "112th")])
def test_ordinal(n, text):
    assert ordinal(n) == text


def test_duplicate_names():
    check_duplicate_names(["id", "ID", "name"])  # case-sensitive
    with pytest.raises(ConnectorUnavailable) as info:
        check_duplicate_names(["id", "name", "id", "id"])
    assert str(info.value) == 'the names of the 1st and 3rd columns are the same: "id"'
    with pytest.raises(ConnectorUnavailable) as info:
        check_duplicate_names(["a", "b", "b"])
    assert str(info.value) == 'the names of the 2nd and 3rd columns are the same: "b"'


def test_build_schema_issues_and_positions():
    conv = str.upper
    typed = [("id", INT64, False, None, None),
             ("e-mail", STRING, True, None, None),
             ("money", None, True, 'Column "money" has an unsupported type "MONEY".', None),
             ("name", STRING, True, None, conv),
             ("a.b", None, True, 'Column "a.b" has an unsupported type "X".', None)]
    schema, positions, converters = build_schema(typed)
    assert schema.columns == [Column("id", INT64, False), Column("name", STRING, True)]
    assert schema.issues == [INVALID_NAME_ISSUE.format("e-mail"), 'Column "money" has an unsupported type "MONEY".',
                             INVALID_NAME_ISSUE.format("a.b")]
    assert INVALID_NAME_ISSUE.format("e-mail") == (
        'Column "e-mail" does not have a valid property name. Valid names start with a letter or underscore, '
        'followed by only letters, numbers, or underscores.')
    assert positions == [0, 3]
    assert converters == [None, conv]
    assert schema.properties() == [Property(name="id", type=INT64, nullable=False),
                                   Property(name="name", type=STRING, nullable=True)]
    assert schema.object_type() == object_type(*schema.properties())
    assert QuerySchema().object_type() is None


def test_build_schema_rejects_duplicates_even_of_unsupported_columns():
    with pytest.raises(ConnectorUnavailable, match=r'^the names of the 1st and 2nd columns are the same: "x"$'):
        build_schema([("x", None, True, "issue", None), ("x", INT64, True, None, None)])


def test_batch_transform():
    rows = [(1, "a", "b", None), (2, None, "c", "d")]
    assert make_batch_transform(4, [0, 1, 2, 3], [None] * 4) is list
    assert make_batch_transform(4, [0, 2], [None, None])(rows) == [(1, "b"), (2, "c")]
    assert make_batch_transform(4, [3], [str.upper])(rows) == [(None,), ("D",)]
    assert make_batch_transform(4, [1, 3], [str.upper, None])(rows) == [("A", None), (None, "d")]
    assert make_batch_transform(4, [], [])(rows) == [(), ()]


class _Fetcher:
    def __init__(self, total):
        self.left = list(range(total))
        self.calls = []

    def __call__(self, size):
        self.calls.append(size)
        batch, self.left = self.left[:size], self.left[size:]
        return [(v,) for v in batch]


def _result(total, batch_size, max_rows=None):
    schema = QuerySchema([Column("n", INT64, True)], [])
    fetch = _Fetcher(total)
    return QueryResult(schema, fetch, list, batch_size=batch_size, max_rows=max_rows,
                       wrap_error=lambda e: ConnectorUnavailable(str(e))), fetch


def test_query_result_batches():
    result, fetch = _result(25, 10)
    batches = list(result)
    assert [len(b) for b in batches] == [10, 10, 5]
    assert [r[0] for b in batches for r in b] == list(range(25))
    assert result.exhausted and result.rows_read == 25
    assert fetch.calls == [10, 10, 10]


def test_query_result_max_rows():
    result, fetch = _result(25, 10, max_rows=12)
    assert [len(b) for b in result] == [10, 2]
    assert fetch.calls == [10, 2]
    assert not result.exhausted
    result, fetch = _result(25, 10, max_rows=0)
    assert list(result) == [] and fetch.calls == []
    result, fetch = _result(5, 10, max_rows=20)
    assert [r for r in result.rows()] == [(i,) for i in range(5)]


def test_query_result_without_supported_columns_has_no_rows():
    fetch = _Fetcher(3)
    result = QueryResult(QuerySchema([], ["issue"]), fetch, list, batch_size=10, max_rows=None,
                         wrap_error=lambda e: ConnectorUnavailable(str(e)))
    assert list(result) == [] and fetch.calls == []


def test_query_result_wraps_fetch_errors():
    def fetch(size):
        raise RuntimeError("boom")
    result = QueryResult(QuerySchema([Column("n", INT64, True)], []), fetch, list, batch_size=10, max_rows=None,
                         wrap_error=lambda e: ConnectorUnavailable(f"wrapped {e}"))
    with pytest.raises(ConnectorUnavailable, match="^wrapped boom$"):
        list(result)


def test_query_result_wraps_conversion_errors():
    def broken(rows):
        raise ValueError("cannot convert")
    result = QueryResult(QuerySchema([Column("n", INT64, True)], []), _Fetcher(3), broken, batch_size=2,
                         max_rows=None, wrap_error=lambda e: ConnectorUnavailable(f"wrapped {e}"))
    with pytest.raises(ConnectorUnavailable, match="^wrapped cannot convert$"):
        list(result)


def test_scrub_secrets():
    assert scrub_secrets("password=s3cr'et failed", ["s3cr'et"]) == "password=******** failed"
    assert scrub_secrets(r"password='s3cr\'et' failed", ["s3cr'et"]) == "password='********' failed"
    assert scrub_secrets("postgres://u:p%40ss@h/db", ["p@ss"]) == "postgres://u:********@h/db"
    assert scrub_secrets("no secret here", ["", None]) == "no secret here"


def test_float32_value():
    assert float32_value(1.1) == 1.1
    assert float32_value(1.100000023841858) == 1.1
    assert float32_value(3.1415927410125732) == 3.1415927
    assert float32_value(0.30000000000000004) == 0.3
    assert float32_value(float("inf")) == float("inf")
    assert float32_value(1e300) == 1e300  # out of range: left for the validator
    assert float32_value("x") == "x"


@pytest.mark.parametrize("code", ["postgresql", "mysql", "sqlite"])
def test_sql_literal_common(code):
    c = REGISTRY[code]
    assert c.sql_literal(None, Type(kind="datetime")) == "NULL"
    utc = dt.timezone.utc
    value = dt.datetime(2024, 3, 5, 7, 8, 9, 12, tzinfo=utc)
    assert c.sql_literal(value, Type(kind="datetime")) == "'2024-03-05 07:08:09.000012'"
    plus2 = dt.timezone(dt.timedelta(hours=2))
    assert c.sql_literal(dt.datetime(2024, 3, 5, 1, 0, tzinfo=plus2), Type(kind="datetime")) == \
        "'2024-03-04 23:00:00.000000'"
    assert c.sql_literal(dt.datetime(2024, 3, 5, 1, 0), Type(kind="datetime")) == "'2024-03-05 01:00:00.000000'"
    assert c.sql_literal(dt.datetime(33, 1, 2, tzinfo=utc), Type(kind="datetime")) == "'0033-01-02 00:00:00.000000'"
    assert c.sql_literal(dt.date(2024, 3, 5), Type(kind="date")) == "'2024-03-05'"
    assert c.sql_literal(dt.date(5, 3, 5), Type(kind="date")) == "'0005-03-05'"
    assert c.sql_literal("2024-03-05T07:08:09Z", Type(kind="string")) == "'2024-03-05T07:08:09Z'"
    assert c.sql_literal(RawJSON('"x"'), Type(kind="json")).startswith("'")
    with pytest.raises(TypeError):
        c.sql_literal(5, Type(kind="int", bit_size=32))
    with pytest.raises(TypeError):
        c.sql_literal("2024-01-01", Type(kind="datetime"))


def test_sql_literal_quoting():
    s = Type(kind="string")
    assert REGISTRY["postgresql"].sql_literal("it's a \\ back\x00slash", s) == "'it''s a \\ backslash'"
    assert REGISTRY["sqlite"].sql_literal("it's\x00", s) == "'it''s'"
    assert REGISTRY["mysql"].sql_literal("it's a \\ \"q\" \n\r\x00\x1a", s) == \
        "'it\\'s a \\\\ \\\"q\\\" \\n\\r\\0\\Z'"


def test_exceptions():
    assert issubclass(InvalidSettings, Exception) and issubclass(ConnectorUnavailable, Exception)
    assert not issubclass(InvalidSettings, ConnectorUnavailable)


def test_values_conversion_helpers():
    from pipelines.connectors.base import bytes_to_str, naive_as_utc, to_raw_json
    assert bytes_to_str(b"caf\xc3\xa9") == "café"
    assert bytes_to_str(b"\xff") == b"\xff"  # not UTF-8: left for the validator
    assert to_raw_json('{"a": 1}') == RawJSON('{"a": 1}')
    assert to_raw_json(b"[1]") == RawJSON("[1]")
    utc = dt.timezone.utc
    assert naive_as_utc(dt.datetime(2020, 1, 1)) == dt.datetime(2020, 1, 1, tzinfo=utc)
    assert naive_as_utc(dt.datetime(2020, 1, 1, 2, tzinfo=dt.timezone(dt.timedelta(hours=2)))).tzinfo == utc


# --------------------------------------------------------------------------- QueryControl


def test_a_control_interrupts_a_blocked_call_and_refuses_the_next():
    released = threading.Event()
    control = QueryControl()
    control.attach(released.set)  # the connector's way to stop the source
    control.interrupt("not yet")  # no call in progress: nothing to stop in the source
    assert not released.is_set() and control.reason == "not yet"
    with pytest.raises(QueryInterrupted, match="^not yet$"):
        control.call(lambda: "a call that must not start")
    fresh = QueryControl()
    fresh.attach(released.set)
    outcome = []
    caller = threading.Thread(target=lambda: outcome.append(fresh.call(released.wait, 30)))
    caller.start()
    while fresh.busy_for() is None:
        pass
    fresh.interrupt("stop")
    fresh.interrupt("another reason")  # again while the call may still block; the first reason stays
    caller.join(10)
    assert outcome == [True] and fresh.reason == "stop" and fresh.busy_for() is None


def test_a_control_interrupted_before_the_connector_attaches_stops_the_query_there():
    sessions = []
    control = QueryControl(on_session=sessions.append)
    control.interrupt("cancelled")
    with pytest.raises(QueryInterrupted, match="^cancelled$"):
        control.attach(lambda: None, {"pid": 1})
    control.detach(had_session=True)
    assert sessions == [{"pid": 1}, None]


def test_the_error_of_an_interrupted_query_is_its_reason():
    control = QueryControl()
    wrap = control.wrap_error(lambda error: ConnectorUnavailable(f"driver: {error}"))
    assert str(wrap(RuntimeError("boom"))) == "driver: boom"
    control.interrupt("run was cancelled")
    error = wrap(RuntimeError("canceling statement due to user request"))
    assert isinstance(error, QueryInterrupted) and str(error) == "run was cancelled"


def test_a_query_result_fetches_nothing_once_interrupted():
    control = QueryControl()
    fetch = _Fetcher(25)
    result = QueryResult(QuerySchema([Column("n", INT64, True)], []), fetch, list, batch_size=10, max_rows=None,
                         wrap_error=lambda e: ConnectorUnavailable(str(e)), control=control)
    assert len(result.next_batch()) == 10
    assert len(result.next_batch(3)) == 3  # a batch of the size asked
    control.interrupt("enough")
    with pytest.raises(QueryInterrupted, match="^enough$"):
        list(result)
    assert fetch.calls == [10, 3]
