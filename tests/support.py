"""Helpers of the test suite: an API client over Django's test client, and real source databases."""
import datetime as dt
import json
import secrets
import select
import socket
import threading
from dataclasses import dataclass, field

import MySQLdb
import psycopg2
from django.test import Client

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
MYSQL = {"host": "127.0.0.1", "port": 3306, "user": "root", "passwd": ""}

PROFILE_SCHEMA = {"kind": "object", "properties": [
    {"name": "email", "type": {"kind": "string", "maxLength": 254}, "readOptional": True, "description": "Email"},
    {"name": "first_name", "type": {"kind": "string", "maxLength": 100}, "readOptional": True,
     "description": "First name"},
    {"name": "last_name", "type": {"kind": "string", "maxLength": 100}, "readOptional": True,
     "description": "Last name"},
    {"name": "age", "type": {"kind": "int", "bitSize": 32}, "readOptional": True, "description": "Age"},
]}


class Api:
    """Sends requests the way a client does: raw bytes, explicit headers."""

    def __init__(self, key: str | None, workspace: int | None = None):
        self.key, self.workspace = key, workspace
        self.client = Client(raise_request_exception=True)

    def scoped(self, workspace: int | None) -> "Api":
        return Api(self.key, workspace)

    def request(self, method: str, path: str, body=None, *, raw: bytes | None = None,
                content_type: str = "application/json", headers: dict | None = None, auth: bool = True):
        extra = {}
        if auth and self.key:
            extra["HTTP_AUTHORIZATION"] = f"Bearer {self.key}"
        if self.workspace is not None:
            extra["HTTP_KRENALIS_WORKSPACE"] = str(self.workspace)
        for name, value in (headers or {}).items():
            extra["HTTP_" + name.upper().replace("-", "_")] = value
        data = raw if raw is not None else (b"" if body is None else json.dumps(body, ensure_ascii=False).encode())
        return self.client.generic(method, path, data, content_type=content_type, **extra)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def put(self, path, body=None, **kw):
        return self.request("PUT", path, body, **kw)


def error_of(resp) -> tuple[int, str, str]:
    """(status, code, message) of an error response, after checking its exact shape."""
    assert resp["Content-Type"].startswith("application/json"), resp["Content-Type"]
    body = json.loads(resp.content)
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"]) <= {"code", "message", "cause"}, body
    return resp.status_code, body["error"]["code"], body["error"]["message"]


@dataclass
class WorkspaceRef:
    id: int
    warehouse_db: str
    api: Api


def pg_connect(dbname: str):
    conn = psycopg2.connect(dbname=dbname, **PG)
    conn.autocommit = True
    return conn


def create_pg_database(prefix: str) -> str:
    name = f"{prefix}_{secrets.token_hex(5)}"
    conn = pg_connect("postgres")
    with conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    return name


def drop_pg_database(name: str) -> None:
    conn = pg_connect("postgres")
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


def workspace_body(name: str, dbname: str, profile_schema=None) -> dict:
    return {"name": name, "profileSchema": profile_schema or PROFILE_SCHEMA,
            "warehouse": {"platform": "PostgreSQL", "settings": {
                "host": PG["host"], "port": PG["port"], "username": PG["user"], "password": "",
                "database": dbname, "schema": "public"}}}


BASE_TIME = dt.datetime(2024, 1, 1)


def customer(i: int) -> tuple:
    ts = BASE_TIME + dt.timedelta(minutes=i)
    return (i, f"First{i}", f"Last{i}", f"user{i}@example.com", ts.strftime("%Y-%m-%dT%H:%M:%SZ"), ts, 20 + i,
            json.dumps({"plan": "pro" if i % 2 else "free"}))


CUSTOMER_COLUMNS = "id, firstname, lastname, email, updated_at, updated_ts, age, attrs"
PG_DDL = ("CREATE TABLE customers (id bigint PRIMARY KEY, firstname varchar(60), lastname varchar(60), "
          "email varchar(120), updated_at varchar(60), updated_ts timestamp, age integer, attrs jsonb)")
MYSQL_DDL = ("CREATE TABLE customers (id BIGINT NOT NULL PRIMARY KEY, firstname VARCHAR(60), lastname VARCHAR(60), "
             "email VARCHAR(120), updated_at VARCHAR(60), updated_ts DATETIME, age INT, attrs JSON) "
             "DEFAULT CHARSET=utf8mb4")


@dataclass
class Source:
    kind: str
    dbname: str
    settings: dict
    extra: dict = field(default_factory=dict)

    def execute(self, sql: str, params=()):
        conn = pg_connect(self.dbname) if self.kind == "postgresql" else _mysql(self.dbname)
        try:
            cur = conn.cursor()
            cur.execute(sql, params or None)
            rows = cur.fetchall() if cur.description else []
            cur.close()
            return rows
        finally:
            conn.close()


def _mysql(dbname: str | None = None):
    kw = dict(MYSQL, charset="utf8mb4", autocommit=True)
    if dbname:
        kw["db"] = dbname
    return MySQLdb.connect(**kw)


def create_source(kind: str, customers: int = 10) -> Source:
    rows = [customer(i) for i in range(1, customers + 1)]
    password = "pw-" + secrets.token_hex(8)
    if kind == "postgresql":
        dbname = create_pg_database("krenalis_test_src")
        conn = pg_connect(dbname)
        with conn.cursor() as cur:
            cur.execute(PG_DDL)
            for row in rows:
                cur.execute(f"INSERT INTO customers ({CUSTOMER_COLUMNS}) VALUES (%s,%s,%s,%s,%s,%s,%s,%s)", row)
        conn.close()
        settings = {"host": PG["host"], "port": PG["port"], "username": PG["user"], "password": password,
                    "database": dbname, "schema": "public"}
    else:
        suffix = secrets.token_hex(4)
        dbname, user = f"krenalis_test_src_{suffix}", f"kt_{suffix}"
        conn = _mysql()
        cur = conn.cursor()
        cur.execute(f"CREATE DATABASE `{dbname}` DEFAULT CHARSET utf8mb4")
        cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'")
        cur.execute(f"GRANT SELECT ON `{dbname}`.* TO '{user}'@'%'")
        cur.execute(f"USE `{dbname}`")
        cur.execute(MYSQL_DDL)
        cur.executemany(f"INSERT INTO customers ({CUSTOMER_COLUMNS}) VALUES (%s,%s,%s,%s,%s,%s,%s,%s)", rows)
        conn.close()
        settings = {"host": MYSQL["host"], "port": MYSQL["port"], "username": user, "password": password,
                    "database": dbname}
    return Source(kind, dbname, settings)


def drop_source(source: Source) -> None:
    if source.kind == "postgresql":
        drop_pg_database(source.dbname)
        return
    conn = _mysql()
    cur = conn.cursor()
    cur.execute(f"DROP DATABASE IF EXISTS `{source.dbname}`")
    cur.execute(f"DROP USER IF EXISTS '{source.settings['username']}'@'%'")
    conn.close()


def connection_body(source: Source, name: str = "Customers") -> dict:
    return {"name": name, "role": "Source", "connector": source.kind, "settings": dict(source.settings)}


class CountingListener:
    """A real TCP server on 127.0.0.1 (an ephemeral port) that accepts connections, counts them and
    closes them at once: where a connection that must not be attempted would land."""

    def __init__(self):
        self.port = None
        self._accepted = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def __enter__(self):
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.setblocking(False)
        self.port = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        return self

    def _drain(self) -> None:
        with self._lock:
            while True:
                try:
                    conn, _ = self._sock.accept()
                except (BlockingIOError, OSError):
                    return
                conn.close()
                self._accepted += 1

    def _serve(self) -> None:
        while not self._stop.is_set():
            if select.select([self._sock], [], [], 0.05)[0]:
                self._drain()

    @property
    def accepted(self) -> int:
        """Connections accepted so far, including those still waiting in the backlog."""
        self._drain()
        return self._accepted

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._sock.close()
