"""The list endpoints read their rows in a fixed number of queries, whatever the number of rows
(pipelines/selectors.py): the counts are pinned with three times the rows."""
import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext

from tests.pipelines.rows import add_connections

# What a request costs before its endpoint reads anything (the API key and the workspace).
LISTS = {
    "/v1/workspaces": 1,          # the workspaces
    "/v1/connections": 3,         # connections, their pipelines, which of these are running
    "/v1/pipelines": 2,           # pipelines with their connection, which are running
    "/v1/pipelines/runs": 1,      # runs
}


def queries(client, path: str) -> int:
    with CaptureQueriesContext(db) as captured:
        resp = client.get(path)
    assert resp.status_code == 200, resp.content
    return len(captured)


@pytest.fixture
def overhead(workspace):
    """The queries of a request whose endpoint reads nothing: authentication and the workspace."""
    return queries(workspace.api, "/v1/system/transformations/languages")


@pytest.mark.parametrize("path", LISTS)
def test_a_list_costs_the_same_queries_for_one_row_and_for_many(workspace, overhead, path,
                                                                 django_assert_num_queries):
    client = workspace.api if path != "/v1/workspaces" else workspace.api.scoped(None)
    add_connections(workspace.id, 1)
    with django_assert_num_queries(overhead + LISTS[path] - (path == "/v1/workspaces")):
        assert client.get(path).status_code == 200
    add_connections(workspace.id, 3)
    with django_assert_num_queries(overhead + LISTS[path] - (path == "/v1/workspaces")):
        body = client.get(path).json()
    if path == "/v1/connections":
        assert [len(c["pipelines"]) for c in body["connections"]] == [2] * 4
        assert all(p["running"] for c in body["connections"] for p in c["pipelines"])
    if path == "/v1/pipelines/runs":
        assert len(body["runs"]) == 16


def test_a_connection_with_its_pipelines(workspace, django_assert_num_queries, overhead):
    add_connections(workspace.id, 1, pipelines=5)
    connection_id = workspace.api.get("/v1/connections").json()["connections"][0]["id"]
    with django_assert_num_queries(overhead + 3):  # the connection, its pipelines, which are running
        body = workspace.api.get(f"/v1/connections/{connection_id}").json()
    assert [p["name"] for p in body["pipelines"]] == [f"Pipeline 0.{p}" for p in range(5)]
