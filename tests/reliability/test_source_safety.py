"""Source safety: the pipeline query runs in a read-only transaction (a query that tries to write fails
with a clear error and writes nothing), under a statement timeout; connection settings outside the
allowed hosts and ports are refused before anything connects."""
import secrets
import time
import pytest

from pipelines.models import Pipeline
from tests import support
from tests.pipelines.services import create_connection, create_pipeline, create_workspace, identities, run_now
from tests.reliability import USERS_MAPPING

PG_READ_ONLY = "in a read-only transaction (SQLSTATE 25006)"
MYSQL_READ_ONLY = "Error 1792: Cannot execute statement in a READ ONLY transaction"


def table_state(source: support.Source):
    """Everything a write could change: the rows of customers and the list of tables."""
    rows = sorted(source.execute("SELECT id, firstname FROM customers"))
    if source.kind == "postgresql":
        tables = sorted(source.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
    else:
        tables = sorted(source.execute("SHOW TABLES"))
    return rows, tables


@pytest.fixture
def mysql_writer_source():
    """A MariaDB source whose user may write (all privileges on its database): only the connector's
    read-only transaction stands between a query and the data."""
    source = support.create_source("mysql")
    conn = support._mysql()
    cur = conn.cursor()
    cur.execute(f"GRANT ALL PRIVILEGES ON `{source.dbname}`.* TO '{source.settings['username']}'@'%'")
    conn.close()
    yield source
    support.drop_source(source)


@pytest.fixture
def pg_writer_source(pg_source):
    """The PostgreSQL source (its user is a superuser), with a function and a sequence that write."""
    pg_source.execute("CREATE SEQUENCE counter")
    pg_source.execute("CREATE FUNCTION wipe() RETURNS bigint LANGUAGE sql AS "
                      "'DELETE FROM customers RETURNING id'")
    return pg_source


PG_WRITES = [
    ("INSERT INTO customers (id) VALUES (999) RETURNING id", "cannot execute INSERT in a read-only transaction"),
    ("UPDATE customers SET firstname = 'x' RETURNING id", "cannot execute UPDATE in a read-only transaction"),
    ("  -- comment\n delete FROM customers RETURNING id", "cannot execute DELETE in a read-only transaction"),
    ("WITH gone AS (DELETE FROM customers RETURNING id) SELECT id FROM gone", None),
    ("SELECT wipe() AS id", "cannot execute DELETE " + PG_READ_ONLY),
    ("SELECT nextval('counter') AS id", "cannot execute nextval() " + PG_READ_ONLY),
    ("SELECT id FROM customers FOR UPDATE", "cannot execute SELECT FOR UPDATE " + PG_READ_ONLY),
    ("SELECT set_config('transaction_read_only', 'off', false) AS id", None),
    ("CREATE TABLE stolen AS SELECT * FROM customers", "cannot execute CREATE in a read-only transaction"),
    ("DROP TABLE customers", "cannot execute DROP in a read-only transaction"),
    ("TRUNCATE customers", "cannot execute TRUNCATE in a read-only transaction"),
    ("SELECT 1 AS id; DELETE FROM customers", "cannot insert multiple commands into a prepared statement"),
    ("COMMIT; DELETE FROM customers", "cannot insert multiple commands into a prepared statement"),
]
MYSQL_WRITES = [
    ("INSERT INTO customers (id) VALUES (999)", MYSQL_READ_ONLY),
    ("UPDATE customers SET firstname = 'x'", MYSQL_READ_ONLY),
    ("DELETE FROM customers", MYSQL_READ_ONLY),
    ("REPLACE INTO customers (id) VALUES (1)", MYSQL_READ_ONLY),
    ("SELECT id FROM customers FOR UPDATE", MYSQL_READ_ONLY),
    ("CREATE TABLE stolen AS SELECT * FROM customers", MYSQL_READ_ONLY),
    ("DROP TABLE customers", MYSQL_READ_ONLY),
    ("TRUNCATE TABLE customers", MYSQL_READ_ONLY),
    ("ALTER TABLE customers ADD COLUMN z INT", MYSQL_READ_ONLY),
    ("CREATE TEMPORARY TABLE scratch (a INT)", MYSQL_READ_ONLY),
    ("LOCK TABLES customers WRITE", MYSQL_READ_ONLY),
    ("SELECT 1 AS id; DELETE FROM customers", "You have an error in your SQL syntax"),
]


@pytest.mark.parametrize("kind", ["postgresql", "mysql"])
def test_queries_that_write_fail_clearly_and_write_nothing(api, warehouse_db, kind, request):
    source = request.getfixturevalue("pg_writer_source" if kind == "postgresql" else "mysql_writer_source")
    writes = PG_WRITES if kind == "postgresql" else MYSQL_WRITES
    ws = create_workspace(api, warehouse_db)
    connection_id = create_connection(ws, source)
    before = table_state(source)
    for query, message in writes:
        resp = ws.api.post(f"/v1/connections/{connection_id}/query", {"query": query, "limit": 5})
        status, code, text = support.error_of(resp)
        assert (status, code) == (503, "ServiceUnavailable"), (query, resp.content)
        if message:
            assert message in text, (query, text)
        assert table_state(source) == before, query
    # A pipeline whose query writes: the run fails with the database's message and writes nothing.
    pipeline_id = create_pipeline(ws, connection_id, query="SELECT id, firstname, updated_ts FROM customers",
                                  mapping=USERS_MAPPING)
    assert run_now(pipeline_id).error == "" and len(identities(ws, pipeline_id)) == 10
    query, message = writes[1]
    Pipeline.objects.filter(id=pipeline_id).update(query=query + (" RETURNING id, firstname, updated_ts"
                                                                 if kind == "postgresql" else ""))
    run = run_now(pipeline_id)
    assert message in run.error and run.passed[6] == 0, run.error
    assert table_state(source) == before
    assert len(identities(ws, pipeline_id)) == 10  # a failed run purges nothing


@pytest.mark.parametrize("kind,slow", [
    ("postgresql", "SELECT id, firstname, updated_ts FROM customers WHERE id <> 5 OR pg_sleep(5) IS NOT NULL"),
    ("mysql", "SELECT id, firstname, updated_ts FROM customers WHERE id <> 5 OR SLEEP(5) = 0"),
])
def test_the_statement_timeout_stops_a_slow_query_and_the_run_purges_nothing(api, warehouse_db, settings, kind,
                                                                             slow, request):
    source = request.getfixturevalue("pg_source" if kind == "postgresql" else "mysql_source")
    # a run's statement timeout; a preview has its own (KRENALIS_PREVIEW_TIMEOUT)
    settings.KRENALIS = {**settings.KRENALIS, "SOURCE_STATEMENT_TIMEOUT": 1, "PREVIEW_TIMEOUT": 1}
    ws = create_workspace(api, warehouse_db)
    connection_id = create_connection(ws, source)
    pipeline_id = create_pipeline(ws, connection_id, query="SELECT id, firstname, updated_ts FROM customers",
                                  mapping=USERS_MAPPING)
    assert run_now(pipeline_id).error == ""
    expected = ("canceling statement due to statement timeout (SQLSTATE 57014)" if kind == "postgresql"
                else "Error 1969: Query execution was interrupted (max_statement_time exceeded)")
    started = time.monotonic()
    resp = ws.api.post(f"/v1/connections/{connection_id}/query", {"query": slow, "limit": 10})
    assert support.error_of(resp) == (503, "ServiceUnavailable", "the query took longer than the preview's limit "
                                                                 "of 1 s (KRENALIS_PREVIEW_TIMEOUT) and was cancelled")
    assert support.busy_sessions(source) == 0
    assert time.monotonic() - started < 4
    Pipeline.objects.filter(id=pipeline_id).update(query=slow)
    started = time.monotonic()
    run = run_now(pipeline_id)
    assert run.error == expected and time.monotonic() - started < 4
    assert len(identities(ws, pipeline_id)) == 10  # the identities of the last good run stay


def source_body(connector: str, name: str, **settings) -> dict:
    settings = {"username": "u", "password": "p", "database": "d", **settings}
    if connector == "postgresql":
        settings["schema"] = "public"
    return {"name": name, "role": "Source", "connector": connector, "settings": settings}


@pytest.mark.parametrize("connector", ["postgresql", "mysql"])
def test_a_listener_counts_a_connection_attempt(workspace, connector):
    """The listener the tests below use does see a connector connect (else they could not fail)."""
    with support.CountingListener() as listener:
        body = source_body(connector, "Listener", host="127.0.0.1", port=listener.port)
        assert support.error_of(workspace.api.post("/v1/connections", body))[:2] == (503, "ServiceUnavailable")
        assert listener.accepted >= 1


@pytest.mark.parametrize("connector", ["postgresql", "mysql"])
def test_hosts_and_ports_outside_the_ranges_are_refused(workspace, connector):
    with support.CountingListener() as listener:
        port = listener.port
        cases = [({"port": 0}, "port must be in range [1,65535]"),
                 ({"port": 65536}, "port must be in range [1,65535]"),
                 ({"port": -port}, "port must be in range [1,65535]"),
                 ({"port": 2**63}, "port must be in range [1,65535]"),
                 ({"port": str(port)}, "port must be an integer"), ({"port": float(port)}, "port must be an integer"),
                 ({"port": True}, "port must be an integer"),
                 ({"host": ""}, "host length in bytes must be in range [1,253]"),
                 ({"host": "h" * 254}, "host length in bytes must be in range [1,253]"),
                 ({"host": "é" * 127}, "host length in bytes must be in range [1,253]"),
                 ({"host": 127001}, "host must be a string")]
        for change, message in cases:
            body = source_body(connector, "Out of range", **{"host": "127.0.0.1", "port": port, **change})
            resp = workspace.api.post("/v1/connections", body)
            assert support.error_of(resp) == (422, "InvalidSettings", message), (change, resp.content)
        assert listener.accepted == 0


@pytest.mark.parametrize("connector", ["postgresql", "mysql"])
def test_the_allowed_hosts_and_ports_are_enforced_before_connecting(workspace, settings, connector):
    with support.CountingListener() as allowed, support.CountingListener() as other:
        settings.KRENALIS = {**settings.KRENALIS, "DATABASE_ALLOWED_HOSTS": ["127.0.0.0/8", "::1", "db.internal"],
                             "DATABASE_ALLOWED_PORTS": f"3306,5432,6000-6010,{allowed.port}"}
        # Hosts that reach this machine's loopback use the allowed listener's port: a refusal that
        # came too late would land there.
        refused = [("10.0.0.1", 5432), ("169.254.169.254", 5432), ("192.168.1.10", 3306), ("0.0.0.0", allowed.port),
                   ("::2", 5432), ("db.example.com", 5432), ("DB.internal.evil", 5432), ("localhost", allowed.port),
                   ("127.0.0.1,10.0.0.1", allowed.port), ("/var/run/postgresql", 5432),
                   (" 127.0.0.1", allowed.port), ("127.0.0.1", 22), ("127.0.0.1", 6379), ("127.0.0.1", 6011),
                   ("::1", 80), ("127.0.0.1", other.port)]
        for host, port in refused:
            body = source_body(connector, "Elsewhere", host=host, port=port)
            started = time.monotonic()
            status, code, message = support.error_of(workspace.api.post("/v1/connections", body))
            assert (status, code) == (422, "InvalidSettings"), (host, port, message)
            assert message in (f'host "{host}" is not allowed', f"port {port} is not allowed"), message
            assert time.monotonic() - started < 1  # refused at once: no name resolved, nothing reached
        assert (allowed.accepted, other.accepted) == (0, 0)
    assert workspace.api.get("/v1/connections").json()["connections"] == []


def test_allowed_hosts_and_ports_let_a_real_source_in(workspace, pg_source, mysql_source, settings):
    settings.KRENALIS = {**settings.KRENALIS, "DATABASE_ALLOWED_HOSTS": ["127.0.0.1"],
                         "DATABASE_ALLOWED_PORTS": "3306,5432"}
    for source in (pg_source, mysql_source):
        resp = workspace.api.post("/v1/connections", support.connection_body(source, f"Allowed {source.kind}"))
        assert resp.status_code == 200, resp.content


def test_warehouse_locations_are_checked_too(api, settings, tmp_path):
    settings.KRENALIS = {**settings.KRENALIS, "DATABASE_ALLOWED_HOSTS": ["127.0.0.1"],
                         "DATABASE_ALLOWED_PORTS": "5432", "SQLITE_WAREHOUSE_DIR": str(tmp_path / "warehouses")}
    body = support.workspace_body("Elsewhere", "wh")
    with support.CountingListener() as listener:
        for host, port, message in [("10.1.2.3", 5432, 'host "10.1.2.3" is not allowed'),
                                    ("127.0.0.1", listener.port, f"port {listener.port} is not allowed")]:
            body["warehouse"]["settings"].update(host=host, port=port)
            resp = api.post("/v1/workspaces", body)
            assert support.error_of(resp) == (
                422, "InvalidWarehouseSettings", f"data warehouse settings are not valid: {message}")
        assert listener.accepted == 0
    for path in ("/etc/krenalis.sqlite3", "../escape.sqlite3", str(tmp_path / "elsewhere.sqlite3"), "."):
        body = {"name": "File", "profileSchema": support.PROFILE_SCHEMA,
                "warehouse": {"platform": "SQLite", "settings": {"path": path}}}
        assert support.error_of(api.post("/v1/workspaces", body)) == (
            422, "InvalidWarehouseSettings",
            "data warehouse settings are not valid: path must be inside the directory of the SQLite warehouses")
    assert not (tmp_path / "elsewhere.sqlite3").exists() and not (tmp_path / "escape.sqlite3").exists()
    body["warehouse"]["settings"]["path"] = f"team/{secrets.token_hex(3)}.sqlite3"
    resp = api.post("/v1/workspaces", body)
    assert resp.status_code == 200, resp.content
    assert list((tmp_path / "warehouses" / "team").iterdir())
