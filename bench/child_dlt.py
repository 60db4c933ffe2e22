"""Child process of scenario (f): dlt's `sql_database` source loading our query into PostgreSQL, merged on id.

So that the bench compares our import to dlt's on the same query, source and warehouse, in the same run.

    bench/.venv/bin/python bench/child_dlt.py SPEC_JSON

SPEC_JSON: {"source_url": SQLAlchemy URL (postgresql://... or mysql+pymysql://...), "query": a SELECT of
id, email, firstname, lastname, updated_at, "destination_db", "dataset", "table", "backend": "sqlalchemy"
(default) or "pyarrow", "pipelines_dir", optional "loader_file_format" (dlt's choice when absent)}. Prints
{"seconds", "peak_rss", "rows", "backend", "steps"} as JSON on its last line: "seconds" is the wall time of
pipeline.run (extract, normalize, load), "steps" dlt's own time of each, "rows" a count(*) of the
destination table after the load. Runs from the bench venv only (bench/setup_venv.sh): no Django, no product.

Source: dlt's `sql_table` (the sql_database source's resource, with its backends, chunking and streaming);
`query_adapter_callback` replaces its SELECT with our query as a `text()` clause, and the `Table` it would
reflect is declared instead (the query's columns, typed as reflecting `users` gives), since a query need
not be one table. Backend "sqlalchemy": dict rows, loaded by dlt as INSERT ... VALUES statements (gzipped
files in between), with dlt's `_dlt_load_id` and `_dlt_id` columns added; "pyarrow": Arrow tables, loaded
by COPY from CSV (dlt's choice for Arrow into postgres), no `_dlt_*` columns.

Destination: write_disposition="merge" on primary_key "id" is dlt's postgres `delete-insert` strategy, on
the first run as well: the rows go to `<dataset>_staging.<table>` (truncated first), then one batch runs
`DELETE FROM <table> WHERE EXISTS (same id in staging)` and `INSERT ... SELECT` from staging deduplicated on
id by ROW_NUMBER(). dlt puts no index on id (only a unique one on `_dlt_id`). Its own tables
(`_dlt_loads`, `_dlt_version`, `_dlt_pipeline_state`) are in the dataset too.

Processes: none. Normalize runs in this process (NORMALIZE__WORKERS=1 is dlt's "none" pool), load in a
thread pool of this process, so VmHWM is the whole pipeline's peak RSS.
"""
import json
import os
import sys
import time

os.environ.update({"RUNTIME__DLTHUB_TELEMETRY": "false", "RUNTIME__LOG_LEVEL": "WARNING",
                   "NORMALIZE__WORKERS": "1"})

import dlt  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from dlt.sources.sql_database import sql_table  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench.common import PG, peak_rss, pg_execute  # noqa: E402

COLUMNS = (sa.Column("id", sa.BigInteger, primary_key=True), sa.Column("email", sa.String(120)),
           sa.Column("firstname", sa.String(60)), sa.Column("lastname", sa.String(60)),
           sa.Column("updated_at", sa.DateTime))


def main() -> None:
    spec = json.loads(sys.argv[1])
    backend = spec.get("backend") or "sqlalchemy"
    url = sa.engine.make_url(spec["source_url"])
    if url.drivername == "postgresql":  # SQLAlchemy 2.1's default is psycopg 3; ours and dlt's use psycopg2
        url = url.set(drivername="postgresql+psycopg2")
    metadata = sa.MetaData()
    sa.Table("query", metadata, *COLUMNS)
    query = sa.text(spec["query"].replace(":", "\\:"))  # colons are literal, not :bind parameters
    source = sql_table(credentials=url.render_as_string(hide_password=False), table="query", metadata=metadata,
                       backend=backend, query_adapter_callback=lambda select, table: query,
                       write_disposition="merge", primary_key="id")
    source.apply_hints(table_name=spec["table"])
    # dlt's postgres credentials require a password; trust auth (the bench's PostgreSQL) ignores it
    destination = f"postgresql://{PG['user']}:unused@{PG['host']}:{PG['port']}/{spec['destination_db']}"
    pipeline = dlt.pipeline(pipeline_name="krenalis_bench_dlt", pipelines_dir=spec["pipelines_dir"],
                            destination=dlt.destinations.postgres(destination), dataset_name=spec["dataset"])
    pipeline.abort_packages()  # left by a failed run, they would be loaded instead of our rows
    started = time.perf_counter()
    pipeline.run(source, loader_file_format=spec.get("loader_file_format"))
    seconds = time.perf_counter() - started
    steps = {step.step: (step.finished_at - step.started_at).total_seconds()
             for step in pipeline.last_trace.steps if step.step in ("extract", "normalize", "load")}
    rows = pg_execute(spec["destination_db"], f'SELECT count(*) FROM "{spec["dataset"]}"."{spec["table"]}"',
                      fetch=True)[0][0]
    print(json.dumps({"seconds": seconds, "peak_rss": peak_rss(), "rows": rows, "backend": backend,
                      "steps": steps}))


if __name__ == "__main__":
    main()
