"""Benchmark scenarios. Each one says how to fill its source, how to define the pipeline, and what
its reference (the same rows moved by plain SQL, no Python in the loop) is.

To add a scenario (a MariaDB source, a JavaScript or Python function, an incremental run, identity
resolution, ...): subclass Scenario, fill in the hooks, and add an instance to SCENARIOS. run.py
measures every phase of every scenario alternately against its reference, in the same run.
"""
from __future__ import annotations

from dataclasses import dataclass

from .common import DB_PREFIX, create_database, pg_execute

PROFILE_SCHEMA = {"kind": "object", "properties": [
    {"name": "email", "type": {"kind": "string", "maxLength": 254}, "readOptional": True, "description": "Email"},
    {"name": "first_name", "type": {"kind": "string", "maxLength": 100}, "readOptional": True,
     "description": "First name"},
    {"name": "last_name", "type": {"kind": "string", "maxLength": 100}, "readOptional": True,
     "description": "Last name"},
]}


@dataclass(frozen=True)
class Phase:
    """One measured step of a scenario, e.g. the first full run into an empty warehouse."""

    name: str
    description: str


INSERT = Phase("insert", "full run into an empty warehouse")
UPDATE = Phase("update", "second full run into the filled warehouse (every row updated)")


class Scenario:
    name = ""
    description = ""
    phases: tuple[Phase, ...] = (INSERT, UPDATE)
    profile_schema: dict = PROFILE_SCHEMA
    connector = "postgresql"

    # -- source
    def source_db(self, rows: int) -> str:
        return f"{DB_PREFIX}src_{self.connector}_{rows}"

    def prepare_source(self, rows: int) -> str:
        """Creates (or re-creates) the source database with `rows` users; returns its name."""
        raise NotImplementedError

    def drop_source(self, rows: int) -> None:
        raise NotImplementedError

    def source_settings(self, source_db: str) -> dict:
        raise NotImplementedError

    # -- the product
    def pipeline(self) -> dict:
        """PipelineInput fields of the pipeline under test."""
        raise NotImplementedError

    def run_kwargs(self, phase: Phase) -> dict:
        """Arguments of the run of this phase (e.g. incremental=True)."""
        return {}

    # -- the reference
    def reference_spec(self, *, source_db: str, warehouse_db: str, phase: Phase, run_number: int) -> dict:
        """The spec child_reference.py executes."""
        raise NotImplementedError

    def prepare_reference_warehouse(self, warehouse_db: str) -> None:
        raise NotImplementedError


# --------------------------------------------------------------------------- PostgreSQL, 3-column mapping

USERS_DDL = ("CREATE TABLE users (id bigint PRIMARY KEY, email varchar(120), firstname varchar(60), "
             "lastname varchar(60), updated_at timestamp)")
USERS_FILL = ("INSERT INTO users SELECT g, 'user' || g || '@example.com', 'First' || g, 'Last' || g, "
              "timestamp '2024-01-01' + g * interval '1 second' FROM generate_series(1, {rows}) AS g")
USERS_QUERY = ("SELECT id, email, firstname, lastname, updated_at FROM users "
               "WHERE ${updated_at} IS NULL OR updated_at >= ${updated_at}")
USERS_IN_SCHEMA = {"kind": "object", "properties": [
    {"name": "id", "type": {"kind": "int", "bitSize": 64}, "nullable": True},
    {"name": "email", "type": {"kind": "string", "maxLength": 120}, "nullable": True},
    {"name": "firstname", "type": {"kind": "string", "maxLength": 60}, "nullable": True},
    {"name": "lastname", "type": {"kind": "string", "maxLength": 60}, "nullable": True},
    {"name": "updated_at", "type": {"kind": "datetime"}, "nullable": True},
]}
MAPPING = {"email": "email", "first_name": "firstname", "last_name": "lastname"}
REFERENCE_TABLE = "identities_ref"


class PostgreSQLMapping(Scenario):
    name = "pg-mapping-3"
    description = ("PostgreSQL source `users` (id bigint, email, firstname, lastname, updated_at timestamp), "
                   "userIDColumn id, updatedAtColumn updated_at (datetime), mapping of 3 properties "
                   "(email, first_name, last_name), PostgreSQL warehouse")
    connector = "postgresql"

    def prepare_source(self, rows: int) -> str:
        db = create_database(self.source_db(rows))
        pg_execute(db, USERS_DDL, USERS_FILL.format(rows=int(rows)), "CREATE INDEX ON users (updated_at)",
                   "VACUUM ANALYZE users")
        return db

    def drop_source(self, rows: int) -> None:
        from .common import drop_database

        drop_database(self.source_db(rows))

    def source_settings(self, source_db: str) -> dict:
        return {"host": "127.0.0.1", "port": 5432, "username": "postgres", "password": "", "database": source_db,
                "schema": "public"}

    def pipeline(self) -> dict:
        return {"query": USERS_QUERY, "user_id_column": "id", "updated_at_column": "updated_at",
                "updated_at_format": "", "incremental": False, "transformation": {"mapping": dict(MAPPING)},
                "in_schema": USERS_IN_SCHEMA, "out_schema": self.profile_schema}

    def prepare_reference_warehouse(self, warehouse_db: str) -> None:
        """The warehouse tables exactly as the product creates them (same columns, same unique key and
        secondary indexes); the identities table is renamed identities_ref."""
        from pipelines.types import parse_type
        from warehouse.backends.postgresql import create_statements

        pg_execute(warehouse_db, *create_statements(parse_type(self.profile_schema)),
                   f"ALTER TABLE krenalis_identities RENAME TO {REFERENCE_TABLE}")

    def reference_spec(self, *, source_db: str, warehouse_db: str, phase: Phase, run_number: int) -> dict:
        query = USERS_QUERY.replace("${updated_at}", "NULL")
        columns = [name for name in MAPPING]
        return {
            "source_db": source_db,
            "warehouse_db": warehouse_db,
            "copy_out": f"COPY (SELECT id, updated_at, email, firstname, lastname FROM ({query}) AS q) TO STDOUT",
            "staging_ddl": "CREATE TEMPORARY TABLE staging (_identity_id text NOT NULL, _updated_at timestamp "
                           "NOT NULL, email text, first_name text, last_name text)",
            "copy_in": "COPY staging FROM STDIN",
            "after": [
                f"INSERT INTO {REFERENCE_TABLE} (_pipeline, _is_anonymous, _identity_id, _connection, _updated_at, "
                f"_run, {', '.join(columns)}) SELECT 1, false, _identity_id, 1, _updated_at, {int(run_number)}, "
                f"{', '.join(columns)} FROM staging ON CONFLICT (_pipeline, _identity_id, _is_anonymous) DO UPDATE "
                "SET _updated_at = EXCLUDED._updated_at, _run = EXCLUDED._run"
                + "".join(f", {c} = EXCLUDED.{c}" for c in columns),
            ],
        }


SCENARIOS = {s.name: s for s in (PostgreSQLMapping(),)}
