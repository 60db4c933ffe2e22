"""Experiment: the engine's own cost, without the services around it (run bookkeeping, Django models).
Not part of run.py; run it alone (it prints one line per pass):

    .venv/bin/python -m bench.experiments.engine_cpu [ROWS] [--writer null|pg] [--passes N]

It imports the product from sys.path: to compare two versions, run it from `git archive` (or rsync)
copies of each, alternately (PYTHONPATH is not needed: the copy's own root comes first).

`execute_run` runs on the pg-mapping-3 scenario's source and pipeline (bench/scenarios.py):

- `--writer null`: the writer thread accepts batches and drops them, so the figures are the reading,
  normalization, mapping and queueing side alone: wall time and the main thread's CPU time.
- `--writer pg`: the product's PostgreSQL identity writer into a fresh warehouse; the first pass
  inserts, the next ones update every row (as run.py's phases), with the process CPU time.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from bench.common import DB_PREFIX, create_database, drop_database, pg_connect, pg_execute  # noqa: E402
from bench.product import pg_settings, setup_django  # noqa: E402
from bench.scenarios import MAPPING, PROFILE_SCHEMA, SOURCES, USERS_IN_SCHEMA, USERS_QUERY  # noqa: E402


class Monitor:
    def __init__(self):
        self.errors = 0

    def stop_reason(self):
        return None

    def drops_unwritten(self):
        return False

    def progress(self, passed, failed):
        pass

    def record_error(self, step, user_id, message, row=None):
        self.errors += 1


class NullWriter:
    def write(self, rows):
        return len(rows)

    def keep(self, identity_ids):
        pass

    def unset(self, column_names):
        pass

    def purge(self):
        return 0

    def has_identities(self):
        return False

    def stage_full_run(self):
        return False

    def finish_full_run(self, *, purge):
        return 0

    def flush(self):
        pass

    def close(self):
        pass


def source_database(rows: int) -> str:
    """The source, made once per size and kept (drop it with --drop)."""
    source = SOURCES["postgresql"]
    db = source.database(rows)
    exists = pg_execute("postgres", f"SELECT 1 FROM pg_database WHERE datname = '{db}'", fetch=True)
    return db if exists else source.prepare(rows)


def plan(source_db: str, make_writer):
    from pipelines.connectors import get_connector
    from pipelines.connectors.network import AddressPolicy, parse_allowed_hosts, pin_settings
    from pipelines.engine import MappingTransformer, RunPlan
    from pipelines.mapping import TransformError, compile_mapping
    from pipelines.types import parse_type

    in_schema, out_schema = parse_type(USERS_IN_SCHEMA), parse_type(PROFILE_SCHEMA)
    return RunPlan(
        connector=get_connector("postgresql"), connector_settings=pin_settings(
            pg_settings(source_db), AddressPolicy(allowed_hosts=parse_allowed_hosts("127.0.0.1"))), query=USERS_QUERY,
        statement_timeout=600, incremental=False, cursor=None, user_id_column="id", updated_at_column="updated_at",
        updated_at_format="", in_schema=in_schema, out_schema=out_schema, profile_schema=out_schema,
        make_transformer=lambda: MappingTransformer(compile_mapping(MAPPING, in_schema, out_schema), TransformError,
                                                     in_schema, out_schema),
        make_writer=make_writer)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("rows", type=int, nargs="?", default=300_000)
    parser.add_argument("--writer", choices=("null", "pg"), default="null")
    parser.add_argument("--passes", type=int, default=2)
    parser.add_argument("--drop", action="store_true", help="drop the source database at the end")
    args = parser.parse_args()
    setup_django(migrate=False)
    from pipelines.engine import execute_run

    source_db = source_database(args.rows)
    warehouse_db = backend = None
    if args.writer == "pg":
        from pipelines.types import parse_type
        from warehouse.backends.postgresql import PostgreSQLWarehouse, create_statements

        warehouse_db = create_database(f"{DB_PREFIX}wh_engine")
        conn = pg_connect(warehouse_db)
        with conn.cursor() as cur:
            for statement in create_statements(parse_type(PROFILE_SCHEMA)):
                cur.execute(statement)
        conn.close()
        backend = PostgreSQLWarehouse(pg_settings(warehouse_db))
    for run_id in range(1, args.passes + 1):
        if backend is None:
            make_writer = lambda columns: NullWriter()  # noqa: E731
        else:
            make_writer = lambda columns, run_id=run_id: backend.identity_writer(  # noqa: E731
                pipeline_id=1, connection_id=1, run_id=run_id, columns=columns)
        monitor = Monitor()
        wall, main_cpu, process_cpu = time.perf_counter(), time.thread_time(), time.process_time()
        result = execute_run(plan(source_db, make_writer), monitor)
        wall, main_cpu = time.perf_counter() - wall, time.thread_time() - main_cpu
        process_cpu = time.process_time() - process_cpu
        assert not result.error and not monitor.errors, (result.error, monitor.errors)
        assert result.passed[-1] == args.rows, result.passed
        print(f"pass {run_id} ({args.writer}): wall {wall:6.2f} s  main thread CPU {main_cpu:6.2f} s  "
              f"process CPU {process_cpu:6.2f} s", flush=True)
    if warehouse_db:
        drop_database(warehouse_db)
    if args.drop:
        drop_database(source_db)


if __name__ == "__main__":
    main()
