"""What the bench imports: the sources (PostgreSQL and MariaDB, the same `users` table), the
pipelines (a 3-property mapping and its JavaScript and Python equivalents), and the plain-SQL
reference each source is compared with.

run.py measures, for each source and size, side by side in the same run: (a) the reference,
(b) ours with the mapping, (c) ours with each function, (d) an incremental run after 1 % of the
rows changed, (e) identity resolution over what (b) wrote, (f) dlt's `sql_database` source.
To add a source: subclass Source and add an instance to SOURCES.
"""
from __future__ import annotations

import subprocess

from .common import DB_PREFIX, create_database, drop_database, pg_execute

PROFILE_SCHEMA = {"kind": "object", "properties": [
    {"name": "email", "type": {"kind": "string", "maxLength": 254}, "readOptional": True, "description": "Email"},
    {"name": "first_name", "type": {"kind": "string", "maxLength": 100}, "readOptional": True,
     "description": "First name"},
    {"name": "last_name", "type": {"kind": "string", "maxLength": 100}, "readOptional": True,
     "description": "Last name"},
]}
IDENTIFIERS = ["email"]            # identity resolution (e) merges profiles on the email

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
# The same three properties as functions: what a user would write for the mapping above.
FUNCTIONS = {
    "JavaScript": ("const transform = (user) => ({email: user.email, first_name: user.firstname, "
                   "last_name: user.lastname});"),
    "Python": ("def transform(user):\n"
               "    return {'email': user['email'], 'first_name': user['firstname'], 'last_name': user['lastname']}\n"),
}
REFERENCE_TABLE = "identities_ref"
CHANGED_FRACTION = 100             # (d): one row in this many changes before the incremental run


def changed_since(rep: int) -> str:
    """The update time Source.change(db, rep) gives the rows it changes: from it on, an incremental
    read finds exactly them."""
    return f"2025-01-{1 + int(rep):02d} 00:00:00"


def in_schema(*, nullable_id: bool) -> dict:
    """The query's columns as the source reports them (MariaDB says a primary key is not null;
    PostgreSQL says nothing about a query's columns)."""
    properties = [dict(p) for p in USERS_IN_SCHEMA["properties"]]
    properties[0]["nullable"] = nullable_id
    return {"kind": "object", "properties": properties}


def pipeline_fields(source: "Source", transformation: str = "mapping", *, up_to_id: int | None = None) -> dict:
    """PipelineInput fields: the mapping, or `JavaScript` / `Python` for the equivalent function.
    Incremental pipelines, so that (d) can run incrementally; (b) and (c) ask for full runs.
    `up_to_id`: only the users with an id up to it (e′ imports the same users twice)."""
    if transformation == "mapping":
        spec = {"mapping": dict(MAPPING)}
    else:
        spec = {"function": {"language": transformation, "source": FUNCTIONS[transformation], "preserveJSON": False,
                             "inPaths": ["email", "firstname", "lastname"],
                             "outPaths": ["email", "first_name", "last_name"]}}
    query = USERS_QUERY if up_to_id is None else (
        USERS_QUERY.replace("WHERE ", "WHERE (", 1) + f") AND id <= {int(up_to_id)}")
    return {"query": query, "user_id_column": "id", "updated_at_column": "updated_at",
            "updated_at_format": "", "incremental": True, "transformation": spec,
            "in_schema": in_schema(nullable_id=source.nullable_id), "out_schema": PROFILE_SCHEMA}


def prepare_reference_warehouse(warehouse_db: str) -> None:
    """The warehouse tables exactly as the product creates them (same columns, unique key and
    secondary indexes); the identities table renamed identities_ref."""
    from pipelines.types import parse_type
    from warehouse.backends.postgresql import create_statements

    pg_execute(warehouse_db, *create_statements(parse_type(PROFILE_SCHEMA)),
               f"ALTER TABLE krenalis_identities RENAME TO {REFERENCE_TABLE}")


def reference_upsert(run_number: int) -> str:
    columns = list(MAPPING)
    return (f"INSERT INTO {REFERENCE_TABLE} (_pipeline, _is_anonymous, _identity_id, _connection, _updated_at, "
            f"_run, {', '.join(columns)}) SELECT 1, false, _identity_id, 1, _updated_at, {int(run_number)}, "
            f"{', '.join(columns)} FROM staging ON CONFLICT (_pipeline, _identity_id, _is_anonymous) DO UPDATE "
            "SET _updated_at = EXCLUDED._updated_at, _run = EXCLUDED._run"
            + "".join(f", {c} = EXCLUDED.{c}" for c in columns))


STAGING_DDL = ("CREATE TEMPORARY TABLE staging (_identity_id text NOT NULL, _updated_at timestamp NOT NULL, "
               "email text, first_name text, last_name text)")
REFERENCE_COLUMNS = "id, updated_at, email, firstname, lastname"


class Source:
    name = ""
    connector = ""
    description = ""
    nullable_id = True          # what the connector says of the query's id column

    def database(self, rows: int) -> str:
        return f"{DB_PREFIX}src_{self.name}_{rows}"

    def prepare(self, rows: int) -> str:
        """Creates (or re-creates) the source database holding `rows` users; returns its name."""
        raise NotImplementedError

    def drop(self, rows: int) -> None:
        raise NotImplementedError

    def settings(self, db: str) -> dict:
        """The connection's settings, as a user would give them."""
        raise NotImplementedError

    def change(self, db: str, rep: int) -> int:
        """(d): changes one row in CHANGED_FRACTION, the same rows at every repetition: a new email
        and an update time later than any before (repetition `rep` sets rep days after 2025-01-01,
        still in the past, as update times must be). Returns the number changed."""
        raise NotImplementedError

    def reference_spec(self, *, db: str, warehouse_db: str, run_number: int, since: str | None = None) -> dict:
        """What child_reference.py executes: the rows out of the source with no Python in the loop;
        with `since`, only those updated at or after it (what an incremental run reads)."""
        raise NotImplementedError

    def sqlalchemy_url(self, db: str) -> str:
        """The source as dlt's sql_database source reaches it."""
        raise NotImplementedError

    def sling_url(self, db: str) -> str:
        """The source as Sling reaches it."""
        raise NotImplementedError

    def full_query(self) -> str:
        return USERS_QUERY.replace("${updated_at}", "NULL")

    def query_since(self, since: str | None) -> str:
        """The pipeline's query as a run with cursor `since` sends it (the full query without one)."""
        return self.full_query() if since is None else USERS_QUERY.replace("${updated_at}", f"TIMESTAMP '{since}'")


class PostgreSQLSource(Source):
    name = "postgresql"
    connector = "postgresql"
    description = ("PostgreSQL 15 table `users` (id bigint primary key, email varchar(120), firstname and lastname "
                   "varchar(60), updated_at timestamp, indexed)")

    def prepare(self, rows: int) -> str:
        db = create_database(self.database(rows))
        pg_execute(db, "CREATE TABLE users (id bigint PRIMARY KEY, email varchar(120), firstname varchar(60), "
                       "lastname varchar(60), updated_at timestamp)",
                   "INSERT INTO users SELECT g, 'user' || g || '@example.com', 'First' || g, 'Last' || g, "
                   f"timestamp '2024-01-01' + g * interval '1 second' FROM generate_series(1, {int(rows)}) AS g",
                   "CREATE INDEX ON users (updated_at)", "VACUUM ANALYZE users")
        return db

    def drop(self, rows: int) -> None:
        drop_database(self.database(rows))

    def settings(self, db: str) -> dict:
        return {"host": "127.0.0.1", "port": 5432, "username": "postgres", "password": "", "database": db,
                "schema": "public"}

    def change(self, db: str, rep: int) -> int:
        rows = pg_execute(db, "UPDATE users SET email = 'changed' || id || '@example.com', "
                              f"updated_at = timestamp '2025-01-01' + {int(rep)} * interval '1 day' "
                              f"WHERE id % {CHANGED_FRACTION} = 0 RETURNING 1", fetch=True)
        return len(rows)

    def reference_spec(self, *, db: str, warehouse_db: str, run_number: int, since: str | None = None) -> dict:
        query = self.query_since(since)
        return {"source": {"kind": "postgresql", "db": db,
                           "copy_out": f"COPY (SELECT {REFERENCE_COLUMNS} FROM ({query}) AS q) TO STDOUT"},
                "warehouse_db": warehouse_db, "staging_ddl": STAGING_DDL, "copy_in": "COPY staging FROM STDIN",
                "after": [reference_upsert(run_number)]}

    def sqlalchemy_url(self, db: str) -> str:
        return f"postgresql://postgres@127.0.0.1:5432/{db}"

    def sling_url(self, db: str) -> str:
        return f"postgresql://postgres@127.0.0.1:5432/{db}?sslmode=disable"


MARIADB = ["mariadb", "--host=127.0.0.1", "--port=3306", "--user=root"]


def mariadb_execute(*statements: str, db: str | None = None) -> str:
    result = subprocess.run([*MARIADB, "--batch", "--skip-column-names", *([db] if db else [])],
                            input=";\n".join(statements) + ";\n", capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"mariadb: {result.stderr.strip()}")
    return result.stdout


class MariaDBSource(Source):
    name = "mariadb"
    connector = "mysql"
    nullable_id = False
    description = ("MariaDB 10.11 table `users` (id bigint primary key, email varchar(120), firstname and lastname "
                   "varchar(60), updated_at datetime, indexed), InnoDB, utf8mb4")

    def prepare(self, rows: int) -> str:
        db = self.database(rows)
        mariadb_execute(f"DROP DATABASE IF EXISTS `{db}`", f"CREATE DATABASE `{db}` CHARACTER SET utf8mb4",
                        f"USE `{db}`",
                        "CREATE TABLE users (id bigint PRIMARY KEY, email varchar(120), firstname varchar(60), "
                        "lastname varchar(60), updated_at datetime, KEY (updated_at)) ENGINE=InnoDB",
                        "INSERT INTO users SELECT seq, CONCAT('user', seq, '@example.com'), CONCAT('First', seq), "
                        f"CONCAT('Last', seq), TIMESTAMP('2024-01-01') + INTERVAL seq SECOND FROM seq_1_to_{int(rows)}",
                        "ANALYZE TABLE users",
                        # The product asks for a password (root has none here): a read-only user of its own.
                        f"CREATE USER IF NOT EXISTS '{self.USER}'@'%' IDENTIFIED BY '{self.PASSWORD}'",
                        f"GRANT SELECT ON `{db}`.* TO '{self.USER}'@'%'")
        return db

    def drop(self, rows: int) -> None:
        mariadb_execute(f"DROP DATABASE IF EXISTS `{self.database(rows)}`", f"DROP USER IF EXISTS '{self.USER}'@'%'")

    USER, PASSWORD = "krenalis_bench", "bench-password"

    def settings(self, db: str) -> dict:
        return {"host": "127.0.0.1", "port": 3306, "username": self.USER, "password": self.PASSWORD, "database": db}

    def change(self, db: str, rep: int) -> int:
        out = mariadb_execute("UPDATE users SET email = CONCAT('changed', id, '@example.com'), "
                              f"updated_at = TIMESTAMP('2025-01-01') + INTERVAL {int(rep)} DAY "
                              f"WHERE id % {CHANGED_FRACTION} = 0",
                              "SELECT ROW_COUNT()", db=db)
        return int(out.split()[-1])

    def reference_spec(self, *, db: str, warehouse_db: str, run_number: int, since: str | None = None) -> dict:
        # The mariadb client's --batch output is COPY's text format (tab-separated, \t \n \\ escaped),
        # with NULL written as the word NULL.
        return {"source": {"kind": "command",
                           "argv": [*MARIADB, "--batch", "--skip-column-names", "--quick", db, "-e",
                                    f"SELECT {REFERENCE_COLUMNS} FROM ({self.query_since(since)}) AS q"]},
                "warehouse_db": warehouse_db, "staging_ddl": STAGING_DDL,
                "copy_in": "COPY staging FROM STDIN WITH (NULL 'NULL')", "after": [reference_upsert(run_number)]}

    def sqlalchemy_url(self, db: str) -> str:
        return f"mysql+pymysql://root@127.0.0.1:3306/{db}"

    def sling_url(self, db: str) -> str:
        return f"mysql://root@127.0.0.1:3306/{db}"


SOURCES = {s.name: s for s in (PostgreSQLSource(), MariaDBSource())}
