"""Listing and deleting identities, on both warehouse platforms."""
from datetime import datetime, timedelta, timezone

import pytest

from pipelines.types import parse_type
from tests import support
from warehouse.backends import PostgreSQLWarehouse, SQLiteWarehouse
from warehouse.columns import profile_columns
from warehouse.identities import delete_connection_identities, delete_pipeline_identities, list_identities

UTC = timezone.utc
T0 = datetime(2024, 1, 1, tzinfo=UTC)
SCHEMA = parse_type({"kind": "object", "properties": [
    {"name": "email", "type": {"kind": "string"}, "readOptional": True},
]})
COLUMNS = [(c.name, c.type) for c in profile_columns(SCHEMA)]


@pytest.fixture(params=["PostgreSQL", "SQLite"])
def backend(request, tmp_path):
    if request.param == "SQLite":
        warehouse = SQLiteWarehouse({"path": str(tmp_path / "warehouse.sqlite3")})
        warehouse.initialize(SCHEMA)
        yield warehouse
        return
    name = support.create_pg_database("krenalis_test_ids")
    try:
        warehouse = PostgreSQLWarehouse({"host": support.PG["host"], "port": support.PG["port"],
                                         "username": support.PG["user"], "password": "", "database": name,
                                         "schema": "public"})
        warehouse.initialize(SCHEMA)
        yield warehouse
    finally:
        support.drop_pg_database(name)


def write(backend, pipeline, connection, rows, run=1):
    with backend.identity_writer(pipeline_id=pipeline, connection_id=connection, run_id=run, columns=COLUMNS) as w:
        return w.write([(identity_id, updated_at, (None,)) for identity_id, updated_at in rows])


@pytest.fixture
def populated(backend):
    # pipeline 1 and 2 on connection 10, pipeline 3 on connection 20
    write(backend, 1, 10, [("a", T0 + timedelta(hours=1)), ("b", T0 + timedelta(hours=3)),
                           ("c", T0 + timedelta(hours=2, microseconds=1))])
    write(backend, 2, 10, [("x", T0 + timedelta(hours=2)), ("y", T0 + timedelta(hours=2))])  # same time: by _pk
    write(backend, 3, 20, [("z", T0 + timedelta(hours=5))])
    return backend


def ids(items):
    return [(item["pipeline"], item["userId"]) for item in items]


def test_list_order_and_shape(populated):
    items, total = list_identities(populated)
    assert total == 6
    assert ids(items) == [(3, "z"), (1, "b"), (1, "c"), (2, "x"), (2, "y"), (1, "a")]
    assert items[1] == {"userId": "b", "connection": 10, "pipeline": 1, "updatedAt": T0 + timedelta(hours=3)}
    assert items[2]["updatedAt"] == T0 + timedelta(hours=2, microseconds=1)
    assert all(item["updatedAt"].tzinfo == UTC for item in items)


def test_list_paging(populated):
    items, total = list_identities(populated, first=2, limit=3)
    assert total == 6 and ids(items) == [(1, "c"), (2, "x"), (2, "y")]
    items, total = list_identities(populated, first=5, limit=100)
    assert total == 6 and ids(items) == [(1, "a")]
    items, total = list_identities(populated, first=6)
    assert (items, total) == ([], 6)
    with pytest.raises(ValueError):
        list_identities(populated, first=-1)
    with pytest.raises(ValueError):
        list_identities(populated, limit=0)


def test_list_filters(populated):
    items, total = list_identities(populated, connection_id=10)
    assert total == 5 and {p for p, _ in ids(items)} == {1, 2}
    items, total = list_identities(populated, connection_id=10, pipeline_ids=[2, 3])
    assert total == 2 and ids(items) == [(2, "x"), (2, "y")]
    items, total = list_identities(populated, pipeline_ids=[3], limit=1)
    assert total == 1 and ids(items) == [(3, "z")]
    assert list_identities(populated, pipeline_ids=[]) == ([], 0)
    assert list_identities(populated, connection_id=99) == ([], 0)


def test_list_after_update_moves_the_identity(populated):
    write(populated, 1, 10, [("a", T0 + timedelta(days=1))], run=2)
    items, total = list_identities(populated, limit=1)
    assert total == 6 and ids(items) == [(1, "a")]


def test_delete_by_pipeline(populated):
    assert delete_pipeline_identities(populated, 1) == 3
    assert delete_pipeline_identities(populated, 1) == 0
    assert sorted(ids(list_identities(populated)[0])) == [(2, "x"), (2, "y"), (3, "z")]


def test_delete_by_connection(populated):
    assert delete_connection_identities(populated, 10) == 5
    assert ids(list_identities(populated)[0]) == [(3, "z")]
    assert delete_connection_identities(populated, 10) == 0
