"""Creates a workspace from the command line and prints its ID on the last line."""
from django.core.management.base import BaseCommand

from pipelines.errors import KrenalisError
from pipelines.management.options import command_error, json_option
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
        settings = json_option(warehouse_settings)
        schema = json_option(profile_schema, DEFAULT_PROFILE_SCHEMA)
        try:
            workspace = workspace_create(name=name, profile_schema=schema, platform=platform, mode="Normal",
                                         warehouse_settings=settings)
        except KrenalisError as exc:
            raise command_error(exc) from None
        self.stderr.write(f"Created workspace {workspace.name!r} with a {platform} warehouse.")
        self.stdout.write(str(workspace.id))
