"""Error format, body and content-type rules, unknown paths (reference §1.2, §1.3)."""
import json

import pytest

from tests import support
from tests.support import error_of

BODY_MISSING = "request's body is missing"
BAD_CONTENT_TYPE = "request's content type must be 'application/json'"


def test_error_body_is_exact(workspace):
    resp = workspace.api.get("/v1/pipelines/77")
    assert resp.status_code == 404
    assert resp.content == b'{"error":{"code":"NotFound","message":"pipeline 77 does not exist"}}\n'
    assert resp["X-Content-Type-Options"] == "nosniff"


def test_success_headers(api):
    resp = api.get("/v1/connectors")
    assert resp["Content-Type"] == "application/json"
    assert resp["Cache-Control"] == "no-store, max-age=0" and resp["Request-Id"]
    assert resp.content.endswith(b"\n")


@pytest.mark.parametrize("path", ["/v1/nothing", "/v1/pipelines/1/nothing", "/v1/pipeline"])
def test_unknown_v1_paths_are_json_404(workspace, path):
    assert error_of(workspace.api.get(path))[:2] == (404, "NotFound")


def test_wrong_method_is_a_json_405(workspace):
    assert error_of(workspace.api.request("PATCH", "/v1/connections", {}))[:2] == (405, "MethodNotAllowed")


def test_get_and_delete_refuse_a_body(workspace):
    resp = workspace.api.request("GET", "/v1/connections", raw=b"{}")
    assert error_of(resp) == (400, "BadRequest", "request body not allowed")


def test_missing_body_precedes_authentication(workspace):
    resp = workspace.api.request("POST", "/v1/pipelines", raw=b"", auth=False)
    assert error_of(resp) == (400, "BadRequest", BODY_MISSING)


@pytest.mark.parametrize("content_type", ["text/plain", "application/json; foo=bar", "application/jsonx"])
def test_content_type_must_be_json(workspace, content_type):
    resp = workspace.api.request("POST", "/v1/connections", raw=b"{}", content_type=content_type)
    assert error_of(resp) == (400, "BadRequest", BAD_CONTENT_TYPE)


def test_charset_must_be_utf8(workspace):
    resp = workspace.api.request("POST", "/v1/connections", raw=b"{}", content_type="application/json; charset=latin1")
    assert error_of(resp) == (400, "BadRequest", "request's content type charset must be 'utf-8'")


def test_body_over_512000_bytes_is_400(workspace):
    resp = workspace.api.request("POST", "/v1/connections", raw=b" " * 512001)
    assert error_of(resp) == (400, "BadRequest", "request's content length must be in the range [1,512000]")


@pytest.mark.parametrize("raw,message", [
    (b"{", "invalid JSON: Expecting property name enclosed in double quotes (line 1, column 2)"),
    (b"[]", "request's body must be a JSON object"),
    (b'{"name": "a", "name": "b"}', 'duplicate key "name" in object'),
    (b"\xff\xfe", "request body contains invalid UTF-8"),
    (b'{"n": NaN}', "invalid JSON value NaN"),
    (b"{} {}", "invalid JSON: unexpected data after the top-level value"),
])
def test_malformed_json_is_400(workspace, raw, message):
    assert error_of(workspace.api.request("POST", "/v1/connections", raw=raw)) == (400, "BadRequest", message)


def test_data_after_a_schema_body_is_400_and_creates_nothing(api, warehouse_db):
    """The reference's `invalid token { after top-level value`: here the body decoder refuses it
    before the schema is read (reference §1.2 lets a reimplementation word decode errors)."""
    from pipelines.models import Workspace

    raw = json.dumps(support.workspace_body("Trailing", warehouse_db)).encode() + b" {"
    resp = api.request("POST", "/v1/workspaces", raw=raw)
    assert error_of(resp) == (400, "BadRequest", "invalid JSON: unexpected data after the top-level value")
    assert not Workspace.objects.exists()


def test_unicode_is_normalized_to_nfc(workspace):
    resp = workspace.api.put("/v1/workspaces/current", {"name": "Cafe\u0301"})
    assert resp.status_code == 200
    assert workspace.api.get("/v1/workspaces/current").json()["name"] == "Caf\u00e9"


def test_openapi_document_and_its_ui_are_served(client):
    resp = client.get("/v1/openapi.json")
    assert resp.status_code == 200
    document = json.loads(resp.content)
    assert document["openapi"].startswith("3.")
    assert {"/v1/pipelines", "/v1/pipelines/{pipeline_id}", "/v1/connections/{connection_id}/query"} <= set(
        document["paths"])
    ui = client.get("/v1/docs")
    assert ui.status_code == 200 and b"swagger" in ui.content.lower()
