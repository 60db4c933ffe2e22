"""The look-back in the admin: the pipeline editor saves it through the service (its errors next to
the field) and shows it again; the run page says how many rows were read again, whether the cursor
was held and why the source showed no transactions."""
import html

import pytest
from django.urls import reverse

from pipelines.models import Pipeline, Run
from tests.admin.test_console import connection, editor_post, make_pipeline, row_of, ws  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db


def test_the_editor_saves_and_shows_the_lookback_with_errors_next_to_it(admin_client, connection):  # noqa: F811
    url = reverse("admin:pipelines_pipeline_add")
    resp = admin_client.post(url, editor_post(connection, updated_at_lookback="5 minutes"))
    assert resp.status_code == 200 and not Pipeline.objects.exists()
    assert 'update time look-back "5 minutes" is not a duration' in html.unescape(
        row_of(resp.content.decode(), "updated_at_lookback"))
    resp = admin_client.post(url, editor_post(connection, updated_at_column="", updated_at_lookback="5m"))
    assert "update time look-back requires an update time column" in row_of(resp.content.decode(),
                                                                            "updated_at_lookback")
    resp = admin_client.post(url, editor_post(connection, updated_at_lookback="90s"))
    assert resp.status_code == 302
    pipeline = Pipeline.objects.get()
    assert pipeline.updated_at_lookback == 90
    change = reverse("admin:pipelines_pipeline_change", args=[pipeline.id])
    assert 'value="1m30s"' in row_of(admin_client.get(change).content.decode(), "updated_at_lookback")
    data = editor_post(connection, updated_at_lookback="")
    data.pop("connection")
    assert admin_client.post(change, dict(data, _continue="1")).status_code == 302
    assert Pipeline.objects.get().updated_at_lookback is None


def test_the_run_page_says_what_the_lookback_did(admin_client, connection):  # noqa: F811
    pipeline = make_pipeline(connection, updated_at_lookback="5m")
    note = "MySQL shows its transactions in progress only to a user with the PROCESS privilege"
    run = Run.objects.create(id=321, pipeline=pipeline, incremental=True, start_time=pipeline.created_at,
                             end_time=pipeline.created_at, passed=[7] * 2 + [0] * 2 + [7] * 3, failed=[0] * 7,
                             lookback=300, reread=6, cursor_held=True, in_flight_note=note)
    page = admin_client.get(reverse("admin:pipelines_run_change", args=[run.id])).content.decode()
    assert 'Look-back 5m:' in page and '<span id="kr-reread">6</span> rows read again' in page
    assert "the cursor was held below a transaction still in progress" in page and note in page
    Run.objects.filter(id=run.id).update(lookback=None)
    assert "kr-lookback" not in admin_client.get(reverse("admin:pipelines_run_change", args=[run.id])).content.decode()
