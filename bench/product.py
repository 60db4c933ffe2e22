"""The product side of the bench, in the orchestrating process: Django set up on the bench's own
metadata database, and workspaces, connections, pipelines and runs made through the services,
exactly as the API makes them. The runs themselves execute in child processes (child_run.py)."""
from __future__ import annotations

import os

from .common import META_DB, PG, database_url

_ready = False


def setup_django(*, migrate: bool = True) -> None:
    """Django on the bench's metadata database (migrated); call before importing any product module."""
    global _ready
    if _ready:
        return
    os.environ["DATABASE_URL"] = database_url(META_DB)
    os.environ.setdefault("KRENALIS_DATABASE_ALLOWED_HOSTS", "127.0.0.1")   # the bench's databases are local
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "krenalis.settings")
    os.environ.setdefault("KRENALIS_LOG_LEVEL", "WARNING")
    import django
    from django.core.management import call_command

    django.setup()
    if migrate:
        call_command("migrate", verbosity=0, interactive=False)
    _ready = True


def pg_settings(dbname: str) -> dict:
    return {"host": PG["host"], "port": PG["port"], "username": PG["user"], "password": "", "database": dbname,
            "schema": "public"}


def create_workspace(*, name: str, warehouse_db: str, profile_schema: dict, identifiers: list[str]) -> int:
    """A workspace on a fresh PostgreSQL warehouse, resolving identities on `identifiers` (only
    when asked: no resolution is started by the imports); its id."""
    from pipelines.services.identity_resolution import identity_resolution_update_settings
    from pipelines.services.workspaces import workspace_create

    workspace = workspace_create(name=name, profile_schema=profile_schema, platform="PostgreSQL", mode="Normal",
                                 warehouse_settings=pg_settings(warehouse_db))
    identity_resolution_update_settings(workspace=workspace, run_on_batch_import=False, identifiers=identifiers)
    return workspace.id


def create_pipeline(*, workspace_id: int, name: str, connector: str, source_settings: dict, pipeline: dict) -> int:
    """A source connection and one pipeline in the workspace; the pipeline's id.

    `pipeline` holds PipelineInput's fields (query, user_id_column, in_schema, transformation, ...)."""
    from pipelines.models import Workspace
    from pipelines.services.connections import connection_create
    from pipelines.services.pipelines import PipelineInput, pipeline_create

    workspace = Workspace.objects.get(id=workspace_id)
    connection = connection_create(workspace=workspace, name=name[:60], role="Source", connector=connector,
                                   settings=source_settings)
    created = pipeline_create(workspace=workspace, connection_id=connection.id, target="User", event_type="",
                              data=PipelineInput(name=name[:60], enabled=True, **pipeline))
    return created.id


def create_run(pipeline_id: int, *, incremental: bool | None = None) -> int:
    """A queued run with the fields `run_start` gives it, but not handed to Celery: the bench's
    child process executes it, so that its time and memory are measured alone (and no worker
    of anyone else's can take it)."""
    from django.utils import timezone

    from pipelines.ids import random_id
    from pipelines.models import Pipeline, Run

    pipeline = Pipeline.objects.get(id=pipeline_id)
    effective = pipeline.incremental if incremental is None else incremental
    run = Run.objects.create(id=random_id(), pipeline=pipeline, incremental=effective,
                             start_cursor=pipeline.cursor if effective else None,
                             start_time=timezone.now(), passed=[0] * 7, failed=[0] * 7)
    return run.id


def delete_workspace(workspace_id: int) -> None:
    from pipelines.models import Workspace

    Workspace.objects.filter(id=workspace_id).delete()
