"""Rows written straight into the metadata database, for the tests that count queries: connections,
pipelines and runs that lists show (nothing is ever run or connected to)."""
import datetime as dt

from pipelines.encryption import encrypt_json
from pipelines.ids import random_id
from pipelines.models import Connection, Pipeline, Run, Workspace

STRING_SCHEMA = {"kind": "object", "properties": [{"name": "email", "type": {"kind": "string"}}]}


def add_workspace(name: str = "Counted") -> int:
    """A workspace row whose warehouse is never reached."""
    workspace = Workspace(id=random_id(), name=name, profile_schema=STRING_SCHEMA, warehouse_platform="PostgreSQL")
    workspace.warehouse_settings = {"host": "127.0.0.1", "port": 5432, "username": "nobody", "password": "x",
                                    "database": "nothing", "schema": "public"}
    workspace.save()
    return workspace.id


def add_connections(workspace_id: int, count: int, *, pipelines: int = 2, runs: int = 2) -> None:
    """`count` connections, each with `pipelines` pipelines of `runs` runs (the newest still live)."""
    workspace = Workspace.objects.get(id=workspace_id)
    start = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    for c in range(count):
        connection = Connection.objects.create(id=random_id(), workspace=workspace, name=f"Connection {c}",
                                               connector="postgresql", settings_encrypted=encrypt_json({}))
        for p in range(pipelines):
            pipeline = Pipeline.objects.create(
                id=random_id(), workspace=workspace, connection=connection, name=f"Pipeline {c}.{p}",
                query="SELECT id, email FROM users", user_id_column="id", in_schema=STRING_SCHEMA,
                out_schema=STRING_SCHEMA, transformation_mapping={"email": "email"}, schedule_start=7)
            for r in range(runs):
                begun = start + dt.timedelta(hours=r)
                live = r == runs - 1
                Run.objects.create(id=random_id(), pipeline=pipeline, incremental=False, start_time=begun,
                                   end_time=None if live else begun + dt.timedelta(seconds=3),
                                   passed=[] if live else [5] * 7, failed=[] if live else [0] * 7)
