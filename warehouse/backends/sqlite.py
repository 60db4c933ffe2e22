"""The embedded SQLite warehouse: one file per workspace, no server needed."""
import sqlite3
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings as django_settings

from pipelines.errors import ServiceUnavailable, Unprocessable
from pipelines.types import Type

from ..columns import profile_columns, sqlite_type
from .base import WarehouseBackend, invalid_settings


class SQLiteWarehouse(WarehouseBackend):
    platform = "SQLite"

    @classmethod
    def validate_settings(cls, settings) -> dict:
        """`{}` (a file managed by the product) or `{"path": "<file>"}`."""
        if settings is None:
            return {}
        if not isinstance(settings, dict):
            raise invalid_settings("settings must be a JSON object")
        unknown = set(settings) - {"path"}
        if unknown:
            raise invalid_settings(f'unknown setting "{sorted(unknown)[0]}"')
        path = settings.get("path")
        if path is None:
            return {}
        if not isinstance(path, str) or not 1 <= len(path) <= 1024 or "\x00" in path:
            raise invalid_settings("path must be a file path of 1 to 1024 characters")
        return {"path": path}

    @staticmethod
    def managed_path(workspace_id: int) -> str:
        return str(Path(django_settings.KRENALIS["SQLITE_WAREHOUSE_DIR"]) / f"workspace_{workspace_id}.sqlite3")

    @property
    def path(self) -> str:
        return self.settings["path"]

    @contextmanager
    def connect(self):
        try:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        except sqlite3.Error as exc:
            raise ServiceUnavailable(f"data warehouse is unavailable: {exc}") from None
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            yield conn
        finally:
            conn.close()

    def initialize(self, profile_schema: Type) -> None:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        with self.connect() as conn:
            try:
                existing = conn.execute("SELECT count(*) FROM sqlite_master WHERE type IN ('table', 'view')").fetchone()[0]
                if existing:
                    raise Unprocessable("WarehouseNotInitializable",
                                        f'data warehouse cannot be initialized: "{self.path}" is not empty')
                conn.execute("BEGIN")
                for statement in create_statements(profile_schema):
                    conn.execute(statement)
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise ServiceUnavailable(f"data warehouse is unavailable: {exc}") from None

    def destroy(self) -> None:
        if self.settings.get("managed"):
            for suffix in ("", "-wal", "-shm"):
                Path(self.path + suffix).unlink(missing_ok=True)


def create_statements(profile_schema: Type) -> list[str]:
    columns = [(c.name, sqlite_type(c.type)) for c in profile_columns(profile_schema)]
    profile_ddl = "".join(f', "{name}" {sql_type}' for name, sql_type in columns)
    profile_names = "".join(f', "{name}"' for name, _ in columns)
    return [
        "CREATE TABLE krenalis_identities ("
        "_pk INTEGER PRIMARY KEY AUTOINCREMENT, "
        "_pipeline INTEGER NOT NULL, "
        "_is_anonymous INTEGER NOT NULL DEFAULT 0, "
        "_identity_id TEXT NOT NULL, "
        "_connection INTEGER NOT NULL, "
        "_anonymous_ids TEXT, "
        "_updated_at TEXT NOT NULL, "
        "_run INTEGER, "
        "_kpid TEXT, "
        f"_cluster INTEGER{profile_ddl})",
        "CREATE UNIQUE INDEX krenalis_identities_key ON krenalis_identities (_pipeline, _identity_id, _is_anonymous)",
        "CREATE INDEX krenalis_identities_updated_at ON krenalis_identities (_updated_at)",
        "CREATE INDEX krenalis_identities_connection ON krenalis_identities (_connection)",
        f"CREATE TABLE krenalis_profiles (_kpid TEXT PRIMARY KEY, _identities TEXT NOT NULL, "
        f"_updated_at TEXT NOT NULL{profile_ddl})",
        f"CREATE VIEW profiles AS SELECT _kpid, _updated_at{profile_names} FROM krenalis_profiles",
    ]
