"""Reliability and security: nothing lost, nothing leaked, no crash on bad input.

Helpers shared by the modules of this package: a big source table, a real Celery worker or
gunicorn server started as a child process on the test database (tests.support, here on a Redis
database of their own), a TCP proxy that can "restart" a database, and readers of the warehouse.

Every fault and load targets 127.0.0.1 only, is bounded in count and time, and stops by itself.
"""
import socket
import threading
import time
from pathlib import Path

from tests import support
from tests.support import Child, wait_for  # noqa: F401  (used by the modules of this package)

# Redis database of the workers these tests start (conformance uses 15, the admin tests 13).
REDIS_DB = 11
BROKER = f"redis://127.0.0.1:6379/{REDIS_DB}"

USERS_QUERY = ("SELECT id, firstname, updated_ts FROM customers "
               "WHERE (${updated_at} IS NULL OR updated_ts >= ${updated_at})")
USERS_MAPPING = {"customer_id": "id", "first_name": "firstname"}


def slow_query(pause_every: int, pause: float) -> str:
    """USERS_QUERY, pausing `pause` seconds on every `pause_every`-th row: runs long enough to be
    interrupted in the middle, whatever the speed of the machine."""
    return USERS_QUERY + f" AND (id % {pause_every} <> 0 OR pg_sleep({pause}) IS NOT NULL)"


def fill_customers(source: support.Source, first: int, last: int) -> None:
    """Users first..last (inclusive) in the PostgreSQL source's customers table: id i has
    firstname 'First<i>' and updated_ts 2024-01-01 + i seconds."""
    source.execute("INSERT INTO customers (id, firstname, lastname, email, updated_ts, age) "
                   "SELECT i, 'First' || i, 'Last' || i, 'user' || i || '@example.com', "
                   "timestamp '2024-01-01' + i * interval '1 second', 20 + i % 50 "
                   f"FROM generate_series({int(first)}, {int(last)}) AS i")


def big_source(rows: int) -> support.Source:
    """A PostgreSQL source whose customers table holds users 1..rows."""
    source = support.create_source("postgresql", customers=0)
    fill_customers(source, 1, rows)
    return source


def source_user_ids(source: support.Source) -> set[str]:
    return {str(row[0]) for row in source.execute("SELECT id FROM customers")}


def warehouse_rows(warehouse_db: str, pipeline_id: int | None = None) -> list[tuple]:
    """(identity id, first_name, _updated_at) of every identity in the warehouse."""
    conn = support.pg_connect(warehouse_db)
    try:
        with conn.cursor() as cur:
            where = "" if pipeline_id is None else f"WHERE _pipeline = {int(pipeline_id)}"
            cur.execute(f"SELECT _identity_id, first_name, _updated_at FROM krenalis_identities {where}")
            return cur.fetchall()
    finally:
        conn.close()


def warehouse_count(warehouse_db: str) -> int:
    conn = support.pg_connect(warehouse_db)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM krenalis_identities")
            return cur.fetchone()[0]
    finally:
        conn.close()


def assert_warehouse_is_exactly(warehouse_db: str, source: support.Source) -> int:
    """The warehouse holds each user of the source once, with the source's values: 0 lost, 0
    duplicated, 0 foreign. Returns the number of rows verified."""
    rows = warehouse_rows(warehouse_db)
    ids = [row[0] for row in rows]
    assert len(ids) == len(set(ids)), f"{len(ids) - len(set(ids))} duplicated identities"
    expected = source_user_ids(source)
    lost, foreign = expected - set(ids), set(ids) - expected
    assert not lost and not foreign, f"{len(lost)} lost (e.g. {sorted(lost)[:5]}), {len(foreign)} foreign"
    wrong = [row for row in rows if row[1] != f"First{row[0]}"]
    assert not wrong, f"{len(wrong)} identities with wrong values, e.g. {wrong[:3]}"
    return len(rows)


def child_env(**extra) -> dict:
    """support.child_env on our Redis database."""
    return support.child_env(BROKER, **extra)


def start_worker(log: Path, queue: str, *, beat: bool = False, **knobs) -> Child:
    """support.start_worker on our Redis database."""
    return support.start_worker(log, queue, BROKER, beat=beat, **knobs)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def purge_broker() -> None:
    import redis

    redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB).flushdb()


class RestartableProxy:
    """A TCP proxy on 127.0.0.1 in front of a database on 127.0.0.1. `restart(down_for)` drops every
    connection at once (as a database restart does) and refuses new ones for `down_for` seconds."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.port = free_port()
        self.lock = threading.Lock()
        self.sockets: list[socket.socket] = []
        self.listener: socket.socket | None = None
        self.closed = False
        self.restarts = 0
        self._listen()

    def _listen(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(0.2)
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except socket.timeout:
                if listener is not self.listener:
                    return
                continue
            except OSError:
                return
            try:
                server = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            client.settimeout(None)
            with self.lock:
                if listener is not self.listener:  # restarted while this connection was being set up
                    client.close()
                    server.close()
                    continue
                self.sockets += [client, server]
            threading.Thread(target=self._pipe, args=(client, server), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _drop_all(self) -> None:
        with self.lock:
            sockets, self.sockets = self.sockets, []
        for sock in sockets:  # as when the server process goes away: both ends see the connection end
            for step in (lambda: sock.shutdown(socket.SHUT_RDWR), sock.close):
                try:
                    step()
                except OSError:
                    pass

    def stop_listening(self) -> None:
        with self.lock:
            listener, self.listener = self.listener, None
        if listener is not None:
            # shutdown() first: a bare close() leaves the socket listening while the accept thread
            # is still inside accept(), so a connection could slip in after the "restart".
            try:
                listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            listener.close()

    def restart(self, down_for: float) -> None:
        self.stop_listening()
        self._drop_all()
        self.restarts += 1
        time.sleep(down_for)
        if not self.closed:
            self._listen()

    def close(self) -> None:
        self.closed = True
        self.stop_listening()
        self._drop_all()
