"""Child process: the reference import, with no Python in the loop.

The source's rows stream through an OS pipe into `COPY <staging> FROM STDIN` on the warehouse:
from PostgreSQL with `COPY (<query>) TO STDOUT` (a second thread; psycopg2 releases the GIL while
libpq waits), from MariaDB with the `mariadb` client's batch output (a child process writing the
pipe). Then one `INSERT ... SELECT ... ON CONFLICT DO UPDATE` and COMMIT. Constant memory: at most
a pipe's and libpq's buffers are held.

    python bench/child_reference.py SPEC_JSON

SPEC_JSON: {"source": {"kind": "postgresql", "db", "copy_out"} | {"kind": "command", "argv"},
"warehouse_db", "staging_ddl", "copy_in", "after": [sql, ...]}.
Prints {"seconds", "copy_seconds", "rows", "peak_rss"} as JSON on its last line."""
import json
import os
import subprocess
import sys
import threading
import time

import psycopg2

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench.common import peak_rss  # noqa: E402

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}


def start_producer(source: dict, write_fd: int):
    """Starts writing the source's rows into write_fd; returns a function that waits for the end
    and raises what went wrong."""
    if source["kind"] == "command":
        child = subprocess.Popen(source["argv"], stdout=write_fd, stderr=subprocess.PIPE)
        os.close(write_fd)

        def wait():
            stderr = child.stderr.read().decode(errors="replace")
            if child.wait() != 0:
                raise RuntimeError(f"{source['argv'][0]} exited with {child.returncode}: {stderr.strip()}")
        return wait

    failure = []
    conn = psycopg2.connect(dbname=source["db"], **PG)

    def produce():
        try:
            with os.fdopen(write_fd, "wb", buffering=1 << 16) as sink, conn.cursor() as cur:
                cur.copy_expert(source["copy_out"], sink, size=1 << 16)
        except BaseException as exc:  # reported by wait()
            failure.append(exc)

    producer = threading.Thread(target=produce, name="copy-out")
    producer.start()

    def wait():
        producer.join()
        conn.close()
        if failure:
            raise failure[0]
    return wait


def main() -> None:
    spec = json.loads(sys.argv[1])
    started = time.perf_counter()
    warehouse = psycopg2.connect(dbname=spec["warehouse_db"], **PG)
    with warehouse.cursor() as cur:
        cur.execute("SET jit = off")
        cur.execute(spec["staging_ddl"])
    read_fd, write_fd = os.pipe()
    wait = start_producer(spec["source"], write_fd)
    with os.fdopen(read_fd, "rb", buffering=1 << 16) as pipe, warehouse.cursor() as cur:
        cur.copy_expert(spec["copy_in"], pipe, size=1 << 16)
        rows = cur.rowcount
    wait()
    copied = time.perf_counter() - started
    with warehouse.cursor() as cur:
        for statement in spec.get("after", []):
            cur.execute(statement)
    warehouse.commit()
    seconds = time.perf_counter() - started
    warehouse.close()
    print(json.dumps({"seconds": seconds, "copy_seconds": copied, "rows": rows, "peak_rss": peak_rss()}))


if __name__ == "__main__":
    main()
