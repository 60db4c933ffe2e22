"""Deleting a pipeline, a connection or a workspace removes what it imported from the warehouse
(PostgreSQL and SQLite), and the profiles follow at the resolution the delete queues; a run that is
writing when its pipeline goes stops writing and leaves nothing behind."""
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from django.db import connection as db_connection

from pipelines.models import Pipeline, Run, Workspace
from pipelines.services.runs import DELETED, run_execute, run_start
from tests import support
from tests.pipelines.services import RICH_PROFILE_SCHEMA, create_connection, create_pipeline, run_now

A_MAPPING = {"email": "email", "first_name": "firstname", "customer_id": "id"}
A_QUERY = "SELECT id, firstname, email, updated_ts FROM customers"
B_MAPPING = {"email": "email", "last_name": "lastname"}
B_QUERY = "SELECT id, lastname, email, updated_ts FROM customers"
B_AGE_MAPPING = {"age": "age"}
B_AGE_QUERY = "SELECT id, age, updated_ts FROM customers WHERE id <= 3"


class Warehouse:
    """Reads a workspace's warehouse directly, whatever its platform, even after the workspace is gone."""

    def __init__(self, platform: str, settings: dict):
        self.platform, self.settings = platform, settings

    def rows(self, statement: str) -> list[tuple]:
        if self.platform == "PostgreSQL":
            conn = support.pg_connect(self.settings["database"])
            try:
                with conn.cursor() as cur:
                    cur.execute(statement)
                    return cur.fetchall()
            finally:
                conn.close()
        conn = sqlite3.connect(f"file:{self.settings['path']}?mode=ro", uri=True)
        try:
            return conn.execute(statement).fetchall()
        finally:
            conn.close()

    def identities(self) -> dict[int, int]:
        """{pipeline: identities}."""
        return dict(self.rows("SELECT _pipeline, count(*) FROM krenalis_identities GROUP BY _pipeline"))

    def profiles(self, columns: str = "email") -> list[tuple]:
        return sorted(self.rows(f"SELECT {columns} FROM krenalis_profiles"), key=repr)

    @property
    def exists(self) -> bool:
        return self.platform == "PostgreSQL" or Path(self.settings["path"]).exists()


@pytest.fixture(params=["PostgreSQL", "SQLite", "SQLite file"])
def ws(request, api, warehouse_db, settings, tmp_path):
    """A workspace whose warehouse is a PostgreSQL database, a SQLite file the product manages, or
    a SQLite file named by the user."""
    settings.KRENALIS = {**settings.KRENALIS, "SQLITE_WAREHOUSE_DIR": str(tmp_path)}
    body = support.workspace_body("Deletes", warehouse_db, RICH_PROFILE_SCHEMA)
    if request.param == "SQLite":
        body["warehouse"] = {"platform": "SQLite"}
    elif request.param == "SQLite file":
        body["warehouse"] = {"platform": "SQLite", "settings": {"path": "mine.sqlite3"}}
    resp = api.post("/v1/workspaces", body)
    assert resp.status_code == 200, resp.content
    workspace_id = resp.json()["id"]
    return support.WorkspaceRef(workspace_id, warehouse_db, api.scoped(workspace_id))


def warehouse_of(ws) -> Warehouse:
    workspace = Workspace.objects.get(id=ws.id)
    return Warehouse(workspace.warehouse_platform, workspace.warehouse_settings)


def resolution_ends(ws, action) -> None:
    """action() (a delete), then waits for the identity resolution it queued to end on the worker."""
    before = Workspace.objects.get(id=ws.id).ir_end_time
    action()
    ended = support.wait_for(lambda: Workspace.objects.filter(id=ws.id, ir_id__isnull=True)
                             .exclude(ir_end_time=before).exists(), timeout=30)
    assert ended, "the delete queued no identity resolution that ended within 30 s"
    assert Workspace.objects.get(id=ws.id).ir_error == ""


@pytest.fixture
def second_source():
    source = support.create_source("postgresql")
    yield source
    support.drop_source(source)


def test_each_delete_removes_what_it_imported_and_the_profiles_follow(ws, pg_source, second_source, celery_worker):
    """Connection A imports 10 customers; connection B the 10 customers of another database with two
    pipelines (all of them, and the age of the first 3). Same user ID on one connection: one profile."""
    assert ws.api.put("/v1/identity-resolution/settings", {"runOnBatchImport": False, "identifiers": []}
                      ).status_code == 200
    connection_a = create_connection(ws, pg_source)
    a = create_pipeline(ws, connection_a, query=A_QUERY, mapping=A_MAPPING, name="A")
    connection_b = ws.api.post("/v1/connections", support.connection_body(second_source, "B")).json()["id"]
    b = create_pipeline(ws, connection_b, query=B_QUERY, mapping=B_MAPPING, name="B")
    b_age = create_pipeline(ws, connection_b, query=B_AGE_QUERY, mapping=B_AGE_MAPPING, name="B age")
    for pipeline_id in (a, b, b_age):
        assert run_now(pipeline_id).error == ""
    warehouse = warehouse_of(ws)
    assert warehouse.identities() == {a: 10, b: 10, b_age: 3}
    resolution_ends(ws, lambda: ws.api.post("/v1/identity-resolution/start"))
    assert len(warehouse.profiles()) == 20
    assert [age for (age,) in warehouse.profiles("age") if age is not None] == [21, 22, 23]
    assert ws.api.put("/v1/identity-resolution/settings", {"runOnBatchImport": True, "identifiers": []}
                      ).status_code == 200

    # A pipeline: its identities leave at once, its values leave the profiles at the resolution.
    resolution_ends(ws, lambda: assert_deleted(ws.api.delete(f"/v1/pipelines/{b_age}"),
                                               lambda: warehouse.identities() == {a: 10, b: 10}))
    assert len(warehouse.profiles()) == 20
    assert [age for (age,) in warehouse.profiles("age") if age is not None] == []

    # A connection: the identities of its pipelines leave at once, its profiles at the resolution.
    resolution_ends(ws, lambda: assert_deleted(ws.api.delete(f"/v1/connections/{connection_a}"),
                                               lambda: warehouse.identities() == {b: 10}))
    assert warehouse.profiles("email, first_name, last_name") == sorted(
        [(f"user{i}@example.com", None, f"Last{i}") for i in range(1, 11)], key=repr)
    assert ws.api.get(f"/v1/connections/{connection_b}/identities").json()["total"] == 10

    # The workspace: a warehouse file of the product's goes; in one of the user's, its identities and
    # profiles go and the tables stay.
    assert_deleted(ws.api.delete("/v1/workspaces/current"), lambda: True)
    if warehouse.platform == "SQLite" and warehouse.settings.get("managed"):
        assert not warehouse.exists
    else:
        assert warehouse.identities() == {} and warehouse.profiles() == []
        assert warehouse.rows("SELECT count(*) FROM profiles") == [(0,)]


def assert_deleted(resp, removed) -> None:
    assert (resp.status_code, resp.content) == (200, b""), resp.content
    assert removed(), "what the delete imported is still in the warehouse"


# --------------------------------------------------------------------------- a run that is writing

SLOW_WRITES = """
CREATE TABLE write_log (ended timestamptz NOT NULL);
CREATE FUNCTION slow_write() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN PERFORM pg_sleep(1); RETURN NULL; END $$;
CREATE FUNCTION log_write() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN INSERT INTO write_log VALUES (clock_timestamp()); RETURN NULL; END $$;
CREATE TRIGGER slow_write BEFORE INSERT ON krenalis_identities FOR EACH STATEMENT EXECUTE FUNCTION slow_write();
CREATE TRIGGER log_write AFTER INSERT ON krenalis_identities FOR EACH STATEMENT EXECUTE FUNCTION log_write();
"""


@pytest.fixture
def pg_ws(api, warehouse_db):
    resp = api.post("/v1/workspaces", support.workspace_body("Deletes", warehouse_db, RICH_PROFILE_SCHEMA))
    assert resp.status_code == 200, resp.content
    workspace_id = resp.json()["id"]
    return support.WorkspaceRef(workspace_id, warehouse_db, api.scoped(workspace_id))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("deleted", ["pipeline", "connection", "workspace"])
def test_a_run_whose_pipeline_is_deleted_stops_writing_and_leaves_nothing(pg_ws, pg_source, settings, deleted):
    """Each warehouse write takes a second (a trigger), so the batches read wait in the run's queue
    when the pipeline (or its connection, or its workspace) is deleted: they are dropped, the write
    under way is the last, and what it wrote is removed when the run ends."""
    settings.KRENALIS = {**settings.KRENALIS, "WAREHOUSE_WRITE_CONNECTIONS": 1}
    pg_source.execute("INSERT INTO customers (id, firstname, updated_ts) "
                      "SELECT i, 'First' || i, '2024-01-02' FROM generate_series(11, 60000) AS i")
    connection_id = create_connection(pg_ws, pg_source)
    pid = create_pipeline(pg_ws, connection_id, query="SELECT id, firstname, updated_ts FROM customers",
                          mapping={"customer_id": "id", "first_name": "firstname"})
    warehouse = warehouse_of(pg_ws)
    conn = support.pg_connect(pg_ws.warehouse_db)
    with conn.cursor() as cur:
        # An identity of no pipeline of the workspace: the warehouse is not empty, so the first import
        # writes batch by batch (into an empty one it would load a table of its own, swapped in at its end).
        cur.execute("INSERT INTO krenalis_identities (_pipeline, _identity_id, _connection, _updated_at) "
                    "VALUES (0, 'other', 0, now())")
        cur.execute(SLOW_WRITES)
    conn.close()
    run = run_start(pipeline=Pipeline.objects.select_related("workspace").get(id=pid), incremental=False,
                    enqueue=False)
    worker = threading.Thread(target=execute, args=(run.id,), daemon=True)
    worker.start()
    assert support.wait_for(lambda: warehouse.identities().get(pid), timeout=30), "the run wrote nothing"
    ((delete_started,),) = warehouse.rows("SELECT clock_timestamp()")
    path = {"pipeline": f"/v1/pipelines/{pid}", "connection": f"/v1/connections/{connection_id}",
            "workspace": "/v1/workspaces/current"}[deleted]
    assert_deleted(pg_ws.api.delete(path), lambda: True)  # the write under way may still end
    deleted_at = time.monotonic()
    worker.join(30)
    assert not worker.is_alive(), "the run did not end within 30 s of the delete"
    assert time.monotonic() - deleted_at < 5, "the run wrote what it had queued instead of dropping it"
    writes_after = warehouse.rows(f"SELECT count(*) FROM write_log WHERE ended > '{delete_started.isoformat()}'")
    assert writes_after == [(1,)] or writes_after == [(0,)], f"{writes_after[0][0]} writes ended after the delete"
    assert warehouse.identities() == ({} if deleted == "workspace" else {0: 1})    # the workspace takes all
    assert not Run.objects.filter(id=run.id).exists()


def execute(run_id: int) -> None:
    try:
        assert run_execute(run_id=run_id) is None
    finally:
        db_connection.close()


def test_the_monitor_of_a_deleted_run_drops_what_is_unwritten(pg_ws, pg_source):
    from pipelines.services.runs import DatabaseMonitor

    pid = create_pipeline(pg_ws, create_connection(pg_ws, pg_source))
    run = run_start(pipeline=Pipeline.objects.select_related("workspace").get(id=pid), incremental=False,
                    enqueue=False)
    monitor = DatabaseMonitor(run)
    assert monitor.stop_reason() is None and not monitor.drops_unwritten()
    Run.objects.filter(id=run.id).update(cancel_requested=True)
    assert monitor.stop_reason() and not monitor.drops_unwritten()  # a cancel writes what was read
    Pipeline.objects.filter(id=pid).delete()
    assert monitor.stop_reason() == DELETED and monitor.drops_unwritten()
