"""Who may do what in the admin, through Django's test client against the real database: a staff user
who may only view sees every page (the connection's settings as text, never its password) and runs
nothing; running SQL or a function from the pipeline editor needs the permission to change pipelines
(or, on the page of a new pipeline, to add one)."""
import json

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse

from pipelines.models import Workspace
from pipelines.services.connections import connection_create
from tests.admin.test_console import QUERY, editor_post, make_pipeline

pytestmark = pytest.mark.django_db


@pytest.fixture
def connection(workspace, pg_source):
    return connection_create(workspace=Workspace.objects.get(id=workspace.id), name="Shop DB", role="Source",
                             connector="postgresql", settings=dict(pg_source.settings))


def staff(name: str, *codenames: str) -> Client:
    """A logged-in client of a staff user with these permissions of the pipelines app."""
    user = User.objects.create_user(name, password="pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="pipelines", codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


VIEW_ALL = ("view_workspace", "view_apikey", "view_connection", "view_pipeline", "view_run")


def test_a_user_who_may_only_view_sees_every_page(connection, pg_source):
    pipeline = make_pipeline(connection)
    viewer = staff("viewer", *VIEW_ALL)
    page = viewer.get(reverse("admin:pipelines_connection_change", args=[connection.id]))
    assert page.status_code == 200  # was a 500: KeyError 'name' in ConnectionForm
    html = page.content.decode()
    assert pg_source.settings["database"] in html and "<code>5432</code>" in html
    assert pg_source.settings["password"] not in html
    assert "Test connection" not in html and 'name="_save"' not in html
    assert viewer.get(reverse("admin:pipelines_workspace_change", args=[connection.workspace_id])).status_code == 200
    editor = viewer.get(reverse("admin:pipelines_pipeline_change", args=[pipeline.id])).content.decode()
    assert 'id="kr-preview" disabled' in editor and 'id="kr-test" disabled' in editor
    assert 'id="kr-run-full"' not in editor and 'name="_save"' not in editor
    for name in ("workspace", "apikey", "connection", "pipeline", "run"):
        assert viewer.get(reverse(f"admin:pipelines_{name}_changelist")).status_code == 200, name


def test_a_user_who_may_only_view_runs_no_sql_and_no_function(connection):
    pipeline = make_pipeline(connection)
    viewer = staff("viewer", *VIEW_ALL)
    preview = {"connection": str(connection.id), "query": QUERY}
    test = editor_post(connection, transformation="function", function_language="JavaScript",
                       function_source="const transform = (u) => ({email: u.email});",
                       function_out_paths=json.dumps(["email"]))
    for data in (preview, dict(preview, pipeline_id=str(pipeline.id))):
        assert viewer.post(reverse("admin:pipelines_pipeline_preview"), data).status_code == 403
    for data in (test, dict(test, pipeline_id=str(pipeline.id))):
        assert viewer.post(reverse("admin:pipelines_pipeline_test"), data).status_code == 403
    assert viewer.post(reverse("admin:pipelines_connection_test"),
                       {"connection_id": str(connection.id), "host": "127.0.0.1", "port": "5432"}).status_code == 403
    assert viewer.post(reverse("admin:pipelines_pipeline_run", args=[pipeline.id]), {"mode": "full"}).status_code == 403


def test_changing_or_adding_pipelines_is_what_running_sql_takes(connection):
    """Changing pipelines is enough, whatever the permissions on connections: who may save a query
    and run the pipeline may preview it. Adding one lets preview on the new pipeline's page only."""
    pipeline = make_pipeline(connection)
    editor = staff("editor", *VIEW_ALL, "change_pipeline")
    body = editor.post(reverse("admin:pipelines_pipeline_preview"),
                       {"connection": str(connection.id), "query": QUERY, "pipeline_id": str(pipeline.id)}).json()
    assert len(body["rows"]) == 10
    tested = editor.post(reverse("admin:pipelines_pipeline_test"), editor_post(connection, pipeline_id=str(pipeline.id)))
    assert tested.json()["failed"] == 0

    adder = staff("adder", *VIEW_ALL, "add_pipeline")
    preview = {"connection": str(connection.id), "query": QUERY}
    assert len(adder.post(reverse("admin:pipelines_pipeline_preview"), preview).json()["rows"]) == 10
    assert adder.post(reverse("admin:pipelines_pipeline_preview"),
                      dict(preview, pipeline_id=str(pipeline.id))).status_code == 403
