"""Celery beat's scheduler (pipelines/beat.py): the entries declared in settings land in
django-celery-beat's tables, also when two beats start at once (real PostgreSQL transactions)."""
import logging
import threading

import pytest
from django.conf import settings
from django.db import connection as db_connection

from pipelines.services import scheduling
from pipelines.beat import Scheduler


@pytest.mark.django_db(transaction=True)  # beat closes the connection between its reads
def test_beat_entries_are_declared_in_code_and_kept_in_django_celery_beat():
    from django_celery_beat.models import PeriodicTask

    from krenalis.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["krenalis.schedule-tick"]
    assert entry["task"] == "pipelines.tasks.schedule_tick_task"
    assert entry["options"]["expire_seconds"] == scheduling.TICK_EXPIRES
    assert app.conf.beat_scheduler == "pipelines.beat:Scheduler"
    Scheduler(app=app, lazy=True).setup_schedule()  # what `celery beat` does at start
    task = PeriodicTask.objects.get(name="krenalis.schedule-tick")
    assert task.task == "pipelines.tasks.schedule_tick_task" and task.enabled
    assert (task.crontab.minute, task.crontab.hour, task.crontab.day_of_week) == ("*", "*", "*")
    assert task.expire_seconds == 45 and task.args == "[]" and task.kwargs == "{}"
    assert PeriodicTask.objects.filter(name="krenalis.sweep-dead-runs", task="pipelines.tasks.sweep_dead_runs_task",
                                       interval__every=30).exists()
    assert not PeriodicTask.objects.filter(task="celery.backend_cleanup").exists()


@pytest.mark.django_db(transaction=True)
def test_a_beat_that_loses_the_race_for_an_entry_schedules_it_without_an_error(caplog):
    """Beat 2 looks for the tick's row, finds none, and goes to create it; beat 1 creates it just
    then. Beat 2's uniqueness check fails: it must read the row instead, and hold every entry from
    its first tick (django-celery-beat alone logs a traceback and drops the entry for 5 minutes).
    The window is forced by holding beat 2's real uniqueness query until beat 1 has committed."""
    from krenalis.celery import app

    name = "krenalis.schedule-tick"
    at_check, committed = threading.Event(), threading.Event()
    loser, errors = {}, []

    def hold_the_uniqueness_check(execute, sql, params, many, context):
        if ' AS "a" FROM "django_celery_beat_periodictask" ' in sql and name in (params or ()):
            at_check.set()
            committed.wait(30)
        return execute(sql, params, many, context)

    def beat_2():
        try:
            with db_connection.execute_wrapper(hold_the_uniqueness_check):
                scheduler = Scheduler(app=app, lazy=True)
                scheduler.setup_schedule()  # what `celery beat` does at start
                loser["schedule"] = dict(scheduler.schedule)
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            at_check.set()
            db_connection.close()

    caplog.set_level(logging.INFO)
    second = threading.Thread(target=beat_2)
    second.start()
    assert at_check.wait(30)
    Scheduler.Entry.from_entry(name, app=app, **settings.CELERY_BEAT_SCHEDULE[name])  # beat 1
    committed.set()
    second.join(30)
    assert errors == []
    assert sorted(loser["schedule"]) == sorted(settings.CELERY_BEAT_SCHEDULE)
    assert "Cannot add entry" not in caplog.text and "Traceback" not in caplog.text
