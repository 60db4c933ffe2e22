"""Helpers of the test suite: an API client over Django's test client, real source databases, and
real Celery: queues of a test's own on the Redis broker, and worker processes."""
import base64
import datetime as dt
import json
import os
import secrets
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

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


def busy_sessions(source: Source) -> int:
    """Sessions of the source's database (other than this one) executing a statement, as the source
    itself reports them (a PostgreSQL query read through a cursor shows as its FETCH)."""
    if source.kind == "postgresql":
        sql = ("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' "
               "AND pid <> pg_backend_pid()")
    else:
        sql = ("SELECT count(*) FROM information_schema.PROCESSLIST WHERE DB = DATABASE() AND ID <> CONNECTION_ID() "
               "AND COMMAND = 'Query'")
    return source.execute(sql)[0][0]


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


class PasswordTrap:
    """A real TCP server on 127.0.0.1 that speaks the start of PostgreSQL's protocol as a server that
    wants a clear-text password: it declines TLS, asks for the password, records what it gets in
    `passwords` and refuses the login. Where a password that must not travel would land."""

    def __init__(self):
        self.port = None
        self.connections = 0
        self.passwords: list[str] = []

    def __enter__(self):
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        return self

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            with conn:
                conn.settimeout(5)
                try:
                    self._login(conn)
                except (OSError, ValueError):
                    pass

    @staticmethod
    def _read(conn, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = conn.recv(size - len(data))
            if not chunk:
                raise ValueError("closed")
            data += chunk
        return data

    def _login(self, conn) -> None:
        while True:  # SSLRequest / GSSENCRequest, then the startup message
            length, code = struct.unpack("!ii", self._read(conn, 8))
            body = self._read(conn, length - 8)
            if code in (80877103, 80877104):
                conn.sendall(b"N")
                continue
            break
        conn.sendall(b"R" + struct.pack("!ii", 8, 3))  # AuthenticationCleartextPassword
        kind, length = struct.unpack("!ci", self._read(conn, 5))
        body = self._read(conn, length - 4)
        if kind == b"p":
            self.passwords.append(body.rstrip(b"\0").decode())
        error = b"SFATAL\0C28P01\0Mpassword authentication failed\0\0"
        conn.sendall(b"E" + struct.pack("!i", len(error) + 4) + error)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._sock.close()


# --------------------------------------------------------------------------- Celery, for real

ROOT = Path(__file__).resolve().parents[1]


class TaskQueue:
    """A queue of a test's own on the real Redis broker. While `routed()`, the tasks the code sends
    (`.delay()`) are published there; `messages()` reads back what arrived and no worker took."""

    def __init__(self, broker_url: str, name: str | None = None):
        import redis

        self.name = name or f"krenalis-test-{os.getpid()}-{secrets.token_hex(4)}"
        self.redis = redis.Redis.from_url(broker_url) if broker_url.startswith("redis") else None

    @contextmanager
    def routed(self):
        """The app's default queue is read on every send: switching it routes every task here."""
        from krenalis.celery import app

        previous = app.conf.task_default_queue
        app.conf.task_default_queue = self.name
        try:
            yield self
        finally:
            app.conf.task_default_queue = previous

    def messages(self) -> list[tuple[str, list, dict]]:
        """(task name, args, kwargs) of each message waiting in Redis, oldest first (kombu pushes
        on the left and pops on the right)."""
        assert self.redis is not None, "needs a Redis broker"
        found = []
        for raw in reversed(self.redis.lrange(self.name, 0, -1)):
            message = json.loads(raw)
            args, kwargs, _ = json.loads(base64.b64decode(message["body"]))
            found.append((message["headers"]["task"], args, kwargs))
        return found

    def purge(self) -> None:
        if self.redis is not None:
            self.redis.delete(self.name)

    def forget(self) -> None:
        """Removes the queue's keys (its messages and bindings) from Redis."""
        if self.redis is None:
            return
        for key in list(self.redis.scan_iter(match=f"*{self.name}*")):
            self.redis.delete(key)
        self.redis.close()


def database_url() -> str:
    """The database the tests use (the test database once pytest-django has created it)."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def child_env(broker_url: str, **extra) -> dict:
    """The environment of a server or worker started by a test: the test database, the same
    secrets as this process, the broker `broker_url`, and `extra` (KRENALIS_* knobs)."""
    from django.conf import settings

    env = dict(os.environ, DATABASE_URL=database_url(), CELERY_BROKER_URL=broker_url,
               KRENALIS_ENCRYPTION_KEY=settings.KRENALIS_ENCRYPTION_KEY, DJANGO_SECRET_KEY=settings.SECRET_KEY,
               KRENALIS_VAR_DIR=str(settings.VAR_DIR), PYTHONUNBUFFERED="1")
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    env.update({k: str(v) for k, v in extra.items()})
    return env


class Child:
    """A process started in a session of its own (so that killing its group kills its children
    too), with its output in a file. Stopped by its PID only."""

    def __init__(self, command: list[str], env: dict, log: Path, ready: bytes | None = None, timeout: float = 60):
        self.log = log
        self.out = open(log, "ab")
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=self.out, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
        if ready is not None:
            deadline = time.monotonic() + timeout
            while ready not in log.read_bytes():
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"{command[:4]} did not start:\n{self.output()[-4000:]}")
                time.sleep(0.2)

    @property
    def pid(self) -> int:
        return self.process.pid

    def kill(self) -> None:
        """SIGKILL to the process group this test started (the process is its leader)."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(10)
        self.out.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
                return
        self.out.close()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def start_worker(log: Path, queue: str, broker_url: str, *, beat: bool = False, **knobs) -> Child:
    """A real `celery -A krenalis worker` (solo pool) consuming `queue` on `broker_url`."""
    command = [sys.executable, "-m", "celery", "-A", "krenalis", "worker", "--pool", "solo", "--loglevel", "INFO",
               "--without-gossip", "--without-mingle", "--without-heartbeat",
               "--hostname", f"{queue}-{secrets.token_hex(3)}@%h"]
    if beat:
        command += ["--beat"]
    return Child(command, child_env(broker_url, KRENALIS_CELERY_QUEUE=queue, **knobs), log, ready=b"ready.")


@dataclass
class Worker:
    """A Celery worker process and the queue it consumes."""
    queue: TaskQueue
    process: Child

    def output(self) -> str:
        return self.process.output()


def wait_for(condition, timeout: float, interval: float = 0.1):
    """The first truthy value of condition() within `timeout` seconds, else None."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            return None
        time.sleep(interval)
