"""Experiment: where the warehouse side of a run spends its time, and what batch sizes and the
timestamp encoding change. Not part of run.py; run it alone (it prints a small table):

    .venv/bin/python -m bench.experiments.warehouse_write [ROWS]

It imports the product from sys.path: to measure a fixed commit rather than a work tree others are
editing, run it from a `git archive` copy (PYTHONPATH=/tmp/snap KRENALIS_VAR_DIR=/tmp/snap/var).

Variants, each an insert pass (empty table) then an update pass (every row again, new run id), into a
fresh warehouse made by the product's `create_statements`:

- `writer-5000`, `writer-50000`: the product's PostgreSQLIdentityWriter.write() called with batches of
  that many rows (the engine uses 5,000), rows made in Python beforehand (not timed).
- `sql-epoch-5000`: the writer's own SQL statements, batch by batch, timed per statement: COPY (bigint
  epoch microseconds), INSERT ... ON CONFLICT with the bigint → timestamp expression, COMMIT.
- `sql-text-5000`: the same with `_updated_at` sent as timestamp text (no per-row interval arithmetic).
"""
from __future__ import annotations

import datetime as dt
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from bench.common import DB_PREFIX, create_database, drop_database, pg_connect  # noqa: E402
from bench.product import pg_settings, setup_django  # noqa: E402
from bench.scenarios import PROFILE_SCHEMA  # noqa: E402


def make_rows(n: int):
    base = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    return [(str(i), base + dt.timedelta(seconds=i), (f"user{i}@example.com", f"First{i}", f"Last{i}"))
            for i in range(1, n + 1)]


def fresh_warehouse():
    from pipelines.types import parse_type
    from warehouse.backends.postgresql import PostgreSQLWarehouse, create_statements

    db = create_database(f"{DB_PREFIX}wh_experiment")
    conn = pg_connect(db)
    with conn.cursor() as cur:
        for statement in create_statements(parse_type(PROFILE_SCHEMA)):
            cur.execute(statement)
    conn.close()
    return db, PostgreSQLWarehouse(pg_settings(db))


def columns():
    from pipelines.types import parse_type

    schema = parse_type(PROFILE_SCHEMA)
    return [(p.name, p.type) for p in schema.properties]


def writer_variant(rows, batch: int) -> list[float]:
    db, backend = fresh_warehouse()
    times = []
    for run_id in (1, 2):
        writer = backend.identity_writer(pipeline_id=1, connection_id=1, run_id=run_id, columns=columns())
        started = time.perf_counter()
        for start in range(0, len(rows), batch):
            writer.write(rows[start:start + batch])
        times.append(time.perf_counter() - started)
        writer.close()
    drop_database(db)
    return times


def sql_variant(rows, batch: int, *, text_timestamps: bool) -> list[dict]:
    """The writer's statements, timed one kind at a time (COPY, INSERT, COMMIT)."""
    from warehouse.writer import CopyEncoder

    db, backend = fresh_warehouse()
    encoder = CopyEncoder([t for _, t in columns()])
    statements = {}
    for run_id in (1, 2):  # the product's own statements
        writer = backend.identity_writer(pipeline_id=1, connection_id=1, run_id=run_id, columns=columns())
        create_sql, copy_sql, statements[run_id] = writer._create_sql, writer._copy_sql, writer._insert_sql
        writer.close()
    if text_timestamps:
        create_sql = create_sql.replace("_updated_at bigint", "_updated_at timestamp")
        for run_id, insert_sql in statements.items():
            statements[run_id] = insert_sql.replace(
                "(timestamp '1970-01-01' + ((_updated_at / 1000000) * interval '1 second' "
                "+ (_updated_at % 1000000) * interval '1 microsecond'))", "_updated_at")
            assert "interval" not in statements[run_id], statements[run_id]
    results = []
    conn = backend.open_connection()
    with conn.cursor() as cur:
        cur.execute("SET jit = off")
        cur.execute(create_sql)
    conn.commit()
    for run_id in (1, 2):
        sql = statements[run_id]
        spent = {"encode": 0.0, "copy": 0.0, "insert": 0.0, "commit": 0.0}
        for start in range(0, len(rows), batch):
            chunk = rows[start:start + batch]
            t0 = time.perf_counter()
            if text_timestamps:
                payload = "".join(f"{i}\t{u.replace(tzinfo=None).isoformat(' ')}\t{v[0]}\t{v[1]}\t{v[2]}\n"
                                  for i, u, v in chunk).encode()
            else:
                payload = encoder.encode(chunk)
            t1 = time.perf_counter()
            with conn.cursor() as cur:
                import io

                cur.copy_expert(copy_sql, io.BytesIO(payload), size=1 << 20)
                t2 = time.perf_counter()
                cur.execute(sql)
                t3 = time.perf_counter()
            conn.commit()
            t4 = time.perf_counter()
            spent["encode"] += t1 - t0
            spent["copy"] += t2 - t1
            spent["insert"] += t3 - t2
            spent["commit"] += t4 - t3
        results.append(spent)
    conn.close()
    drop_database(db)
    return results


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    setup_django(migrate=False)  # only the warehouse is used
    rows = make_rows(n)
    print(f"{n:,} rows; seconds for the insert pass / the update pass")
    for batch in (5000, 50000):
        insert, update = writer_variant(rows, batch)
        print(f"writer-{batch:<6}  insert {insert:7.2f}  update {update:7.2f}")
    for text in (False, True):
        name = "sql-text-5000 " if text else "sql-epoch-5000"
        parts = sql_variant(rows, 5000, text_timestamps=text)
        for label, spent in zip(("insert", "update"), parts):
            print(f"{name}  {label}: " + "  ".join(f"{k} {v:6.2f}" for k, v in spent.items())
                  + f"  total {sum(spent.values()):6.2f}")


if __name__ == "__main__":
    main()
