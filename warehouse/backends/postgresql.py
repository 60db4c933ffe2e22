"""The PostgreSQL warehouse (production)."""
import re
from contextlib import contextmanager

import psycopg2
from django.conf import settings as django_settings
from psycopg2 import sql

from pipelines.errors import ServiceUnavailable, Unprocessable
from pipelines.types import Type

from ..columns import postgres_type, profile_columns
from .base import WarehouseBackend, invalid_settings

_SCHEMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _text(settings: dict, key: str, low: int, high: int, *, unit: str = "bytes") -> str:
    value = settings.get(key)
    if not isinstance(value, str):
        raise invalid_settings(f"{key} must be a string")
    size = len(value.encode()) if unit == "bytes" else len(value)
    if not low <= size <= high:
        if unit == "bytes":
            raise invalid_settings(f"{key} length in bytes must be in range [{low},{high}]")
        raise invalid_settings(f"{key} must be no longer than {high} characters")
    return value


class PostgreSQLWarehouse(WarehouseBackend):
    platform = "PostgreSQL"

    @classmethod
    def validate_settings(cls, settings) -> dict:
        if not isinstance(settings, dict):
            raise invalid_settings("settings must be a JSON object")
        port = settings.get("port")
        if type(port) is not int:
            raise invalid_settings("port must be an integer")
        if not 1 <= port <= 65535:
            raise invalid_settings("port must be in range [1,65535]")
        schema = _text(settings, "schema", 1, 63)
        if not _SCHEMA_NAME.fullmatch(schema) or schema.lower().startswith("pg_"):
            raise invalid_settings(f'schema "{schema}" is not a valid schema name')
        return {
            "host": _text(settings, "host", 1, 253),
            "port": port,
            "username": _text(settings, "username", 1, 63),
            "password": _text(settings, "password", 0, 100, unit="runes"),
            "database": _text(settings, "database", 1, 63),
            "schema": schema,
        }

    @contextmanager
    def connect(self):
        s = self.settings
        try:
            conn = psycopg2.connect(host=s["host"], port=s["port"], user=s["username"], password=s["password"],
                                    dbname=s["database"], options=f"-c search_path={s['schema']}",
                                    connect_timeout=django_settings.KRENALIS["CONNECT_TIMEOUT"],
                                    application_name="krenalis-warehouse")
        except psycopg2.Error as exc:
            raise ServiceUnavailable(_safe_message(exc, s["password"])) from None
        try:
            yield conn
        finally:
            conn.close()

    def initialize(self, profile_schema: Type) -> None:
        schema = self.settings["schema"]
        with self.connect() as conn:
            try:
                with conn, conn.cursor() as cur:
                    cur.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s", (schema,))
                    if cur.fetchone()[0] == 0:
                        cur.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
                    cur.execute("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                                "WHERE n.nspname = %s AND c.relkind IN ('r', 'v', 'm', 'p', 'f')", (schema,))
                    if cur.fetchone()[0]:
                        raise Unprocessable("WarehouseNotInitializable",
                                            f'data warehouse cannot be initialized: schema "{schema}" '
                                            f'of database "{self.settings["database"]}" is not empty')
                    for statement in create_statements(profile_schema):
                        cur.execute(statement)
            except psycopg2.Error as exc:
                raise ServiceUnavailable(_safe_message(exc, self.settings["password"])) from None


def create_statements(profile_schema: Type) -> list[str]:
    columns = [(c.name, postgres_type(c.type)) for c in profile_columns(profile_schema)]
    profile_ddl = "".join(f', "{name}" {sql_type}' for name, sql_type in columns)
    profile_names = "".join(f', "{name}"' for name, _ in columns)
    return [
        "CREATE TABLE krenalis_identities ("
        "_pk integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
        "_pipeline integer NOT NULL, "
        "_is_anonymous boolean NOT NULL DEFAULT false, "
        "_identity_id text NOT NULL, "
        "_connection integer NOT NULL, "
        "_anonymous_ids text[], "
        "_updated_at timestamp NOT NULL, "
        "_run integer, "
        "_kpid uuid, "
        f"_cluster integer{profile_ddl})",
        "CREATE UNIQUE INDEX krenalis_identities_key ON krenalis_identities (_pipeline, _identity_id, _is_anonymous)",
        "CREATE INDEX krenalis_identities_updated_at ON krenalis_identities (_updated_at)",
        "CREATE INDEX krenalis_identities_connection ON krenalis_identities (_connection)",
        f"CREATE TABLE krenalis_profiles (_kpid uuid PRIMARY KEY, _identities integer[] NOT NULL, "
        f"_updated_at timestamp NOT NULL{profile_ddl})",
        f"CREATE VIEW profiles AS SELECT _kpid, _updated_at{profile_names} FROM krenalis_profiles",
    ]


def _safe_message(exc: Exception, password: str) -> str:
    message = str(exc).strip() or exc.__class__.__name__
    if password:
        message = message.replace(password, "***")
    return f"data warehouse is unavailable: {message}"
