"""`updatedAtLookback` through the API: off by default, checked when saved with a 400 that says why
(and nothing saved), shown in its canonical form, changed without resetting the cursor."""
import datetime as dt

import pytest

from pipelines.models import Pipeline
from tests.pipelines.api.pipeline_bodies import body
from tests.support import error_of


def get(workspace, pid) -> dict:
    return workspace.api.get(f"/v1/pipelines/{pid}").json()


def lookback_of(workspace, pid) -> str | None:
    """The window a GET shows; off, the object is the seed's (no key)."""
    got = get(workspace, pid)
    assert got.get("updatedAtLookback", ...) is not None
    return got.get("updatedAtLookback")


def test_off_by_default_and_set_in_its_canonical_form(workspace, connection_id):
    pid = workspace.api.post("/v1/pipelines", body(connection_id)).json()["id"]
    assert lookback_of(workspace, pid) is None
    assert Pipeline.objects.get(id=pid).updated_at_lookback is None
    for given, shown in (("90s", "1m30s"), ("5m", "5m"), ("1h30m", "1h30m"), ("7d", "7d"), (None, None),
                         ("", None)):
        resp = workspace.api.put(f"/v1/pipelines/{pid}", body(connection_id, updatedAtLookback=given))
        assert resp.status_code == 200, resp.content
        assert lookback_of(workspace, pid) == shown
    created = workspace.api.post("/v1/pipelines", body(connection_id, updatedAtLookback="2h")).json()["id"]
    assert lookback_of(workspace, created) == "2h"
    listed = {p["id"]: p for p in workspace.api.get("/v1/pipelines").json()["pipelines"]}
    assert listed[created]["updatedAtLookback"] == "2h" and "updatedAtLookback" not in listed[pid]
    assert Pipeline.objects.get(id=created).updated_at_lookback == 7200


@pytest.mark.parametrize("value, message", [
    ("5x", 'update time look-back "5x" is not a duration: write one such as "30s", "5m", "1h30m" or "2d" '
           '(whole days, hours, minutes and seconds, in that order)'),
    ("0s", 'update time look-back "0s" is shorter than 1s'),
    ("8d", 'update time look-back "8d" is longer than 7d'),
    (300, '"updatedAtLookback" must be a string'),
    (True, '"updatedAtLookback" must be a string'),
])
def test_a_bad_window_is_a_400_that_changes_nothing(workspace, connection_id, value, message):
    pid = workspace.api.post("/v1/pipelines", body(connection_id, updatedAtLookback="5m")).json()["id"]
    before = get(workspace, pid)
    assert error_of(workspace.api.put(f"/v1/pipelines/{pid}", body(connection_id, updatedAtLookback=value,
                                                                    name="Changed"))) == (400, "BadRequest", message)
    assert get(workspace, pid) == before
    assert error_of(workspace.api.post("/v1/pipelines", body(connection_id, updatedAtLookback=value))) == (
        400, "BadRequest", message)
    assert Pipeline.objects.count() == 1


def test_a_window_needs_an_update_time_column(workspace, connection_id):
    resp = workspace.api.post("/v1/pipelines", body(connection_id, updatedAtColumn=..., updatedAtFormat=...,
                                                    updatedAtLookback="5m"))
    assert error_of(resp) == (400, "BadRequest", "update time look-back requires an update time column")


def test_changing_the_window_keeps_the_cursor(workspace, connection_id):
    pid = workspace.api.post("/v1/pipelines", body(connection_id, incremental=True)).json()["id"]
    cursor = dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc)
    Pipeline.objects.filter(id=pid).update(cursor=cursor)
    for window in ("5m", "1h", None):
        resp = workspace.api.put(f"/v1/pipelines/{pid}", body(connection_id, incremental=True,
                                                              updatedAtLookback=window))
        assert resp.status_code == 200, resp.content
        assert Pipeline.objects.get(id=pid).cursor == cursor
