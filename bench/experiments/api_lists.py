"""Experiment: the time of the /v1 list endpoints on large lists, through Django's test client (no
server, no network): medians of N requests per endpoint, after a few unmeasured ones, in wall time
and in this process's CPU time (which the other work of a shared machine disturbs less; the
databases' own time is not in it), with the queries of one request.

The workspace: 200 connections of one pipeline each (half with a look-back window), 1,000 runs
(5 per pipeline, the newest live, every other one with a look-back), 100 more workspaces, and a
pipeline that imported 1,000 customers from a PostgreSQL source into the PostgreSQL warehouse
(identities of a connection; profiles; then all given one email and resolved again, for the 1,000
identities of one profile). Metadata, source and warehouse are fresh PostgreSQL databases, dropped
at the end. Only models and services that exist since before the /v1 viewsets (5204686^) are used,
so that the same script measures both sides: it imports the product from the current directory.

    cd <checkout> && CELERY_BROKER_URL=redis://127.0.0.1:6379/<yours> \\
        flock /tmp/krenalis-bench.lock /work/main/.venv/bin/python <this file> [REQUESTS] [--profile PATH]

`--profile PATH`: no timing; cProfile of REQUESTS requests of each endpoint, written to PATH.<name>.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import secrets
import statistics
import sys
import time

sys.path.insert(0, os.getcwd())

import psycopg2  # noqa: E402

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
META_DB = f"krenalis_bench_lists_{secrets.token_hex(4)}"
CUSTOMERS = "SELECT id, firstname, lastname, email, updated_ts, age FROM customers"
STRING_SCHEMA = {"kind": "object", "properties": [{"name": "email", "type": {"kind": "string"}}]}


def pg_execute(statement: str, dbname: str = "postgres") -> None:
    conn = psycopg2.connect(dbname=dbname, **PG)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(statement)
    conn.close()


def setup_django() -> None:
    pg_execute(f'CREATE DATABASE "{META_DB}"')
    os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{META_DB}"
    os.environ.setdefault("KRENALIS_DATABASE_ALLOWED_HOSTS", "127.0.0.1,localhost,::1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "krenalis.settings")
    os.environ.setdefault("KRENALIS_LOG_LEVEL", "WARNING")
    import django
    from django.core.management import call_command

    from django.test.utils import setup_test_environment

    django.setup()
    setup_test_environment()  # the test client's host allowed, DEBUG off (as the tests)
    call_command("migrate", verbosity=0, interactive=False)


def build() -> dict:
    """The workspace and its objects; the API clients and paths to measure."""
    from pipelines.encryption import encrypt_json
    from pipelines.ids import random_id
    from pipelines.models import Connection, Pipeline, Run, Workspace
    from pipelines.services.apikeys import api_key_create
    from pipelines.services.identity_resolution import identity_resolution_update_settings, resolve_workspace
    from tests import support
    from tests.pipelines.services import create_connection, create_pipeline, run_now

    _, key = api_key_create(name="bench")
    org = support.Api(key)
    warehouse_db = support.create_pg_database("krenalis_bench_lists_wh")
    source = support.create_source("postgresql", customers=1000)
    created = {"warehouse_db": warehouse_db, "source": source}
    resp = org.post("/v1/workspaces", support.workspace_body("Lists", warehouse_db))
    assert resp.status_code == 200, resp.content
    workspace_ref = support.WorkspaceRef(resp.json()["id"], warehouse_db, org.scoped(resp.json()["id"]))
    workspace = Workspace.objects.get(id=workspace_ref.id)
    identity_resolution_update_settings(workspace=workspace, run_on_batch_import=False, identifiers=["email"])

    for w in range(100):
        other = Workspace(id=random_id(), name=f"Other {w}", profile_schema=STRING_SCHEMA,
                          warehouse_platform="PostgreSQL")
        other.warehouse_settings = {"host": "127.0.0.1", "port": 5432, "username": "nobody", "password": "x",
                                    "database": "nothing", "schema": "public"}
        other.save()

    start = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    for c in range(200):
        connection = Connection.objects.create(id=random_id(), workspace=workspace, name=f"Connection {c}",
                                               connector="postgresql", settings_encrypted=encrypt_json({}))
        pipeline = Pipeline.objects.create(
            id=random_id(), workspace=workspace, connection=connection, name=f"Pipeline {c}",
            query="SELECT id, email FROM users", user_id_column="id", updated_at_column="updated_at",
            in_schema=STRING_SCHEMA, out_schema=STRING_SCHEMA, transformation_mapping={"email": "email"},
            schedule_start=7, schedule_period=60 if c % 3 else 0, updated_at_lookback=3600 if c % 2 else None)
        for r in range(5):
            begun = start + dt.timedelta(hours=r)
            live = r == 4
            Run.objects.create(id=random_id(), pipeline=pipeline, incremental=bool(r % 2), start_time=begun,
                               end_time=None if live else begun + dt.timedelta(seconds=3, microseconds=r * 1001),
                               passed=[] if live else [5] * 7, failed=[] if live else [0] * 7,
                               lookback=600 if r % 2 else None, reread=r, in_flight_note="")

    connection_id = create_connection(workspace_ref, source)
    pipeline_id = create_pipeline(workspace_ref, connection_id, incremental=False, query=CUSTOMERS, mapping={
        "email": "email", "first_name": "firstname", "last_name": "lastname", "age": "age"})
    run = run_now(pipeline_id)
    assert run.error == "" and run.passed[-1] == 1000, (run.error, run.passed)
    resolve_workspace(workspace, full=True)
    return {"org": org, "api": workspace_ref.api, "connection_id": connection_id, "created": created,
            "workspace": workspace}


def one_profile(built: dict) -> str:
    """Every identity given one email and resolved again: the KPID of the one profile that holds them."""
    from pipelines.services.identity_resolution import resolve_workspace
    from tests import support

    conn = support.pg_connect(built["created"]["warehouse_db"])
    with conn.cursor() as cur:
        cur.execute("UPDATE krenalis_identities SET email = 'one@example.com'")
    conn.close()
    resolve_workspace(built["workspace"], full=True)
    body = built["api"].get("/v1/profiles?limit=1000").json()
    assert len(body["profiles"]) == 1, len(body["profiles"])
    return body["profiles"][0]["kpid"]


def measure(label: str, client, path: str, requests: int, profile: str | None) -> None:
    from django.db import connection as db
    from django.test.utils import CaptureQueriesContext

    for _ in range(3):
        resp = client.get(path)
        assert resp.status_code == 200, (path, resp.content[:300])
    with CaptureQueriesContext(db) as captured:
        resp = client.get(path)
    queries = len(captured)  # now: the next request clears the log
    digest = hashlib.sha256(resp.content).hexdigest()[:10]
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(requests):
            client.get(path)
        profiler.disable()
        profiler.dump_stats(f"{profile}.{label}")
        print(f"{label:24s} profiled -> {profile}.{label}", flush=True)
        return
    times, cpu_times = [], []
    for _ in range(requests):
        started, cpu_started = time.perf_counter(), time.process_time()
        client.get(path)
        cpu_times.append((time.process_time() - cpu_started) * 1000)
        times.append((time.perf_counter() - started) * 1000)
    print(f"{label:24s} median {statistics.median(times):7.2f} ms  min {min(times):7.2f}  "
          f"cpu median {statistics.median(cpu_times):7.2f}  queries {queries:2d}  {len(resp.content):8,d} bytes  "
          f"sha {digest}", flush=True)


def shaping(built: dict) -> None:
    """The shaping alone, in this process, on rows already read (the runs and pipelines of the
    workspace, the identities of the connection): best of 15, which the machine's other work
    disturbs least. Through what the checkout's views call: the serializers, or the hand-built dicts
    of before (run_json, identity_json); pipelines_json on both sides."""
    import timeit

    from pipelines.api import serializers
    from pipelines.api.pipeline_views import pipelines_json
    from pipelines.models import Connection
    from pipelines.selectors import pipeline_list, run_list, running_pipeline_ids
    from pipelines.services.identities import connection_identities

    workspace = built["workspace"]
    runs = list(run_list(workspace=workspace, pipeline_id=None))
    pipelines = list(pipeline_list(workspace=workspace))
    running = running_pipeline_ids([p.id for p in pipelines])
    identities, _ = connection_identities(workspace=workspace, first=0, limit=1000,
                                          connection=Connection.objects.get(id=built["connection_id"]))
    if hasattr(serializers, "run_json"):
        shapes = {"runs": lambda: [serializers.run_json(r) for r in runs],
                  "pipelines": lambda: pipelines_json(pipelines, running),
                  "identities": lambda: [serializers.identity_json(i) for i in identities]}
    else:
        shapes = {"runs": lambda: serializers.RunSerializer(runs, many=True).data,
                  "pipelines": lambda: pipelines_json(pipelines, running),
                  "identities": lambda: serializers.IdentitySerializer(identities, many=True).data}
    for name, shape in shapes.items():
        best = min(timeit.repeat(shape, number=1, repeat=15)) * 1000
        print(f"shaping {name:16s} best {best:7.2f} ms  ({len(shape())} rows)", flush=True)


def main() -> None:
    args = [a for a in sys.argv[1:]]
    profile = None
    if "--profile" in args:
        i = args.index("--profile")
        profile = args[i + 1]
        del args[i:i + 2]
    requests = int(args[0]) if args else 30
    setup_django()
    built = None
    try:
        built = build()
        api, org = built["api"], built["org"]
        print(f"{os.getcwd()} @ {os.popen('git rev-parse --short HEAD 2>/dev/null').read().strip()}  "
              f"load {os.getloadavg()[0]:.2f}  {requests} requests each", flush=True)
        measure("workspaces (101)", org, "/v1/workspaces", requests, profile)
        measure("connectors", org, "/v1/connectors", requests, profile)
        measure("connections (200+1)", api, "/v1/connections", requests, profile)
        measure("pipelines (201)", api, "/v1/pipelines", requests, profile)
        measure("runs (1001)", api, "/v1/pipelines/runs", requests, profile)
        measure("conn identities (1000)", api, f"/v1/connections/{built['connection_id']}/identities?limit=1000",
                requests, profile)
        measure("profiles (1000)", api, "/v1/profiles?limit=1000", requests, profile)
        shaping(built)
        kpid = one_profile(built)
        measure("prof identities (1000)", api, f"/v1/profiles/{kpid}/identities?limit=1000", requests, profile)
        print(f"load {os.getloadavg()[0]:.2f}", flush=True)
    finally:
        from django.db import connections

        connections.close_all()
        if built is not None:
            from tests import support

            support.drop_source(built["created"]["source"])
            support.drop_pg_database(built["created"]["warehouse_db"])
        pg_execute(f'DROP DATABASE IF EXISTS "{META_DB}" WITH (FORCE)')


if __name__ == "__main__":
    main()
