"""Celery beat's scheduler: django-celery-beat's DatabaseScheduler, for beats that start together.

At start every beat copies `CELERY_BEAT_SCHEDULE` into the PeriodicTask table. Two beats started
at once (two machines, a redeployed stack) race to create the same row. When the other beat's row
appears between this beat's lookup and its uniqueness check, PeriodicTask.save raises a
ValidationError, and DatabaseScheduler logs a traceback and leaves the entry out of this beat's
schedule until its next full read, up to 5 minutes later. Here the loser reads the winner's row.
"""
from django.core.exceptions import ValidationError
from django_celery_beat.schedulers import DatabaseScheduler, ModelEntry


class Entry(ModelEntry):
    @classmethod
    def from_entry(cls, name, app=None, **entry):
        try:
            return super().from_entry(name, app=app, **entry)
        except ValidationError:
            # Another beat created the row after our lookup: it is there now, update it instead.
            return super().from_entry(name, app=app, **entry)


class Scheduler(DatabaseScheduler):
    Entry = Entry
