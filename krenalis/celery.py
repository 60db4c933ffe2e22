"""The Celery application: `celery -A krenalis worker -B` runs the worker and the scheduler."""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "krenalis.settings")

app = Celery("krenalis")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
