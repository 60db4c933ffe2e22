"""The identity resolution service: starting (by hand, after imports), one at a time, taking over a
dead one, re-running after a busy one, executing against the real warehouse, clean-ups."""
import datetime as dt
import uuid

import pytest
from django.utils import timezone

from pipelines.errors import Unprocessable
from pipelines.models import Pipeline, Workspace
from pipelines.services import identity_resolution as ir
from pipelines.types import parse_type
from tests import support
from tests.pipelines.services import RICH_PROFILE_SCHEMA, create_connection, create_pipeline, create_workspace
from warehouse.backends import backend_for
from warehouse.columns import profile_columns


@pytest.fixture
def ws(api, warehouse_db):
    return create_workspace(api, warehouse_db)


@pytest.fixture
def queued(transactional_db, task_queue):
    """queued() is the resolutions queued for Celery, as (workspace id, operation): the messages that
    arrived in Redis. They leave once the transaction that started them commits, as in production;
    hence a transactional test."""
    def resolutions() -> list[tuple[int, uuid.UUID]]:
        messages = task_queue.messages()
        assert {name for name, _, _ in messages} <= {"pipelines.tasks.resolve_identities_task"}, messages
        return [(args[0], uuid.UUID(args[1])) for _, args, _ in messages]

    return resolutions


def workspace(ws) -> Workspace:
    return Workspace.objects.get(id=ws.id)


def backend(ws):
    w = workspace(ws)
    return backend_for(w.warehouse_platform, w.warehouse_settings)


def write(ws, pipeline_id, connection_id, rows, columns=("email", "first_name")):
    types = {c.name: c.type for c in profile_columns(parse_type(RICH_PROFILE_SCHEMA))}
    with backend(ws).identity_writer(pipeline_id=pipeline_id, connection_id=connection_id, run_id=1,
                                     columns=[(c, types[c]) for c in columns]) as writer:
        writer.write([(identity_id, dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(minutes=n),
                       tuple(values)) for n, (identity_id, *values) in enumerate(rows)])


def warehouse_rows(ws, statement):
    conn = support.pg_connect(ws.warehouse_db)
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
            return cur.fetchall()
    finally:
        conn.close()


def test_start_claims_and_queues(ws, queued):
    operation = ir.identity_resolution_start(workspace=workspace(ws))
    w = workspace(ws)
    assert (w.ir_id, w.ir_end_time, queued()) == (operation, None, [(ws.id, operation)])
    with pytest.raises(Unprocessable) as caught:
        ir.identity_resolution_start(workspace=w)
    assert caught.value.code == "OperationAlreadyExecuting"


def test_a_dead_resolution_is_taken_over(ws, queued):
    first = ir.identity_resolution_start(workspace=workspace(ws))
    Workspace.objects.filter(id=ws.id).update(ir_ping_time=timezone.now() - ir.DEAD_AFTER - dt.timedelta(seconds=1))
    second = ir.identity_resolution_start(workspace=workspace(ws))
    assert second != first and workspace(ws).ir_id == second
    assert queued() == [(ws.id, first), (ws.id, second)]
    # The first one's task, if it ever runs, sees it is no longer current.
    assert ir.identity_resolution_execute(workspace_id=ws.id, operation_id=first) is None
    assert workspace(ws).ir_id == second


def test_after_import_respects_the_setting(ws, queued):
    Workspace.objects.filter(id=ws.id).update(resolve_identities_on_batch_import=False)
    ir.resolution_after_import(ws.id)
    assert queued() == [] and workspace(ws).ir_id is None
    Workspace.objects.filter(id=ws.id).update(resolve_identities_on_batch_import=True)
    ir.resolution_after_import(ws.id)
    assert queued() == [(ws.id, workspace(ws).ir_id)]
    ir.resolution_after_import(12345)   # a deleted workspace: nothing


def test_after_import_while_one_executes_runs_again_after_it(ws, queued):
    operation = ir.identity_resolution_start(workspace=workspace(ws))
    ir.resolution_after_import(ws.id)
    assert workspace(ws).ir_rerun is True and len(queued()) == 1
    result = ir.identity_resolution_execute(workspace_id=ws.id, operation_id=operation)
    assert result is not None and result.profiles == 0
    w = workspace(ws)
    assert len(queued()) == 2 and w.ir_id == queued()[1][1] and w.ir_rerun is False
    ir.identity_resolution_execute(workspace_id=ws.id, operation_id=w.ir_id)
    w = workspace(ws)
    assert (w.ir_id, w.ir_error, len(queued())) == (None, "", 2)
    assert w.ir_end_time >= w.ir_start_time


def test_the_task_without_an_operation_starts_one(ws, queued):
    from pipelines.tasks import resolve_identities_task

    resolve_identities_task.run(ws.id)
    w = workspace(ws)
    assert (w.ir_id, w.ir_error) == (None, "") and w.ir_end_time is not None


def test_execute_resolves_and_cleans_up(ws, pg_source, queued):
    connection_id = create_connection(ws, pg_source)
    pipeline_id = create_pipeline(ws, connection_id, mapping={"email": "email", "first_name": "firstname"},
                                  query="SELECT id, firstname, email, updated_ts FROM customers")
    write(ws, pipeline_id, connection_id, [("1", "a@example.com", "Ann"), ("2", "b@example.com", "Bob")])
    write(ws, 999999, connection_id, [("x", "a@example.com", "Ghost")])   # a pipeline that no longer exists
    Pipeline.objects.filter(id=pipeline_id).update(properties_to_unset=["first_name"],
                                                   transformation_mapping={"email": "email"})
    ir.identity_resolution_update_settings(workspace=workspace(ws), run_on_batch_import=True, identifiers=["email"])
    operation = ir.identity_resolution_start(workspace=workspace(ws))
    result = ir.identity_resolution_execute(workspace_id=ws.id, operation_id=operation)
    assert (result.identities, result.profiles) == (2, 2)
    assert warehouse_rows(ws, "SELECT count(*) FROM krenalis_identities WHERE _pipeline = 999999") == [(0,)]
    assert warehouse_rows(ws, "SELECT email, first_name FROM profiles ORDER BY email") == [
        ("a@example.com", None), ("b@example.com", None)]
    assert warehouse_rows(ws, "SELECT count(*) FROM krenalis_identities WHERE _kpid IS NULL") == [(0,)]


def test_a_failed_resolution_is_recorded(ws, queued):
    operation = ir.identity_resolution_start(workspace=workspace(ws))
    Workspace.objects.filter(id=ws.id).update(warehouse_mode="Maintenance")
    assert ir.identity_resolution_execute(workspace_id=ws.id, operation_id=operation) is None
    w = workspace(ws)
    assert (w.ir_id, w.ir_error) == (None, "data warehouse is in maintenance mode")


def test_settings_are_locked_while_executing(ws, queued):
    ir.identity_resolution_start(workspace=workspace(ws))
    with pytest.raises(Unprocessable) as caught:
        ir.identity_resolution_update_settings(workspace=workspace(ws), run_on_batch_import=True, identifiers=[])
    assert caught.value.code == "IdentityResolutionInExecution"
    Workspace.objects.filter(id=ws.id).update(ir_ping_time=timezone.now() - dt.timedelta(hours=1))
    ir.identity_resolution_update_settings(workspace=workspace(ws), run_on_batch_import=False, identifiers=["email"])
    assert workspace(ws).identifiers == ["email"]


def test_suitable_identifier_kinds():
    def kind(data):
        return ir.suitable_as_identifier(parse_type(data))

    assert kind({"kind": "string"}) and kind({"kind": "int", "bitSize": 8}) and kind({"kind": "uuid"})
    assert kind({"kind": "ip"}) and kind({"kind": "decimal", "precision": 10, "scale": 0})
    assert not kind({"kind": "decimal", "precision": 10, "scale": 2})
    assert not kind({"kind": "float", "bitSize": 64}) and not kind({"kind": "json"})
    assert not kind({"kind": "datetime"}) and not kind({"kind": "boolean"})


def test_primary_sources_map_to_columns():
    schema = parse_type({"kind": "object", "properties": [
        {"name": "email", "type": {"kind": "string"}, "readOptional": True},
        {"name": "address", "type": {"kind": "object", "properties": [
            {"name": "city", "type": {"kind": "string"}, "readOptional": True},
            {"name": "zip", "type": {"kind": "string"}, "readOptional": True}]}, "readOptional": True}]})
    assert ir.primary_source_columns({"address": 7, "email": 8}, schema) == {
        "address_city": 7, "address_zip": 7, "email": 8}
    assert ir.primary_source_columns(None, schema) == {}


def test_rfc3339():
    assert ir.rfc3339(None) is None
    assert ir.rfc3339(dt.datetime(2024, 5, 6, 7, 8, 9, 10, tzinfo=dt.timezone.utc)) == "2024-05-06T07:08:09.000010Z"


def test_latest_says_which_kind_ran_and_what_it_regrouped(ws, pg_source, queued):
    connection_id = create_connection(ws, pg_source)
    pipeline_id = create_pipeline(ws, connection_id, mapping={"email": "email", "first_name": "firstname"},
                                  query="SELECT id, firstname, email, updated_ts FROM customers")
    write(ws, pipeline_id, connection_id, [("1", "a@example.com", "Ann"), ("2", "b@example.com", "Bob"),
                                           ("3", "c@example.com", "Cid")])
    ir.identity_resolution_update_settings(workspace=workspace(ws), run_on_batch_import=True, identifiers=["email"])

    def execute(full=False) -> tuple:
        operation = ir.identity_resolution_start(workspace=workspace(ws))
        latest = ir.identity_resolution_latest(workspace(ws))
        assert (latest["endTime"], latest["kind"], latest["identities"], latest["profiles"]) == (None,) * 4
        ir.identity_resolution_execute(workspace_id=ws.id, operation_id=operation, full=full)
        latest = ir.identity_resolution_latest(workspace(ws))
        return latest["kind"], latest["identities"], latest["profiles"]

    assert execute() == ("Full", 3, 3)                   # the first one
    write(ws, pipeline_id, connection_id, [("2", "a@example.com", "Bob")])
    assert execute() == ("Incremental", 2, 1)            # 2 joins 1: one profile written
    assert execute() == ("Incremental", 0, 0)            # nothing changed
    assert execute(full=True) == ("Full", 3, 2)
    assert warehouse_rows(ws, "SELECT first_name FROM profiles ORDER BY first_name") == [("Bob",), ("Cid",)]
