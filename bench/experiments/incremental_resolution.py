"""Experiment: what an incremental identity resolution costs after 1 % of the identities changed, with the
levers of issue 18 switched on and off, alternated on one warehouse (bench (e) measures the product as is).

    .venv/bin/python -m bench.experiments.incremental_resolution [ROWS] [TRIALS] [VARIANT,...]

One PostgreSQL warehouse of ROWS identities shaped like the bench's (one pipeline, emails all distinct,
the identifier), resolved fully once. Then, per trial and variant: a full resolution (timed), the
variant's extra step (timed apart), 1 % of the identities get a new email through the identity
writer (ids % 100 = 0, as bench (d)), a CHECKPOINT, the incremental resolution (timed, with its
steps). Variants:

  base       the product as it is
  vacuum     VACUUM of krenalis_profiles after the full resolution (hint bits, visibility map)
  vacuumall  VACUUM of krenalis_profiles and krenalis_identities after it
  noindex    the profiles' `_updated_at` index dropped after the full resolution
  lz4        the incremental resolution's sessions compress the WAL's full-page images (wal_compression = lz4,
             set on the database for the resolution only; superuser)
  nocheckpoint  no CHECKPOINT between the change and the incremental resolution (as when a resolution
             follows its import within one checkpoint interval): what the full-page images cost it

FILLFACTOR=n sets the identities table's fillfactor before it is filled (the first resolution's
rewrite keeps it). With EXPLAIN=1 the incremental resolution of the last trial of each variant sends each statement
alone under EXPLAIN (ANALYZE, BUFFERS, WAL) and prints the plans (its time then is not comparable).
"""
from __future__ import annotations

import os
import re
import sys
import time
from datetime import datetime, timedelta, timezone

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from bench.common import DB_PREFIX, create_database, drop_database, pg_connect, pg_execute  # noqa: E402
from bench.product import setup_django  # noqa: E402
from bench.scenarios import IDENTIFIERS, PROFILE_SCHEMA  # noqa: E402

FILL = ("INSERT INTO krenalis_identities (_pipeline, _identity_id, _connection, _updated_at, _run, email, first_name, "
        "last_name) SELECT 1, g::text, 1, timestamp '2024-01-01' + g * interval '1 second', 1, 'user' || g || "
        "'@example.com', 'First' || g, 'Last' || g FROM generate_series(1, {rows}) AS g")


def load() -> str:
    return open("/proc/loadavg").read().split()[0]


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    trials = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    variants = (sys.argv[3] if len(sys.argv) > 3 else "base,vacuum").split(",")
    setup_django(migrate=False)
    from pipelines.types import parse_type
    from warehouse.backends import PostgreSQLWarehouse
    from warehouse.columns import profile_columns
    from warehouse.resolution import ResolutionSpec

    schema = parse_type(PROFILE_SCHEMA)
    columns = profile_columns(schema)
    spec = ResolutionSpec(identifiers=tuple(IDENTIFIERS), columns=tuple(columns))
    db = create_database(f"{DB_PREFIX}wh_incr")
    try:
        wh = PostgreSQLWarehouse({"host": "127.0.0.1", "port": 5432, "username": "postgres", "password": "",
                                  "database": db, "schema": "public"})
        wh.initialize(schema)
        if os.environ.get("FILLFACTOR"):    # of krenalis_identities (70 as created)
            pg_execute(db, f"ALTER TABLE krenalis_identities SET (fillfactor = {int(os.environ['FILLFACTOR'])})")
        pg_execute(db, FILL.format(rows=rows))
        started = time.perf_counter()
        wh.resolve_identities(spec)
        print(f"{rows:,} identities; first (full) resolution {time.perf_counter() - started:.2f} s", flush=True)
        n = 0
        for trial in range(trials):
            for variant in (variants if trial % 2 == 0 else variants[::-1]):
                n += 1
                pg_execute("postgres", "CHECKPOINT")
                started = time.perf_counter()
                full = wh.resolve_identities(spec, full=True)
                full_s = time.perf_counter() - started
                started = time.perf_counter()
                if variant == "vacuum":
                    pg_execute(db, "VACUUM krenalis_profiles")
                elif variant == "vacuumall":
                    pg_execute(db, "VACUUM krenalis_profiles", "VACUUM krenalis_identities")
                elif variant == "noindex":
                    pg_execute(db, "DROP INDEX krenalis_profiles_updated_at")
                extra_s = time.perf_counter() - started
                at = datetime(2025, 1, 1, tzinfo=timezone.utc) + timedelta(days=n)
                with wh.identity_writer(pipeline_id=1, connection_id=1, run_id=n + 1,
                                        columns=[(c.name, c.type) for c in columns]) as w:
                    w.write([(str(i), at, (f"changed{n}_{i}@example.com", f"First{i}", f"Last{i}"))
                             for i in range(100, rows + 1, 100)])
                if variant != "nocheckpoint":
                    pg_execute("postgres", "CHECKPOINT")
                if variant == "lz4":
                    pg_execute("postgres", f"ALTER DATABASE {db} SET wal_compression = 'lz4'")
                before = load()
                started = time.perf_counter()
                if os.environ.get("EXPLAIN") and trial == trials - 1:
                    print(f"{variant}: EXPLAIN of the incremental resolution's statements")
                    incr = explain(wh, spec)
                else:
                    incr = wh.resolve_identities(spec)
                incr_s = time.perf_counter() - started
                if variant == "lz4":
                    pg_execute("postgres", f"ALTER DATABASE {db} RESET wal_compression")
                assert incr.kind == "Incremental" and incr.identities == rows // 100, incr
                print(f"{variant:9s} full {full_s:6.2f} s (+{extra_s:.2f})  incr {incr_s:5.2f} s  ratio "
                      f"{incr_s / full_s:.3f} ({incr_s / (full_s + extra_s):.3f} with the extra)  steps "
                      f"{incr.seconds}  load {before}-{load()}", flush=True)
    finally:
        if not os.environ.get("KEEP"):
            drop_database(db)


def explain(wh, spec):
    """The incremental resolution (a real one) with every statement that reads or writes tables sent
    alone under EXPLAIN (ANALYZE, BUFFERS, WAL): its time, its plan's nodes and their buffers."""
    from warehouse.resolution import PostgreSQLResolution

    class Explained(PostgreSQLResolution):
        def send(self, sql=None, params=()):
            if sql is not None:
                self.execute(sql, params)
            batch, self.pending = self.pending, []
            for statement in batch:
                text = statement.lstrip()
                if text.upper().startswith(("INSERT", "DELETE", "UPDATE")) or re.match(r"CREATE TEMP TABLE \w+ AS ", text):
                    self.cur.execute("EXPLAIN (ANALYZE, BUFFERS, WAL, TIMING OFF, SUMMARY ON) " + text)
                    plan = [r[0] for r in self.cur.fetchall()]
                    total = [line for line in plan if "Execution Time" in line]
                    print(f"  {total[0].strip() if total else ''} | {' '.join(text.split())[:220]}")
                    for line in plan:
                        if "Time:" not in line:
                            print("      " + line[:170])
                else:
                    self.cur.execute(statement)

    with wh.connect() as conn:
        return Explained(conn, spec).run()


if __name__ == "__main__":
    main()
