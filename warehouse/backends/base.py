"""What every warehouse platform provides."""
from pipelines.errors import Unprocessable
from pipelines.types import Type

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
