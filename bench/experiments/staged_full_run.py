"""Experiment: a full run into a pipeline that has identities, through the identity writer alone (no
source, no engine): a first import of ROWS identities batch by batch (a load: a new table, indexed and
swapped in at the end, load and finish timed apart), then twice the
same rows as a staged full run (`stage_full_run`, the batches, `finish_full_run`), timing the load (the
batches staged) and the finish (the join and the difference, nothing here) apart.

    .venv/bin/python -m bench.experiments.staged_full_run [ROWS]
"""
from __future__ import annotations

import datetime as dt
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from bench.common import DB_PREFIX, PG, create_database, drop_database, pg_execute  # noqa: E402
from bench.product import setup_django  # noqa: E402
from bench.scenarios import PROFILE_SCHEMA  # noqa: E402

BATCH = 15_000      # the engine's coalesced writes


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    setup_django(migrate=False)     # the writer never reads the metadata database
    from pipelines.types import parse_type
    from warehouse.backends import PostgreSQLWarehouse
    from warehouse.columns import profile_columns

    db = create_database(f"{DB_PREFIX}staged")
    try:
        schema = parse_type(PROFILE_SCHEMA)
        warehouse = PostgreSQLWarehouse({"host": PG["host"], "port": PG["port"], "username": PG["user"],
                                         "password": "", "database": db, "schema": "public"})
        warehouse.initialize(schema)
        columns = [(c.name, c.type) for c in profile_columns(schema)]
        start = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
        batches = [[(str(i), start + dt.timedelta(seconds=i), (f"user{i}@example.com", f"First{i}", f"Last{i}"))
                    for i in range(first, min(rows, first + BATCH - 1) + 1)] for first in range(1, rows + 1, BATCH)]
        began = time.perf_counter()
        with warehouse.identity_writer(pipeline_id=1, connection_id=1, run_id=1, columns=columns) as writer:
            assert writer.stage_full_run()      # an empty warehouse: a load, swapped in at the end
            for batch in batches:
                writer.write(batch)
            loaded = time.perf_counter()
            writer.finish_full_run(purge=True)
            finished = time.perf_counter()
        print(f"first import (load): load {loaded - began:.2f} s, finish {finished - loaded:.2f} s", flush=True)
        for run in (2, 3):
            pg_execute("postgres", "CHECKPOINT")
            began = time.perf_counter()
            with warehouse.identity_writer(pipeline_id=1, connection_id=1, run_id=run, columns=columns) as writer:
                writer.stage_full_run()
                for batch in batches:
                    writer.write(batch)
                loaded = time.perf_counter()
                writer.finish_full_run(purge=True)
                finished = time.perf_counter()
            print(f"staged full run, nothing changed: load {loaded - began:.2f} s, finish {finished - loaded:.2f} s",
                  flush=True)
    finally:
        drop_database(db)


if __name__ == "__main__":
    main()
