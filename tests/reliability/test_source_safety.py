"""Source safety: the pipeline query is one read-only statement, checked before it is sent (a query
that could write, lock or reach outside the database is refused with a clear error and writes
nothing), and runs in a read-only transaction under a statement timeout; Test connection warns
about a login that can do more than read; connection settings outside the allowed hosts and ports
are refused before anything connects."""
import secrets
import time

import pytest

from pipelines.models import Pipeline
from tests import support
from tests.pipelines.services import create_connection, create_pipeline, create_workspace, identities, run_now
from tests.reliability import USERS_MAPPING, USERS_QUERY

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
NOT_A_SELECT = "the query must be a SELECT, not {}"
MYSQL_WRITES = [
    ("INSERT INTO customers (id) VALUES (999)", NOT_A_SELECT.format("INSERT")),
    ("UPDATE customers SET firstname = 'x'", NOT_A_SELECT.format("UPDATE")),
    ("DELETE FROM customers", NOT_A_SELECT.format("DELETE")),
    ("REPLACE INTO customers (id) VALUES (1)", NOT_A_SELECT.format("REPLACE")),
    ("SELECT id FROM customers FOR UPDATE", "FOR UPDATE is not allowed: the query may not lock rows"),
    ("CREATE TABLE stolen AS SELECT * FROM customers", NOT_A_SELECT.format("CREATE")),
    ("DROP TABLE customers", NOT_A_SELECT.format("DROP")),
    ("TRUNCATE TABLE customers", NOT_A_SELECT.format("TRUNCATE")),
    ("ALTER TABLE customers ADD COLUMN z INT", NOT_A_SELECT.format("ALTER")),
    ("CREATE TEMPORARY TABLE scratch (a INT)", NOT_A_SELECT.format("CREATE")),
    ("LOCK TABLES customers WRITE", NOT_A_SELECT.format("LOCK")),
    ("SELECT 1 AS id; DELETE FROM customers", "the query must be a single statement"),
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


FUNCTION = ("function {} is not allowed in the query: it can reach the server's files, other servers or sessions, "
            "or write")


@pytest.fixture
def mariadb_procedure(mysql_writer_source):
    """The writer MariaDB source with a procedure that commits the read-only transaction and writes."""
    mysql_writer_source.execute("CREATE PROCEDURE wipe() BEGIN SET SESSION TRANSACTION READ WRITE; COMMIT; "
                                "DELETE FROM customers; COMMIT; END")
    return mysql_writer_source


@pytest.fixture
def pg_dblink_source(pg_source):
    """The PostgreSQL source with dblink installed (postgresql-contrib ships it with Debian's PostgreSQL):
    a function that opens its own connection, outside the read-only transaction."""
    pg_source.execute("CREATE EXTENSION dblink")
    pg_source.extra["dsn"] = f"dbname={pg_source.dbname} host=127.0.0.1 port=5432 user=postgres"
    return pg_source


def attacks_of(kind: str, source) -> list[tuple[str, str]]:
    if kind == "mysql":
        return [
            ("BEGIN NOT ATOMIC SET SESSION TRANSACTION READ WRITE; COMMIT; DELETE FROM customers; COMMIT; END",
             NOT_A_SELECT.format("BEGIN")),
            ("BEGIN NOT ATOMIC SET SESSION TRANSACTION READ WRITE; COMMIT; CREATE TABLE stolen (a INT); END",
             NOT_A_SELECT.format("BEGIN")),
            ("CALL wipe()", NOT_A_SELECT.format("CALL")),
            ("SELECT id, firstname, updated_ts FROM customers /*!, 1 AS more */",
             "executable comments (/*! ... */) are not allowed in the query"),
        ]
    dsn = source.extra["dsn"]
    return [
        (f"SELECT dblink_exec('{dsn}', 'DELETE FROM customers') AS id", FUNCTION.format("dblink_exec")),
        (f"SELECT id, firstname, updated_ts FROM customers WHERE dblink_exec('{dsn}', 'DELETE FROM customers') "
         "IS NOT NULL", FUNCTION.format("dblink_exec")),
        ("SELECT pg_read_file('PG_VERSION') AS id", FUNCTION.format("pg_read_file")),
    ]


@pytest.mark.parametrize("kind", ["mysql", "postgresql"])
def test_previews_runs_and_saves_refuse_queries_that_could_write_the_source(api, warehouse_db, kind, request):
    """The issue's attacks (a MariaDB compound statement, a procedure, dblink_exec) deleted rows through
    the preview; each is refused with its message before anything is sent, and the rows stay."""
    source = request.getfixturevalue("mariadb_procedure" if kind == "mysql" else "pg_dblink_source")
    ws = create_workspace(api, warehouse_db)
    connection_id = create_connection(ws, source)
    before = table_state(source)
    assert len(before[0]) == 10
    attacks = attacks_of(kind, source)
    for query, message in attacks:
        resp = ws.api.post(f"/v1/connections/{connection_id}/query", {"query": query, "limit": 5})
        assert support.error_of(resp) == (503, "ServiceUnavailable", message), query
        assert table_state(source) == before, query
    # Saved: refused at once, with the same message.
    pipeline_id = create_pipeline(ws, connection_id, query=USERS_QUERY, mapping=USERS_MAPPING)
    body = ws.api.get(f"/v1/pipelines/{pipeline_id}").json()
    for query, message in attacks:
        changed = {key: body[key] for key in ("name", "enabled", "userIDColumn", "updatedAtColumn", "updatedAtFormat",
                                              "incremental", "transformation", "inSchema", "outSchema")}
        resp = ws.api.put(f"/v1/pipelines/{pipeline_id}", {**changed, "query": query})
        assert support.error_of(resp) == (400, "BadRequest", message), query
    assert Pipeline.objects.get(id=pipeline_id).query == USERS_QUERY
    # Run: a query stored before this check existed fails the run with the message, the rows stay, and
    # the identities of the last good run too.
    assert run_now(pipeline_id).error == "" and len(identities(ws, pipeline_id)) == 10
    for query, message in attacks:
        Pipeline.objects.filter(id=pipeline_id).update(query=query)
        run = run_now(pipeline_id)
        assert run.error == message and run.passed[0] == 0, query
        assert table_state(source) == before, query
    assert len(identities(ws, pipeline_id)) == 10


@pytest.mark.parametrize("kind", ["mysql", "postgresql"])
def test_queries_with_the_forbidden_words_in_strings_and_comments_preview_and_run(api, warehouse_db, kind, request):
    source = request.getfixturevalue("mysql_source" if kind == "mysql" else "pg_source")
    ws = create_workspace(api, warehouse_db)
    connection_id = create_connection(ws, source)
    quoted = "`firstname`" if kind == "mysql" else '"firstname"'
    query = ("WITH recent AS (SELECT id, " + quoted + ", updated_ts, 'CALL wipe(); INTO OUTFILE' AS note, "
             "ROW_NUMBER() OVER (ORDER BY id) AS n FROM customers /* BEGIN NOT ATOMIC DELETE FROM customers; END */ "
             "WHERE (${updated_at} IS NULL OR updated_ts >= ${updated_at})) -- dblink_exec('x', 'DELETE')\n"
             "SELECT id, firstname, updated_ts FROM recent WHERE note LIKE 'CALL%' AND n <= ${limit} "
             "UNION ALL SELECT id, firstname, updated_ts FROM customers WHERE id > 100;")
    resp = ws.api.post(f"/v1/connections/{connection_id}/query", {"query": query, "limit": 3})
    assert resp.status_code == 200, resp.content
    assert [row["id"] for row in resp.json()["rows"]] == ["1", "2", "3"]
    pipeline_id = create_pipeline(ws, connection_id, query=query.replace("${limit}", "1000"), mapping=USERS_MAPPING,
                                  updated_at="updated_ts", incremental=True)
    assert run_now(pipeline_id).error == "" and len(identities(ws, pipeline_id)) == 10
    assert run_now(pipeline_id, incremental=True).error == ""  # ${updated_at} is a literal now


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


NOT_LISTED = "(list it in KRENALIS_DATABASE_ALLOWED_HOSTS to allow it)"


@pytest.mark.parametrize("connector", ["postgresql", "mysql"])
def test_the_allowed_hosts_and_ports_are_enforced_before_connecting(workspace, settings, connector):
    with support.CountingListener() as allowed, support.CountingListener() as other:
        settings.KRENALIS = {**settings.KRENALIS, "DATABASE_ALLOWED_HOSTS": ["127.0.0.0/8", "::1", "db.internal"],
                             "DATABASE_ALLOWED_PORTS": f"3306,5432,6000-6010,{allowed.port}"}
        # Hosts that reach this machine's loopback use the allowed listener's port: a refusal that
        # came too late would land there.
        refused = [
            ("10.0.0.1", 5432, f'host "10.0.0.1" is not allowed: 10.0.0.1 is a private address {NOT_LISTED}'),
            ("169.254.169.254", 5432,
             f'host "169.254.169.254" is not allowed: 169.254.169.254 is a link-local address {NOT_LISTED}'),
            ("192.168.1.10", 3306,
             f'host "192.168.1.10" is not allowed: 192.168.1.10 is a private address {NOT_LISTED}'),
            ("0.0.0.0", allowed.port, f'host "0.0.0.0" is not allowed: 0.0.0.0 is an unspecified address {NOT_LISTED}'),
            ("::ffff:10.0.0.1", allowed.port,
             f'host "::ffff:10.0.0.1" is not allowed: ::ffff:10.0.0.1 is an IPv6 form of 10.0.0.1, a private address '
             f'{NOT_LISTED}'),
            ("8.8.8.8", 5432, 'host "8.8.8.8" is not allowed: 8.8.8.8 is not in KRENALIS_DATABASE_ALLOWED_HOSTS'),
            ("127.0.0.1,10.0.0.1", allowed.port, 'host "127.0.0.1,10.0.0.1" is not a valid host name or IP address'),
            ("/var/run/postgresql", 5432, 'host "/var/run/postgresql" is not a valid host name or IP address'),
            (" 127.0.0.1", allowed.port, 'host " 127.0.0.1" is not a valid host name or IP address'),
        ]
        refused += [(host, port, f"port {port} is not allowed: it is not in KRENALIS_DATABASE_ALLOWED_PORTS")
                    for host, port in [("127.0.0.1", 22), ("127.0.0.1", 6379), ("127.0.0.1", 6011), ("::1", 80),
                                       ("127.0.0.1", other.port)]]
        for host, port, message in refused:
            body = source_body(connector, "Elsewhere", host=host, port=port)
            assert support.error_of(workspace.api.post("/v1/connections", body)) == (
                422, "InvalidSettings", message), (host, port)
        # A name that is not listed is resolved: one that cannot be is unreachable, not refused.
        body = source_body(connector, "Nowhere", host="db.example.invalid", port=allowed.port)
        status, code, message = support.error_of(workspace.api.post("/v1/connections", body))
        assert (status, code) == (503, "ServiceUnavailable")
        assert message.startswith('host "db.example.invalid" cannot be resolved: '), message
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
        for host, port, message in [
                ("10.1.2.3", 5432, f'host "10.1.2.3" is not allowed: 10.1.2.3 is a private address {NOT_LISTED}'),
                ("127.0.0.1", listener.port,
                 f"port {listener.port} is not allowed: it is not in KRENALIS_DATABASE_ALLOWED_PORTS")]:
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
