"""Fixtures for the connector tests: real PostgreSQL and MariaDB servers, throw-away databases."""

import secrets

import MySQLdb
import psycopg2
import pytest

from pipelines.connectors.network import AddressPolicy, pin_settings

PG_SERVER = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
MYSQL_SERVER = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}
# The servers of these tests are on the loopback interface, which a deployment allows explicitly.
LOCAL = AddressPolicy(allowed_hosts=("127.0.0.1", "localhost", "::1"))


def pinned(settings: dict) -> dict:
    """Settings as the services hand them to a connector: pinned to the checked address."""
    return pin_settings(settings, LOCAL)


def unique(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(5)}"


# --------------------------------------------------------------------------- PostgreSQL


def pg_connect(dbname: str):
    conn = psycopg2.connect(dbname=dbname, **PG_SERVER)
    conn.autocommit = True
    return conn


class PgDatabase:
    def __init__(self, name: str):
        self.name = name
        self.conn = pg_connect(name)

    def execute(self, sql: str, params=None) -> list:
        with self.conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []

    def settings(self, *, pin: bool = True, **changes) -> dict:
        settings = {"host": PG_SERVER["host"], "port": PG_SERVER["port"], "username": PG_SERVER["user"],
                    "password": "", "database": self.name, "schema": "public"}
        settings.update(changes)
        return pinned(settings) if pin else settings


@pytest.fixture(scope="module")
def pg():
    name = unique("krenalis_conn_test")
    admin = pg_connect("postgres")
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    db = PgDatabase(name)
    try:
        yield db
    finally:
        db.conn.close()
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


# --------------------------------------------------------------------------- MySQL / MariaDB


def mysql_connect(dbname: str | None = None, **overrides):
    kw = dict(host=MYSQL_SERVER["host"], port=MYSQL_SERVER["port"], user=MYSQL_SERVER["user"],
              password=MYSQL_SERVER["password"], charset="utf8mb4", autocommit=True)
    kw.update(overrides)
    if dbname:
        kw["database"] = dbname
    return MySQLdb.connect(**kw)


class MySQLDatabase:
    def __init__(self, name: str, user: str, password: str):
        self.name, self.user, self.password = name, user, password
        self.conn = mysql_connect(name)

    def execute(self, sql: str, params=None) -> list:
        cur = self.conn.cursor()
        try:
            cur.execute(sql, params)
            return list(cur.fetchall()) if cur.description else []
        finally:
            cur.close()

    def settings(self, *, pin: bool = True, **changes) -> dict:
        settings = {"host": MYSQL_SERVER["host"], "port": MYSQL_SERVER["port"], "username": self.user,
                    "password": self.password, "database": self.name}
        settings.update(changes)
        return pinned(settings) if pin else settings


@pytest.fixture(scope="module")
def my():
    """A database and a user with a password that may read and write it."""
    name = unique("krenalis_conn_test")
    user = unique("kt")[:16]
    password = "Pw-" + secrets.token_hex(8) + "'\\x"
    admin = mysql_connect()
    cur = admin.cursor()
    cur.execute(f"CREATE DATABASE `{name}` DEFAULT CHARSET utf8mb4")
    cur.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (user, password))
    cur.execute(f"GRANT ALL PRIVILEGES ON `{name}`.* TO %s@'%%'", (user,))
    db = MySQLDatabase(name, user, password)
    try:
        yield db
    finally:
        db.conn.close()
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        cur.execute("DROP USER IF EXISTS %s@'%%'", (user,))
        cur.close()
        admin.close()


# --------------------------------------------------------------------------- helpers


def read_all(connector, settings, sql, **kwargs):
    """(schema, rows) of a query."""
    kwargs.setdefault("timeout_seconds", 10)
    with connector.query(settings, sql, **kwargs) as result:
        rows = [row for batch in result for row in batch]
        return result.schema, rows


def column_types(schema) -> dict:
    return {c.name: c.type for c in schema.columns}


def interrupt_when(control, condition, reason: str, timeout: float = 30):
    """A thread that interrupts the query of `control` with `reason` once condition() is true (as a
    watcher does while the query's own thread blocks in the driver)."""
    import threading
    import time

    def watch():
        deadline = time.monotonic() + timeout
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.05)
        control.interrupt(reason)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread
