"""The product's own databases are out of reach. A key restricted to one workspace could create a
PostgreSQL connection to the metadata database and read django_session through the preview (and
then open the admin as a superuser), or read another workspace's warehouse: no connection may name
the metadata database or any workspace's warehouse, whatever the allow-list and whichever address
of this machine it uses, and no warehouse either. With no allow-list at all, nothing on a loopback,
private or link-local address is reachable."""
import os
import subprocess
import sys

import pytest
from django.db import connections

from pipelines.models import Connection, Run, Workspace
from pipelines.services.apikeys import api_key_create
from tests import support
from tests.pipelines.services import create_connection, create_pipeline, errors_of, run_now

pytestmark = pytest.mark.django_db(transaction=True)

OWN = "and may not be used here"
NOT_LISTED = "(list it in KRENALIS_DATABASE_ALLOWED_HOSTS to allow it)"


def metadata_database() -> str:
    return connections["default"].settings_dict["NAME"]


def pg_body(database: str, name: str = "Inside", **changes) -> dict:
    settings = {"host": "127.0.0.1", "port": 5432, "username": "postgres", "password": "", "database": database,
                "schema": "public", **changes}
    return {"name": name, "role": "Source", "connector": "postgresql", "settings": settings}


@pytest.fixture
def restricted(workspace):
    """A client with a key restricted to the workspace, as the attacker had."""
    _, key = api_key_create(name="restricted", workspace=Workspace.objects.get(id=workspace.id))
    return support.Api(key)


def test_a_restricted_key_cannot_reach_the_metadata_database(restricted, settings):
    settings.KRENALIS = {**settings.KRENALIS, "DATABASE_ALLOWED_HOSTS": ["*"]}  # even when every host is allowed
    metadata = metadata_database()
    for host in ("127.0.0.1", "localhost", "127.0.0.2", "0.0.0.0", "::ffff:127.0.0.1", "::1"):
        resp = restricted.post("/v1/connections", pg_body(metadata, host=host))
        assert support.error_of(resp) == (
            422, "InvalidSettings",
            f'database "{metadata}" at {host}:5432 is Krenalis\' own metadata database {OWN}'), host
    resp = restricted.post("/v1/connections", pg_body(metadata.upper()))
    assert support.error_of(resp)[:2] == (422, "InvalidSettings")
    mysql = {"name": "Inside", "role": "Source", "connector": "mysql", "settings": {
        "host": "127.0.0.1", "port": 5432, "username": "postgres", "password": "x", "database": metadata}}
    assert support.error_of(restricted.post("/v1/connections", mysql))[:2] == (422, "InvalidSettings")
    assert restricted.get("/v1/connections").json()["connections"] == []


def test_no_connection_reaches_a_warehouse_nor_a_warehouse_another(api, workspace, restricted):
    other_db = support.create_pg_database("krenalis_test_wh_other")
    try:
        resp = api.post("/v1/workspaces", support.workspace_body("Other", other_db))
        assert resp.status_code == 200, resp.content
        for database in (other_db, workspace.warehouse_db):  # another workspace's, and its own
            resp = restricted.post("/v1/connections", pg_body(database))
            assert support.error_of(resp) == (
                422, "InvalidSettings",
                f'database "{database}" at 127.0.0.1:5432 is the data warehouse of a workspace {OWN}')
        for database, what in ((other_db, "the data warehouse of a workspace"),
                               (metadata_database(), "Krenalis' own metadata database")):
            resp = api.post("/v1/workspaces", support.workspace_body("Third", database))
            assert support.error_of(resp) == (
                422, "InvalidWarehouseSettings",
                f'data warehouse settings are not valid: database "{database}" at 127.0.0.1:5432 is {what} {OWN}')
        assert sorted(w["name"] for w in api.get("/v1/workspaces").json()["workspaces"]) == ["Other", "Tests"]
    finally:
        support.drop_pg_database(other_db)


def test_a_connection_saved_before_is_neither_previewed_nor_run(workspace, pg_source):
    """A connection to the metadata database saved by an older version: previews and runs refuse it
    before anything connects."""
    connection_id = create_connection(workspace, pg_source)
    pipeline_id = create_pipeline(workspace, connection_id, query="SELECT id, email, updated_ts FROM customers",
                                  mapping={"email": "email"})
    connection = Connection.objects.get(id=connection_id)
    connection.settings = dict(connection.settings, database=metadata_database())
    connection.save()
    message = (f'the connection\'s settings are no longer allowed: database "{metadata_database()}" at '
               f"127.0.0.1:5432 is Krenalis' own metadata database {OWN}")
    resp = workspace.api.post(f"/v1/connections/{connection_id}/query",
                              {"query": "SELECT session_key FROM django_session", "limit": 5})
    assert support.error_of(resp) == (422, "InvalidSettings", message)
    run = run_now(pipeline_id)
    assert run.error == message and errors_of(run) == [("InputValidation", None, message)]
    assert Run.objects.get(id=run.id).passed == [0] * 7


def test_by_default_loopback_and_private_hosts_are_refused(api, workspace, pg_source, settings):
    """KRENALIS_DATABASE_ALLOWED_HOSTS unset: only public addresses (the tests allow loopback)."""
    settings.KRENALIS = {**settings.KRENALIS, "DATABASE_ALLOWED_HOSTS": []}
    for host, reason in [("127.0.0.1", "127.0.0.1 is a loopback address"),
                         ("localhost", "it resolves to 127.0.0.1, a loopback address"),
                         ("10.0.0.5", "10.0.0.5 is a private address"),
                         ("169.254.169.254", "169.254.169.254 is a link-local address")]:
        body = support.connection_body(pg_source)
        body["settings"]["host"] = host
        resp = workspace.api.post("/v1/connections", body)
        assert support.error_of(resp) == (422, "InvalidSettings",
                                          f'host "{host}" is not allowed: {reason} {NOT_LISTED}'), host
    resp = api.post("/v1/workspaces", support.workspace_body("Local", workspace.warehouse_db))
    assert support.error_of(resp) == (
        422, "InvalidWarehouseSettings",
        f'data warehouse settings are not valid: host "127.0.0.1" is not allowed: 127.0.0.1 is a loopback address '
        f"{NOT_LISTED}")


def test_the_default_of_the_setting_is_public_addresses_only():
    """The settings of a deployment that does not set KRENALIS_DATABASE_ALLOWED_HOSTS."""
    env = {k: v for k, v in os.environ.items() if k != "KRENALIS_DATABASE_ALLOWED_HOSTS"}
    code = ("import django; django.setup(); from pipelines.services.addresses import address_policy; "
            "print(address_policy(warehouses=False).allowed_hosts)")
    out = subprocess.run([sys.executable, "-c", code], env=dict(env, DJANGO_SETTINGS_MODULE="krenalis.settings"),
                         cwd=support.ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "('public',)"
