"""Creates a workspace from the command line and prints its ID on the last line."""
import json

from django.core.management.base import BaseCommand, CommandError

from pipelines.errors import KrenalisError
from pipelines.services.workspaces import DEFAULT_PROFILE_SCHEMA, workspace_create


class Command(BaseCommand):
    help = ("Create a workspace. Without --warehouse-settings on SQLite, the product keeps the warehouse "
            "in a file of its own under var/warehouses/.")

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--platform", default="SQLite", choices=["SQLite", "PostgreSQL"])
        parser.add_argument("--warehouse-settings", default=None,
                            help='JSON, e.g. \'{"host": "127.0.0.1", "port": 5432, "username": "postgres", '
                                 '"password": "", "database": "wh", "schema": "public"}\'')
        parser.add_argument("--profile-schema", default=None, help="JSON of the profile schema (object type)")

    def handle(self, *args, name, platform, warehouse_settings, profile_schema, **options):
        try:
            settings = json.loads(warehouse_settings) if warehouse_settings else None
            schema = json.loads(profile_schema) if profile_schema else DEFAULT_PROFILE_SCHEMA
        except json.JSONDecodeError as exc:
            raise CommandError(f"invalid JSON: {exc}") from None
        try:
            workspace = workspace_create(name=name, profile_schema=schema, platform=platform, mode="Normal",
                                         warehouse_settings=settings)
        except KrenalisError as exc:
            raise CommandError(exc.message + (f" ({exc.cause})" if exc.cause else "")) from None
        self.stderr.write(f"Created workspace {workspace.name!r} with a {platform} warehouse.")
        self.stdout.write(str(workspace.id))
