"""Experiment: the update phase's INSERT ... ON CONFLICT DO UPDATE with the identities table at
fillfactor 100 (as created today) and 70 (room for HOT updates: no new index entries when no indexed
column changes). SQL only: 1M staged rows, an insert pass, then an update pass with a new `_run`,
the two variants alternated, twice.

    .venv/bin/python -m bench.experiments.hot_updates [ROWS]
"""
from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from bench.common import DB_PREFIX, create_database, drop_database, pg_connect  # noqa: E402
from bench.product import setup_django  # noqa: E402
from bench.scenarios import PROFILE_SCHEMA  # noqa: E402

STAGE = ("CREATE TEMPORARY TABLE staging AS SELECT g::text AS _identity_id, timestamp '2024-01-01' + g * interval "
         "'1 second' AS _updated_at, 'user' || g || '@example.com' AS email, 'First' || g AS first_name, "
         "'Last' || g AS last_name FROM generate_series(1, {rows}) AS g")
UPSERT = ("INSERT INTO krenalis_identities (_pipeline, _is_anonymous, _identity_id, _connection, _updated_at, _run, "
          "email, first_name, last_name) SELECT 1, false, _identity_id, 1, _updated_at, {run}, email, first_name, "
          "last_name FROM staging ON CONFLICT (_pipeline, _identity_id, _is_anonymous) DO UPDATE SET "
          "_updated_at = EXCLUDED._updated_at, _run = EXCLUDED._run, email = EXCLUDED.email, "
          "first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name")


def variant(rows: int, fillfactor: int) -> tuple[float, float, int]:
    from pipelines.types import parse_type
    from warehouse.backends.postgresql import create_statements

    db = create_database(f"{DB_PREFIX}wh_hot")
    conn = pg_connect(db)
    with conn.cursor() as cur:
        for statement in create_statements(parse_type(PROFILE_SCHEMA)):
            cur.execute(statement)
        cur.execute(f"ALTER TABLE krenalis_identities SET (fillfactor = {fillfactor})")
        cur.execute("SET jit = off")
        cur.execute(STAGE.format(rows=rows))
        times = []
        for run in (1, 2):
            started = time.perf_counter()
            cur.execute(UPSERT.format(run=run))
            times.append(time.perf_counter() - started)
        cur.execute("SELECT n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'krenalis_identities'")
        hot = cur.fetchone()[0]
    conn.close()
    drop_database(db)
    return times[0], times[1], hot


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    setup_django(migrate=False)
    print(f"{rows:,} rows, seconds of the upsert (autocommit: one statement each)")
    for rep in range(2):
        for fillfactor in ((100, 70) if rep == 0 else (70, 100)):
            insert, update, hot = variant(rows, fillfactor)
            print(f"fillfactor {fillfactor:3d}: insert {insert:6.2f}  update {update:6.2f}  (HOT updates counted: {hot})")


if __name__ == "__main__":
    main()
