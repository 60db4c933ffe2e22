"""Celery tasks: thin wrappers that call services."""
from celery import shared_task

from .services.runs import run_execute, sweep_dead_runs


@shared_task(acks_late=True, ignore_result=True)
def execute_run_task(run_id: int) -> None:
    run_execute(run_id=run_id)


@shared_task(ignore_result=True)
def sweep_dead_runs_task() -> None:
    sweep_dead_runs()
