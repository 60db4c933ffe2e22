"""Queuing the Celery tasks that the services start. The tasks call the services, so the services
send the tasks by name rather than import them: layers point one way (tasks -> services -> queue),
and the message is the one `task.delay` would publish."""
from celery import current_app

EXECUTE_RUN = "pipelines.tasks.execute_run_task"
RESOLVE_IDENTITIES = "pipelines.tasks.resolve_identities_task"


def enqueue_run(run_id: int) -> None:
    """Queues the execution of a created run (call it once the run is committed)."""
    current_app.send_task(EXECUTE_RUN, args=(run_id,))


def enqueue_resolution(workspace_id: int, operation_id: str) -> None:
    """Queues the execution of a started identity resolution (once it is committed)."""
    current_app.send_task(RESOLVE_IDENTITIES, args=(workspace_id, operation_id))
