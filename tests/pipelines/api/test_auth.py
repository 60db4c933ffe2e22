"""Authentication and workspace selection (reference §2). Keys restricted to a workspace, minted by
createapikey, are tested with the command: tests/pipelines/management/test_commands.py."""
import pytest

from pipelines import apikeys
from tests.support import error_of

NO_KEY = "Authorization header with the API key is not present in the request"
BAD_FORMAT = "Authorization header is invalid; it should be in the format 'Authorization: Bearer <YOUR_API_KEY>'"
NO_PREFIX = "API key is not valid; API keys start with the api_ prefix"
MALFORMED = "API key in the Authorization header of the request is malformed"
UNKNOWN = "API key in the Authorization header of the request does not exist"
MISSING_WS = "Krenalis-Workspace header is missing; provide it in the format 'Krenalis-Workspace: <WORKSPACE_ID>'"
INVALID_WS = "Krenalis-Workspace header is invalid; it should be in the format 'Krenalis-Workspace: <WORKSPACE_ID>'"


def with_auth(api, value):
    return api.get("/v1/connections", auth=False, headers={"Authorization": value})


def test_missing_key_is_401(workspace):
    assert error_of(workspace.api.get("/v1/connections", auth=False)) == (401, "Unauthorized", NO_KEY)


@pytest.mark.parametrize("value", ["Basic dXNlcjpwYXNz", "Bearer", "BearerXYZ", "Token api_x"])
def test_not_a_bearer_token_is_400(workspace, value):
    assert error_of(with_auth(workspace.api, value)) == (400, "BadRequest", BAD_FORMAT)


def test_key_without_prefix_is_400(workspace):
    assert error_of(with_auth(workspace.api, "Bearer API_" + "A" * 49)) == (400, "BadRequest", NO_PREFIX)


def test_malformed_and_unknown_keys_are_401(workspace):
    key = apikeys.generate_key()
    assert error_of(with_auth(workspace.api, f"Bearer {key[:-1]}")) == (401, "Unauthorized", MALFORMED)
    assert error_of(with_auth(workspace.api, f"Bearer {key}")) == (401, "Unauthorized", UNKNOWN)


def test_repeated_authorization_header_is_400(workspace, org_key):
    resp = with_auth(workspace.api, f"Bearer {org_key}, Bearer {org_key}")
    assert error_of(resp) == (400, "BadRequest", "request contains multiple Authorization headers")


def test_repeated_workspace_header_is_400(workspace):
    """A WSGI server joins repeated headers with commas: two ids, even the same one twice, are refused."""
    resp = workspace.api.get("/v1/connections", headers={"Krenalis-Workspace": f"{workspace.id}, {workspace.id}"})
    assert error_of(resp) == (400, "BadRequest", "request contains multiple Krenalis-Workspace headers")


@pytest.mark.parametrize("template", ["bearer {}", "BEARER {}", "Bearer \t  {}  "])
def test_scheme_is_case_insensitive_and_spaces_trimmed(api, org_key, template):
    resp = api.get("/v1/workspaces", auth=False, headers={"Authorization": template.format(org_key)})
    assert resp.status_code == 200


def test_workspace_endpoints_need_the_header(api):
    for path in ("/v1/connections", "/v1/pipelines", "/v1/workspaces/current", "/v1/profiles/schema"):
        assert error_of(api.get(path)) == (403, "Forbidden", MISSING_WS)


@pytest.mark.parametrize("value", ["abc", "0", "-3", "1.5", "2147483648"])
def test_invalid_workspace_header_is_400(api, value):
    resp = api.get("/v1/connections", headers={"Krenalis-Workspace": value})
    assert error_of(resp) == (400, "BadRequest", INVALID_WS)


def test_unknown_workspace_is_404(api):
    resp = api.scoped(12345).get("/v1/connections")
    assert error_of(resp) == (404, "NotFound", "workspace 12345 does not exist")


def test_organization_endpoint_refuses_a_workspace(workspace):
    resp = workspace.api.get("/v1/workspaces")
    assert error_of(resp) == (401, "Unauthorized", "organization request cannot specify a workspace")


def test_optional_workspace_endpoints_accept_both(api, workspace):
    for path in ("/v1/connectors", "/v1/system/transformations/languages"):
        assert api.get(path).json() == workspace.api.get(path).json()


def test_authentication_precedes_identifier_validation(workspace, api):
    assert error_of(workspace.api.get("/v1/pipelines/abc", auth=False))[0] == 401
    assert error_of(api.get("/v1/pipelines/abc"))[0] == 403
