"""createworkspace and createapikey as an operator runs them: `python manage.py ...` in a process of
its own against the test database (exit status, stdout, stderr), and in-process for each refusal."""
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from pipelines import apikeys
from pipelines.models import APIKey, Workspace
from pipelines.services.apikeys import api_key_create
from pipelines.services.workspaces import DEFAULT_PROFILE_SCHEMA
from tests import support
from tests.support import Api, error_of

ROOT = Path(__file__).resolve().parents[3]
BAD_PORT = "data warehouse settings are not valid: port must be in range [1,65535]"


def manage(*args: str) -> subprocess.CompletedProcess:
    """`python manage.py ...` on the database the tests use (what it writes is committed)."""
    db = connection.settings_dict
    assert connection.vendor == "postgresql"
    url = f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env={**os.environ, "DATABASE_URL": url},
                          capture_output=True, text=True, timeout=120)


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def pg_warehouse(dbname: str, **changes) -> dict:
    return {"host": support.PG["host"], "port": support.PG["port"], "username": support.PG["user"],
            "password": "", "database": dbname, "schema": "public", **changes}


# --------------------------------------------------------------------------- createworkspace


def test_createworkspace_creates_the_workspace_and_prints_its_id_last(transactional_db, warehouse_db):
    settings = pg_warehouse(warehouse_db)
    done = manage("createworkspace", "--name", "Ops", "--platform", "PostgreSQL",
                  "--warehouse-settings", json.dumps(settings))
    assert done.returncode == 0, done.stderr
    workspace = Workspace.objects.get()
    assert done.stdout.splitlines()[-1] == str(workspace.id)
    assert done.stderr == "Created workspace 'Ops' with a PostgreSQL warehouse.\n"
    assert (workspace.name, workspace.warehouse_platform, workspace.warehouse_mode) == ("Ops", "PostgreSQL", "Normal")
    assert workspace.warehouse_settings == settings
    assert workspace.profile_schema == DEFAULT_PROFILE_SCHEMA
    cur = support.pg_connect(warehouse_db).cursor()
    cur.execute("SELECT column_name FROM information_schema.columns WHERE table_name = 'krenalis_identities'")
    assert {"email", "first_name", "last_name", "_identity_id"} <= {name for (name,) in cur.fetchall()}
    _, key = api_key_create(name="check")
    assert Api(key, workspace.id).get("/v1/workspaces/current").json()["name"] == "Ops"


def test_createworkspace_sqlite_with_a_profile_schema(db, settings, tmp_path):
    settings.KRENALIS = {**settings.KRENALIS, "SQLITE_WAREHOUSE_DIR": str(tmp_path)}
    schema = {"kind": "object", "properties": [
        {"name": "score", "type": {"kind": "int", "bitSize": 32}, "readOptional": True, "description": "Score"}]}
    out, err = run("createworkspace", "--name", "Embedded", "--profile-schema", json.dumps(schema))
    workspace = Workspace.objects.get()
    assert out.splitlines()[-1] == str(workspace.id)
    assert err == "Created workspace 'Embedded' with a SQLite warehouse.\n"
    assert workspace.warehouse_platform == "SQLite" and workspace.profile_schema == schema
    assert (tmp_path / f"workspace_{workspace.id}.sqlite3").exists()


@pytest.mark.parametrize("args,message", [
    (["--name", ""], "name is empty"),
    (["--name", "n" * 101], "name is longer than 100 runes"),
    (["--platform", "PostgreSQL", "--warehouse-settings", "{"],
     "invalid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
    (["--platform", "PostgreSQL", "--warehouse-settings", json.dumps(pg_warehouse("wh", port=0))], BAD_PORT),
    (["--platform", "PostgreSQL", "--warehouse-settings", json.dumps(pg_warehouse("wh", host=""))],
     "data warehouse settings are not valid: host length in bytes must be in range [1,253]"),
    (["--warehouse-settings", '{"path": "../escape.sqlite3"}'],
     "data warehouse settings are not valid: path must be inside the directory of the SQLite warehouses"),
    (["--profile-schema", '{"kind": "string"}'], "profile schema is invalid"),
    (["--profile-schema", json.dumps({"kind": "object", "properties": [
        {"name": "x", "type": {"kind": "string"}, "readOptional": True, "nullable": True}]})],
     "profile schema properties cannot be nullable"),
], ids=["name-empty", "name-long", "json", "port", "host", "sqlite-path", "schema", "schema-rule"])
def test_createworkspace_refuses_bad_input(db, settings, tmp_path, args, message):
    settings.KRENALIS = {**settings.KRENALIS, "SQLITE_WAREHOUSE_DIR": str(tmp_path)}
    if "--name" not in args:
        args = ["--name", "W", *args]
    with pytest.raises(CommandError) as info:
        run("createworkspace", *args)
    assert str(info.value) == message
    assert not Workspace.objects.exists() and not list(tmp_path.iterdir())


def test_createworkspace_fails_with_a_non_zero_exit(db):
    done = manage("createworkspace", "--name", "W", "--platform", "PostgreSQL",
                  "--warehouse-settings", json.dumps(pg_warehouse("wh", port=0)))
    assert (done.returncode, done.stdout, done.stderr) == (1, "", f"CommandError: {BAD_PORT}\n")
    done = manage("createworkspace", "--name", "W", "--platform", "Snowflake")
    assert done.returncode == 2 and done.stdout == ""
    assert "argument --platform: invalid choice: 'Snowflake' (choose from 'SQLite', 'PostgreSQL')" in done.stderr


# --------------------------------------------------------------------------- createapikey


def test_createapikey_prints_the_key_once_on_the_last_line(transactional_db):
    done = manage("createapikey", "--name", "ops")
    assert done.returncode == 0, done.stderr
    key = done.stdout.splitlines()[-1]
    assert apikeys.is_well_formed(key)
    assert (done.stdout + done.stderr).count(key) == 1
    record = APIKey.objects.get(name="ops")
    assert done.stderr == (f"Created API key {record.id} (organization-wide). "
                           "Store it now: it is not shown again.\n")
    assert record.workspace is None and record.digest == apikeys.digest(key)
    assert all(key not in str(getattr(record, f.attname)) for f in APIKey._meta.concrete_fields)
    assert Api(key).get("/v1/workspaces").json() == {"workspaces": []}


def test_a_workspace_restricted_key_works_only_on_its_workspace(api, settings, tmp_path):
    settings.KRENALIS = {**settings.KRENALIS, "SQLITE_WAREHOUSE_DIR": str(tmp_path)}
    ids = [api.post("/v1/workspaces", {"name": name, "profileSchema": support.PROFILE_SCHEMA,
                                       "warehouse": {"platform": "SQLite"}}).json()["id"] for name in ("A", "B")]
    mine, other = ids
    out, err = run("createapikey", "--name", "restricted", "--workspace", str(mine))
    key = out.splitlines()[-1]
    assert apikeys.is_well_formed(key) and key not in err and f"restricted to workspace {mine}" in err
    restricted = Api(key)
    assert restricted.get("/v1/workspaces/current").json()["id"] == mine
    assert restricted.get("/v1/connections").json() == {"connections": []}
    assert error_of(restricted.scoped(other).get("/v1/connections")) == (
        400, "BadRequest", '"Krenalis-Workspace" header cannot be provided with a workspace restricted key')
    assert error_of(restricted.get("/v1/workspaces")) == (
        401, "Unauthorized", "organization request cannot specify a workspace")
    assert api.scoped(mine).delete("/v1/workspaces/current").status_code == 200
    assert error_of(restricted.get("/v1/connections")) == (
        401, "Unauthorized", "API key in the Authorization header of the request does not exist")


@pytest.mark.parametrize("args,message", [
    (["--name", "", ], "name is empty"),
    (["--name", "n" * 101], "name is longer than 100 runes"),
    (["--name", "ops", "--workspace", "12345"], "workspace 12345 does not exist"),
])
def test_createapikey_refuses_bad_input(db, args, message):
    with pytest.raises(CommandError) as info:
        run("createapikey", *args)
    assert str(info.value) == message
    assert not APIKey.objects.exists()


def test_createapikey_fails_with_a_non_zero_exit(db):
    done = manage("createapikey", "--name", "ops", "--workspace", "12345")
    assert (done.returncode, done.stdout, done.stderr) == (1, "", "CommandError: workspace 12345 does not exist\n")


# --------------------------------------------------------------------------- serve (bin/run)

def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_serve_keeps_the_admin_password_and_the_api_key_for_its_user_only(db, settings, tmp_path):
    """bin/run prints the admin password and an API key at each start, so it keeps them in var/: in
    files only their owner may read, from their creation on; a key file an older version left
    readable by others is made private when it is read."""
    from pipelines.management.commands.serve import Command

    settings.VAR_DIR = tmp_path
    command = Command()
    password = command._admin_password()
    key = command._api_key()
    assert (tmp_path / "admin_password").read_text().strip() == password
    assert (tmp_path / "api_key").read_text().strip() == key
    assert mode(tmp_path / "admin_password") == 0o600 and mode(tmp_path / "api_key") == 0o600

    (tmp_path / "api_key").chmod(0o644)
    (tmp_path / "admin_password").chmod(0o640)
    assert command._api_key() == key and command._admin_password() == password
    assert mode(tmp_path / "api_key") == 0o600 and mode(tmp_path / "admin_password") == 0o600

    APIKey.objects.filter(digest=apikeys.digest(key)).delete()  # a new key replaces a deleted one, privately
    (tmp_path / "api_key").chmod(0o666)
    assert command._api_key() != key and mode(tmp_path / "api_key") == 0o600


def test_var_and_the_keys_generated_in_it_are_private(tmp_path):
    """A fresh var/ (no keys in the environment): the directory is 0700, the generated keys 0600."""
    var = tmp_path / "var"
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SECRET_KEY", "KRENALIS_ENCRYPTION_KEY")}
    done = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env={**env, "KRENALIS_VAR_DIR": str(var)},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert mode(var) == 0o700
    assert mode(var / "secret_key") == 0o600 and mode(var / "encryption_key") == 0o600
    var.chmod(0o755)  # as an older version left it
    subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env={**env, "KRENALIS_VAR_DIR": str(var)},
                   check=True, capture_output=True, timeout=120)
    assert mode(var) == 0o700
