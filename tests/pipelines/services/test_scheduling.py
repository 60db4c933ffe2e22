"""The scheduler: the due rule (pure), the tick (against the real database), and one
tick driven through Redis-backed Celery to a finished run."""
import datetime as dt
import secrets
import threading
import time

import pytest
from django.conf import settings
from django.db import connection as db_connection
from django.utils import timezone

from pipelines.ids import random_id
from pipelines.models import Connection, Pipeline, Run, Workspace
from pipelines.services import scheduling
from pipelines.services.scheduling import (PERIODS, due_minutes, is_due, minute_of_day, next_due, schedule_tick,
                                  tick_minute)
from tests import support

UTC = dt.timezone.utc


def at(hour: int, minute: int, second: int = 0, day: int = 1) -> dt.datetime:
    return dt.datetime(2025, 3, day, hour, minute, second, tzinfo=UTC)


# --------------------------------------------------------------------------- the due rule


def test_periods_are_the_api_periods_and_divide_a_day():
    assert PERIODS == tuple(Pipeline.SCHEDULE_PERIODS.values())
    assert all(1440 % p == 0 for p in PERIODS)


@pytest.mark.parametrize("period", PERIODS)
@pytest.mark.parametrize("start_of", [lambda p: 0, lambda p: 1, lambda p: p - 1, lambda p: p, lambda p: p + 3,
                                      lambda p: 1439, lambda p: 1440 - p, lambda p: 777 % 1440])
def test_due_minutes_of_every_period(period, start_of):
    start = start_of(period) % 1440
    due = [m for m in range(1440) if is_due(minute=m, schedule_start=start, schedule_period=period)]
    assert len(due) == 1440 // period
    assert due == due_minutes(schedule_start=start, schedule_period=period)
    assert start in due
    assert all(b - a == period for a, b in zip(due, due[1:]))
    assert due[0] == start % period


def test_reference_example_start_beyond_the_period():
    # reference §7.7: period 60 with scheduleStart 125 → minute 5 of every hour
    due = due_minutes(schedule_start=125, schedule_period=60)
    assert due == [h * 60 + 5 for h in range(24)]
    assert is_due(minute=minute_of_day(at(17, 5)), schedule_start=125, schedule_period=60)
    assert not is_due(minute=minute_of_day(at(2, 6)), schedule_start=125, schedule_period=60)
    # start 1439 (23:59) every 12 hours → 11:59 and 23:59
    assert due_minutes(schedule_start=1439, schedule_period=720) == [719, 1439]
    # start 37 once a day → 00:37 only
    assert due_minutes(schedule_start=37, schedule_period=1440) == [37]


def test_midnight_wrap():
    # 23:55 every 15 minutes: 23:55, then 00:10 the next day (not 00:00, not 00:05)
    assert is_due(minute=1435, schedule_start=1435, schedule_period=15)
    assert is_due(minute=10, schedule_start=1435, schedule_period=15)
    assert not is_due(minute=0, schedule_start=1435, schedule_period=15)
    assert next_due(after=at(23, 55, 30), schedule_start=1435, schedule_period=15) == at(0, 10, day=2)
    assert next_due(after=at(23, 59, 59), schedule_start=0, schedule_period=1440) == at(0, 0, day=2)
    assert next_due(after=at(23, 59), schedule_start=1439, schedule_period=1440) == at(23, 59, day=2)
    assert next_due(after=at(23, 58, 10), schedule_start=1439, schedule_period=5) == at(23, 59)


def test_not_scheduled_is_never_due():
    assert not any(is_due(minute=m, schedule_start=m, schedule_period=0) for m in range(1440))
    assert due_minutes(schedule_start=5, schedule_period=0) == []
    assert next_due(after=at(1, 2), schedule_start=5, schedule_period=0) is None


def test_minute_of_day_is_utc():
    assert minute_of_day(at(0, 0)) == 0
    assert minute_of_day(at(23, 59, 59)) == 1439
    rome = dt.timezone(dt.timedelta(hours=2))
    assert minute_of_day(dt.datetime(2025, 3, 1, 1, 30, tzinfo=rome)) == 23 * 60 + 30
    assert minute_of_day(dt.datetime(2025, 3, 1, 1, 30)) == 90  # naive is UTC


def test_tick_minute_tolerates_a_worker_clock_a_little_behind():
    assert tick_minute(at(10, 0, 0)) == at(10, 0)
    assert tick_minute(at(10, 0, 44)) == at(10, 0)
    assert tick_minute(at(9, 59, 57)) == at(10, 0)  # beat fired at 10:00:00 by its clock
    assert tick_minute(at(23, 59, 58)) == at(0, 0, day=2)
    assert tick_minute(dt.datetime(2025, 3, 1, 12, 0, 1, tzinfo=dt.timezone(dt.timedelta(hours=1)))) == at(11, 0)


# --------------------------------------------------------------------------- the tick, in the database


@pytest.fixture
def enqueued(task_queue):
    """enqueued() is the run ids the tick queued for a worker: the messages that arrived in Redis."""
    def run_ids() -> list[int]:
        messages = task_queue.messages()
        assert {name for name, _, _ in messages} <= {"pipelines.tasks.execute_run_task"}, messages
        return [args[0] for _, args, _ in messages]

    return run_ids


def make_pipeline(*, start: int, period: int, enabled=True, incremental=False, mode="Normal", cursor=None):
    workspace = Workspace(id=random_id(), name="Scheduling", profile_schema={"kind": "object", "properties": []},
                          warehouse_platform="SQLite", warehouse_mode=mode)
    workspace.warehouse_settings = {"path": "/nonexistent/scheduling.sqlite3"}
    workspace.save(force_insert=True)
    connection = Connection(id=random_id(), workspace=workspace, name="Source", connector="sqlite")
    connection.settings = {"path": "demo.sqlite3"}
    connection.save(force_insert=True)
    return Pipeline.objects.create(
        id=random_id(), workspace=workspace, connection=connection, name=f"every {period} from {start}",
        enabled=enabled, query="SELECT id, updated_at FROM users", user_id_column="id",
        updated_at_column="updated_at", incremental=incremental, transformation_mapping={"email": "email"},
        in_schema={"kind": "object", "properties": []}, out_schema={"kind": "object", "properties": []},
        schedule_start=start, schedule_period=period, cursor=cursor)


def runs_of(pipeline) -> list[Run]:
    return list(Run.objects.filter(pipeline=pipeline).order_by("start_time"))


@pytest.mark.django_db
def test_tick_starts_the_due_pipelines_only(enqueued, django_capture_on_commit_callbacks):
    due_5 = make_pipeline(start=7, period=5)           # 00:12 % 5 == 7 % 5
    due_hourly = make_pipeline(start=72, period=60)    # 72 % 60 == 12
    not_due = make_pipeline(start=8, period=5)
    daily_later = make_pipeline(start=13, period=1440)
    with django_capture_on_commit_callbacks(execute=True):
        started = schedule_tick(now=at(0, 12, 0))
    assert {r.pipeline_id for r in started} == {due_5.id, due_hourly.id}
    assert sorted(enqueued()) == sorted(r.id for r in started)
    assert runs_of(not_due) == [] and runs_of(daily_later) == []
    run = runs_of(due_5)[0]
    assert run.end_time is None and run.heartbeat_time is None


@pytest.mark.django_db
@pytest.mark.parametrize("incremental", [True, False])
def test_scheduled_runs_use_the_pipeline_incremental_setting(enqueued, incremental):
    cursor = at(8, 0) - dt.timedelta(days=30)
    pipeline = make_pipeline(start=0, period=30, incremental=incremental, cursor=cursor)
    (run,) = schedule_tick(now=at(9, 30, 2))
    assert run.pipeline_id == pipeline.id
    assert run.incremental is incremental
    assert run.start_cursor == (cursor if incremental else None)


@pytest.mark.django_db
@pytest.mark.parametrize("case", ["disabled", "unscheduled", "Inspection", "Maintenance"])
def test_tick_skips(enqueued, case):
    pipeline = make_pipeline(start=0, period=0 if case == "unscheduled" else 5, enabled=case != "disabled",
                             mode=case if case in ("Inspection", "Maintenance") else "Normal")
    assert schedule_tick(now=at(3, 0)) == []
    assert runs_of(pipeline) == []


@pytest.mark.django_db
def test_tick_skips_a_running_pipeline_silently(enqueued):
    pipeline = make_pipeline(start=0, period=5)
    live = Run.objects.create(id=random_id(), pipeline=pipeline, incremental=False, start_time=at(2, 55),
                              heartbeat_time=timezone.now(), passed=[0] * 7, failed=[0] * 7)
    other = make_pipeline(start=0, period=5)
    started = schedule_tick(now=at(3, 0))
    assert [r.pipeline_id for r in started] == [other.id]
    assert [r.id for r in runs_of(pipeline)] == [live.id]


@pytest.mark.django_db
def test_a_run_whose_worker_died_does_not_block_the_schedule(enqueued):
    pipeline = make_pipeline(start=0, period=5)
    dead = Run.objects.create(id=random_id(), pipeline=pipeline, incremental=False,
                              start_time=timezone.now() - dt.timedelta(minutes=10),
                              heartbeat_time=timezone.now() - dt.timedelta(minutes=5), passed=[0] * 7, failed=[0] * 7)
    (run,) = schedule_tick(now=at(3, 0))
    dead.refresh_from_db()
    assert dead.end_time is not None and dead.error
    assert run.pipeline_id == pipeline.id and run.end_time is None


@pytest.mark.django_db
def test_a_tick_that_fires_twice_for_the_same_minute_starts_no_second_run(enqueued):
    pipeline = make_pipeline(start=10, period=5)
    assert len(schedule_tick(now=at(6, 10, 0))) == 1
    # the same minute again: a second beat, a restarted beat, a redelivered message
    assert schedule_tick(now=at(6, 10, 0)) == []
    assert schedule_tick(now=at(6, 10, 40)) == []
    assert schedule_tick(now=at(6, 9, 58)) == []     # a worker clock 2 s behind: still 06:10
    # even once the first run has ended
    Run.objects.filter(pipeline=pipeline).update(end_time=timezone.now())
    assert schedule_tick(now=at(6, 10, 30)) == []
    assert len(runs_of(pipeline)) == 1
    pipeline.refresh_from_db()
    assert pipeline.last_scheduled_minute == at(6, 10)
    # the next slot runs again
    assert schedule_tick(now=at(6, 11)) == []
    assert [r.pipeline_id for r in schedule_tick(now=at(6, 15, 1))] == [pipeline.id]
    assert len(runs_of(pipeline)) == 2


@pytest.mark.django_db
def test_a_skipped_minute_is_not_retried_within_the_minute(enqueued):
    """A minute claimed while the pipeline was running stays used: no late run when it ends."""
    pipeline = make_pipeline(start=0, period=5)
    Run.objects.create(id=random_id(), pipeline=pipeline, incremental=False, start_time=at(4, 58),
                       heartbeat_time=timezone.now(), passed=[0] * 7, failed=[0] * 7)
    assert schedule_tick(now=at(5, 0)) == []
    Run.objects.filter(pipeline=pipeline).update(end_time=timezone.now())
    assert schedule_tick(now=at(5, 0, 30)) == []
    assert len(runs_of(pipeline)) == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_ticks_of_one_minute_start_one_run(enqueued):
    """Eight workers running the same tick at once (real PostgreSQL transactions)."""
    pipelines = [make_pipeline(start=20, period=5) for _ in range(3)]
    barrier = threading.Barrier(8)
    results, errors = [], []

    def tick():
        try:
            barrier.wait()
            results.append(len(schedule_tick(now=at(7, 45, 1))))
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            db_connection.close()

    threads = [threading.Thread(target=tick) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert sum(results) == 3
    for pipeline in pipelines:
        assert len(runs_of(pipeline)) == 1
    assert sorted(enqueued()) == sorted(r.id for p in pipelines for r in runs_of(p))


# --------------------------------------------------------------------------- a tick through Celery and Redis


@pytest.fixture
def demo_sources():
    """The demo users in a PostgreSQL source database, and an empty PostgreSQL warehouse."""
    source = support.create_pg_database("krenalis_test_demo_src")
    warehouse = support.create_pg_database("krenalis_test_demo_wh")
    conn = support.pg_connect(source)
    with conn.cursor() as cur:
        cur.execute((settings.BASE_DIR / "demo" / "users.postgresql.sql").read_text())
    conn.close()
    yield source, warehouse
    support.drop_pg_database(source)
    support.drop_pg_database(warehouse)


def test_a_beat_tick_through_redis_celery_imports_the_due_pipeline(demo_sources, celery_worker):
    # demo_sources comes first so that its databases outlive the worker (teardown runs in reverse).
    from pipelines.management.commands.demo import demo_create
    from pipelines.tasks import schedule_tick_task
    from warehouse.backends import backend_for

    source, warehouse = demo_sources
    pg = {"host": "127.0.0.1", "port": 5432, "username": "postgres", "password": "unused"}
    demo = demo_create(connector="postgresql", source_settings={**pg, "database": source, "schema": "public"},
                       platform="PostgreSQL", warehouse_settings={**pg, "database": warehouse, "schema": "public"},
                       name=f"Demo {secrets.token_hex(3)}")
    pipeline = demo.pipeline
    assert (pipeline.enabled, pipeline.incremental, pipeline.schedule_period) == (True, True, 5)
    minute = timezone.now().replace(second=0, microsecond=0)
    Pipeline.objects.filter(id=pipeline.id).update(schedule_start=minute_of_day(minute))

    # What beat sends every minute, with the clock fixed at a due minute.
    schedule_tick_task.apply_async(kwargs={"at": minute.isoformat()}, queue=celery_worker.queue.name, expires=60)

    deadline = time.monotonic() + 60
    run = None
    while time.monotonic() < deadline:
        run = Run.objects.filter(pipeline=pipeline).first()
        if run is not None and run.end_time is not None:
            break
        time.sleep(0.25)
    assert run is not None and run.end_time is not None, f"no run ended within 60 s\n{celery_worker.output()[-3000:]}"
    assert run.error == ""
    assert run.incremental is True
    assert run.passed == [5000, 5000, 0, 0, 5000, 5000, 5000] and run.failed == [0] * 7
    pipeline.refresh_from_db()
    assert pipeline.cursor == dt.datetime(2024, 12, 31, 23, 54, 28, 777282, tzinfo=UTC)
    assert pipeline.last_scheduled_minute == minute
    backend = backend_for("PostgreSQL", demo.workspace.warehouse_settings)
    identities, total = backend.list_identities(pipeline_ids=[pipeline.id], limit=1)
    assert total == 5000
    assert Run.objects.filter(pipeline=pipeline).count() == 1
