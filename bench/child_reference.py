"""Child process: the reference import, with no Python in the loop.

`COPY (<source query>) TO STDOUT` on the source streams through an OS pipe into
`COPY <staging> FROM STDIN` on the warehouse (two threads; psycopg2 releases the GIL while libpq
waits), then one `INSERT ... SELECT ... ON CONFLICT DO UPDATE` and COMMIT. Constant memory: at
most a pipe's and libpq's buffers are held.

    python bench/child_reference.py SPEC_JSON

SPEC_JSON: {"source_db", "warehouse_db", "copy_out", "staging_ddl", "copy_in", "after": [sql, ...]}.
Prints {"seconds", "copy_seconds", "rows", "peak_rss"} as JSON on its last line."""
import json
import os
import sys
import threading
import time

import psycopg2

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench.common import peak_rss  # noqa: E402

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}


def main() -> None:
    spec = json.loads(sys.argv[1])
    started = time.perf_counter()
    source = psycopg2.connect(dbname=spec["source_db"], **PG)
    warehouse = psycopg2.connect(dbname=spec["warehouse_db"], **PG)
    with warehouse.cursor() as cur:
        cur.execute("SET jit = off")
        cur.execute(spec["staging_ddl"])
    read_fd, write_fd = os.pipe()
    failure = []

    def produce():
        try:
            with os.fdopen(write_fd, "wb", buffering=1 << 16) as sink, source.cursor() as cur:
                cur.copy_expert(spec["copy_out"], sink, size=1 << 16)
        except BaseException as exc:  # reported by the main thread
            failure.append(exc)

    producer = threading.Thread(target=produce, name="copy-out")
    producer.start()
    with os.fdopen(read_fd, "rb", buffering=1 << 16) as pipe, warehouse.cursor() as cur:
        cur.copy_expert(spec["copy_in"], pipe, size=1 << 16)
        rows = cur.rowcount
    producer.join()
    if failure:
        raise failure[0]
    copied = time.perf_counter() - started
    with warehouse.cursor() as cur:
        for statement in spec.get("after", []):
            cur.execute(statement)
    warehouse.commit()
    seconds = time.perf_counter() - started
    source.close()
    warehouse.close()
    print(json.dumps({"seconds": seconds, "copy_seconds": copied, "rows": rows, "peak_rss": peak_rss()}))


if __name__ == "__main__":
    main()
