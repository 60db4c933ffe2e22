"""What every warehouse platform provides."""
from collections.abc import Callable
from datetime import datetime, timezone

from pipelines.errors import Unprocessable
from pipelines.types import Type

from ..writer import IdentityWriter

META_COLUMNS = ("_pk", "_pipeline", "_is_anonymous", "_identity_id", "_connection", "_anonymous_ids",
                "_updated_at", "_run", "_kpid", "_cluster")


class Hosting:
    """What the product hands the backends when it starts (pipelines/apps.py), each read at each use
    so that a test or a deployment may change it: the connect timeout, the address policy a
    PostgreSQL warehouse's host is checked against, and the directory of the SQLite warehouses it
    manages. The warehouse package reads no settings of its own."""

    connect_timeout: Callable[[], float] = staticmethod(lambda: 10.0)
    address_policy: Callable[[], object] | None = None
    sqlite_dir: Callable[[], str] | None = None


HOSTING = Hosting()


def invalid_settings(message: str) -> Unprocessable:
    return Unprocessable("InvalidWarehouseSettings", f"data warehouse settings are not valid: {message}")


class WarehouseBackend:
    platform = ""
    # Whether one run may write identities on several connections at once (SQLite has one writer).
    concurrent_writers = False

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
        """Deletes the pipeline's identities, recording each in the change log (warehouse.changes)
        so that the next identity resolution rewrites the profiles they were in; how many."""
        raise NotImplementedError

    def delete_connection_identities(self, connection_id: int) -> int:
        """The same for every identity imported through the connection."""
        raise NotImplementedError

    # ----------------------------------------------------------------- identity resolution, profiles
    # (the SQL is in warehouse.resolution, warehouse.profile_queries and warehouse.alter_schema)

    def identity_pipelines(self) -> set[int]:
        """The pipelines that have identities in the warehouse."""
        raise NotImplementedError

    def unset_identity_columns(self, pipeline_id: int, column_names: list[str]) -> int:
        """Sets these profile columns to NULL for the pipeline's identities; returns how many rows changed
        (when any did, the next resolution is a full one)."""
        raise NotImplementedError

    def resolve_identities(self, spec, *, full: bool = False):
        """Merges the identities into profiles (warehouse.resolution.ResolutionSpec -> ResolutionResult):
        those changed since the last resolution, or all of them when `full` or when needed.
        Raises warehouse.resolution.ResolutionBusy when another resolution holds the warehouse."""
        raise NotImplementedError

    def alter_profile_schema(self, statements: list[str]) -> None:
        """Runs warehouse.alter_schema.alter_statements(...) in one transaction (the next resolution
        is a full one)."""
        raise NotImplementedError

    def query_profiles(self, query) -> tuple[list[dict], int]:
        """A page of profiles (warehouse.profile_queries.ProfileQuery) and the total matching the filter.
        Each item is {"kpid": str, "updatedAt": aware UTC datetime, "values": {column name: value}}."""
        raise NotImplementedError

    def get_profile(self, kpid: str, columns) -> dict | None:
        """One profile, as `query_profiles` returns them, or None."""
        raise NotImplementedError

    def profile_identities(self, kpid: str, *, pipeline_ids: list[int], first: int = 0,
                           limit: int = 100) -> tuple[list[dict], int] | None:
        """The identities of a profile among those of `pipeline_ids`, newest first, and their total;
        None when the profile does not exist."""
        raise NotImplementedError


def identity_item(identity_id: str, connection: int, pipeline: int, updated_at: datetime) -> dict:
    """An identity as `list_identities` returns it (`updatedAt` an aware UTC datetime)."""
    return {"userId": identity_id, "connection": int(connection), "pipeline": int(pipeline),
            "updatedAt": updated_at.replace(tzinfo=timezone.utc)}
