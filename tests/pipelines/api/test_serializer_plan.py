"""Output serializers shape rows through a plan (serializers.Output._plan) that skips DRF's generic
paths: every list and object answers the same bytes as with DRF's field by field
get_attribute/to_representation."""
import datetime as dt

import pytest

from pipelines.api import serializers
from pipelines.models import Pipeline, Run
from tests.pipelines.rows import add_connections
from tests.pipelines.services import create_connection, create_pipeline, create_workspace, run_now

MAPPING = {"email": "email", "first_name": "firstname", "last_name": "lastname", "age": "age"}
QUERY = "SELECT id, firstname, lastname, email, updated_ts, age FROM customers"


def field_by_field(self, instance):
    """Output.to_representation as DRF's Serializer does it."""
    data = {}
    for field in self._readable_fields:
        name = field.field_name
        if name in self.optional_fields and not self.is_set(instance, name):
            continue
        value = field.get_attribute(instance)
        data[name] = None if value is None else field.to_representation(value)
    return data


@pytest.fixture
def ws(api, warehouse_db):
    from tests import support

    return create_workspace(api, warehouse_db, support.PROFILE_SCHEMA)


def vary(workspace_id: int) -> None:
    """Rows with what the objects show only sometimes: look-backs, a function, no schedule, a run's
    look-back (live and ended), an error, a fractional end time."""
    pipelines = list(Pipeline.objects.filter(workspace_id=workspace_id).order_by("name"))
    pipelines[0].updated_at_lookback = 90061
    pipelines[0].schedule_period = 60
    pipelines[0].updated_at_column = "updated_ts"
    pipelines[0].save()
    pipelines[1].function_language, pipelines[1].function_source = "Python", "def transform(user):\n    return user\n"
    pipelines[1].function_in_paths, pipelines[1].function_out_paths = ["email"], ["email"]
    pipelines[1].transformation_mapping = None
    pipelines[1].save()
    for n, run in enumerate(Run.objects.filter(pipeline__workspace_id=workspace_id).order_by("id")):
        run.lookback = 600 if n % 2 else None
        run.reread, run.cursor_held, run.in_flight_note = n, bool(n % 3), "" if n % 4 else "no transaction"
        run.error = "" if n % 5 else "failed: é ✓"
        if run.end_time is not None:
            run.end_time += dt.timedelta(microseconds=n * 7)
        run.save()


def test_every_list_and_object_is_the_same_bytes(ws, pg_source, monkeypatch):
    connection_id = create_connection(ws, pg_source)
    pipeline_id = create_pipeline(ws, connection_id, query=QUERY, mapping=MAPPING)
    run_now(pipeline_id)
    add_connections(ws.id, 3, pipelines=2, runs=3)
    vary(ws.id)
    org = ws.api.scoped(None)
    paths = [(org, "/v1/workspaces"), (org, "/v1/connectors"), (ws.api, "/v1/workspaces/current"),
             (ws.api, "/v1/connections"), (ws.api, f"/v1/connections/{connection_id}"),
             (ws.api, "/v1/pipelines"), (ws.api, "/v1/pipelines/runs"),
             (ws.api, f"/v1/pipelines/runs?pipeline={pipeline_id}"),
             (ws.api, f"/v1/connections/{connection_id}/identities?limit=1000")]
    paths += [(ws.api, f"/v1/pipelines/{p.id}") for p in Pipeline.objects.filter(workspace_id=ws.id)]
    paths += [(ws.api, f"/v1/pipelines/runs/{r.id}") for r in Run.objects.filter(pipeline__workspace_id=ws.id)]
    planned = {}
    for client, path in paths:
        resp = client.get(path)
        assert resp.status_code == 200, (path, resp.content)
        planned[path] = resp.content
    assert b'"lookback":{"window":"10m"' in planned["/v1/pipelines/runs"]
    assert b'"function":{"source":' in planned["/v1/pipelines"]
    assert planned[f"/v1/connections/{connection_id}/identities?limit=1000"].count(b'"userId"') == 10

    monkeypatch.setattr(serializers.Output, "to_representation", field_by_field)
    for client, path in paths:
        assert client.get(path).content == planned[path], path


def test_a_plan_is_made_per_type_of_row():
    """Rows of another type (a dict, an object) are read each their own way, with DRF's errors."""
    class Row:
        userId, connection, pipeline, updatedAt = "a", 1, 2, None

    row = {"userId": "a", "connection": 1, "pipeline": 2, "updatedAt": None}
    assert serializers.IdentitySerializer([row, Row()], many=True).data == [row, row]
    with pytest.raises(AttributeError, match="Got AttributeError when attempting to get a value for field `userId`"):
        serializers.IdentitySerializer(object()).data
