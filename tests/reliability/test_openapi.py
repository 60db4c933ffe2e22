"""The served OpenAPI document describes every /v1 operation: parameters, request body, every status
with its JSON schema, the error body, the Bearer scheme and the Krenalis-Workspace header."""
import json
import re

import pytest
from django.test import Client

from pipelines.api import openapi, profile_views
from tests.reliability.test_isolation import endpoints, routes

# Views whose documentation belongs to their own module (identity resolution, profiles): reported
# here while they have none, not failed.
PENDING_VIEWS = {name for name in dir(profile_views) if name.endswith("View")}


def served_document() -> dict:
    resp = Client().get("/v1/openapi.json")
    assert resp.status_code == 200
    return json.loads(resp.content)


def view_of(method: str, path: str):
    for route, view, methods in routes():
        if route == path and method.lower() in methods:
            return view
    return None


def test_every_v1_operation_is_documented():
    from drf_spectacular.validation import validate_schema

    document = served_document()
    assert document["openapi"].startswith("3.")
    validate_schema(document)  # against the OpenAPI 3 JSON schema
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "description": document["components"]["securitySchemes"]
        ["bearerAuth"]["description"]}
    assert document["security"] == [{"bearerAuth": []}]
    schemas = document["components"]["schemas"]
    assert schemas["Error"]["required"] == ["error"]
    pending = []
    for method, path in endpoints():
        operation = document["paths"].get(path, {}).get(method.lower())
        assert operation is not None, f"{method} {path} is missing from the document"
        if view_of(method, path).__name__ in PENDING_VIEWS and "400" not in operation["responses"]:
            pending.append(f"{method} {path}")
            continue
        where = f"{method} {path}"
        if method not in view_of(method, path).body_required:
            assert "requestBody" not in operation, where
        responses = operation["responses"]
        assert {"200", "400", "401"} <= set(responses), where
        for status, response in responses.items():
            if status != "200":
                assert response["content"]["application/json"]["schema"] == openapi.ref("Error"), where
        ok = responses["200"].get("content", {}).get("application/json", {}).get("schema")
        if ok is not None:
            assert ok["$ref"].split("/")[-1] in schemas, where
        names = {(p["in"], p["name"]) for p in operation.get("parameters", [])}
        for param in re.findall(r"{(\w+)}", path):
            assert ("path", param) in names, where
        if path != "/v1/workspaces":
            assert ("header", "Krenalis-Workspace") in names, where
            assert "403" in responses or path in ("/v1/connectors", "/v1/system/transformations/languages"), where
        if method in view_of(method, path).body_required:
            body = operation["requestBody"]
            assert body["required"] is True, where
            assert body["content"]["application/json"]["schema"]["$ref"].split("/")[-1] in schemas, where
        assert operation["security"] == [{"bearerAuth": []}], where
        assert operation["operationId"][0].islower() and "_" not in operation["operationId"], where
    if pending:
        pytest.skip("not documented yet (identity resolution and profiles): " + ", ".join(pending))


def test_the_documentation_ui_is_served():
    resp = Client().get("/v1/docs")
    assert resp.status_code == 200 and b"swagger" in resp.content.lower()


def test_the_documented_request_bodies_are_the_fields_the_serializers_read():
    """Each request component lists the fields its body serializer reads, no more, no less (the
    serializers read the types, the document adds the services' rules)."""
    from pipelines.api import serializers

    bodies = {"WorkspaceUpdate": serializers.WorkspaceUpdateBody, "ConnectionCreate": serializers.ConnectionCreateBody,
              "ConnectionTest": serializers.ConnectionTestBody, "ConnectionUpdate": serializers.ConnectionUpdateBody,
              "QueryRequest": serializers.QueryBody, "PipelineCreate": serializers.PipelineCreateBody,
              "PipelineUpdate": serializers.PipelineBody, "PipelineStatus": serializers.PipelineStatusBody,
              "PipelineSchedule": serializers.PipelineScheduleBody, "RunStart": serializers.RunStartBody,
              "ProfileSchemaChange": serializers.ProfileSchemaChangeBody,
              "IdentityResolutionSettingsUpdate": serializers.IdentityResolutionSettingsBody}
    # read (to refuse it when set) but not documented: linked connections are for event connectors
    undocumented = {"ConnectionCreate": {"linkedConnections"}}
    schemas = served_document()["components"]["schemas"]
    for name, body in bodies.items():
        assert set(schemas[name]["properties"]) == set(body().fields) - undocumented.get(name, set()), name
    assert served_document()["components"]["schemas"]["Run"]["required"] == [
        name for name in serializers.RunSerializer().fields if name != "lookback"]
