"""Query preview: POST /v1/connections/{id}/query (reference §6), and its limits."""
import json
from decimal import Decimal

import pytest

from pipelines.services.preview import TRUNCATED
from tests import support
from tests.support import error_of


@pytest.fixture
def source_connection(workspace, any_source):
    cid = workspace.api.post("/v1/connections", support.connection_body(any_source)).json()["id"]
    return workspace.api, cid, any_source


def preview(api, cid, query, limit=20):
    return api.post(f"/v1/connections/{cid}/query", {"query": query, "limit": limit})


def test_rows_schema_and_values(source_connection):
    api, cid, source = source_connection
    body = preview(api, cid, "SELECT id, email, updated_ts, age FROM customers ORDER BY id", limit=2).json()
    assert body["issues"] is None
    assert [p["name"] for p in body["schema"]["properties"]] == ["id", "email", "updated_ts", "age"]
    assert body["schema"]["properties"][0]["type"] == {"kind": "int", "bitSize": 64}
    assert body["rows"] == [
        {"id": "1", "email": "user1@example.com", "updated_ts": "2024-01-01T00:01:00Z", "age": 21},
        {"id": "2", "email": "user2@example.com", "updated_ts": "2024-01-01T00:02:00Z", "age": 22},
    ]


def test_limit_zero_gives_the_schema_only(source_connection):
    api, cid, _ = source_connection
    body = preview(api, cid, "SELECT email FROM customers", limit=0).json()
    assert body["rows"] == [] and body["schema"]["properties"][0]["name"] == "email"


def test_query_is_required(source_connection):
    api, cid, _ = source_connection
    assert error_of(preview(api, cid, "")) == (400, "BadRequest", "query is empty")


def test_a_query_as_long_as_the_body_allows_runs(workspace, pg_source):
    """The 16,777,215-rune limit is beyond the 512,000-byte body: the body cap is what a client meets
    (the rune limit itself is tested on the service, tests/pipelines/services/test_preview.py)."""
    cid = workspace.api.post("/v1/connections", support.connection_body(pg_source)).json()["id"]
    envelope = len(b'{"query": "SELECT 1 AS one /*  */", "limit": 20}')
    query = "SELECT 1 AS one /* " + "x" * (512000 - envelope) + " */"
    assert preview(workspace.api, cid, query).json()["rows"] == [{"one": 1}]
    resp = preview(workspace.api, cid, query + " ")
    assert error_of(resp) == (400, "BadRequest", "request's content length must be in the range [1,512000]")


@pytest.mark.parametrize("limit", [-1, 101])
def test_limit_out_of_range(source_connection, limit):
    api, cid, _ = source_connection
    assert error_of(preview(api, cid, "SELECT 1", limit)) == (400, "BadRequest", f"limit {limit} is not valid")


def test_placeholders(source_connection):
    api, cid, _ = source_connection
    assert preview(api, cid, "SELECT id FROM customers WHERE ${updated_at} IS NULL AND id = 3").json()["rows"] == [
        {"id": "3"}]
    assert preview(api, cid, "SELECT id FROM customers ORDER BY id DESC LIMIT ${ limit }", 2).json()["rows"] == [
        {"id": "10"}, {"id": "9"}]
    assert error_of(preview(api, cid, "SELECT ${since}")) == (422, "InvalidPlaceholder",
                                                              'placeholder "since" does not exist')


def test_sql_errors_are_503_and_say_the_query_failed(source_connection):
    """503 as in the reference, with a message that puts the fault on the query, not on the service."""
    api, cid, source = source_connection
    resp = preview(api, cid, "SELECT id FROM no_such_table")
    expected = ('query failed: relation "no_such_table" does not exist (SQLSTATE 42P01)' if source.kind == "postgresql"
                else f"query failed: Error 1146: Table '{source.dbname}.no_such_table' doesn't exist")
    assert error_of(resp) == (503, "ServiceUnavailable", expected)
    assert source.settings["password"].encode() not in resp.content


def test_preview_never_writes(source_connection):
    api, cid, source = source_connection
    assert error_of(preview(api, cid, "DELETE FROM customers"))[:2] == (503, "ServiceUnavailable")
    assert source.execute("SELECT count(*) FROM customers")[0][0] == 10


def test_invalid_column_names_become_issues(workspace, pg_source):
    cid = workspace.api.post("/v1/connections", support.connection_body(pg_source)).json()["id"]
    body = preview(workspace.api, cid, 'SELECT id, email AS "e-mail" FROM customers WHERE id = 1').json()
    assert body["issues"] == ['Column "e-mail" does not have a valid property name. Valid names start with a '
                              'letter or underscore, followed by only letters, numbers, or underscores.']
    assert body["rows"] == [{"id": "1"}]


def test_json_values_are_embedded(workspace, pg_source):
    cid = workspace.api.post("/v1/connections", support.connection_body(pg_source)).json()["id"]
    body = preview(workspace.api, cid, "SELECT attrs FROM customers WHERE id = 4").json()
    assert body["rows"] == [{"attrs": {"plan": "free"}}]


# --------------------------------------------------------------------------- limits of a preview

BIG_ROWS = {  # 100 rows of a 1 MB value each (500,000 two-byte characters): 100 MB in all
    "postgresql": "SELECT i AS id, repeat('é', 500000) AS big FROM generate_series(1, 100) AS i",
    "mysql": "SELECT seq AS id, REPEAT('é', 500000) AS big FROM seq_1_to_100",
}


def json_bytes(value) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


def test_a_preview_of_big_values_is_capped_per_value_and_in_all(source_connection):
    """Values are cut to 64 KiB and end with the marker; rows stop before 4 MiB; issues say both."""
    api, cid, source = source_connection
    resp = preview(api, cid, BIG_ROWS[source.kind], limit=100)
    assert resp.status_code == 200, resp.content[:300]
    assert len(resp.content) < 4 * 1024 * 1024 + 4096
    body = resp.json()
    rows = body["rows"]
    assert 0 < len(rows) < 100
    for row in rows:
        assert row["big"].endswith(TRUNCATED) and set(row["big"][:-len(TRUNCATED)]) == {"é"}
        assert 65536 - 16 < len(row["big"].encode()) <= 65536
    in_all = sum(map(json_bytes, rows))
    assert in_all <= 4194304 < in_all + json_bytes(rows[-1])  # the next row would not have fitted
    assert body["issues"] == [
        f"Only the first {len(rows)} rows are shown: the preview's rows hold at most 4194304 bytes in all "
        "(KRENALIS_PREVIEW_MAX_BYTES).",
        f'Column "big": {len(rows)} values are longer than the preview\'s limit of 65536 bytes per value '
        f'(KRENALIS_PREVIEW_MAX_VALUE_BYTES) and cut; they end with "{TRUNCATED}".']
    assert body["schema"]["properties"][1]["name"] == "big"


def test_a_json_value_too_long_for_a_preview_becomes_its_cut_text(workspace, pg_source, settings):
    settings.KRENALIS = {**settings.KRENALIS, "PREVIEW_MAX_VALUE_BYTES": 100}
    cid = workspace.api.post("/v1/connections", support.connection_body(pg_source)).json()["id"]
    body = preview(workspace.api, cid, "SELECT jsonb_build_object('a', repeat('y', 500)) AS doc, "
                                       "'{\"short\": 1}'::json AS small").json()
    doc = '{"a": "' + "y" * (100 - 7 - len(TRUNCATED.encode())) + TRUNCATED
    assert body["rows"] == [{"doc": doc, "small": {"short": 1}}]
    assert body["issues"] == [f'Column "doc": 1 value is longer than the preview\'s limit of 100 bytes per value '
                              f'(KRENALIS_PREVIEW_MAX_VALUE_BYTES) and cut; it ends with "{TRUNCATED}".']


SLEEPS = {"postgresql": "SELECT pg_sleep(30) IS NULL AS slept", "mysql": "SELECT SLEEP(30) AS slept"}


def test_a_preview_ends_at_its_timeout_and_so_does_its_source_query(source_connection, settings):
    settings.KRENALIS = {**settings.KRENALIS, "PREVIEW_TIMEOUT": 2}
    api, cid, source = source_connection
    resp = preview(api, cid, SLEEPS[source.kind])
    assert error_of(resp) == (503, "ServiceUnavailable", "the query took longer than the preview's limit of 2 s "
                                                         "(KRENALIS_PREVIEW_TIMEOUT) and was cancelled")
    assert support.busy_sessions(source) == 0


NOT_SHOWN = ", so the value is not shown; a run that reads this column fails the row."
NOT_A_TIME_OF_DAY = "property 'v' has value {}, which is not a time of day (a time value is from 00:00:00 to " \
                    "23:59:59.999999)"
OUT_OF_RANGE = "property 'v' has value {}, which is outside the range of {} values (years 1 to 9999)"
NOT_UTF8 = "property 'v' does not contain valid UTF-8 characters"

# (SQL expression, the value shown, or None with the issue that says why it is not)
PG_VALUES = [
    (r"'\xff00'::bytea", None, NOT_UTF8),
    (r"'\x89504e470d0a1a0a'::bytea", None, NOT_UTF8),  # a PNG's signature
    (r"'\x41'::bytea", "A", None),
    ("'24:00:00'::time", None, NOT_A_TIME_OF_DAY.format("24:00:00")),  # imported as 00:00:00 before
    ("'24:00:00+00'::timetz", None, NOT_A_TIME_OF_DAY.format("24:00:00+00")),
    ("'23:59:59.5'::time", "23:59:59.500", None),
    ("'NaN'::numeric", None, "property 'v' has a \"NaN\" value that cannot represent a decimal(76,37) value"),
    ("'Infinity'::numeric", None, "property 'v' has a \"Infinity\" value that cannot represent a decimal(76,37) value"),
    ("'NaN'::float8", "NaN", None),
    ("'-Infinity'::float8", "-Infinity", None),
    ("'infinity'::date", None, OUT_OF_RANGE.format("infinity", "date")),  # 9999-12-31 before
    ("'-infinity'::timestamptz", None, OUT_OF_RANGE.format("-infinity", "datetime")),  # 0001-01-01 before
    ("'0044-03-15 BC'::date", None, OUT_OF_RANGE.format("0044-03-15 BC", "date")),  # a 503 before
    ("'10000-01-01'::timestamp", None, OUT_OF_RANGE.format("10000-01-01 00:00:00", "datetime")),
    ("'10000-01-01'::timestamptz", None, OUT_OF_RANGE.format("10000-01-01 00:00:00+00", "datetime")),
    ("('[' || repeat('9', 5000) || ']')::jsonb", [Decimal("9" * 5000)], None),  # more digits than int() reads
]
MYSQL_VALUES = [
    ("x'ff00'", None, NOT_UTF8),
    ("CAST(x'89504e470d0a1a0a' AS BINARY(8))", None, NOT_UTF8),
    ("x'41'", "A", None),
    ("CAST('24:00:00' AS TIME)", None, NOT_A_TIME_OF_DAY.format("24:00:00")),
    ("CAST('838:59:59' AS TIME)", None, NOT_A_TIME_OF_DAY.format("838:59:59")),
    ("CAST('-01:00:00' AS TIME)", None, NOT_A_TIME_OF_DAY.format("-01:00:00")),
    ("CAST('23:59:59' AS TIME)", "23:59:59", None),
    ("CAST('0000-00-00' AS DATE)", None, None),  # MySQL's zero date reads as NULL
]


@pytest.mark.parametrize("kind", ["postgresql", "mysql"])
def test_every_value_a_driver_returns_previews(workspace, request, kind):
    """No value makes the preview fail (it answered 500 on bytes, a MySQL TIME beyond a day, a numeric
    NaN...): a value a run would reject is left out of its row and an issue says why, with the
    message the run gives; the others are shown in their API form."""
    source = request.getfixturevalue("pg_source" if kind == "postgresql" else "mysql_source")
    cid = workspace.api.post("/v1/connections", support.connection_body(source)).json()["id"]
    for expression, shown, issue in PG_VALUES if kind == "postgresql" else MYSQL_VALUES:
        resp = preview(workspace.api, cid, f"SELECT 1 AS id, {expression} AS v")
        assert resp.status_code == 200, (expression, resp.content)
        body = json.loads(resp.content, parse_int=Decimal)
        if issue is None:
            assert body["rows"] == [{"id": 1, "v": shown}], expression
            assert body["issues"] is None, expression
        else:
            assert body["rows"] == [{"id": 1}], expression
            assert body["issues"] == [f"Row 1: {issue}{NOT_SHOWN}"], expression


def test_a_run_rejects_the_values_the_preview_leaves_out(workspace, any_source):
    """The preview's issues are the run's per-row errors: the same value fails the same way in a run
    (PostgreSQL's 24:00:00, and MariaDB's TIME, a duration that can pass a day)."""
    from tests.pipelines.services import create_pipeline, errors_of, run_now

    any_source.execute("ALTER TABLE customers ADD COLUMN opens time")
    any_source.execute("UPDATE customers SET opens = '24:00:00' WHERE id = 2")
    any_source.execute("UPDATE customers SET opens = '09:30:00' WHERE id <> 2")
    cid = workspace.api.post("/v1/connections", support.connection_body(any_source)).json()["id"]
    query = "SELECT id, firstname, opens, updated_ts FROM customers ORDER BY id"
    body = preview(workspace.api, cid, query, limit=3).json()
    assert [row.get("opens") for row in body["rows"]] == ["09:30:00", None, "09:30:00"]
    assert body["issues"] == [f"Row 2: {NOT_A_TIME_OF_DAY.format('24:00:00').replace('v', 'opens', 1)}{NOT_SHOWN}"]
    pid = create_pipeline(workspace, cid, query=query, mapping={"first_name": "firstname", "last_name": "opens"})
    run = run_now(pid)
    assert (run.passed[:2], run.failed[:2]) == ([10, 9], [0, 1])
    assert errors_of(run) == [("InputValidation", "2", NOT_A_TIME_OF_DAY.format("24:00:00").replace("v", "opens", 1))]
