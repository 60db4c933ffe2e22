"""The runs API: start, read, list, cancel, and the errors of a run. Runs started over the API are
queued for Celery (never delivered inside a test transaction); the tests execute them in-process."""
import datetime as dt

import pytest

from pipelines.services.runs import run_execute
from tests.pipelines.services import create_connection, create_pipeline, create_workspace, run_now
from tests.support import error_of


@pytest.fixture
def ws(api, warehouse_db):
    return create_workspace(api, warehouse_db)


@pytest.fixture
def connection_id(ws, pg_source):
    return create_connection(ws, pg_source)


@pytest.fixture
def pipeline_id(ws, connection_id):
    return create_pipeline(ws, connection_id)


def test_a_queued_run_can_be_read_and_cancelled(ws, pipeline_id):
    resp = ws.api.post(f"/v1/pipelines/{pipeline_id}/runs", {})
    assert resp.status_code == 200, resp.content
    run_id = resp.json()["id"]
    live = ws.api.get(f"/v1/pipelines/runs/{run_id}").json()
    assert (live["endTime"], live["passed"], live["failed"], live["error"]) == (None, [0] * 7, [0] * 7, "")
    assert ws.api.get(f"/v1/pipelines/{pipeline_id}").json()["running"] is True
    assert error_of(ws.api.post(f"/v1/pipelines/{pipeline_id}/runs", {})) == (
        422, "PipelineAlreadyRunning", f"pipeline {pipeline_id} is already running")

    resp = ws.api.post(f"/v1/pipelines/runs/{run_id}/cancel")
    assert (resp.status_code, resp.content) == (200, b"")
    ended = ws.api.get(f"/v1/pipelines/runs/{run_id}").json()
    assert ended["endTime"] is not None and ended["error"] == "run was cancelled"
    assert ws.api.get(f"/v1/pipelines/runs/{run_id}/errors").json() == {
        "errors": [{"step": "Receive", "userId": None, "message": "run was cancelled"}], "total": 1}
    assert ws.api.get(f"/v1/pipelines/{pipeline_id}").json()["running"] is False
    # Cancelling an ended run changes nothing.
    assert ws.api.post(f"/v1/pipelines/runs/{run_id}/cancel").status_code == 200
    assert ws.api.get(f"/v1/pipelines/runs/{run_id}").json() == ended


def test_runs_report_their_counters_newest_first(ws, connection_id, pipeline_id, pg_source):
    first = ws.api.post(f"/v1/pipelines/{pipeline_id}/runs", {}).json()["id"]
    run_execute(run_id=first)
    pg_source.execute("UPDATE customers SET updated_ts = NULL WHERE id = 7")
    second = ws.api.post(f"/v1/pipelines/{pipeline_id}/runs", {"incremental": False}).json()["id"]
    run_execute(run_id=second)
    runs = ws.api.get("/v1/pipelines/runs").json()["runs"]
    assert [r["id"] for r in runs] == [second, first]
    newest = runs[0]
    assert newest == ws.api.get(f"/v1/pipelines/runs/{second}").json()
    assert (newest["pipeline"], newest["error"]) == (pipeline_id, "")
    assert (newest["passed"], newest["failed"]) == ([9, 9, 0, 0, 9, 9, 9], [1, 0, 0, 0, 0, 0, 0])
    start, end = (dt.datetime.fromisoformat(newest[k].replace("Z", "+00:00")) for k in ("startTime", "endTime"))
    assert start <= end
    assert ws.api.get(f"/v1/pipelines/runs/{second}/errors").json() == {
        "errors": [{"step": "Receive", "userId": "7", "message": "update time value is NULL"}], "total": 1}
    assert ws.api.get(f"/v1/pipelines/runs/{first}/errors").json() == {"errors": [], "total": 0}
    identities = ws.api.get(f"/v1/connections/{connection_id}/identities").json()
    assert identities["total"] == 10  # the failed row keeps its identity


def test_errors_keep_the_first_thousand_and_count_them_all(ws, pg_source):
    pg_source.execute("INSERT INTO customers (id, firstname) "
                      "SELECT i, 'First' || i FROM generate_series(11, 1210) AS i")  # no update time
    pid = create_pipeline(ws, create_connection(ws, pg_source),
                          query="SELECT id, firstname, updated_ts FROM customers ORDER BY id",
                          mapping={"customer_id": "id", "first_name": "firstname"})
    run = run_now(pid)
    assert (run.passed, run.failed) == ([10, 10, 0, 0, 10, 10, 10], [1200, 0, 0, 0, 0, 0, 0])
    body = ws.api.get(f"/v1/pipelines/runs/{run.id}/errors").json()
    assert body["total"] == 1200 and len(body["errors"]) == 1000
    assert body["errors"][0] == {"step": "Receive", "userId": "11", "message": "update time value is NULL"}
    assert [e["userId"] for e in body["errors"]] == [str(i) for i in range(11, 1011)]


def test_errors_of_an_unknown_run(ws):
    assert error_of(ws.api.get("/v1/pipelines/runs/12345/errors")) == (
        404, "NotFound", "pipeline run 12345 does not exist")
    assert error_of(ws.api.get("/v1/pipelines/runs/x/errors")) == (
        400, "BadRequest", 'identifier "x" is not a valid run identifier')
    assert error_of(ws.api.post("/v1/pipelines/runs/12345/cancel")) == (
        404, "NotFound", "pipeline run 12345 does not exist")


def test_incremental_must_be_a_boolean_and_starts_nothing(ws, pipeline_id):
    """`incremental` is read like every other optional boolean of the API (api/fields.py)."""
    assert error_of(ws.api.post(f"/v1/pipelines/{pipeline_id}/runs", {"incremental": "yes"})) == (
        400, "BadRequest", '"incremental" must be a boolean')
    assert ws.api.get(f"/v1/pipelines/{pipeline_id}").json()["running"] is False
    assert ws.api.get("/v1/pipelines/runs").json()["runs"] == []
