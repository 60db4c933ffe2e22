"""Mints an API key and prints it, alone, on the last line. The key is shown only this once."""
from django.core.management.base import BaseCommand, CommandError

from pipelines.errors import KrenalisError
from pipelines.models import Workspace
from pipelines.services.apikeys import api_key_create


class Command(BaseCommand):
    help = "Create an API key (organization-wide, or restricted to one workspace with --workspace)."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="a name to recognize the key by (1-100 characters)")
        parser.add_argument("--workspace", type=int, help="restrict the key to this workspace ID")

    def handle(self, *args, name, workspace, **options):
        ws = None
        if workspace is not None:
            ws = Workspace.objects.filter(id=workspace).first()
            if ws is None:
                raise CommandError(f"workspace {workspace} does not exist")
        try:
            record, key = api_key_create(name=name, workspace=ws)
        except KrenalisError as exc:
            raise CommandError(exc.message) from None
        scope = f"restricted to workspace {ws.id}" if ws else "organization-wide"
        self.stderr.write(f"Created API key {record.id} ({scope}). Store it now: it is not shown again.")
        self.stdout.write(key)
