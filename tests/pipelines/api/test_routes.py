"""The router's paths are those of the reference: no trailing slash, no format suffix, any path
segment as an identifier (a malformed one is the resource's 400), runs before pipelines, and a
405 for a method a route does not have."""
import json

import pytest

from tests.support import error_of

ROUTES = ["/v1/workspaces/current", "/v1/connectors", "/v1/system/transformations/languages", "/v1/connections",
          "/v1/connections/test", "/v1/connections/1", "/v1/connections/1/query", "/v1/connections/1/identities",
          "/v1/pipelines", "/v1/pipelines/runs", "/v1/pipelines/runs/1", "/v1/pipelines/runs/1/cancel",
          "/v1/pipelines/runs/1/errors", "/v1/pipelines/1", "/v1/pipelines/1/status", "/v1/pipelines/1/schedule",
          "/v1/pipelines/1/runs", "/v1/profiles", "/v1/profiles/schema", "/v1/profiles/schema/preview",
          "/v1/profiles/schema/latest-alter", "/v1/profiles/1/attributes", "/v1/profiles/1/identities",
          "/v1/identity-resolution/settings", "/v1/identity-resolution/start", "/v1/identity-resolution/latest"]


@pytest.mark.parametrize("path", ROUTES)
def test_a_trailing_slash_is_an_unknown_path(workspace, path):
    assert error_of(workspace.api.get(path + "/")) == (404, "NotFound", f"no endpoint at GET {path}/")


@pytest.mark.parametrize("path", ["/v1/connections.json", "/v1/workspaces/1", "/v1/profiles/1",
                                  "/v1/identity-resolution", "/v1/pipelines/1/runs/1"])
def test_paths_a_router_could_add_are_unknown(workspace, path):
    assert error_of(workspace.api.get(path))[:2] == (404, "NotFound")


@pytest.mark.parametrize("path, message", [
    ("/v1/connections/1.5", 'connection identifier "1.5" is not valid'),
    ("/v1/connections/2.json/query", 'connection identifier "2.json" is not valid'),
    ("/v1/pipelines/1.5/status", 'identifier "1.5" is not a valid pipeline identifier'),
    ("/v1/pipelines/runs/runs", 'identifier "runs" is not a valid run identifier'),
    ("/v1/pipelines/runs/1.5/errors", 'identifier "1.5" is not a valid run identifier'),
])
def test_any_path_segment_is_an_identifier(workspace, path, message):
    method = "PUT" if path.endswith("status") else "POST" if path.endswith("query") else "GET"
    body = {} if method != "GET" else None
    assert error_of(workspace.api.request(method, path, body)) == (400, "BadRequest", message)


@pytest.mark.parametrize("method, path", [("PATCH", "/v1/pipelines/1"), ("PUT", "/v1/connections"),
                                          ("GET", "/v1/connections/test"), ("GET", "/v1/pipelines/1/runs"),
                                          ("DELETE", "/v1/pipelines/runs/1"), ("POST", "/v1/profiles/schema"),
                                          ("GET", "/v1/identity-resolution/start")])
def test_a_method_a_route_does_not_have_is_a_405(workspace, method, path):
    body = {} if method in ("PUT", "POST", "PATCH") else None
    assert error_of(workspace.api.request(method, path, body)) == (
        405, "MethodNotAllowed", f"method {method} is not allowed for this endpoint")


def test_options_names_the_route(workspace):
    resp = workspace.api.request("OPTIONS", "/v1/pipelines/1/status")
    assert resp.status_code == 200
    assert json.loads(resp.content) == {"name": "Pipeline Status", "description": "",
                                        "renders": ["application/json"], "parses": ["application/json"]}
