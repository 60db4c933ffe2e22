"""Celery tasks: thin wrappers that call services."""
import datetime as dt

from celery import shared_task

from .services.scheduling import schedule_tick
from .services.identity_resolution import identity_resolution_execute, start_resolution_now
from .services.runs import requeue_waiting_runs, run_execute, sweep_dead_runs


@shared_task(acks_late=True, ignore_result=True)
def execute_run_task(run_id: int) -> None:
    run_execute(run_id=run_id)


@shared_task(ignore_result=True)
def sweep_dead_runs_task() -> None:
    sweep_dead_runs()
    requeue_waiting_runs()


@shared_task(ignore_result=True)
def schedule_tick_task(at: str | None = None) -> None:
    """Queued by Celery beat every minute; `at` (ISO 8601) stands for the clock, for manual ticks."""
    schedule_tick(now=dt.datetime.fromisoformat(at) if at else None)


@shared_task(acks_late=True, ignore_result=True)
def resolve_identities_task(workspace_id: int, operation_id: str | None = None) -> None:
    """Executes a started identity resolution; without `operation_id`, starts one first (if none
    is executing; otherwise one runs after it)."""
    if operation_id is None:
        operation_id = start_resolution_now(workspace_id)
        if operation_id is None:
            return
    identity_resolution_execute(workspace_id=workspace_id, operation_id=operation_id)
