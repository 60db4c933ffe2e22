"""Child process of scenario (g): Sling (a Go CLI for exactly this job) loading our query into a keyed table.

So that the bench compares our full run to Sling's on the same query, source and warehouse, in the same run.

    bench/.venv/bin/python bench/child_sling.py SPEC_JSON

SPEC_JSON: {"source_url": Sling's URL of the source (postgresql://...?sslmode=disable or mysql://...),
"query": a SELECT of id, email, firstname, lastname, updated_at, "destination_db", "table", "home": a
directory for Sling's own files}. Prints {"seconds", "peak_rss", "rows", "version"} as JSON on its last
line: "seconds" is the wall time of `sling run`, "peak_rss" its ru_maxrss (this small wrapper's own peak,
carried across exec, is far below Sling's), "rows" a count(*) of the destination table after the load.
Runs from the bench venv only (bench/setup_venv.sh, the `sling-linux-amd64` wheel ships the binary).

The destination table is created keyed on id (PRIMARY KEY) before the first load, as our identities are
keyed on the user ID; `--mode incremental --primary-key id` with no update key reads every row and
upserts it: Sling COPYs the rows into `<table>_tmp`, then inserts them from a temporary copy with a
unique index into the keyed table, replacing the rows whose id exists. Into the empty table it is
Sling's initial load; into the filled one its full reload.
"""
import json
import os
import resource
import subprocess
import sys
import time

import sling_linux_amd64

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench.common import PG, pg_execute  # noqa: E402

TABLE_DDL = ("CREATE TABLE IF NOT EXISTS public.{table} (id bigint PRIMARY KEY, email varchar(120), "
             "firstname varchar(60), lastname varchar(60), updated_at timestamp)")


def main() -> None:
    spec = json.loads(sys.argv[1])
    pg_execute(spec["destination_db"], TABLE_DDL.format(table=spec["table"]))
    os.makedirs(spec["home"], exist_ok=True)
    env = dict(os.environ, HOME=spec["home"], SLING_DISABLE_TELEMETRY="true", SLING_SRC=spec["source_url"],
               SLING_DST=f"postgresql://{PG['user']}@{PG['host']}:{PG['port']}/{spec['destination_db']}"
                         "?sslmode=disable")
    argv = [sling_linux_amd64.SLING_BIN, "run", "--src-conn", "SLING_SRC", "--src-stream", spec["query"],
            "--tgt-conn", "SLING_DST", "--tgt-object", f"public.{spec['table']}", "--mode", "incremental",
            "--primary-key", "id"]
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"sling exited with {done.returncode}: {(done.stdout + done.stderr)[-3000:]}")
    rows = pg_execute(spec["destination_db"], f'SELECT count(*) FROM public."{spec["table"]}"', fetch=True)[0][0]
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    print(json.dumps({"seconds": seconds, "peak_rss": peak, "rows": rows, "version": sling_linux_amd64.SLING_VERSION}))


if __name__ == "__main__":
    main()
