"""What a run does to the data: real PostgreSQL and MariaDB sources, a real PostgreSQL warehouse.

Each test runs pipelines synchronously (run_start without queueing, then run_execute) and checks
what users see: the run's counters and errors, the identities in the warehouse, the cursor. The
last section drives the warehouse writers' queue directly, with the warehouse's table locked.
"""
import datetime as dt
import json
import threading
import time

import pytest

from pipelines.engine import UNIDENTIFIED, _BackgroundWriter
from pipelines.models import Workspace
from pipelines.types import parse_type
from tests import support
from tests.pipelines.services import (RICH_PROFILE_SCHEMA, counts, create_connection, create_pipeline,
                                      create_workspace, cursor_of, errors_of, identities, pipeline_body, run_now)
from warehouse.backends import PostgreSQLWarehouse
from warehouse.columns import profile_columns

UTC = dt.timezone.utc
ALL_COLUMNS = "customer_id, first_name, last_name, email, updated_text, seen_at, age, attrs"


def all_passed(n: int) -> tuple[list[int], list[int]]:
    return [n, n, 0, 0, n, n, n], [0] * 7


@pytest.fixture
def rich_workspace(api, warehouse_db):
    return create_workspace(api, warehouse_db)


def test_full_run_imports_every_kind(rich_workspace, any_source):
    ws = rich_workspace
    connection_id = create_connection(ws, any_source)
    pid = create_pipeline(ws, connection_id)
    run = run_now(pid)
    assert (run.error, counts(run)) == ("", all_passed(10))
    assert errors_of(run) == []
    rows = identities(ws, pid, ALL_COLUMNS)
    assert sorted(rows, key=int) == [str(i) for i in range(1, 11)]
    for i in range(1, 11):
        plan = {"plan": "pro" if i % 2 else "free"}
        # MariaDB's JSON is a LONGTEXT: the column is a string, which the mapping turns into a JSON string.
        attrs = plan if any_source.kind == "postgresql" else json.dumps(plan)
        assert rows[str(i)] == (i, f"First{i}", f"Last{i}", f"user{i}@example.com", f"2024-01-01T00:{i:02d}:00Z",
                                dt.datetime(2024, 1, 1, 0, i), 20 + i, attrs)
    assert cursor_of(pid) == dt.datetime(2024, 1, 1, 0, 10, tzinfo=UTC)
    listed = ws.api.get(f"/v1/connections/{connection_id}/identities").json()
    assert listed["total"] == 10 and {i["pipeline"] for i in listed["identities"]} == {pid}


INCREMENTAL_QUERY = ("SELECT email, firstname, updated_ts FROM customers "
                     "WHERE ${updated_at} IS NULL OR updated_ts >= ${updated_at}")


def test_incremental_run_reads_from_the_cursor_and_rereads_ties(rich_workspace, any_source):
    """Rows strictly older than the cursor are left out by the query itself (the row made invalid
    below would otherwise be counted as failed); rows equal to the cursor are read again."""
    ws, src = rich_workspace, any_source
    if src.kind == "mysql":
        src.execute("ALTER TABLE customers MODIFY updated_ts DATETIME(6)")
    pid = create_pipeline(ws, create_connection(ws, src), query=INCREMENTAL_QUERY, user_id="email",
                          mapping={"email": "email", "first_name": "firstname"}, incremental=True)
    assert counts(run_now(pid)) == all_passed(10)
    assert cursor_of(pid) == dt.datetime(2024, 1, 1, 0, 10, tzinfo=UTC)

    src.execute("UPDATE customers SET email = NULL WHERE id = 1")          # older than the cursor
    src.execute("UPDATE customers SET firstname = 'Tie' WHERE id = 10")    # equal to the cursor
    src.execute("UPDATE customers SET firstname = 'New', updated_ts = %s WHERE id IN (3, 4)",
                (dt.datetime(2024, 1, 1, 0, 20, 0, 123456),))
    src.execute("DELETE FROM customers WHERE id = 9")
    run = run_now(pid)
    assert (run.error, counts(run)) == ("", all_passed(3))
    assert cursor_of(pid) == dt.datetime(2024, 1, 1, 0, 20, 0, 123456, tzinfo=UTC)
    names = identities(ws, pid)
    assert len(names) == 10  # an incremental run with a cursor never deletes (user9 stays)
    assert (names["user10@example.com"], names["user3@example.com"], names["user4@example.com"]) == (
        "Tie", "New", "New")

    # Nothing new: only the two rows tied at the cursor (to the microsecond) are read again.
    run = run_now(pid)
    assert counts(run) == all_passed(2)
    assert cursor_of(pid) == dt.datetime(2024, 1, 1, 0, 20, 0, 123456, tzinfo=UTC)

    # A full run reads everything, advances nothing beyond the data and purges.
    run = run_now(pid, incremental=False)
    assert counts(run) == ([8, 8, 0, 0, 8, 8, 8], [1, 0, 0, 0, 0, 0, 0])
    assert errors_of(run) == [("Receive", None, "user ID value is NULL"), ("Finalize", None, UNIDENTIFIED)]
    assert len(identities(ws, pid)) == 10  # a failed row without user ID: nothing is purged


# kind -> (query per source, update time column, format, cursor after the first run)
_DAY = "CAST(updated_ts AS date)"
UPDATE_TIME_KINDS = {
    "datetime": ({"postgresql": INCREMENTAL_QUERY, "mysql": INCREMENTAL_QUERY}, "updated_ts", ""),
    "date": ({kind: f"SELECT email, firstname, {_DAY} AS updated_day FROM customers "
                    f"WHERE ${{updated_at}} IS NULL OR {_DAY} >= ${{updated_at}}" for kind in ("postgresql", "mysql")},
             "updated_day", ""),
    "iso8601-string": ({kind: "SELECT email, firstname, updated_at FROM customers "
                              "WHERE ${updated_at} IS NULL OR updated_at >= ${updated_at}"
                        for kind in ("postgresql", "mysql")}, "updated_at", "ISO8601"),
    "strftime-string": ({
        "postgresql": "SELECT email, firstname, to_char(updated_ts, 'DD/MM/YYYY HH24:MI') AS updated_text "
                      "FROM customers WHERE ${updated_at} IS NULL "
                      "OR updated_ts >= to_timestamp(${updated_at}, 'DD/MM/YYYY HH24:MI')",
        "mysql": "SELECT email, firstname, DATE_FORMAT(updated_ts, '%d/%m/%Y %H:%i') AS updated_text "
                 "FROM customers WHERE ${updated_at} IS NULL "
                 "OR updated_ts >= STR_TO_DATE(${updated_at}, '%d/%m/%Y %H:%i')"},
        "updated_text", "%d/%m/%Y %H:%M"),
    "json-string": ({"postgresql": "SELECT email, firstname, to_jsonb(updated_at) AS updated_json FROM customers "
                                   "WHERE ${updated_at} IS NULL OR updated_at >= ${updated_at}"},
                    "updated_json", "ISO8601"),
    # The COALESCE forms the README documents: ${updated_at} is untyped, so on PostgreSQL the other
    # argument carries the type (COALESCE(${updated_at}, '-infinity') would compare with text).
    "datetime-coalesce": ({
        "postgresql": "SELECT email, firstname, updated_ts FROM customers "
                      "WHERE updated_ts >= COALESCE(${updated_at}, '-infinity'::timestamptz)",
        "mysql": "SELECT email, firstname, updated_ts FROM customers "
                 "WHERE updated_ts >= COALESCE(${updated_at}, '1000-01-01')"}, "updated_ts", ""),
}
KIND_CASES = [pytest.param(kind, source, id=f"{kind}-{source}")
              for kind, (queries, _, _) in UPDATE_TIME_KINDS.items() for source in queries]


@pytest.mark.parametrize("kind,source_kind", KIND_CASES)
def test_every_update_time_kind_filters_incremental_runs_in_sql(api, warehouse_db, kind, source_kind):
    queries, column, fmt = UPDATE_TIME_KINDS[kind]
    source = support.create_source(source_kind)
    try:
        # One row a day, so that the date kind has a single row at its cursor too.
        for i in range(1, 11):
            moment = dt.datetime(2024, 1, 1 + i, 0, i)
            source.execute("UPDATE customers SET updated_ts = %s, updated_at = %s WHERE id = %s",
                           (moment, moment.strftime("%Y-%m-%dT%H:%M:%SZ"), i))
        ws = create_workspace(api, warehouse_db)
        pid = create_pipeline(ws, create_connection(ws, source), query=queries[source_kind], user_id="email",
                              updated_at=column, updated_at_format=fmt, incremental=True,
                              mapping={"email": "email", "first_name": "firstname"})
        run = run_now(pid)
        assert (run.error, counts(run)) == ("", all_passed(10))
        day_only = kind == "date"
        assert cursor_of(pid) == (dt.datetime(2024, 1, 11, tzinfo=UTC) if day_only
                                  else dt.datetime(2024, 1, 11, 0, 10, tzinfo=UTC))

        bumped = dt.datetime(2024, 2, 1, 12, 34)
        source.execute("UPDATE customers SET email = NULL WHERE id = 1")  # read again, it would fail
        source.execute("UPDATE customers SET firstname = 'Again' WHERE id = 10")
        source.execute("UPDATE customers SET firstname = 'Bumped', updated_ts = %s, updated_at = %s WHERE id = 5",
                       (bumped, bumped.strftime("%Y-%m-%dT%H:%M:%SZ")))
        run = run_now(pid)
        assert (run.error, counts(run)) == ("", all_passed(2))
        assert cursor_of(pid) == (dt.datetime(2024, 2, 1, tzinfo=UTC) if day_only else bumped.replace(tzinfo=UTC))
        names = identities(ws, pid)
        assert (names["user5@example.com"], names["user10@example.com"], names["user4@example.com"]) == (
            "Bumped", "Again", "First4")
    finally:
        support.drop_source(source)


def test_full_run_deletes_identities_of_deleted_rows_and_keeps_failed_ones(rich_workspace, pg_source):
    ws = rich_workspace
    pid = create_pipeline(ws, create_connection(ws, pg_source))
    assert counts(run_now(pid)) == all_passed(10)
    pg_source.execute("DELETE FROM customers WHERE id IN (9, 10)")
    pg_source.execute("UPDATE customers SET firstname = 'Changed'")
    pg_source.execute("UPDATE customers SET updated_ts = NULL WHERE id = 3")  # fails, with a known user ID
    run = run_now(pid)
    assert counts(run) == ([7, 7, 0, 0, 7, 7, 7], [1, 0, 0, 0, 0, 0, 0])
    assert errors_of(run) == [("Receive", "3", "update time value is NULL")]
    names = identities(ws, pid)
    assert sorted(names, key=int) == [str(i) for i in range(1, 9)]
    assert names["3"] == "First3" and {names[str(i)] for i in (1, 2, 4, 5, 6, 7, 8)} == {"Changed"}


def warehouse_sql(ws, statement: str) -> list[tuple]:
    conn = support.pg_connect(ws.warehouse_db)
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


def test_a_full_run_over_identities_writes_and_logs_only_what_changed(rich_workspace, any_source):
    """A full run into identities that exist stages its rows and writes the difference at its end:
    the unchanged identities keep everything (_pk, kpid, the run that last wrote them), and the
    change log, which identity resolution reads, holds the changed, new and purged ones only."""
    ws = rich_workspace
    pid = create_pipeline(ws, create_connection(ws, any_source))
    first = run_now(pid)
    assert counts(first) == all_passed(10)
    warehouse_sql(ws, "UPDATE krenalis_identities SET _kpid = gen_random_uuid()")    # as a resolution leaves them
    warehouse_sql(ws, "TRUNCATE krenalis_changes")                                  # ... having read the log
    before = {row[0]: row[1:] for row in warehouse_sql(ws, "SELECT _identity_id, _pk, _kpid, _run, first_name "
                                                           "FROM krenalis_identities")}
    any_source.execute("UPDATE customers SET firstname = 'Changed' WHERE id = 3")
    any_source.execute("DELETE FROM customers WHERE id = 9")
    any_source.execute("INSERT INTO customers (id, firstname, lastname, email, updated_ts, age) "
                       "VALUES (11, 'First11', 'Last11', 'user11@example.com', '2024-01-01 00:11:00', 31)")
    run = run_now(pid, incremental=False)
    assert (run.error, counts(run)) == ("", all_passed(10))
    after = {row[0]: row[1:] for row in warehouse_sql(ws, "SELECT _identity_id, _pk, _kpid, _run, first_name "
                                                          "FROM krenalis_identities")}
    assert sorted(after, key=int) == [str(i) for i in (1, 2, 3, 4, 5, 6, 7, 8, 10, 11)]
    assert {i: after[i] for i in after if i not in ("3", "11")} == {i: before[i] for i in before if i not in ("3", "9")}
    assert after["3"] == (before["3"][0], before["3"][1], run.id, "Changed")
    logged = set(warehouse_sql(ws, "SELECT pk, kpid FROM krenalis_changes"))
    assert logged == {(before["3"][0], None), (after["11"][0], None), (before["9"][0], before["9"][1])}


def test_failed_row_without_user_id_disables_the_purge(rich_workspace, pg_source):
    ws = rich_workspace
    pid = create_pipeline(ws, create_connection(ws, pg_source), user_id="email")
    assert counts(run_now(pid)) == all_passed(10)
    pg_source.execute("DELETE FROM customers WHERE id = 9")
    pg_source.execute("UPDATE customers SET email = NULL WHERE id = 2")
    run = run_now(pid)
    assert run.error == ""
    assert counts(run) == ([8, 8, 0, 0, 8, 8, 8], [1, 0, 0, 0, 0, 0, 0])
    assert errors_of(run) == [("Receive", None, "user ID value is NULL"), ("Finalize", None, UNIDENTIFIED)]
    assert len(identities(ws, pid)) == 10


def test_duplicate_user_ids_make_one_identity_and_the_last_row_wins(rich_workspace, pg_source):
    ws = rich_workspace
    pg_source.execute("UPDATE customers SET lastname = 'Same' WHERE id IN (2, 3, 7)")
    pid = create_pipeline(ws, create_connection(ws, pg_source), user_id="lastname",
                          query="SELECT id, firstname, lastname, updated_ts FROM customers ORDER BY id",
                          mapping={"customer_id": "id", "first_name": "firstname"})
    run = run_now(pid)
    # Finalize counts the rows written: the three rows of "Same" are one identity.
    assert (run.error, counts(run)) == ("", ([10, 10, 0, 0, 10, 10, 8], [0] * 7))
    rows = identities(ws, pid, "customer_id, first_name")
    assert len(rows) == 8 and rows["Same"] == (7, "First7")


@pytest.mark.parametrize("connections", [1, 3])
def test_parallel_warehouse_writers_keep_the_last_row_of_each_identity(rich_workspace, pg_source, settings,
                                                                       connections):
    settings.KRENALIS = {**settings.KRENALIS, "WAREHOUSE_WRITE_CONNECTIONS": connections}
    pg_source.execute("UPDATE customers SET lastname = 'Same' WHERE id IN (2, 3, 7)")
    pg_source.execute("INSERT INTO customers (id, firstname, lastname, updated_ts) "
                      "SELECT i, 'First' || i, 'user' || (i % 50), timestamp '2024-01-02' + i * interval '1 second' "
                      "FROM generate_series(11, 12010) AS i")
    ws = rich_workspace
    pid = create_pipeline(ws, create_connection(ws, pg_source), user_id="lastname",
                          query="SELECT id, firstname, lastname, updated_ts FROM customers ORDER BY id",
                          mapping={"customer_id": "id", "first_name": "firstname"})
    run = run_now(pid)
    # Read batches of 5,000 rows hold each of the 50 "user" identities: Finalize counts the
    # identities written per batch (50 + 8 ids of the first rows, 50, 50), whatever the connections.
    assert (run.error, counts(run)) == ("", ([12010, 12010, 0, 0, 12010, 12010, 158], [0] * 7))
    rows = identities(ws, pid, "customer_id, first_name")
    assert len(rows) == 58 and rows["Same"] == (7, "First7")
    for k in range(50):
        last = max(i for i in range(11, 12011) if i % 50 == k)
        assert rows[f"user{k}"] == (last, f"First{last}")


def test_per_record_failures_are_counted_at_their_step(rich_workspace, pg_source):
    ws, src = rich_workspace, pg_source
    src.execute("UPDATE customers SET attrs = jsonb_build_object('age', 40 + id)")
    src.execute("UPDATE customers SET email = NULL WHERE id = 1")                     # Receive
    src.execute("UPDATE customers SET updated_at = NULL WHERE id = 2")                # Receive
    src.execute("UPDATE customers SET updated_at = 'yesterday' WHERE id = 3")         # Receive
    src.execute("""UPDATE customers SET attrs = '"text"' WHERE id = 4""")             # Transformation
    src.execute("""UPDATE customers SET attrs = '{"age": "old"}' WHERE id = 5""")     # OutputValidation
    # InputValidation: the source says varchar(6) but holds a longer value in row 10 ("First10"), as a
    # lying driver or a stale catalog would; the typmod is lowered in the catalog to get there.
    src.execute("UPDATE pg_attribute SET atttypmod = 6 + 4 WHERE attrelid = 'customers'::regclass "
                "AND attname = 'firstname'")
    pid = create_pipeline(ws, create_connection(ws, src), user_id="email", updated_at="updated_at",
                          updated_at_format="ISO8601",
                          query="SELECT email, firstname, updated_at, attrs FROM customers ORDER BY id",
                          mapping={"email": "email", "first_name": "firstname", "age": "attrs.age"})
    run = run_now(pid)
    assert run.error == ""
    assert counts(run) == ([7, 6, 0, 0, 5, 4, 4], [3, 1, 0, 0, 1, 1, 0])
    assert errors_of(run) == [
        ("Receive", None, "user ID value is NULL"),
        ("Receive", "user2@example.com", "update time value is NULL"),
        ("Receive", "user3@example.com", 'update time does not conform to the ISO8601 format'),
        ("InputValidation", "user10@example.com", "property 'firstname' has a value longer than 6 characters"),
        ("Transformation", "user4@example.com",
         "invalid attrs.age: attrs is not JSON object, it is string while mapping to «age»"),
        ("OutputValidation", "user5@example.com",
         "«attrs.age» is not convertible to the «int(32)» type while mapping to «age»"),
        ("Finalize", None, UNIDENTIFIED),
    ]
    assert identities(ws, pid, "first_name, age") == {f"user{i}@example.com": (f"First{i}", 40 + i)
                                                      for i in (6, 7, 8, 9)}
    # Rows that passed InputValidation move the cursor, even when their transformation failed.
    assert cursor_of(pid) == dt.datetime(2024, 1, 1, 0, 9, tzinfo=UTC)


def test_failed_run_writes_nothing_more_and_keeps_the_cursor(rich_workspace, pg_source):
    ws = rich_workspace
    pid = create_pipeline(ws, create_connection(ws, pg_source), query=INCREMENTAL_QUERY, user_id="email",
                          mapping={"email": "email", "first_name": "firstname"}, incremental=True)
    run_now(pid)
    cursor = cursor_of(pid)
    pg_source.execute("UPDATE customers SET updated_ts = '2024-06-01' WHERE id = 2")
    pg_source.execute("ALTER TABLE customers RENAME COLUMN firstname TO first")
    run = run_now(pid)
    assert run.error == 'query failed: column "firstname" does not exist (SQLSTATE 42703)'
    assert counts(run) == ([0] * 7, [0] * 7)
    assert errors_of(run) == [("InputValidation", None, run.error)]
    assert cursor_of(pid) == cursor
    assert len(identities(ws, pid)) == 10


def test_out_schema_no_longer_aligned_fails_the_run(rich_workspace, pg_source):
    ws = rich_workspace
    pid = create_pipeline(ws, create_connection(ws, pg_source))
    schema = json.loads(json.dumps(RICH_PROFILE_SCHEMA))
    schema["properties"] = [p for p in schema["properties"] if p["name"] != "seen_at"]
    Workspace.objects.filter(id=ws.id).update(profile_schema=schema)  # as a PUT /v1/profiles/schema does
    run = run_now(pid)
    assert run.error == ('in the output schema, "seen_at" property no longer exists. Please review and update '
                         "the pipeline before attempting to import the users.")
    assert errors_of(run) == [("OutputValidation", None, run.error)]
    assert identities(ws, pid) == {}


def add_customers(source, last_id: int, firstname: str = "'First' || i") -> None:
    """Customers 11 to last_id after the ten of the fixture, one second apart from 2024-01-02."""
    source.execute("INSERT INTO customers (id, firstname, updated_ts) "
                   f"SELECT i, {firstname}, timestamp '2024-01-02' + i * interval '1 second' "
                   f"FROM generate_series(11, {int(last_id)}) AS i")


def test_many_batches_and_the_last_partial_one_are_all_written(rich_workspace, pg_source):
    add_customers(pg_source, 12345)
    ws = rich_workspace
    pid = create_pipeline(ws, create_connection(ws, pg_source), query=INCREMENTAL_QUERY.replace("email, ", "id, "),
                          mapping={"customer_id": "id", "first_name": "firstname"}, incremental=True)
    assert counts(run_now(pid)) == all_passed(12345)
    assert len(identities(ws, pid)) == 12345
    assert cursor_of(pid) == dt.datetime(2024, 1, 2, 3, 25, 45, tzinfo=UTC)


FUNCTIONS = {
    "JavaScript": ("const transform = (user) => {\n"
                   "  if (user.firstname === 'Stuck') { while (true) {} }\n"
                   "  return {customer_id: user.id, first_name: user.firstname.toUpperCase()};\n"
                   "};"),
    "Python": ("def transform(user):\n"
               "    if user['firstname'] == 'Stuck':\n"
               "        while True:\n"
               "            pass\n"
               "    return {'customer_id': user['id'], 'first_name': user['firstname'].upper()}\n"),
}


def function_pipeline(ws, source, language: str, functions: dict = FUNCTIONS,
                      query: str = INCREMENTAL_QUERY.replace("email, ", "id, "), column: str = "firstname") -> int:
    """An incremental pipeline over id, firstname and updated_ts whose function upper-cases the first
    name (and never returns for the first name "Stuck"); or another function and query, over id,
    `column` and updated_ts, that sets customer_id and first_name."""
    connection_id = create_connection(ws, source)
    body = pipeline_body(ws, connection_id, query=query, mapping={"customer_id": "id", "first_name": column},
                         incremental=True)
    body["transformation"] = {"function": {"language": language, "source": functions[language],
                                           "preserveJSON": False, "inPaths": ["id", column],
                                           "outPaths": ["customer_id", "first_name"]}}
    resp = ws.api.post("/v1/pipelines", body)
    assert resp.status_code == 200, resp.content
    return resp.json()["id"]


@pytest.mark.parametrize("language", ["JavaScript", "Python"])
def test_a_function_over_many_batches_writes_every_row_once(rich_workspace, pg_source, language):
    """Batches go through the function two at a time; every row comes out, in its own identity."""
    add_customers(pg_source, 23456)
    ws = rich_workspace
    pid = function_pipeline(ws, pg_source, language)
    run = run_now(pid)
    assert (run.error, counts(run)) == ("", all_passed(23456))
    rows = identities(ws, pid, "customer_id, first_name")
    assert len(rows) == 23456
    assert all(first_name == f"FIRST{customer_id}" for customer_id, first_name in rows.values() if customer_id > 10)
    assert cursor_of(pid) == dt.datetime(2024, 1, 2, 6, 30, 56, tzinfo=UTC)


TIMED_OUT = "transformation function timed out after 1 s{}; KRENALIS_FUNCTION_BATCH_TIMEOUT raises the limit"


@pytest.mark.parametrize("language", ["JavaScript", "Python"])
def test_a_function_stuck_on_one_row_of_a_later_batch_fails_that_row_alone(rich_workspace, pg_source, settings,
                                                                          language):
    """Row 7000 of 12345 never returns, in the second of three batches (the third already in the
    function): its call is taken again one row per call, that row fails at Transformation with
    the limit and its setting, and every other row is written; the cursor moves."""
    settings.KRENALIS = {**settings.KRENALIS, "FUNCTION_BATCH_TIMEOUT": 1.0}
    add_customers(pg_source, 12345, firstname="CASE WHEN i = 7000 THEN 'Stuck' ELSE 'First' || i END")
    ws = rich_workspace
    pid = function_pipeline(ws, pg_source, language)
    run = run_now(pid)
    assert run.error == ""
    assert counts(run) == ([12345, 12345, 0, 0, 12344, 12344, 12344], [0, 0, 0, 0, 1, 0, 0])
    assert errors_of(run) == [("Transformation", "7000", TIMED_OUT.format(" on this record"))]
    rows = identities(ws, pid, "customer_id, first_name")
    assert len(rows) == 12344 and "7000" not in rows and rows["7001"] == (7001, "FIRST7001")
    assert cursor_of(pid) == dt.datetime(2024, 1, 2, 3, 25, 45, tzinfo=UTC)


@pytest.mark.parametrize("language", ["JavaScript", "Python"])
def test_a_function_stuck_on_every_row_ends_the_run_with_those_rows_failed(rich_workspace, pg_source, settings,
                                                                         language):
    """Two rows in a row that exceed the limit alone end the run: they count as failed at
    Transformation, each with its error, and nothing is written; the cursor stays. The two
    batches in flight take turns in the function, so the two rows may be one of each."""
    settings.KRENALIS = {**settings.KRENALIS, "FUNCTION_BATCH_TIMEOUT": 1.0}
    add_customers(pg_source, 6000)
    pg_source.execute("UPDATE customers SET firstname = 'Stuck'")
    ws = rich_workspace
    pid = function_pipeline(ws, pg_source, language)
    run = run_now(pid)
    assert run.error == TIMED_OUT.format(" on 2 records in a row")
    assert run.failed == [0, 0, 0, 0, 2, 0, 0] and run.passed[4:] == [0, 0, 0]
    errors = errors_of(run)
    assert errors[-1] == ("Transformation", None, run.error)
    assert [(step, message) for step, _, message in errors[:-1]] == [
        ("Transformation", TIMED_OUT.format(" on this record"))] * 2
    assert {user_id for _, user_id, _ in errors[:-1]} in ({"1", "2"}, {"1", "5001"}, {"5001", "5002"})
    assert identities(ws, pid) == {}
    assert cursor_of(pid) is None


SLOW_FUNCTIONS = {  # half a millisecond a row on average: a batch of 5,000 rows takes 2.5 s
    "JavaScript": ("const transform = (user) => {\n"
                   "  const end = Date.now() + 1; while (Date.now() < end) {}\n"
                   "  return {customer_id: user.id, first_name: user.firstname};\n"
                   "};"),
    "Python": ("import time\n"
               "def transform(user):\n"
               "    end = time.perf_counter() + 0.0005\n"
               "    while time.perf_counter() < end:\n"
               "        pass\n"
               "    return {'customer_id': user['id'], 'first_name': user['firstname']}\n"),
}


@pytest.mark.parametrize("language", ["JavaScript", "Python"])
def test_a_function_slower_than_the_limit_per_batch_imports_every_row(rich_workspace, pg_source, settings,
                                                                       language):
    """With a 1 s limit, batches of 5,000 rows at half a millisecond each: the function gets calls
    of a fraction of the limit, and all 6,000 rows come out."""
    settings.KRENALIS = {**settings.KRENALIS, "FUNCTION_BATCH_TIMEOUT": 1.0}
    add_customers(pg_source, 6000)
    ws = rich_workspace
    pid = function_pipeline(ws, pg_source, language, SLOW_FUNCTIONS)
    run = run_now(pid)
    assert (run.error, counts(run)) == ("", all_passed(6000))
    assert len(identities(ws, pid)) == 6000


LENGTH_FUNCTIONS = {
    "JavaScript": "const transform = (user) => ({customer_id: user.id, first_name: String(user.body.length)});",
    "Python": "def transform(user):\n    return {'customer_id': user['id'], 'first_name': str(len(user['body']))}\n",
}


@pytest.mark.parametrize("language", ["JavaScript", "Python"])
def test_rows_of_1_mb_text_go_through_a_function_with_a_small_memory_limit(rich_workspace, pg_source, settings,
                                                                          language):
    """100 rows of 1 MiB text through a function with 64 MiB of memory: in one call they would
    exceed it; in calls sized from the bytes a row takes, they all pass."""
    settings.KRENALIS = {**settings.KRENALIS, "FUNCTION_MEMORY_MB": 64}
    pg_source.execute("CREATE TABLE documents (id bigint PRIMARY KEY, body text, updated_ts timestamp)")
    pg_source.execute("INSERT INTO documents SELECT i, repeat(chr(97 + i % 26), 1048576), "
                      "timestamp '2024-01-02' + i * interval '1 second' FROM generate_series(1, 100) AS i")
    ws = rich_workspace
    query = ("SELECT id, body, updated_ts FROM documents "
             "WHERE ${updated_at} IS NULL OR updated_ts >= ${updated_at}")
    pid = function_pipeline(ws, pg_source, language, LENGTH_FUNCTIONS, query=query, column="body")
    run = run_now(pid)
    assert (run.error, counts(run)) == ("", all_passed(100))
    assert set(identities(ws, pid).values()) == {"1048576"}


def test_cancel_after_the_last_batch_prevents_the_purge(rich_workspace, pg_source):
    from pipelines.models import Pipeline, Run
    from pipelines.services.runs import run_execute, run_start

    ws = rich_workspace
    pid = create_pipeline(ws, create_connection(ws, pg_source))
    assert counts(run_now(pid)) == all_passed(10)
    pg_source.execute("DELETE FROM customers WHERE id = 4")
    run = run_start(pipeline=Pipeline.objects.get(id=pid), incremental=None, enqueue=False)

    def cancel_once_read(passed, failed):
        if passed[0] == 9:  # every row is read: the cancel arrives before the purge
            Run.objects.filter(id=run.id).update(cancel_requested=True)

    run_execute(run_id=run.id, on_progress=cancel_once_read)
    run = Run.objects.get(id=run.id)
    assert run.error == "run was cancelled"
    assert len(identities(ws, pid)) == 10  # nothing purged: identity 4 is still there


def test_a_change_during_a_run_keeps_the_reset_cursor(rich_workspace, pg_source):
    """A PUT that resets the cursor while a run is live wins over the run's end."""
    from pipelines.models import Pipeline, Run
    from pipelines.services.runs import run_execute, run_start

    ws = rich_workspace
    pid = create_pipeline(ws, create_connection(ws, pg_source), query=INCREMENTAL_QUERY, user_id="email",
                          mapping={"email": "email", "first_name": "firstname"}, incremental=True)
    assert counts(run_now(pid)) == all_passed(10)
    assert cursor_of(pid) is not None
    run = run_start(pipeline=Pipeline.objects.get(id=pid), incremental=None, enqueue=False)
    current = ws.api.get(f"/v1/pipelines/{pid}").json()
    changed = {key: current[key] for key in ("name", "enabled", "userIDColumn", "updatedAtColumn", "incremental",
                                             "transformation", "inSchema", "outSchema")}
    changed["query"] = INCREMENTAL_QUERY + " ORDER BY email"  # a new query: the cursor resets

    def change_the_pipeline(passed, failed):
        if passed[0]:
            assert ws.api.put(f"/v1/pipelines/{pid}", changed).status_code == 200

    run_execute(run_id=run.id, on_progress=change_the_pipeline)
    assert Run.objects.get(id=run.id).error == ""
    assert cursor_of(pid) is None


def test_the_garbage_collector_is_tuned_during_a_run_and_restored_after(rich_workspace, pg_source):
    import gc

    from pipelines.models import Pipeline
    from pipelines.services.runs import run_execute, run_start

    ws = rich_workspace
    pid = create_pipeline(ws, create_connection(ws, pg_source))
    before = gc.get_threshold()
    seen = []
    run = run_start(pipeline=Pipeline.objects.get(id=pid), incremental=None, enqueue=False)
    run_execute(run_id=run.id, on_progress=lambda passed, failed: seen.append((gc.get_threshold(), gc.get_freeze_count())))
    assert seen and all(threshold == (100_000, 50, 100) and frozen > 0 for threshold, frozen in seen)
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
    assert counts(run_now(pid)) == all_passed(10)


# --------------------------------------------------------------------------- values real databases hold

REVIEW = ". Please review and update the pipeline before attempting to import the users."
DATED_PROFILE_SCHEMA = {"kind": "object", "properties": [
    *RICH_PROFILE_SCHEMA["properties"], {"name": "birth_date", "type": {"kind": "date"}, "readOptional": True}]}


def with_nullable(schema: dict, name: str, nullable: bool) -> dict:
    properties = [dict(p, nullable=nullable) if p["name"] == name else p for p in schema["properties"]]
    return {**schema, "properties": properties}


def test_mysql_zero_dates_import_as_null(api, warehouse_db, mysql_source):
    """A DATE NOT NULL holding 0000-00-00 reads as NULL, and the schema derived for it says so
    (nullable): the pipeline built from the preview imports NULL for that row. Before, the schema said
    NOT NULL and the run failed the row, whatever the input schema declared."""
    src = mysql_source
    src.execute("ALTER TABLE customers ADD COLUMN born DATE NOT NULL DEFAULT '2000-01-01'")
    src.execute("SET STATEMENT sql_mode = '' FOR UPDATE customers SET born = '0000-00-00' WHERE id = 3")
    ws = create_workspace(api, warehouse_db, DATED_PROFILE_SCHEMA)
    cid = create_connection(ws, src)
    query = "SELECT id, email, born, updated_ts FROM customers"
    preview = ws.api.post(f"/v1/connections/{cid}/query", {"query": query + " WHERE id = 3", "limit": 1}).json()
    assert (preview["rows"], preview["issues"]) == ([{"id": "3", "email": "user3@example.com", "born": None,
                                                      "updated_ts": "2024-01-01T00:03:00Z"}], None)
    born = next(p for p in preview["schema"]["properties"] if p["name"] == "born")
    assert born == {"name": "born", "type": {"kind": "date"}, "nullable": True}
    pid = create_pipeline(ws, cid, query=query, mapping={"email": "email", "birth_date": "born"})
    run = run_now(pid)
    assert (run.error, counts(run), errors_of(run)) == ("", all_passed(10), [])
    assert identities(ws, pid, "birth_date") == {str(i): None if i == 3 else dt.date(2000, 1, 1)
                                                 for i in range(1, 11)}


def test_a_nullable_input_property_over_a_not_null_column_is_accepted(rich_workspace, mysql_source):
    """Declaring nullable what the source says NOT NULL widens the column, and loses nothing: the run
    reads it (it was refused as misaligned). The other way, NOT NULL over a nullable column, is still
    refused: a NULL could come."""
    ws, src = rich_workspace, mysql_source
    src.execute("ALTER TABLE customers MODIFY firstname VARCHAR(60) NOT NULL")
    cid = create_connection(ws, src)
    query = "SELECT id, firstname, lastname, updated_ts FROM customers"
    derived = ws.api.post(f"/v1/connections/{cid}/query", {"query": query, "limit": 0}).json()["schema"]
    assert [(p["name"], p.get("nullable", False)) for p in derived["properties"]] == [
        ("id", False), ("firstname", False), ("lastname", True), ("updated_ts", True)]
    mapping = {"first_name": "firstname", "last_name": "lastname"}
    widened = create_pipeline(ws, cid, query=query, mapping=mapping,
                              in_schema=with_nullable(derived, "firstname", True))
    run = run_now(widened)
    assert (run.error, counts(run)) == ("", all_passed(10))
    assert identities(ws, widened) == {str(i): f"First{i}" for i in range(1, 11)}
    narrowed = create_pipeline(ws, cid, query=query, mapping=mapping,
                               in_schema=with_nullable(derived, "lastname", False))
    assert run_now(narrowed).error == (
        'in the input schema, "lastname" property was previously non-nullable but is now nullable' + REVIEW)


def test_a_column_left_out_for_its_type_is_named_with_the_reason(rich_workspace, pg_source):
    """A user ID (or any input) column the query returns with an unsupported type is not "missing": the
    run says the type is why (it said only that there is no such column)."""
    ws = rich_workspace
    pg_source.execute("ALTER TABLE customers ADD COLUMN tags text[]")
    cid = create_connection(ws, pg_source)
    in_schema = {"kind": "object", "properties": [
        {"name": "tags", "type": {"kind": "string"}, "nullable": True},
        {"name": "firstname", "type": {"kind": "string", "maxLength": 60}, "nullable": True},
        {"name": "updated_ts", "type": {"kind": "datetime"}, "nullable": True}]}
    pid = create_pipeline(ws, cid, query="SELECT tags, firstname, updated_ts FROM customers", user_id="tags",
                          in_schema=in_schema, mapping={"first_name": "firstname"})
    assert run_now(pid).error == ('in the input schema, there is no user ID column "tags" '
                                  '(column "tags" has an unsupported type "array")' + REVIEW)
    pid = create_pipeline(ws, cid, query="SELECT id, tags, firstname, updated_ts FROM customers",
                          in_schema={**in_schema, "properties": [
                              {"name": "id", "type": {"kind": "int", "bitSize": 64}, "nullable": True},
                              *in_schema["properties"]]},
                          mapping={"first_name": "firstname", "last_name": "tags"})
    assert run_now(pid).error == ('in the input schema, "tags" property no longer exists '
                                  '(column "tags" has an unsupported type "array")' + REVIEW)


def test_a_postgresql_enum_can_be_the_user_id(rich_workspace, pg_source):
    """Pagila's film.rating is an enum: the query path read it as an unsupported type, so a pipeline
    whose user ID it was failed with "there is no user ID column". Enums are strings now."""
    ws = rich_workspace
    pg_source.execute("CREATE TYPE plan AS ENUM ('free', 'pro')")
    pg_source.execute("ALTER TABLE customers ADD COLUMN plan plan")
    pg_source.execute("UPDATE customers SET plan = (attrs->>'plan')::plan")
    cid = create_connection(ws, pg_source)
    pid = create_pipeline(ws, cid, query="SELECT plan, max(firstname) AS firstname, max(updated_ts) AS updated_ts "
                                         "FROM customers GROUP BY plan", user_id="plan",
                          mapping={"first_name": "firstname"})
    run = run_now(pid)
    assert (run.error, counts(run)) == ("", all_passed(2))
    assert identities(ws, pid) == {"free": "First8", "pro": "First9"}


def test_an_untyped_updated_at_comparison_says_what_to_write(rich_workspace, pg_source):
    """COALESCE(${updated_at}, '-infinity') is text on PostgreSQL (both arguments are untyped): the
    preview and the run say the query failed, and how to write it."""
    ws = rich_workspace
    cid = create_connection(ws, pg_source)
    query = ("SELECT email, firstname, updated_ts FROM customers "
             "WHERE updated_ts >= COALESCE(${updated_at}, '-infinity')")
    expected = ("query failed: operator does not exist: timestamp without time zone >= text (SQLSTATE 42883). "
                "${updated_at} is an untyped SQL literal (NULL, or the cursor as text), so next to another literal "
                "it is text: give the other side a type, as in "
                "updated_at >= COALESCE(${updated_at}, '-infinity'::timestamptz), or write "
                "${updated_at} IS NULL OR updated_at >= ${updated_at}")
    resp = ws.api.post(f"/v1/connections/{cid}/query", {"query": query, "limit": 5})
    assert support.error_of(resp) == (503, "ServiceUnavailable", expected)
    in_schema = ws.api.post(f"/v1/connections/{cid}/query", {
        "query": "SELECT email, firstname, updated_ts FROM customers", "limit": 0}).json()["schema"]
    pid = create_pipeline(ws, cid, query=query, user_id="email", in_schema=in_schema, incremental=True,
                          mapping={"email": "email", "first_name": "firstname"})
    assert run_now(pid).error == expected


# --------------------------------------------------------------------------- the warehouse writers' queues


def test_batches_waiting_for_a_busy_writer_are_upserted_together_and_counted_per_batch(warehouse_db):
    """While the warehouse is busy (its table locked), five batches queue up behind the first. Once
    free, the writer upserts them in two transactions (15,000 rows at most each) instead of five;
    the last row of an identity still wins, and Finalize counts each batch's identities as before."""
    schema = parse_type({"kind": "object", "properties": [
        {"name": "email", "type": {"kind": "string"}, "readOptional": True}]})
    backend = PostgreSQLWarehouse({"host": support.PG["host"], "port": support.PG["port"],
                                   "username": support.PG["user"], "password": "", "database": warehouse_db,
                                   "schema": "public"})
    backend.initialize(schema)
    writer = backend.identity_writer(pipeline_id=1, connection_id=1, run_id=1,
                                     columns=[(c.name, c.type) for c in profile_columns(schema)])
    moment = dt.datetime(2024, 1, 1, tzinfo=UTC)
    # Six batches of 5,000 rows; "shared" is in every batch, each batch giving it its own email.
    batches = [[(f"u{b}-{i}", moment, (f"{b}-{i}@example.com",)) for i in range(4999)]
               + [("shared", moment, (f"shared-{b}@example.com",))] for b in range(6)]
    locker = support.pg_connect(warehouse_db)
    locker.autocommit = False
    with locker.cursor() as cur:
        cur.execute("LOCK TABLE krenalis_identities IN EXCLUSIVE MODE")
    background = _BackgroundWriter([writer])
    background.submit("write", batches[0])
    deadline = time.monotonic() + 30
    while not query_one(warehouse_db, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                      "AND wait_event_type = 'Lock'"):
        assert time.monotonic() < deadline, "the first write never waited for the lock"
        time.sleep(0.05)
    for batch in batches[1:]:
        background.submit("write", batch)  # all five fit in the queue: none of these calls waits
    finishing = threading.Thread(target=background.finish)
    finishing.start()
    locker.commit()
    locker.close()
    finishing.join(60)
    writer.close()
    assert background.written == 6 * 5000  # 4,999 + "shared" in each batch, as if written one by one
    transactions = query_one(warehouse_db, "SELECT count(DISTINCT xmin::text) FROM krenalis_identities")
    assert transactions == 3  # the first batch, then batches 2-4 (15,000 rows), then batches 5-6
    assert query_one(warehouse_db, "SELECT count(*) FROM krenalis_identities") == 6 * 4999 + 1
    assert query_one(warehouse_db, "SELECT email FROM krenalis_identities WHERE _identity_id = 'shared'") == \
        "shared-5@example.com"


def query_one(dbname: str, sql: str):
    conn = support.pg_connect(dbname)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchone()[0]
    finally:
        conn.close()
