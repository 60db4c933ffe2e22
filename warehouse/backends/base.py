"""What every warehouse platform provides."""
from datetime import datetime, timezone

from pipelines.errors import Unprocessable
from pipelines.types import Type

from ..writer import IdentityWriter

META_COLUMNS = ("_pk", "_pipeline", "_is_anonymous", "_identity_id", "_connection", "_anonymous_ids",
                "_updated_at", "_run", "_kpid", "_cluster")


def invalid_settings(message: str) -> Unprocessable:
    return Unprocessable("InvalidWarehouseSettings", f"data warehouse settings are not valid: {message}")


class WarehouseBackend:
    platform = ""

    def __init__(self, settings: dict):
        self.settings = settings

    @classmethod
    def validate_settings(cls, settings) -> dict:
        """The normalized settings, or Unprocessable(InvalidWarehouseSettings)."""
        raise NotImplementedError

    def initialize(self, profile_schema: Type) -> None:
        """Creates the warehouse tables; the target must be empty (422 WarehouseNotInitializable)."""
        raise NotImplementedError

    def destroy(self) -> None:
        """Called when the workspace is deleted. Warehouses the user owns are left untouched."""

    # ----------------------------------------------------------------- identities (imports)

    def identity_writer(self, *, pipeline_id: int, connection_id: int, run_id: int,
                        columns: list[tuple[str, Type]]) -> IdentityWriter:
        """A writer for one run of a pipeline; `columns` are the profile columns it writes, in the
        order of the values of its rows. Raises ServiceUnavailable when the warehouse is unreachable."""
        raise NotImplementedError

    def list_identities(self, *, connection_id: int | None = None, pipeline_ids: list[int] | None = None,
                        first: int = 0, limit: int = 100) -> tuple[list[dict], int]:
        """Identities newest `_updated_at` first (then `_pk`), and the exact total."""
        raise NotImplementedError

    def delete_pipeline_identities(self, pipeline_id: int) -> int:
        raise NotImplementedError

    def delete_connection_identities(self, connection_id: int) -> int:
        raise NotImplementedError


def identity_item(identity_id: str, connection: int, pipeline: int, updated_at: datetime) -> dict:
    """An identity as `list_identities` returns it (`updatedAt` an aware UTC datetime)."""
    return {"userId": identity_id, "connection": int(connection), "pipeline": int(pipeline),
            "updatedAt": updated_at.replace(tzinfo=timezone.utc)}
