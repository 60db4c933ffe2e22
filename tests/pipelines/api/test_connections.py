"""Source connections (reference §4, §5)."""
import copy

import pytest

from pipelines.models import Connection
from tests import support
from tests.support import error_of


def test_create_get_list_rename_delete(workspace, any_source):
    resp = workspace.api.post("/v1/connections", support.connection_body(any_source))
    cid = resp.json()["id"]
    assert 0 < cid < 2**31
    got = workspace.api.get(f"/v1/connections/{cid}")
    body = got.json()
    assert body == {"id": cid, "name": "Customers", "connector": any_source.kind, "connectorType": "Database",
                    "role": "Source", "strategy": None, "sendingMode": None, "pipelines": []}
    assert any_source.settings["password"].encode() not in got.content
    assert workspace.api.put(f"/v1/connections/{cid}", {"name": "Renamed"}).content == b""
    assert workspace.api.get("/v1/connections").json()["connections"][0]["name"] == "Renamed"
    assert workspace.api.delete(f"/v1/connections/{cid}").content == b""
    assert error_of(workspace.api.get(f"/v1/connections/{cid}")) == (404, "NotFound", f"connection {cid} does not exist")


def test_settings_are_encrypted_at_rest(workspace, pg_source):
    cid = workspace.api.post("/v1/connections", support.connection_body(pg_source)).json()["id"]
    stored = Connection.objects.get(id=cid)
    assert pg_source.settings["password"] not in stored.settings_encrypted
    assert stored.settings["password"] == pg_source.settings["password"]


def tls_body(settings: dict, connector: str = "postgresql", name: str = "TLS") -> dict:
    return {"name": name, "role": "Source", "connector": connector, "settings": settings}


def test_tls_settings_of_postgresql_are_tested_encrypted_and_never_returned(workspace, tls_postgresql,
                                                                           tls_certificates):
    ca = tls_certificates.ca
    settings = dict(tls_postgresql.source_settings(), host="localhost", sslmode="verify-full", sslrootcert=ca)
    resp = workspace.api.post("/v1/connections", tls_body(dict(settings, sslrootcert=tls_certificates.other_ca)))
    status, code, message = error_of(resp)
    assert (status, code) == (503, "ServiceUnavailable") and message.endswith("certificate verify failed"), message
    assert error_of(workspace.api.post("/v1/connections", tls_body(dict(settings, sslmode="verify")))) == (
        422, "InvalidSettings", "sslmode must be one of disable, allow, prefer, require, verify-ca, verify-full")
    assert workspace.api.get("/v1/connections").json()["connections"] == []

    cid = workspace.api.post("/v1/connections", tls_body(settings)).json()["id"]
    resp = workspace.api.post(f"/v1/connections/{cid}/query",
                              {"query": "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                               "limit": 1})
    assert resp.status_code == 200 and resp.json()["rows"][0]["ssl"] is True, resp.content
    certificate_line = ca.splitlines()[1]
    stored = Connection.objects.get(id=cid)
    assert stored.settings["sslrootcert"] == ca and stored.settings["sslmode"] == "verify-full"
    assert certificate_line not in stored.settings_encrypted and "verify-full" not in stored.settings_encrypted
    for path in (f"/v1/connections/{cid}", "/v1/connections"):
        content = workspace.api.get(path).content.decode()
        assert certificate_line not in content and "sslrootcert" not in content and "verify-full" not in content


def test_tls_settings_of_mysql(workspace, tls_mariadb, tls_certificates, mysql_source):
    required = dict(mysql_source.settings, ssl={"mode": "REQUIRED"})
    assert error_of(workspace.api.post("/v1/connections", tls_body(required, "mysql"))) == (
        503, "ServiceUnavailable",
        "the server at 127.0.0.1:3306 does not offer TLS, which ssl.mode REQUIRED requires (nothing was sent to it)")
    settings = dict(tls_mariadb.source_settings(), ssl={"mode": "VERIFY_CA", "ca": tls_certificates.ca})
    cid = workspace.api.post("/v1/connections", tls_body(settings, "mysql")).json()["id"]
    resp = workspace.api.post(f"/v1/connections/{cid}/query", {
        "query": "SELECT VARIABLE_VALUE AS cipher FROM information_schema.SESSION_STATUS "
                 "WHERE VARIABLE_NAME = 'SSL_CIPHER'", "limit": 1})
    assert resp.status_code == 200 and resp.json()["rows"][0]["cipher"].startswith("TLS"), resp.content
    assert tls_certificates.ca.splitlines()[1] not in Connection.objects.get(id=cid).settings_encrypted


def test_connections_are_sorted_by_name(workspace, pg_source):
    for name in ("Zeta", "Alpha", "Mu"):
        workspace.api.post("/v1/connections", support.connection_body(pg_source, name))
    names = [c["name"] for c in workspace.api.get("/v1/connections").json()["connections"]]
    assert names == ["Alpha", "Mu", "Zeta"]


def test_connectors(api):
    connectors = api.get("/v1/connectors").json()["connectors"]
    assert [c["code"] for c in connectors] == ["mysql", "postgresql", "sqlite"]
    assert all(c["type"] == "Database" and c["asSource"]["sampleQuery"] == "SELECT *\nFROM users\n"
               for c in connectors)


@pytest.mark.parametrize("bad_id", ["abc", "0", "-1", "1.5"])
def test_invalid_identifier(workspace, bad_id):
    assert error_of(workspace.api.get(f"/v1/connections/{bad_id}")) == (
        400, "BadRequest", f'connection identifier "{bad_id}" is not valid')


@pytest.mark.parametrize("connector,key,value,message", [
    ("postgresql", "host", "", "host length in bytes must be in range [1,253]"),
    ("postgresql", "port", 65536, "port must be in range [1,65535]"),
    ("postgresql", "password", "p" * 101, "password must be no longer than 100 characters"),
    ("postgresql", "schema", "", "schema length in bytes must be in range [1,63]"),
    ("mysql", "username", "u" * 17, "username length must be in range [1,16]"),
    ("mysql", "password", "", "password length must be in range [1,200]"),
    ("mysql", "database", "d" * 65, "database length must be in range [1,64]"),
])
def test_invalid_settings_are_422(workspace, connector, key, value, message):
    settings = {"host": "127.0.0.1", "port": 5432, "username": "u", "password": "p", "database": "d"}
    if connector == "postgresql":
        settings["schema"] = "public"
    settings[key] = value
    body = {"name": "Bad", "role": "Source", "connector": connector, "settings": settings}
    assert error_of(workspace.api.post("/v1/connections", body)) == (422, "InvalidSettings", message)
    assert not Connection.objects.exists()


def test_unreachable_database_is_503_without_the_password(workspace, mysql_source):
    settings = dict(mysql_source.settings, password="wrong-canary-password")
    resp = workspace.api.post("/v1/connections", {"name": "X", "role": "Source", "connector": "mysql",
                                                  "settings": settings})
    assert error_of(resp)[:2] == (503, "ServiceUnavailable")
    assert b"wrong-canary-password" not in resp.content
    assert not Connection.objects.exists()


def _body(**changes):
    body = {"name": "Customers", "role": "Source", "connector": "postgresql",
            "settings": {"host": "127.0.0.1", "port": 5432, "username": "postgres", "password": "",
                         "database": "postgres", "schema": "public"}}
    for key, value in changes.items():
        if value is ...:
            body.pop(key)
        else:
            body[key] = value
    return body


@pytest.mark.parametrize("body,status,code,message", [
    (_body(connector=""), 400, "BadRequest", "connector code is empty"),
    (_body(name=""), 400, "BadRequest", "name is empty"),
    (_body(role="Sink"), 400, "BadRequest", 'role "Sink" is not valid'),
    (_body(role=...), 400, "BadRequest", "role is required"),
    (_body(strategy="Bogus"), 400, "BadRequest", 'strategy "Bogus" is not valid'),
    (_body(sendingMode="Bogus"), 400, "BadRequest", 'sending mode "Bogus" is not valid'),
    (_body(connector="oracle"), 422, "ConnectorNotExist", 'connector "oracle" does not exist'),
    (_body(linkedConnections=[]), 400, "BadRequest", 'connector "postgresql", used as source, does not support events'),
    (_body(strategy="Conversion"), 400, "BadRequest", "database connections cannot have a strategy"),
    (_body(sendingMode="Client"), 400, "BadRequest", "source connections cannot have a sending mode"),
    (_body(settings=None), 400, "BadRequest", "settings must be provided because connector postgresql has source settings"),
    (_body(name=7), 400, "BadRequest", '"name" must be a string'),
])
def test_invalid_connection_creates_nothing(workspace, body, status, code, message):
    assert error_of(workspace.api.post("/v1/connections", copy.deepcopy(body))) == (status, code, message)
    assert not Connection.objects.exists()


def test_connection_of_another_workspace_is_not_found(api, workspace, pg_source):
    cid = workspace.api.post("/v1/connections", support.connection_body(pg_source)).json()["id"]
    other_db = support.create_pg_database("krenalis_test_wh")
    try:
        other = api.post("/v1/workspaces", support.workspace_body("Other", other_db)).json()["id"]
        assert error_of(api.scoped(other).get(f"/v1/connections/{cid}"))[0] == 404
        assert error_of(api.scoped(other).delete(f"/v1/connections/{cid}"))[0] == 404
        assert Connection.objects.filter(id=cid).exists()
    finally:
        support.drop_pg_database(other_db)


# --------------------------------------------------------------------------- POST /v1/connections/test

ADVICE = "a user that can only read the source tables is safer"


def test_connection_test_warns_about_a_login_that_can_do_more_than_read(workspace, pg_source, mysql_source):
    """Beyond the reference: Test connection says when the login is a superuser or can write the
    source (a read-only user is the real defence); create still answers exactly {"id": N}."""
    for source in (pg_source, mysql_source):
        body = {"connector": source.kind, "settings": dict(source.settings)}
        resp = workspace.api.post("/v1/connections/test", body)
        assert resp.status_code == 200, resp.content
        if source.kind == "postgresql":  # the tests' PostgreSQL user is a superuser
            assert resp.json() == {"warnings": [f'user "postgres" is a superuser: {ADVICE}']}
        else:  # the MariaDB source's user may only SELECT its database
            assert resp.json() == {"warnings": []}
        assert source.settings["password"].encode() not in resp.content
        created = workspace.api.post("/v1/connections", support.connection_body(source, f"Test {source.kind}"))
        assert set(created.json()) == {"id"}
    user = mysql_source.settings["username"]
    mysql_source.execute(f"GRANT INSERT, DELETE ON `{mysql_source.dbname}`.* TO '{user}'@'%'")
    resp = workspace.api.post("/v1/connections/test", {"connector": "mysql", "settings": mysql_source.settings})
    assert resp.json() == {"warnings": [f'user "{user}" can write database "{mysql_source.dbname}" (INSERT, DELETE): '
                                        f'{ADVICE}']}
    assert Connection.objects.count() == 2  # testing saves nothing


@pytest.mark.parametrize("body,status,code,message", [
    ({"connector": "", "settings": {}}, 400, "BadRequest", "connector code is empty"),
    ({"connector": "oracle", "settings": {}}, 422, "ConnectorNotExist", 'connector "oracle" does not exist'),
    ({"connector": "postgresql"}, 400, "BadRequest",
     "settings must be provided because connector postgresql has source settings"),
    ({"connector": "postgresql", "settings": dict(_body()["settings"], port=0)}, 422, "InvalidSettings",
     "port must be in range [1,65535]"),
    ({"connector": "postgresql", "settings": dict(_body()["settings"], port=1)}, 503, "ServiceUnavailable", None),
    ({"connector": 7, "settings": {}}, 400, "BadRequest", '"connector" must be a string'),
])
def test_connection_test_errors_are_those_of_create(workspace, body, status, code, message):
    error = error_of(workspace.api.post("/v1/connections/test", body))
    assert error[:2] == (status, code) and (message is None or error[2] == message), error
    assert not Connection.objects.exists()
