"""The admin's changelists read their rows in a fixed number of queries, whatever the number of rows
(pipelines/selectors.py): each is pinned with one row per workspace and with many."""
import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from pipelines.services.apikeys import api_key_create
from pipelines.models import Workspace
from tests.pipelines.rows import add_connections, add_workspace


def add_rows(count: int) -> None:
    """`count` workspaces, each with an API key, two connections, four pipelines and eight runs."""
    for w in range(count):
        workspace_id = add_workspace(f"Workspace {w}")
        api_key_create(name=f"Key {w}", workspace=Workspace.objects.get(id=workspace_id))
        add_connections(workspace_id, 2)


def queries(admin_client, name: str) -> int:
    with CaptureQueriesContext(db) as captured:
        resp = admin_client.get(reverse(f"admin:pipelines_{name}_changelist"))
    assert resp.status_code == 200
    return len(captured)


@pytest.mark.parametrize("name", ["workspace", "apikey", "connection", "pipeline", "run"])
def test_a_changelist_costs_the_same_queries_for_few_rows_and_for_many(admin_client, name,
                                                                       django_assert_num_queries):
    add_rows(1)
    few = queries(admin_client, name)
    add_rows(3)
    with django_assert_num_queries(few):
        page = admin_client.get(reverse(f"admin:pipelines_{name}_changelist")).content.decode()
    if name == "workspace":
        assert page.count('<td class="field-connection_count">2</td>') == 4
        assert page.count('<td class="field-pipeline_count">4</td>') == 4
    if name == "pipeline":
        assert page.count("kr-status kr-queued") == 16  # each pipeline's newest run, live but not started
    if name == "connection":
        assert page.count("/admin/pipelines/pipeline/") >= 16
