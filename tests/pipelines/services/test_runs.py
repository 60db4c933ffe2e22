"""The life of a run: one live run per pipeline, cancel, dead workers, the cursor of runs that do not
succeed, properties to unset, and the `runpipeline` command."""
import datetime as dt
import io
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection as db_connection, transaction
from django.utils import timezone

from pipelines.errors import Unprocessable
from pipelines.models import Pipeline, Run
from pipelines.services.runs import (CANCELLED, DIED, STATEMENT_TIMEOUT, dead_after, run_cancel, run_execute,
                                     run_start, sweep_dead_runs)
from tests import support
from tests.pipelines.services import (counts, create_connection, create_pipeline, create_workspace, cursor_of,
                                      errors_of, identities, pipeline_body, query_schema, run_now)

UTC = dt.timezone.utc
ALL_PASSED_10 = ([10, 10, 0, 0, 10, 10, 10], [0] * 7)


@pytest.fixture
def ws(api, warehouse_db):
    return create_workspace(api, warehouse_db)


@pytest.fixture
def pipeline_id(ws, pg_source):
    return create_pipeline(ws, create_connection(ws, pg_source))


def start(pipeline_id: int, incremental=None) -> Run:
    return run_start(pipeline=Pipeline.objects.select_related("workspace").get(id=pipeline_id),
                     incremental=incremental, enqueue=False)


def test_a_second_run_while_one_is_live_is_refused(pipeline_id):
    live = start(pipeline_id)
    with pytest.raises(Unprocessable) as refused:
        start(pipeline_id)
    assert (refused.value.code, refused.value.message) == (
        "PipelineAlreadyRunning", f"pipeline {pipeline_id} is already running")
    # The database itself refuses a second live run, whoever inserts it.
    with pytest.raises(IntegrityError), transaction.atomic():
        Run.objects.create(id=live.id + 1, pipeline_id=pipeline_id, incremental=False,
                           start_time=timezone.now(), passed=[0] * 7, failed=[0] * 7)
    run_execute(run_id=live.id)
    assert counts(Run.objects.get(id=live.id)) == ALL_PASSED_10
    assert run_execute(run_id=live.id) is None  # executing twice does nothing
    assert counts(run_now(pipeline_id)) == ALL_PASSED_10


def test_cancelling_a_queued_run_ends_it_at_once(ws, pipeline_id):
    run = start(pipeline_id)
    run_cancel(run=run)
    run.refresh_from_db()
    assert run.end_time is not None and run.error == CANCELLED
    assert errors_of(run) == [("Receive", None, CANCELLED)]
    assert run_execute(run_id=run.id) is None  # a worker that gets the task late does nothing
    assert identities(ws, pipeline_id) == {}
    assert counts(run_now(pipeline_id)) == ALL_PASSED_10


def slow_pipeline(ws, source, rows: int, pause_every: int = 1000, pause: float = 0.25) -> int:
    """A pipeline whose query yields `rows` rows, pausing `pause` seconds every `pause_every` rows."""
    query = (f"SELECT i AS id, 'First' || i AS firstname, timestamp '2024-01-01' + i * interval '1 second' "
             f"AS updated_ts FROM generate_series(1, {rows}) AS i "
             f"WHERE i % {pause_every} <> 0 OR pg_sleep({pause}) IS NOT NULL")
    return create_pipeline(ws, create_connection(ws, source), query=query,
                           mapping={"customer_id": "id", "first_name": "firstname"})


def wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def execute_in_thread(run_id: int) -> threading.Thread:
    def work():
        try:
            run_execute(run_id=run_id)
        finally:
            db_connection.close()

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


def cancel_while_executing(run: Run, worker: threading.Thread) -> None:
    """Cancels `run`, which `worker` executes: it ends within 10 s, cancelled at Receive."""
    run_cancel(run=Run.objects.get(id=run.id))
    cancelled_at = time.monotonic()
    worker.join(10)
    assert not worker.is_alive() and time.monotonic() - cancelled_at < 10
    run.refresh_from_db()
    assert run.end_time is not None and run.error == CANCELLED
    assert ("Receive", None, CANCELLED) in errors_of(run)


def warehouse_sql(ws, statement: str) -> list[tuple]:
    conn = support.pg_connect(ws.warehouse_db)
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
            rows = cur.fetchall() if cur.description else []
        conn.commit()
        return rows
    finally:
        conn.close()


@pytest.mark.django_db(transaction=True)
def test_cancelling_an_executing_run_stops_it_and_keeps_what_it_wrote(ws, pg_source):
    # An identity of no pipeline: the warehouse is not empty, so the run writes batch by batch (a first
    # import into an empty warehouse loads a table of its own, swapped in at its end: the next test).
    warehouse_sql(ws, "INSERT INTO krenalis_identities (_pipeline, _identity_id, _connection, _updated_at) "
                      "VALUES (0, 'other', 0, now())")
    pid = slow_pipeline(ws, pg_source, rows=40000)  # about 10 s to read to the end
    before = dt.datetime(2000, 1, 1, tzinfo=UTC)
    Pipeline.objects.filter(id=pid).update(cursor=before)
    run = start(pid, incremental=False)
    worker = execute_in_thread(run.id)
    assert wait_for(lambda: identities(ws, pid), timeout=15)
    cancel_while_executing(run, worker)
    written = len(identities(ws, pid))
    assert 0 < written < 40000 and run.passed[6] == written
    assert cursor_of(pid) == before  # a cancelled run never moves the cursor


@pytest.mark.django_db(transaction=True)
def test_cancelling_a_first_import_into_an_empty_warehouse_keeps_what_it_loaded(ws, pg_source):
    pid = slow_pipeline(ws, pg_source, rows=40000)
    run = start(pid, incremental=False)
    worker = execute_in_thread(run.id)
    # The load reports its progress, but nothing of it is visible before its swap.
    assert wait_for(lambda: Run.objects.get(id=run.id).passed[6] >= 5000, timeout=15)
    assert identities(ws, pid) == {}
    cancel_while_executing(run, worker)
    # As a cancelled run that writes batch by batch (the test above): what it loaded is swapped in,
    # whole rows, no purge, and the load's table is gone.
    written = len(identities(ws, pid))
    assert 0 < written < 40000 and run.passed[6] == written
    assert warehouse_sql(ws, "SELECT relname FROM pg_class WHERE relname LIKE 'krenalis_identities%' "
                             "AND relkind = 'r'") == [("krenalis_identities",)]
    assert cursor_of(pid) is None       # a cancelled run never moves the cursor
    run_now(pid)
    assert len(identities(ws, pid)) == 40000     # the next run imports the rest


def test_a_run_whose_worker_died_is_ended_and_the_pipeline_runs_again(pipeline_id):
    run = start(pipeline_id)
    Run.objects.filter(id=run.id).update(heartbeat_time=timezone.now() - dt.timedelta(seconds=30))
    assert sweep_dead_runs() == 0  # beating 30 s ago: alive
    with pytest.raises(Unprocessable):
        start(pipeline_id)
    Run.objects.filter(id=run.id).update(heartbeat_time=timezone.now() - dead_after() - dt.timedelta(seconds=1))
    assert sweep_dead_runs() == 1
    run.refresh_from_db()
    assert run.end_time is not None and run.error == DIED
    assert errors_of(run) == [("Receive", None, DIED)]
    assert run_execute(run_id=run.id) is None
    assert counts(run_now(pipeline_id)) == ALL_PASSED_10


def test_starting_a_run_ends_a_dead_one_of_the_same_pipeline(pipeline_id):
    dead = start(pipeline_id)
    Run.objects.filter(id=dead.id).update(heartbeat_time=timezone.now() - dt.timedelta(minutes=5))
    run = run_now(pipeline_id)
    assert counts(run) == ALL_PASSED_10
    dead.refresh_from_db()
    assert dead.error == DIED and dead.end_time <= run.start_time


def test_a_queued_run_is_not_taken_for_dead(pipeline_id):
    run = start(pipeline_id)
    Run.objects.filter(id=run.id).update(start_time=timezone.now() - dt.timedelta(hours=1))
    assert sweep_dead_runs() == 0
    run_execute(run_id=run.id)
    assert counts(Run.objects.get(id=run.id)) == ALL_PASSED_10


def test_a_worker_whose_run_was_swept_stops_at_its_next_batch(ws, pg_source):
    """A worker that was only slow finds its run ended by the sweep: it stops before its next batch,
    keeps what it wrote, purges nothing and leaves the run as the sweep ended it."""
    pg_source.execute("INSERT INTO customers (id, firstname, updated_ts) "
                      "SELECT i, 'First' || i, '2024-01-02' FROM generate_series(11, 12000) AS i")
    pid = create_pipeline(ws, create_connection(ws, pg_source), query="SELECT id, updated_ts FROM customers",
                          mapping={"customer_id": "id"})
    run = start(pid)

    def swept(passed, failed):  # after the first batch: the heartbeat is a minute old
        Run.objects.filter(id=run.id).update(heartbeat_time=timezone.now() - dead_after() - dt.timedelta(seconds=1))
        assert sweep_dead_runs() == 1

    assert run_execute(run_id=run.id, on_progress=swept) is None
    run.refresh_from_db()
    assert run.error == DIED and counts(run)[0][0] == 5000
    assert len(identities(ws, pid)) == 5000
    assert cursor_of(pid) is None


def test_properties_no_longer_mapped_are_unset_by_the_next_run(ws, pg_source):
    connection_id = create_connection(ws, pg_source)
    first = create_pipeline(ws, connection_id, name="First")
    other = create_pipeline(ws, connection_id, name="Other")
    assert counts(run_now(first)) == counts(run_now(other)) == ALL_PASSED_10
    body = pipeline_body(ws, connection_id, name="First", query="SELECT id, email, updated_ts FROM customers",
                         mapping={"customer_id": "id", "email": "email", "seen_at": "updated_ts"})
    del body["connection"], body["target"]
    resp = ws.api.put(f"/v1/pipelines/{first}", body)
    assert resp.status_code == 200, resp.content
    unset = {"first_name", "last_name", "updated_text", "age", "attrs"}
    assert set(Pipeline.objects.get(id=first).properties_to_unset) == unset
    run = run_now(first)
    assert (run.error, counts(run)) == ("", ALL_PASSED_10)
    assert set(identities(ws, first, ", ".join(sorted(unset))).values()) == {(None,) * len(unset)}
    assert identities(ws, first, "email")["3"] == "user3@example.com"
    assert identities(ws, other)["3"] == "First3"  # another pipeline's identities keep their values
    assert Pipeline.objects.get(id=first).properties_to_unset == []


def test_cancelled_and_failed_runs_keep_the_cursor(ws, pg_source):
    pid = create_pipeline(ws, create_connection(ws, pg_source), incremental=True,
                          query="SELECT id, firstname, updated_ts FROM customers "
                                "WHERE ${updated_at} IS NULL OR updated_ts >= ${updated_at}",
                          mapping={"customer_id": "id", "first_name": "firstname"})
    run_now(pid)
    cursor = cursor_of(pid)
    pg_source.execute("UPDATE customers SET updated_ts = '2024-05-01' WHERE id = 4")
    cancelled = start(pid)
    run_cancel(run=cancelled)
    assert cursor_of(pid) == cursor
    pg_source.execute("UPDATE customers SET updated_ts = '2999-01-01' WHERE id = 5")  # too far in the future
    run = run_now(pid)
    assert run.error == "" and counts(run) == ([2, 2, 0, 0, 2, 2, 2], [1, 0, 0, 0, 0, 0, 0])
    assert cursor_of(pid) == dt.datetime(2024, 5, 1, tzinfo=UTC)


# --------------------------------------------------------------------------- stopping the source query

# 10 customers, 120 s to read them: the source is busy with the query for the whole run.
SLOW = {"postgresql": "SELECT id, firstname, updated_ts FROM customers, pg_sleep(120)",
        "mysql": "SELECT id, firstname, updated_ts FROM customers WHERE SLEEP(12) = 0"}
NAMES = {"customer_id": "id", "first_name": "firstname"}


def imported_then_slow(ws, source) -> int:
    """A pipeline that has imported the 10 customers, and whose query is now the slow one (saved
    through the API, which does not run it)."""
    cid = create_connection(ws, source)
    fast = "SELECT id, firstname, updated_ts FROM customers"
    pid = create_pipeline(ws, cid, query=fast, mapping=NAMES)
    assert run_now(pid).error == ""
    body = pipeline_body(ws, cid, query=SLOW[source.kind], mapping=NAMES, in_schema=query_schema(ws, cid, fast))
    del body["connection"], body["target"]
    resp = ws.api.put(f"/v1/pipelines/{pid}", body)
    assert resp.status_code == 200, resp.content
    return pid


def ended_run(ws, run_id: int) -> dict | None:
    run = ws.api.get(f"/v1/pipelines/runs/{run_id}").json()
    return run if run["endTime"] else None


def test_cancel_stops_the_source_query_and_the_run_ends_within_10_s(ws, any_source, celery_worker):
    """Cancelled 1 s into a query that would run 120 s: the worker interrupts it in the source
    (PostgreSQL's cancel, MariaDB's KILL QUERY), and the run ends as cancelled without moving the
    cursor or purging the identities it did not see."""
    pid = imported_then_slow(ws, any_source)
    cursor = cursor_of(pid)
    resp = ws.api.post(f"/v1/pipelines/{pid}/runs", {})
    assert resp.status_code == 200, resp.content
    run_id = resp.json()["id"]
    assert support.wait_for(lambda: support.busy_sessions(any_source), timeout=30), \
        f"the query never ran\n{celery_worker.output()[-3000:]}"
    time.sleep(1)
    assert ws.api.post(f"/v1/pipelines/runs/{run_id}/cancel").status_code == 200
    run = support.wait_for(lambda: ended_run(ws, run_id), timeout=10)
    assert run is not None, f"the run did not end within 10 s of the cancel\n{celery_worker.output()[-3000:]}"
    assert run["error"] == CANCELLED
    assert support.busy_sessions(any_source) == 0
    assert ws.api.get(f"/v1/pipelines/runs/{run_id}/errors").json()["errors"][-1] == {
        "step": "Receive", "userId": None, "message": CANCELLED}
    assert cursor_of(pid) == cursor
    assert len(identities(ws, pid)) == 10  # nothing purged
    assert Run.objects.get(id=run_id).source_session is None


@pytest.mark.django_db(transaction=True)
def test_the_sweep_ends_the_source_query_of_a_hung_worker(ws, any_source, tmp_path):
    """A worker that hangs (stopped by SIGSTOP; one that died is the same to the source) neither
    beats nor reads: the sweep, in another process, ends the run and the source session the run
    recorded, so the query does not run on in the source."""
    pid = imported_then_slow(ws, any_source)
    queue = support.TaskQueue(settings.CELERY_BROKER_URL)
    worker = support.start_worker(tmp_path / "worker.log", queue.name, settings.CELERY_BROKER_URL)
    stopped = False
    try:
        from pipelines.tasks import execute_run_task

        run = start(pid)
        execute_run_task.apply_async((run.id,), queue=queue.name)
        assert support.wait_for(lambda: support.busy_sessions(any_source), timeout=30), \
            f"the query never ran\n{worker.output()[-3000:]}"
        os.killpg(worker.pid, signal.SIGSTOP)
        stopped = True
        Run.objects.filter(id=run.id).update(heartbeat_time=timezone.now() - dead_after() - dt.timedelta(seconds=1))
        assert sweep_dead_runs() == 1
        assert support.wait_for(lambda: support.busy_sessions(any_source) == 0, timeout=10)
        run.refresh_from_db()
        assert run.error == DIED and run.source_session is None
        assert len(identities(ws, pid)) == 10
    finally:
        if stopped:
            os.killpg(worker.pid, signal.SIGCONT)
        worker.stop()
        queue.forget()
    run.refresh_from_db()
    assert run.error == DIED  # the worker, resumed, found its run ended


@pytest.mark.django_db(transaction=True)
def test_a_query_that_turns_its_statement_timeout_off_is_interrupted_by_the_worker(ws, pg_source, settings):
    """PostgreSQL's statement_timeout applies to each FETCH, and a query can switch it off for the
    next ones: the query check refuses set_config itself, but not a function of the source's that
    calls it. The worker interrupts a call that outlives the statement timeout, and the run ends with
    an error that names the setting; the rows read are written."""
    pg_source.execute("CREATE FUNCTION no_timeout() RETURNS text LANGUAGE sql "
                      "AS $$ SELECT set_config('statement_timeout', '0', false) $$")
    query = ("SELECT i AS id, 'First' || i AS firstname, timestamp '2024-01-01' + i * interval '1 second' AS updated_ts "
             "FROM generate_series(1, 5001) AS i WHERE no_timeout() = '0' "
             "AND (i <= 5000 OR pg_sleep(120) IS NOT NULL)")
    pid = create_pipeline(ws, create_connection(ws, pg_source), query=query, mapping=NAMES)
    settings.KRENALIS = {**settings.KRENALIS, "SOURCE_STATEMENT_TIMEOUT": 1}
    run = start(pid)
    worker = execute_in_thread(run.id)
    assert support.wait_for(lambda: support.busy_sessions(pg_source), timeout=30)
    worker.join(30)
    assert not worker.is_alive(), "the run did not end"
    run.refresh_from_db()
    assert run.error == STATEMENT_TIMEOUT.format(1)
    assert errors_of(run)[-1] == ("Receive", None, STATEMENT_TIMEOUT.format(1))
    assert support.busy_sessions(pg_source) == 0
    assert len(identities(ws, pid)) == 5000 and cursor_of(pid) is None


# --------------------------------------------------------------------------- runpipeline


class TTY(io.StringIO):
    def isatty(self):
        return True


def test_runpipeline_runs_here_with_a_summary(pipeline_id):
    out, err = io.StringIO(), io.StringIO()
    call_command("runpipeline", str(pipeline_id), "--full", stdout=out, stderr=err)
    run = Run.objects.get(pipeline_id=pipeline_id)
    assert run.incremental is False and counts(run) == ALL_PASSED_10
    assert out.getvalue().startswith(f"Run {run.id} of pipeline {pipeline_id} succeeded in ")
    assert out.getvalue().rstrip().endswith("Passed/failed: Receive 10/0  InputValidation 10/0  "
                                            "Transformation 10/0  OutputValidation 10/0  Finalize 10/0")
    assert f"full run {run.id}" in err.getvalue()


def test_runpipeline_draws_progress_on_a_terminal(ws, pg_source):
    pid = slow_pipeline(ws, pg_source, rows=12000, pause=0.25)  # about 3 s
    out, err = io.StringIO(), TTY()
    call_command("runpipeline", str(pid), stdout=out, stderr=err)
    drawn = [line for line in err.getvalue().split("\r") if "rows read" in line]
    assert len(drawn) >= 2
    assert any(f" {n} rows read (" in line and f"Receive {n}/0" in line for line in drawn for n in ("5,000", "10,000"))
    assert all("rows/s)" in line for line in drawn)
    assert "succeeded" in out.getvalue() and "Finalize 12,000/0" in out.getvalue()


def test_runpipeline_fails_with_the_run_error(ws, pg_source, pipeline_id):
    pg_source.execute("DROP TABLE customers")
    out = io.StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("runpipeline", str(pipeline_id), stdout=out, stderr=io.StringIO())
    assert failed.value.returncode == 1
    message = 'query failed: relation "customers" does not exist (SQLSTATE 42P01)'
    assert str(failed.value).endswith(message)
    assert out.getvalue().rstrip().endswith(f"Finalize 0/0. Error: {message}")
    run = Run.objects.get(pipeline_id=pipeline_id)
    assert out.getvalue().startswith(f"Run {run.id} of pipeline {pipeline_id} failed in ")


@pytest.mark.parametrize("arguments,message", [
    (["0"], 'identifier "0" is not a valid pipeline identifier'),
    (["abc"], 'identifier "abc" is not a valid pipeline identifier'),
    (["123"], "pipeline 123 does not exist"),
])
def test_runpipeline_refuses_bad_identifiers(db, arguments, message):
    with pytest.raises(CommandError, match=f"^{message}$"):
        call_command("runpipeline", *arguments, stdout=io.StringIO(), stderr=io.StringIO())


def test_runpipeline_applies_the_start_checks(ws, pg_source):
    connection_id = create_connection(ws, pg_source)
    pid = create_pipeline(ws, connection_id, updated_at="")
    with pytest.raises(CommandError, match="^incremental requires an update time column$"):
        call_command("runpipeline", str(pid), "--incremental", stdout=io.StringIO(), stderr=io.StringIO())
    start(pid)
    with pytest.raises(CommandError, match=f"^pipeline {pid} is already running$"):
        call_command("runpipeline", str(pid), stdout=io.StringIO(), stderr=io.StringIO())
    Pipeline.objects.filter(id=pid).update(enabled=False)
    with pytest.raises(CommandError, match=f"^pipeline {pid} is disabled$"):
        call_command("runpipeline", str(pid), stdout=io.StringIO(), stderr=io.StringIO())


@pytest.mark.django_db(transaction=True)
def test_runpipeline_exit_code(ws, pg_source):
    pid = create_pipeline(ws, create_connection(ws, pg_source))
    database = settings.DATABASES["default"]
    env = dict(os.environ, DATABASE_URL=f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/"
                                        f"{database['NAME']}")
    command = [sys.executable, "manage.py", "runpipeline", str(pid)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "succeeded" in done.stdout and "Finalize 10/0" in done.stdout
    pg_source.execute("DROP TABLE customers")
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert " failed in " in done.stdout and 'relation "customers" does not exist' in done.stderr


def test_a_finished_import_resolves_identities_into_profiles(ws, pg_source, celery_worker):
    """runOnBatchImport (on by default): the end of a run queues an identity resolution, which a
    real worker executes."""
    run = run_now(create_pipeline(ws, create_connection(ws, pg_source)))
    assert run.error == ""
    ended = support.wait_for(lambda: ws.api.get("/v1/identity-resolution/latest").json()["endTime"], timeout=30)
    assert ended, f"no resolution ended within 30 s\n{celery_worker.output()[-3000:]}"
    profiles = ws.api.get("/v1/profiles?limit=100")
    assert profiles.status_code == 200, profiles.content
    assert profiles.json()["total"] == 10


def test_a_run_whose_message_was_lost_is_queued_again(ws, pipeline_id, celery_worker):
    from pipelines.services.runs import requeue_waiting_runs

    # No resolution after the run: the test ends with the worker idle.
    resp = ws.api.put("/v1/identity-resolution/settings", {"runOnBatchImport": False, "identifiers": []})
    assert resp.status_code == 200, resp.content
    run = start(pipeline_id)  # the lost message: never sent
    assert requeue_waiting_runs() == 0  # queued moments ago: a worker may still take it
    Run.objects.filter(id=run.id).update(start_time=timezone.now() - dt.timedelta(minutes=5))
    assert requeue_waiting_runs() == 1
    run = support.wait_for(lambda: Run.objects.filter(id=run.id, end_time__isnull=False).first(), timeout=30)
    assert run is not None, f"the run did not end within 30 s\n{celery_worker.output()[-3000:]}"
    assert run.error == "" and run.passed[6] == 10


def test_a_source_no_longer_allowed_is_neither_run_nor_previewed(ws, pg_source, settings):
    """The allowed hosts are checked when a connection is saved, and again before each use: a
    list narrowed since then stops runs and previews before anything connects."""
    cid = create_connection(ws, pg_source)
    pid = create_pipeline(ws, cid)
    settings.KRENALIS = {**settings.KRENALIS, "DATABASE_ALLOWED_HOSTS": ["10.0.0.0/8"]}
    message = ('the connection\'s settings are no longer allowed: host "127.0.0.1" is not allowed: 127.0.0.1 is a '
               'loopback address (list it in KRENALIS_DATABASE_ALLOWED_HOSTS to allow it)')
    resp = ws.api.post(f"/v1/connections/{cid}/query", {"query": "SELECT 1 AS one", "limit": 1})
    assert support.error_of(resp) == (422, "InvalidSettings", message)
    run = run_now(pid)
    assert run.error == message and counts(run) == ([0] * 7, [0] * 7)
    assert errors_of(run) == [("InputValidation", None, message)]
    assert identities(ws, pid) == {} and cursor_of(pid) is None
    settings.KRENALIS = {**settings.KRENALIS, "DATABASE_ALLOWED_HOSTS": ["127.0.0.1"]}
    assert run_now(pid).error == ""
