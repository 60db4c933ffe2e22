"""Query preview: POST /v1/connections/{id}/query (reference §6), and its limits."""
import json

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


def test_sql_errors_are_503(source_connection):
    api, cid, source = source_connection
    resp = preview(api, cid, "SELECT id FROM no_such_table")
    assert error_of(resp)[:2] == (503, "ServiceUnavailable")
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
