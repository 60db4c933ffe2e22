"""Pipelines that run on their own: the due rule (pure functions) and the scheduler tick (a service).

Every minute Celery beat queues `schedule_tick_task` (the entry is declared in
`settings.CELERY_BEAT_SCHEDULE` and kept in django-celery-beat's tables by `pipelines.beat`); any
worker takes it.
The tick starts a run of every pipeline due at that minute (reference krenalis-api.md §7.7,
import engine §1.3):

    due  ⇔  minute_of_day mod schedulePeriod == scheduleStart mod schedulePeriod     (UTC)

A due pipeline is skipped when it is disabled, unscheduled, already running, or its warehouse is
not in Normal mode; a scheduled run uses the pipeline's own `incremental` setting. There is no
catch-up of missed minutes.

Ticks are idempotent per (pipeline, minute): the tick claims a pipeline for its minute with a
conditional UPDATE of `Pipeline.last_scheduled_minute`, in the transaction that creates the run,
so two beats, a restarted beat or a redelivered tick start no second run. Neither rule needs a
leader: both live in the database, shared by every worker on every machine.
"""
from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ..errors import NotFound, Unprocessable
from ..models import Pipeline, Run
from .runs import run_start

log = logging.getLogger(__name__)

MINUTES_PER_DAY = 1440
# The allowed periods, in minutes; each divides a day, so the slots are the same every day.
PERIODS = (5, 15, 30, 60, 120, 180, 360, 480, 720, 1440)
# Beat queues the tick at second 0 of its minute, by its own clock. A worker whose clock is a few
# seconds behind still counts that minute; a tick that waited longer than TICK_EXPIRES in the
# queue is dropped (it would count the wrong minute).
CLOCK_TOLERANCE = dt.timedelta(seconds=5)
TICK_EXPIRES = 45


# --------------------------------------------------------------------------- pure functions


def minute_of_day(moment: dt.datetime) -> int:
    """hour*60 + minute of `moment` in UTC (a naive moment is taken as UTC)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc)
    return moment.hour * 60 + moment.minute


def is_due(*, minute: int, schedule_start: int, schedule_period: int) -> bool:
    """Whether a pipeline with this start and period runs at `minute` (0-1439) of the day.

    A period of 0 means not scheduled. `schedule_start` may exceed the period: only its residue
    counts (start 125, period 60 → minute 5 of every hour).
    """
    if schedule_period <= 0:
        return False
    return minute % schedule_period == schedule_start % schedule_period


def due_minutes(*, schedule_start: int, schedule_period: int) -> list[int]:
    """The minutes of the day at which the pipeline runs, in order."""
    if schedule_period <= 0:
        return []
    return sorted((schedule_start + k * schedule_period) % MINUTES_PER_DAY
                  for k in range(-(-MINUTES_PER_DAY // schedule_period)))


def tick_minute(now: dt.datetime) -> dt.datetime:
    """The minute a tick running at `now` (aware) stands for: its start, in UTC."""
    moment = (now + CLOCK_TOLERANCE).astimezone(dt.timezone.utc)
    return moment.replace(second=0, microsecond=0)


def next_due(*, after: dt.datetime, schedule_start: int, schedule_period: int) -> dt.datetime | None:
    """The first minute strictly after `after` (aware) at which the pipeline is due, or None."""
    if schedule_period <= 0:
        return None
    moment = after.astimezone(dt.timezone.utc).replace(second=0, microsecond=0)
    for _ in range(MINUTES_PER_DAY):
        moment += dt.timedelta(minutes=1)
        if is_due(minute=minute_of_day(moment), schedule_start=schedule_start, schedule_period=schedule_period):
            return moment
    return None


# --------------------------------------------------------------------------- the tick


def schedule_tick(*, now: dt.datetime | None = None) -> list[Run]:
    """Starts the runs due at the tick's minute and returns them. Safe to call any number of
    times, from any number of processes, for the same minute."""
    slot = tick_minute(now or timezone.now())
    minute = minute_of_day(slot)
    candidates = (Pipeline.objects
                  .filter(enabled=True, schedule_period__gt=0, workspace__warehouse_mode="Normal")
                  .filter(Q(last_scheduled_minute__isnull=True) | Q(last_scheduled_minute__lt=slot))
                  .values_list("id", "schedule_start", "schedule_period"))
    started = []
    for pipeline_id, start, period in candidates:
        if is_due(minute=minute, schedule_start=start, schedule_period=period):
            run = _start_scheduled_run(pipeline_id, slot)
            if run is not None:
                started.append(run)
    if started:
        log.info("scheduler %s: started %d run(s)", slot.strftime("%H:%M"), len(started))
    return started


def _start_scheduled_run(pipeline_id: int, slot: dt.datetime) -> Run | None:
    with transaction.atomic():
        claimed = (Pipeline.objects
                   .filter(id=pipeline_id)
                   .filter(Q(last_scheduled_minute__isnull=True) | Q(last_scheduled_minute__lt=slot))
                   .update(last_scheduled_minute=slot))
        if not claimed:
            return None  # another tick took this minute, or the pipeline was deleted
        pipeline = Pipeline.objects.select_related("workspace").get(id=pipeline_id)
        # The row may have changed since the candidates were read.
        if not (pipeline.enabled and pipeline.workspace.warehouse_mode == "Normal"
                and is_due(minute=minute_of_day(slot), schedule_start=pipeline.schedule_start,
                           schedule_period=pipeline.schedule_period)):
            return None
        try:
            return run_start(pipeline=pipeline, incremental=None)
        except (Unprocessable, NotFound) as exc:
            # Already running, disabled meanwhile...: the scheduler skips it silently (§7.7).
            log.info("scheduler %s: pipeline %s skipped: %s", slot.strftime("%H:%M"), pipeline_id, exc.message)
            return None
