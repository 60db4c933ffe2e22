"""Query preview: POST /v1/connections/{id}/query (reference §6)."""
import pytest

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
