"""Creates the demo: a workspace, a connection to the demo users database, and a scheduled pipeline.

    python manage.py demo                         # SQLite source under var/sources/, SQLite warehouse
    python manage.py demo --connector mysql --source-settings '{"host": ..., "database": "shop", ...}' \\
        --platform PostgreSQL --warehouse-settings '{"host": ..., "database": "warehouse", ...}'

The pipeline imports the `users` table of demo/generate.py (demo/users.*.sql for PostgreSQL and
MySQL) incrementally every 5 minutes, and its first scheduled run is the first minute at least
`--first-run-after` seconds away, so the users show up in the warehouse within about a minute.
Running the command again finds the demo workspace by name and changes nothing.
"""
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from pipelines.conf import knobs
from pipelines.errors import KrenalisError
from pipelines.management.options import command_error, json_option
from pipelines.models import Pipeline, Workspace
from pipelines.services.scheduling import minute_of_day, next_due
from pipelines.services.connections import connection_create
from pipelines.services.pipelines import PipelineInput, pipeline_create, pipeline_set_schedule
from pipelines.services.preview import preview_query
from pipelines.services.workspaces import workspace_create

DEMO_NAME = "Demo"
SQLITE_FILE = "demo.sqlite3"
QUERY = ("SELECT id, email, first_name, last_name, country, city, plan, signed_up_at, updated_at FROM users\n"
         "WHERE ${updated_at} IS NULL OR updated_at >= ${updated_at}")
PROFILE_PROPERTIES = [
    {"name": "email", "type": {"kind": "string", "maxLength": 254}, "readOptional": True, "description": "Email"},
    {"name": "first_name", "type": {"kind": "string", "maxLength": 100}, "readOptional": True,
     "description": "First name"},
    {"name": "last_name", "type": {"kind": "string", "maxLength": 100}, "readOptional": True,
     "description": "Last name"},
    {"name": "country", "type": {"kind": "string", "maxLength": 2}, "readOptional": True,
     "description": "Country (ISO 3166-1 alpha-2)"},
    {"name": "city", "type": {"kind": "string", "maxLength": 100}, "readOptional": True, "description": "City"},
    {"name": "plan", "type": {"kind": "string", "maxLength": 20}, "readOptional": True,
     "description": "Subscription plan"},
    {"name": "signed_up_at", "type": {"kind": "datetime"}, "readOptional": True, "description": "Signed up at"},
]
MAPPING = {p["name"]: p["name"] for p in PROFILE_PROPERTIES}


@dataclass
class Demo:
    workspace: Workspace
    pipeline: Pipeline
    created: bool
    source: str

    @property
    def first_run(self) -> dt.datetime | None:
        return next_due(after=timezone.now(), schedule_start=self.pipeline.schedule_start,
                        schedule_period=self.pipeline.schedule_period)

    def describe(self) -> str:
        first = self.first_run
        period = next(k for k, v in Pipeline.SCHEDULE_PERIODS.items() if v == self.pipeline.schedule_period) \
            if self.pipeline.schedule_period else None
        schedule = (f"every {period}, next run at {first:%H:%M} UTC" if first else "not scheduled")
        return (f'workspace "{self.workspace.name}" ({self.workspace.id}): pipeline {self.pipeline.id} imports '
                f"the users of {self.source}, incrementally, {schedule}")


def sqlite_source_path() -> Path:
    return Path(knobs.SQLITE_SOURCE_DIR) / SQLITE_FILE


def demo_create(*, connector: str = "sqlite", source_settings: dict | None = None, platform: str = "SQLite",
                warehouse_settings: dict | None = None, period: str = "5m", first_run_after: int = 15,
                name: str = DEMO_NAME) -> Demo:
    """The demo workspace named `name`, created with its connection and pipeline unless it exists."""
    existing = Workspace.objects.filter(name=name).first()
    if existing is not None:
        pipeline = existing.pipelines.order_by("created_at").first()
        if pipeline is None:
            raise CommandError(f'workspace "{name}" ({existing.id}) exists but has no pipeline')
        return Demo(existing, pipeline, False, _source_label(pipeline.connection.connector,
                                                             pipeline.connection.settings))
    if connector == "sqlite" and source_settings is None:
        path = sqlite_source_path()
        if not path.exists():
            from demo.generate import write_sqlite

            write_sqlite(path)
        source_settings = {"path": SQLITE_FILE}
    if source_settings is None:
        raise CommandError(f"--source-settings is required with --connector {connector}")
    workspace = workspace_create(name=name, profile_schema={"kind": "object", "properties": PROFILE_PROPERTIES},
                                 platform=platform, mode="Normal", warehouse_settings=warehouse_settings)
    try:
        connection = connection_create(workspace=workspace, name="Shop users", role="Source", connector=connector,
                                       settings=source_settings)
        in_schema = preview_query(connection=connection, query=QUERY, limit=0)["schema"]
        out_schema = {"kind": "object", "properties": PROFILE_PROPERTIES}
        pipeline = pipeline_create(workspace=workspace, connection_id=connection.id, target="User", event_type="",
                                   data=PipelineInput(name="Import shop users", enabled=True, query=QUERY,
                                                      user_id_column="id", updated_at_column="updated_at",
                                                      incremental=True, transformation={"mapping": MAPPING},
                                                      in_schema=in_schema, out_schema=out_schema))
        pipeline_set_schedule(pipeline=pipeline, period=period)
        first = _first_minute(first_run_after)
        Pipeline.objects.filter(id=pipeline.id).update(schedule_start=minute_of_day(first))
        pipeline.refresh_from_db()
    except BaseException:
        from pipelines.services.workspaces import workspace_delete

        workspace_delete(workspace=workspace)
        raise
    return Demo(workspace, pipeline, True, _source_label(connector, source_settings))


def _first_minute(after_seconds: int) -> dt.datetime:
    moment = timezone.now() + dt.timedelta(seconds=after_seconds)
    if moment.second or moment.microsecond:
        moment = moment.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    return moment


def _source_label(connector: str, source_settings: dict) -> str:
    if connector == "sqlite":
        return f"SQLite {Path(knobs.SQLITE_SOURCE_DIR) / source_settings['path']}"
    return f"{connector} {source_settings.get('host')}/{source_settings.get('database')}"


class Command(BaseCommand):
    help = ("Create the demo workspace, its connection to the demo users database and a pipeline that imports "
            "them every 5 minutes (the first run within about a minute). Does nothing if it exists.")

    def add_arguments(self, parser):
        parser.add_argument("--connector", default="sqlite", choices=["sqlite", "postgresql", "mysql"])
        parser.add_argument("--source-settings", default=None,
                            help="JSON settings of the source connection (default for sqlite: the demo file "
                                 f"{SQLITE_FILE} under the SQLite sources directory, generated if missing)")
        parser.add_argument("--platform", default="SQLite", choices=["SQLite", "PostgreSQL"])
        parser.add_argument("--warehouse-settings", default=None, help="JSON settings of the warehouse")
        parser.add_argument("--period", default="5m", help="schedule period: 5m, 15m, 30m, 1h, ... 24h")
        parser.add_argument("--first-run-after", type=int, default=15, metavar="SECONDS",
                            help="the first scheduled run is the first minute at least this far away")
        parser.add_argument("--name", default=DEMO_NAME, help="name of the demo workspace")

    def handle(self, *args, connector, source_settings, platform, warehouse_settings, period, first_run_after,
               name, **options):
        source = json_option(source_settings)
        warehouse = json_option(warehouse_settings)
        try:
            demo = demo_create(connector=connector, source_settings=source, platform=platform,
                               warehouse_settings=warehouse, period=period, first_run_after=first_run_after,
                               name=name)
        except KrenalisError as exc:
            raise command_error(exc) from None
        self.stdout.write(("Created the demo " if demo.created else "The demo exists: ") + demo.describe())
