"""Crash safety: a worker killed with SIGKILL, a warehouse connection dropped in the middle of a
batch, a source database restarting in the middle of a run. After each, the next run leaves the
warehouse with exactly the source's users (0 lost, 0 duplicated) and the cursor never moves past
the data committed to the warehouse."""
import datetime as dt
import secrets
import threading
import time

import pytest

from pipelines.models import Run
from pipelines.services import queue as task_queue
from pipelines.services import runs
from pipelines.services.runs import DIED
from tests import support
from tests.pipelines.services import create_connection, create_pipeline, create_workspace, cursor_of, run_now
from tests.reliability import (USERS_MAPPING, RestartableProxy, assert_warehouse_is_exactly, big_source,
                               fill_customers, purge_broker, slow_query, start_worker, wait_for, warehouse_count,
                               warehouse_rows)

UTC = dt.timezone.utc
BASE = dt.datetime(2024, 1, 1, tzinfo=UTC)
FAST = {"KRENALIS_HEARTBEAT_SECONDS": 0.5, "KRENALIS_RUN_DEAD_AFTER_SECONDS": 3, "KRENALIS_SWEEP_DEAD_RUNS_SECONDS": 1}


def moment(i: int) -> dt.datetime:
    """The update time of user i (support: 2024-01-01 + i seconds)."""
    return BASE + dt.timedelta(seconds=i)


def assert_partial(warehouse_db: str, source: support.Source, low: int, high: int) -> int:
    """A run stopped midway left between `low` and `high` identities, no duplicate, none foreign."""
    rows = warehouse_rows(warehouse_db)
    ids = [row[0] for row in rows]
    assert len(ids) == len(set(ids))
    assert set(ids) <= {str(i) for i in range(1, high + 1)}
    assert low < len(ids) < high, len(ids)
    return len(ids)


def assert_cursor_within_committed(warehouse_db: str, pipeline_id: int) -> None:
    """The cursor is never past the newest update time the warehouse holds."""
    cursor = cursor_of(pipeline_id)
    if cursor is None:
        return
    newest = max(row[2] for row in warehouse_rows(warehouse_db, pipeline_id)).replace(tzinfo=UTC)
    assert cursor <= newest, (cursor, newest)


# ------------------------------------------------------------------------------------- SIGKILL


@pytest.fixture
def broker():
    purge_broker()
    yield
    purge_broker()


def private_run_queue(monkeypatch, settings) -> str:
    """A queue of this test's own on the workers' broker, to which the API publishes runs; and the
    short heartbeat that lets a killed worker's run be found dead within seconds."""
    from krenalis.celery import app
    from pipelines.tasks import execute_run_task
    from tests.reliability import BROKER

    settings.KRENALIS = {**settings.KRENALIS, "HEARTBEAT_SECONDS": 0.5, "RUN_DEAD_AFTER_SECONDS": 3}
    queue = f"krenalis-rel-{secrets.token_hex(4)}"

    def enqueue(run_id: int) -> None:
        with app.connection_for_write(BROKER) as conn:
            execute_run_task.apply_async(args=[run_id], queue=queue, connection=conn)

    monkeypatch.setattr(task_queue, "enqueue_run", enqueue)
    return queue


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(240, method="thread")
def test_a_worker_killed_mid_run_loses_and_duplicates_nothing(api, warehouse_db, tmp_path, broker, monkeypatch,
                                                              settings, record_property):
    rows = 200_000
    queue = private_run_queue(monkeypatch, settings)
    source = big_source(rows)
    workers = []
    try:
        ws = create_workspace(api, warehouse_db)
        pid = create_pipeline(ws, create_connection(ws, source), query=slow_query(pause_every=20_000, pause=0.4),
                              mapping=USERS_MAPPING, incremental=True)
        workers.append(start_worker(tmp_path / "worker-1.log", queue, **FAST))

        resp = ws.api.post(f"/v1/pipelines/{pid}/runs", {})
        assert resp.status_code == 200, resp.content
        dead_id = resp.json()["id"]
        # A first import into an empty warehouse loads a table of its own, swapped in at its end.
        assert wait_for(lambda: (Run.objects.get(id=dead_id).passed or [0] * 7)[6] >= 30_000, timeout=90), \
            workers[0].output()[-3000:]
        assert Run.objects.get(id=dead_id).end_time is None  # in the middle of the run
        workers[0].kill()  # SIGKILL: no cleanup of any kind
        assert wait_for(lambda: not warehouse_sessions(warehouse_db), timeout=30)
        written = warehouse_count(warehouse_db)
        assert written == 0     # nothing of the killed load is visible, and its table is gone
        assert identity_tables(warehouse_db) == 1
        assert cursor_of(pid) is None  # nothing committed the cursor

        # While its heartbeat is fresh the run counts as live: no second run in parallel.
        resp = ws.api.post(f"/v1/pipelines/{pid}/runs", {})
        assert resp.status_code == 422 and resp.json()["error"]["code"] == "PipelineAlreadyRunning"

        # A new worker (with beat) detects the dead run and ends it; the pipeline runs again.
        workers.append(start_worker(tmp_path / "worker-2.log", queue, beat=True, **FAST))
        dead = wait_for(lambda: Run.objects.filter(id=dead_id, end_time__isnull=False).first(), timeout=30)
        assert dead is not None, workers[1].output()[-3000:]
        assert dead.error == DIED
        assert cursor_of(pid) is None
        resp = ws.api.post(f"/v1/pipelines/{pid}/runs", {})
        assert resp.status_code == 200, resp.content
        run_id = resp.json()["id"]
        cursors_seen = set()

        def ended():
            cursor = cursor_of(pid)  # read before the run: seen while the run was still live
            run = Run.objects.filter(id=run_id, end_time__isnull=False).first()
            if run is None:
                cursors_seen.add(cursor)
            return run

        run = wait_for(ended, timeout=150, interval=0.25)
        assert run is not None, workers[1].output()[-3000:]
        assert run.error == "" and run.passed[6] == rows and sum(run.failed) == 0, (run.error, run.passed)
        assert cursors_seen == {None}  # the cursor moved only at the end of the successful run
        verified = assert_warehouse_is_exactly(warehouse_db, source)
        assert cursor_of(pid) == moment(rows)
        assert_cursor_within_committed(warehouse_db, pid)
        record_property("rows_verified", verified)
        record_property("rows_written_before_kill", written)
        print(f"\nSIGKILL: {written:,} of {rows:,} rows written before the kill; {verified:,} rows verified after")
    finally:
        for worker in workers:
            worker.stop()
        support.drop_source(source)


# ---------------------------------------------------------------- SIGKILL during a staged full run


def identity_snapshot(warehouse_db: str) -> dict:
    """identity id -> (_pk, _kpid, _run, first_name, _updated_at) of every identity, and the change log."""
    conn = support.pg_connect(warehouse_db)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT _identity_id, _pk, _kpid, _run, first_name, _updated_at FROM krenalis_identities")
            identities = {row[0]: row[1:] for row in cur.fetchall()}
            cur.execute("SELECT pk, kpid FROM krenalis_changes")
            return {"identities": identities, "log": sorted(cur.fetchall(), key=str)}
    finally:
        conn.close()


def warehouse_execute(warehouse_db: str, *statements: str) -> None:
    conn = support.pg_connect(warehouse_db)
    try:
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
    finally:
        conn.close()


def identity_tables(warehouse_db: str) -> int:
    conn = support.pg_connect(warehouse_db)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_class WHERE relname LIKE 'krenalis_identities%' AND relkind = 'r'")
            return cur.fetchone()[0]
    finally:
        conn.close()


def warehouse_sessions(warehouse_db: str, condition: str = "true") -> list[tuple]:
    conn = support.pg_connect("postgres")
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pid, query FROM pg_stat_activity WHERE datname = %s "
                        f"AND application_name = 'krenalis-warehouse' AND {condition}", (warehouse_db,))
            return cur.fetchall()
    finally:
        conn.close()


def staged_run_then_kill(api, warehouse_db, tmp_path, monkeypatch, settings, *, during_swap: bool):
    """Imports 50,000 users, gives them kpids (as a resolution would) and consumes the log; then 1,000
    users go and 1,000 come, and a worker's full run (staged: the pipeline has identities) is killed
    with SIGKILL, during the load or while it applies the difference. The identities, their kpids and
    the log must be exactly as before; the warehouse keeps no staging table; and the next full run,
    on a new worker, leaves exactly the source's users, the unchanged ones untouched."""
    rows = 50_000
    queue = private_run_queue(monkeypatch, settings)
    source = big_source(rows)
    workers, holder = [], None
    try:
        ws = create_workspace(api, warehouse_db)
        pid = create_pipeline(ws, create_connection(ws, source), query=slow_query(pause_every=5_000, pause=0.4),
                              mapping=USERS_MAPPING, incremental=True)
        assert run_now(pid).passed[6] == rows
        warehouse_execute(warehouse_db, "UPDATE krenalis_identities SET _kpid = gen_random_uuid()",
                          "TRUNCATE krenalis_changes")
        before = identity_snapshot(warehouse_db)
        source.execute(f"DELETE FROM customers WHERE id > {rows - 1000}")
        fill_customers(source, rows + 1, rows + 1000)
        if during_swap:
            # A session holding the row of a purged identity: the run's last transaction waits there,
            # after its join and its inserts, for as long as the test wants.
            holder = support.pg_connect(warehouse_db)
            holder.autocommit = False
            with holder.cursor() as cur:
                cur.execute(f"SELECT 1 FROM krenalis_identities WHERE _identity_id = '{rows}' FOR UPDATE")
        workers.append(start_worker(tmp_path / "worker-1.log", queue, **FAST))
        resp = ws.api.post(f"/v1/pipelines/{pid}/runs", {"incremental": False})
        assert resp.status_code == 200, resp.content
        dead_id = resp.json()["id"]
        if during_swap:
            waiting = wait_for(lambda: warehouse_sessions(warehouse_db, "wait_event_type = 'Lock'"), timeout=90)
            assert waiting and "DELETE FROM krenalis_identities" in waiting[0][1], workers[0].output()[-3000:]
        else:
            assert wait_for(lambda: (Run.objects.get(id=dead_id).passed or [0] * 7)[6] >= 15_000, timeout=90), \
                workers[0].output()[-3000:]
        assert Run.objects.get(id=dead_id).end_time is None
        workers[0].kill()
        if holder is not None:
            holder.rollback()       # the killed run's transaction goes on, and can never commit
        assert wait_for(lambda: not warehouse_sessions(warehouse_db), timeout=30)
        assert identity_snapshot(warehouse_db) == before
        assert identity_tables(warehouse_db) == 1     # no table left behind (the staging lived in the session)

        workers.append(start_worker(tmp_path / "worker-2.log", queue, beat=True, **FAST))
        dead = wait_for(lambda: Run.objects.filter(id=dead_id, end_time__isnull=False).first(), timeout=30)
        assert dead is not None and dead.error == DIED, workers[1].output()[-3000:]
        resp = ws.api.post(f"/v1/pipelines/{pid}/runs", {"incremental": False})
        assert resp.status_code == 200, resp.content
        run = wait_for(lambda: Run.objects.filter(id=resp.json()["id"], end_time__isnull=False).first(), timeout=150)
        assert run is not None, workers[1].output()[-3000:]
        assert run.error == "" and run.passed[6] == rows and sum(run.failed) == 0, (run.error, run.passed)
        assert assert_warehouse_is_exactly(warehouse_db, source) == rows
        after = identity_snapshot(warehouse_db)
        kept = {i: v for i, v in before["identities"].items() if int(i) <= rows - 1000}
        assert {i: after["identities"][i] for i in kept} == kept    # untouched: _pk, kpid, _run
        assert len(after["log"]) == 2000                             # 1,000 purged, 1,000 new
    finally:
        if holder is not None:
            holder.close()
        for worker in workers:
            worker.stop()
        support.drop_source(source)


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(300, method="thread")
def test_a_worker_killed_during_a_staged_full_run_changes_nothing(api, warehouse_db, tmp_path, broker, monkeypatch,
                                                                  settings):
    staged_run_then_kill(api, warehouse_db, tmp_path, monkeypatch, settings, during_swap=False)


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(300, method="thread")
def test_a_worker_killed_while_a_full_run_applies_its_difference_changes_nothing(api, warehouse_db, tmp_path, broker,
                                                                                 monkeypatch, settings):
    staged_run_then_kill(api, warehouse_db, tmp_path, monkeypatch, settings, during_swap=True)


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(300, method="thread")
def test_a_worker_killed_while_a_first_import_swaps_its_table_in_leaves_nothing(api, warehouse_db, tmp_path, broker,
                                                                               monkeypatch, settings):
    """A first import into an empty warehouse has loaded and indexed its table, and waits to swap it in
    (a session reading krenalis_identities holds it): its worker is killed with SIGKILL. The warehouse
    keeps its empty identities and no other table; the next run, on a new worker, imports everything."""
    rows = 20_000
    queue = private_run_queue(monkeypatch, settings)
    source = big_source(rows)
    workers, holder = [], None
    try:
        ws = create_workspace(api, warehouse_db)
        pid = create_pipeline(ws, create_connection(ws, source), query=slow_query(pause_every=10_000, pause=0.01),
                              mapping=USERS_MAPPING, incremental=True)
        holder = support.pg_connect(warehouse_db)
        holder.autocommit = False
        with holder.cursor() as cur:
            cur.execute("SELECT count(*) FROM krenalis_identities")    # holds it until rolled back
        workers.append(start_worker(tmp_path / "worker-1.log", queue, **FAST))
        resp = ws.api.post(f"/v1/pipelines/{pid}/runs", {})
        assert resp.status_code == 200, resp.content
        dead_id = resp.json()["id"]
        waiting = wait_for(lambda: warehouse_sessions(warehouse_db, "wait_event_type = 'Lock'"), timeout=90)
        assert waiting and "LOCK TABLE krenalis_identities" in waiting[0][1], workers[0].output()[-3000:]
        workers[0].kill()
        holder.rollback()
        assert wait_for(lambda: not warehouse_sessions(warehouse_db), timeout=30)
        assert warehouse_count(warehouse_db) == 0 and identity_tables(warehouse_db) == 1

        workers.append(start_worker(tmp_path / "worker-2.log", queue, beat=True, **FAST))
        dead = wait_for(lambda: Run.objects.filter(id=dead_id, end_time__isnull=False).first(), timeout=30)
        assert dead is not None and dead.error == DIED, workers[1].output()[-3000:]
        resp = ws.api.post(f"/v1/pipelines/{pid}/runs", {})
        assert resp.status_code == 200, resp.content
        run = wait_for(lambda: Run.objects.filter(id=resp.json()["id"], end_time__isnull=False).first(), timeout=150)
        assert run is not None, workers[1].output()[-3000:]
        assert run.error == "" and run.passed[6] == rows and sum(run.failed) == 0, (run.error, run.passed)
        assert assert_warehouse_is_exactly(warehouse_db, source) == rows
        assert identity_tables(warehouse_db) == 1
    finally:
        if holder is not None:
            holder.close()
        for worker in workers:
            worker.stop()
        support.drop_source(source)


# ------------------------------------------------------------------------- warehouse connection


WAREHOUSE_BACKENDS = ("SELECT pid, query FROM pg_stat_activity WHERE datname = %s AND application_name = "
                      "'krenalis-warehouse' AND state = 'active' AND (query ILIKE 'COPY%%' OR "
                      "query ILIKE 'INSERT INTO krenalis_identities%%')")


def drop_warehouse_connection_mid_batch(warehouse_db: str, after_rows: int, hits: list, timeout: float = 60) -> None:
    """Once the warehouse holds `after_rows` identities, terminates the writer's connection while it is
    inside a batch (COPY or INSERT running). Records what was interrupted in `hits`."""
    deadline = time.monotonic() + timeout
    conn = support.pg_connect("postgres")
    try:
        with conn.cursor() as cur:
            while time.monotonic() < deadline and warehouse_count(warehouse_db) < after_rows:
                time.sleep(0.05)
            while time.monotonic() < deadline:
                cur.execute(WAREHOUSE_BACKENDS, (warehouse_db,))
                for pid, query in cur.fetchall():
                    cur.execute("SELECT pg_terminate_backend(%s)", (pid,))
                    if cur.fetchone()[0]:
                        hits.append(query.split()[0].upper())
                        return
                time.sleep(0.005)
    finally:
        conn.close()


@pytest.mark.timeout(180, method="thread")
def test_a_warehouse_connection_dropped_mid_batch_loses_nothing(api, warehouse_db, record_property):
    source = big_source(100_000)
    try:
        ws = create_workspace(api, warehouse_db)
        pid = create_pipeline(ws, create_connection(ws, source), query=slow_query(pause_every=10_000, pause=0.2),
                              mapping=USERS_MAPPING, incremental=True)
        first = run_now(pid)
        assert first.error == "" and first.passed[6] == 100_000
        assert cursor_of(pid) == moment(100_000)

        fill_customers(source, 100_001, 200_000)  # the next incremental run has 100,000 new users
        hits = []
        injector = threading.Thread(target=drop_warehouse_connection_mid_batch,
                                    args=(warehouse_db, 120_000, hits), daemon=True)
        injector.start()
        failed = run_now(pid)
        injector.join(5)
        assert hits, "the writer's connection was never caught inside a batch"
        assert failed.error.startswith("data warehouse is unavailable: "), failed.error
        assert "\n" not in failed.error
        assert cursor_of(pid) == moment(100_000)  # the failed run did not move the cursor
        written = assert_partial(warehouse_db, source, 100_000, 200_000)

        run = run_now(pid)  # incremental from the old cursor: what the failed run missed comes now
        assert run.error == "" and sum(run.failed) == 0, run.error
        verified = assert_warehouse_is_exactly(warehouse_db, source)
        assert cursor_of(pid) == moment(200_000)
        assert_cursor_within_committed(warehouse_db, pid)
        record_property("rows_verified", verified)
        print(f"\nwarehouse drop during {hits[0]}: {written - 100_000:,} new rows kept; {verified:,} rows verified")
    finally:
        support.drop_source(source)


# ------------------------------------------------------------------------------ source restart


@pytest.mark.timeout(180, method="thread")
def test_a_source_restarting_mid_run_fails_the_run_clearly_and_the_next_completes(api, warehouse_db,
                                                                                 record_property):
    source = big_source(100_000)
    proxy = RestartableProxy(5432)
    try:
        ws = create_workspace(api, warehouse_db)
        body = support.connection_body(source)
        body["settings"]["port"] = proxy.port  # the source, reached through the proxy
        resp = ws.api.post("/v1/connections", body)
        assert resp.status_code == 200, resp.content
        cid = resp.json()["id"]
        pid = create_pipeline(ws, cid, query=slow_query(pause_every=10_000, pause=0.3), mapping=USERS_MAPPING,
                              incremental=True)

        def restart_when_busy():
            # A first import into an empty warehouse loads a table of its own (invisible until its end):
            # once it has begun, a few batches of 10,000 rows later.
            if wait_for(lambda: warehouse_sessions(warehouse_db, "query LIKE '%%krenalis_identities_load_%%'"),
                        timeout=60, interval=0.05):
                time.sleep(1.0)
                proxy.restart(down_for=3)

        restarter = threading.Thread(target=restart_when_busy, daemon=True)
        restarter.start()
        failed = run_now(pid)
        assert proxy.restarts == 1
        assert failed.error and "\n" not in failed.error, failed.error
        assert "server closed the connection unexpectedly" in failed.error or "connection" in failed.error.lower()
        assert body["settings"]["password"] not in failed.error
        assert cursor_of(pid) is None
        written = assert_partial(warehouse_db, source, 0, 100_000)

        # While the database is down, the preview says so with a 503 (documented) and a clear message.
        resp = ws.api.post(f"/v1/connections/{cid}/query", {"query": "SELECT 1 AS one", "limit": 1})
        if restarter.is_alive():
            assert resp.status_code == 503, resp.content
            assert resp.json()["error"]["code"] == "ServiceUnavailable"
            assert "Connection refused" in resp.json()["error"]["message"]
        restarter.join(10)

        run = run_now(pid)  # the database is back: the next run completes
        assert run.error == "" and run.passed[6] == 100_000, run.error
        verified = assert_warehouse_is_exactly(warehouse_db, source)
        assert cursor_of(pid) == moment(100_000)
        record_property("rows_verified", verified)
        print(f"\nsource restart: run failed with {failed.error!r} after {written:,} rows; {verified:,} verified")
    finally:
        proxy.close()
        support.drop_source(source)


def test_timing_knobs_come_from_settings(settings):
    settings.KRENALIS = {**settings.KRENALIS, "HEARTBEAT_SECONDS": 0.5, "RUN_DEAD_AFTER_SECONDS": 3}
    assert runs.heartbeat_seconds() == 0.5 and runs.dead_after() == dt.timedelta(seconds=3)  # read at each use
    assert (settings.CELERY_BEAT_SCHEDULE["krenalis.sweep-dead-runs"]["schedule"]
            == settings.KRENALIS["SWEEP_DEAD_RUNS_SECONDS"])
