"""The admin console through Django's test client: every page renders, forms use the services'
validation with errors next to their field, secrets are never shown back, and the JSON endpoints
behind the buttons (Test connection, Preview, mapping check, Test on preview rows, run progress)."""
import html
import json
import re

import pytest
from django.urls import reverse

from pipelines import apikeys
from pipelines.admin_views import runs_chart_svg
from pipelines.models import APIKey, Connection, Pipeline, Run, RunError, Workspace
from pipelines.services.connections import connection_create
from pipelines.services.pipelines import PipelineInput, pipeline_create
from pipelines.services.runs import run_execute
from tests import support

pytestmark = pytest.mark.django_db

QUERY = "SELECT id, email, firstname, updated_ts FROM customers ORDER BY id"


@pytest.fixture
def ws(workspace):
    return Workspace.objects.get(id=workspace.id)


@pytest.fixture
def connection(ws, pg_source):
    return connection_create(workspace=ws, name="Shop DB", role="Source", connector="postgresql",
                             settings=dict(pg_source.settings))


def preview_schema(connection, query=QUERY):
    from pipelines.services.preview import preview_query

    return preview_query(connection=connection, query=query, limit=1)["schema"]


def editor_post(connection, **overrides) -> dict:
    data = {
        "name": "Customers", "connection": str(connection.id), "enabled": "on", "query": QUERY,
        "in_schema": json.dumps(preview_schema(connection)), "user_id_column": "id",
        "updated_at_column": "updated_ts", "updated_at_format": "", "transformation": "mapping",
        "mapping": json.dumps({"email": "email", "first_name": "firstname"}), "function_language": "JavaScript",
        "function_source": "", "function_out_paths": "[]", "schedule_period": "",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def make_pipeline(connection, **overrides) -> Pipeline:
    fields = dict(name="Customers", enabled=True, query=QUERY, user_id_column="id", updated_at_column="updated_ts",
                  transformation={"mapping": {"email": "email", "first_name": "firstname"}},
                  in_schema=preview_schema(connection),
                  out_schema={"kind": "object", "properties": support.PROFILE_SCHEMA["properties"][:2]})
    fields.update(overrides)
    return pipeline_create(workspace=connection.workspace, connection_id=connection.id, target="User", event_type="",
                           data=PipelineInput(**fields))


def row_of(html: str, field: str) -> str:
    """The HTML of a form row (the error list of a field is inside it)."""
    match = re.search(rf'<div class="form-row[^"]*field-{field}[^"]*">(.*?)</div>\s*(?:<div class="form-row|</fieldset)',
                      html, re.S)
    assert match, f"no row for {field}"
    return match.group(0)


# --------------------------------------------------------------------------- pages render

def test_every_list_and_add_page_renders(admin_client, connection):
    pipeline = make_pipeline(connection)
    for name in ("workspace", "apikey", "connection", "pipeline", "run"):
        assert admin_client.get(reverse(f"admin:pipelines_{name}_changelist")).status_code == 200, name
    for name in ("workspace", "apikey", "connection", "pipeline"):
        assert admin_client.get(reverse(f"admin:pipelines_{name}_add")).status_code == 200, name
    editor = html.unescape(admin_client.get(reverse("admin:pipelines_pipeline_add")).content.decode())
    # The query's help says how to write an incremental query that works on each database.
    assert "WHERE ${updated_at} IS NULL OR updated_at >= ${updated_at}" in editor
    assert "updated_at >= COALESCE(${updated_at}, '-infinity'::timestamptz)" in editor
    page = admin_client.get(reverse("admin:pipelines_pipeline_change", args=[pipeline.id])).content.decode()
    assert "Run now" in page and "No runs yet" in page and "vendor/codemirror/lib/codemirror.js" in page


def test_workspace_is_created_through_the_service_and_shows_its_profile_schema(admin_client):
    resp = admin_client.post(reverse("admin:pipelines_workspace_add"), {
        "name": "", "platform": "SQLite", "profile_schema_json": json.dumps(support.PROFILE_SCHEMA)})
    assert resp.status_code == 200
    assert "name is empty" in row_of(resp.content.decode(), "name")
    resp = admin_client.post(reverse("admin:pipelines_workspace_add"), {
        "name": "Shop", "platform": "SQLite", "profile_schema_json": '{"kind": "object", "properties": 3}'})
    assert "profile schema is invalid" in resp.content.decode()
    resp = admin_client.post(reverse("admin:pipelines_workspace_add"), {
        "name": "Shop", "platform": "SQLite", "profile_schema_json": json.dumps(support.PROFILE_SCHEMA)})
    assert resp.status_code == 302
    workspace = Workspace.objects.get(name="Shop")
    page = admin_client.get(reverse("admin:pipelines_workspace_change", args=[workspace.id])).content.decode()
    assert '<table class="kr-table kr-schema">' in page
    assert "<code>first_name</code></td><td>string(100)" in page or "<code>first_name</code>" in page
    resp = admin_client.post(reverse("admin:pipelines_workspace_change", args=[workspace.id]), {"name": "Shop 2"})
    assert resp.status_code == 302 and Workspace.objects.get(id=workspace.id).name == "Shop 2"
    resp = admin_client.post(reverse("admin:pipelines_workspace_delete", args=[workspace.id]), {"post": "yes"})
    assert resp.status_code == 302 and not Workspace.objects.filter(id=workspace.id).exists()


def test_api_key_is_shown_once(admin_client, ws):
    resp = admin_client.post(reverse("admin:pipelines_apikey_add"), {"name": "ci", "workspace": str(ws.id)})
    assert resp.status_code == 200
    page = resp.content.decode()
    key = re.search(r'id="kr-plain-key" value="([^"]+)"', page).group(1)
    record = APIKey.objects.get(name="ci")
    assert record.digest == apikeys.digest(key) and record.workspace_id == ws.id
    assert "only time it is shown" in page
    change = admin_client.get(reverse("admin:pipelines_apikey_change", args=[record.id])).content.decode()
    assert key not in change and record.hint in change
    resp = admin_client.post(reverse("admin:pipelines_apikey_add"), {"name": ""})
    assert "name is empty" in resp.content.decode()


# --------------------------------------------------------------------------- connections

def test_connection_form_tests_settings_and_never_shows_the_password(admin_client, ws, pg_source):
    settings = pg_source.settings
    post = {"workspace": str(ws.id), "name": "Shop DB", "connector": "postgresql", "host": settings["host"],
            "port": "1", "username": settings["username"], "password": settings["password"],
            "database": settings["database"], "schema": "public"}
    resp = admin_client.post(reverse("admin:pipelines_connection_add"), post)
    assert resp.status_code == 200 and "Could not connect with these settings" in resp.content.decode()
    assert settings["password"] not in resp.content.decode()

    test_url = reverse("admin:pipelines_connection_test")
    assert admin_client.post(test_url, post).json()["ok"] is False
    # The tests' PostgreSQL user is a superuser: the test succeeds, with a warning.
    assert admin_client.post(test_url, dict(post, port="5432")).json() == {
        "ok": True, "message": "Connection succeeded.",
        "warnings": [f'user "{settings["username"]}" is a superuser: a user that can only read the source tables is '
                     'safer']}
    bad = admin_client.post(test_url, dict(post, port="5432", username="")).json()
    assert bad["ok"] is False and bad["message"].startswith("username length")

    resp = admin_client.post(reverse("admin:pipelines_connection_add"), dict(post, port="5432"))
    assert resp.status_code == 302
    connection = Connection.objects.get(name="Shop DB")
    assert connection.settings == dict(settings, schema="public", sslmode="prefer", sslrootcert="")
    page = admin_client.get(reverse("admin:pipelines_connection_change", args=[connection.id])).content.decode()
    assert settings["password"] not in page and "A password is stored" in page
    assert "Test connection" in page and f"?connection={connection.id}" in page

    # An empty password keeps the stored one; a rename goes through the service.
    change = {"name": "Shop database", "host": settings["host"], "port": "5432", "username": settings["username"],
              "password": "", "database": settings["database"], "schema": "public"}
    resp = admin_client.post(reverse("admin:pipelines_connection_change", args=[connection.id]), change)
    assert resp.status_code == 302
    connection.refresh_from_db()
    assert connection.name == "Shop database" and connection.settings["password"] == settings["password"]
    test = admin_client.post(test_url, dict(change, connection_id=str(connection.id))).json()
    assert test["ok"] is True


def test_connection_form_refuses_the_metadata_database_next_to_its_field(admin_client, ws, settings):
    """The admin's forms go through the same services as the API: Krenalis' own databases are
    refused there too, even with every host allowed."""
    from django.db import connections

    settings.KRENALIS = {**settings.KRENALIS, "DATABASE_ALLOWED_HOSTS": ["*"]}
    metadata = connections["default"].settings_dict["NAME"]
    post = {"workspace": str(ws.id), "name": "Inside", "connector": "postgresql", "host": "localhost",
            "port": "5432", "username": "postgres", "password": "", "database": metadata, "schema": "public"}
    message = f"database &quot;{metadata}&quot; at localhost:5432 is Krenalis&#x27; own metadata database"
    resp = admin_client.post(reverse("admin:pipelines_connection_add"), post)
    assert resp.status_code == 200 and message in row_of(resp.content.decode(), "database")
    answer = admin_client.post(reverse("admin:pipelines_connection_test"), post).json()
    assert answer["ok"] is False and answer["message"].startswith(f'database "{metadata}" at localhost:5432 is ')
    resp = admin_client.post(reverse("admin:pipelines_workspace_add"), {
        "name": "Inside", "platform": "PostgreSQL", "host": "127.0.0.1", "port": "5432", "username": "postgres",
        "password": "", "database": metadata, "schema": "public",
        "profile_schema_json": json.dumps(support.PROFILE_SCHEMA)})
    assert resp.status_code == 200 and "own metadata database" in resp.content.decode()
    assert not Connection.objects.filter(name="Inside").exists() and not Workspace.objects.filter(name="Inside")


def test_a_stored_password_goes_only_to_the_server_it_was_saved_for(admin_client, connection, pg_source):
    """Testing (or saving) a saved connection with its host, port, user or database changed and the
    password left empty once sent the stored password to the new server, in clear: now the password
    is asked again, next to its field, and nothing is sent (a real listener records what arrives)."""
    stored = pg_source.settings["password"]
    test_url = reverse("admin:pipelines_connection_test")
    change_url = reverse("admin:pipelines_connection_change", args=[connection.id])
    saved = {"name": "Shop DB", "host": "127.0.0.1", "port": "5432", "username": "postgres", "password": "",
             "database": pg_source.dbname, "schema": "public", "sslmode": "prefer"}
    with support.PasswordTrap() as trap:
        for change, what in [({"port": str(trap.port)}, "port"), ({"host": "localhost"}, "host"),
                             ({"host": "localhost", "port": str(trap.port)}, "host, port"),
                             ({"username": "someone"}, "user"), ({"database": "postgres"}, "database")]:
            message = (f"password is required again: the {what} changed, and a stored password is only sent to "
                       "the host, port, user and database it was saved for")
            answer = admin_client.post(test_url, dict(saved, connection_id=str(connection.id), **change)).json()
            assert answer == {"ok": False, "message": message, "warnings": []}, change
            resp = admin_client.post(change_url, dict(saved, **change))
            assert resp.status_code == 200 and message in row_of(resp.content.decode(), "password"), change
        assert (trap.connections, trap.passwords) == (0, [])
        connection.refresh_from_db()
        assert connection.settings["port"] == 5432 and connection.settings["password"] == stored

        # Typed again, the password goes to the new server: that one, not the stored one.
        moved = dict(saved, connection_id=str(connection.id), port=str(trap.port), password="typed-again")
        answer = admin_client.post(test_url, moved).json()
        assert answer["ok"] is False and "password authentication failed" in answer["message"]
        assert trap.passwords == ["typed-again"]
    # Unchanged, the empty password is the stored one (PostgreSQL here trusts any password: the
    # stored one is checked in the settings the service saves).
    assert admin_client.post(test_url, dict(saved, connection_id=str(connection.id))).json()["ok"] is True
    resp = admin_client.post(change_url, dict(saved, name="Renamed"))
    assert resp.status_code == 302
    connection.refresh_from_db()
    assert connection.name == "Renamed" and connection.settings["password"] == stored


def test_connection_form_takes_tls_settings_and_never_shows_the_ca_certificate(admin_client, ws, tls_postgresql,
                                                                               tls_certificates):
    source = tls_postgresql.source_settings()
    ca_line = tls_certificates.ca.splitlines()[1]
    post = {"workspace": str(ws.id), "name": "TLS DB", "connector": "postgresql", "host": "localhost",
            "port": str(source["port"]), "username": source["username"], "password": source["password"],
            "database": source["database"], "schema": "public", "sslmode": "verify-full", "ssl_ca": "nonsense"}
    resp = admin_client.post(reverse("admin:pipelines_connection_add"), post)
    assert "sslrootcert must be one or more PEM-encoded certificates" in row_of(resp.content.decode(), "ssl_ca")
    answer = admin_client.post(reverse("admin:pipelines_connection_test"),
                               dict(post, ssl_ca=tls_certificates.other_ca)).json()
    assert answer["ok"] is False and answer["message"].endswith("certificate verify failed"), answer
    resp = admin_client.post(reverse("admin:pipelines_connection_add"), dict(post, ssl_ca=tls_certificates.ca))
    assert resp.status_code == 302, resp.content.decode()[-3000:]
    connection = Connection.objects.get(name="TLS DB")
    assert connection.settings["sslmode"] == "verify-full" and connection.settings["sslrootcert"] == tls_certificates.ca
    change_url = reverse("admin:pipelines_connection_change", args=[connection.id])
    page = admin_client.get(change_url).content.decode()
    assert ca_line not in page and "A CA certificate is stored" in page and source["password"] not in page
    assert '<option value="verify-full" selected>' in page

    # Empty, the CA certificate is kept; removed, verify-full has nothing to verify with.
    change = {k: v for k, v in post.items() if k not in ("workspace", "connector")}
    change.update(password="", ssl_ca="")
    assert admin_client.post(change_url, dict(change, name="TLS database")).status_code == 302
    connection.refresh_from_db()
    assert connection.name == "TLS database" and connection.settings["sslrootcert"] == tls_certificates.ca
    resp = admin_client.post(change_url, dict(change, ssl_ca_clear="on"))
    assert ("sslrootcert (the CA certificate) is required when sslmode is verify-full"
            in row_of(resp.content.decode(), "ssl_ca"))
    resp = admin_client.post(change_url, dict(change, ssl_ca_clear="on", sslmode="require"))
    assert resp.status_code == 302
    connection.refresh_from_db()
    assert connection.settings["sslmode"] == "require" and connection.settings["sslrootcert"] == ""


def test_connection_form_takes_the_tls_mode_of_mysql(admin_client, ws, mysql_source):
    settings = mysql_source.settings
    post = {"workspace": str(ws.id), "name": "Shop", "connector": "mysql", "host": settings["host"],
            "port": str(settings["port"]), "username": settings["username"], "password": settings["password"],
            "database": settings["database"], "ssl_mode": "REQUIRED"}
    answer = admin_client.post(reverse("admin:pipelines_connection_test"), post).json()
    assert answer == {"ok": False, "message": "the server at 127.0.0.1:3306 does not offer TLS, which ssl.mode "
                                              "REQUIRED requires (nothing was sent to it)", "warnings": []}
    resp = admin_client.post(reverse("admin:pipelines_connection_add"), dict(post, ssl_mode="VERIFY_IDENTITY"))
    assert ("ssl.ca (the CA certificate) is required when ssl.mode is VERIFY_IDENTITY"
            in row_of(resp.content.decode(), "ssl_ca"))
    assert admin_client.post(reverse("admin:pipelines_connection_add"), dict(post, ssl_mode="")).status_code == 302
    assert Connection.objects.get(name="Shop").settings["ssl"] == {"mode": "PREFERRED", "ca": ""}


# --------------------------------------------------------------------------- pipeline editor

def test_preview_returns_rows_schema_and_issues(admin_client, connection):
    url = reverse("admin:pipelines_pipeline_preview")
    body = admin_client.post(url, {"connection": str(connection.id), "query": QUERY}).json()
    assert body["columns"] == ["id", "email", "firstname", "updated_ts"]
    assert len(body["rows"]) == 10 and body["rows"][0]["email"] == "user1@example.com"
    assert [r["name"] for r in body["schemaRows"] if r["userId"]] == ["id", "email", "firstname"]
    # A text column is offered as the update time only when its values are times: not firstname.
    assert [r["name"] for r in body["schemaRows"] if r["updatedAt"]] == ["updated_ts"]
    # The derived types show their length.
    assert {r["name"]: r["type"] for r in body["schemaRows"]}["firstname"] == "string(60)"
    many = admin_client.post(url, {"connection": str(connection.id),
                                   "query": "SELECT generate_series(1, 50) AS id"}).json()
    assert len(many["rows"]) == 20
    error = admin_client.post(url, {"connection": str(connection.id), "query": "SELECT nope FROM customers"})
    assert error.status_code == 503 and "nope" in error.json()["error"]
    assert admin_client.post(url, {"query": QUERY}).json() == {"error": "choose a connection first"}


def test_a_text_column_of_times_is_offered_as_the_update_time_with_its_format(admin_client, connection):
    url = reverse("admin:pipelines_pipeline_preview")
    body = admin_client.post(url, {"connection": str(connection.id), "query": (
        "SELECT id, firstname, updated_at, to_char(updated_ts, 'DD/MM/YYYY HH24:MI') AS changed, "
        "'' || age AS age_text FROM customers ORDER BY id")}).json()
    rows = {r["name"]: r for r in body["schemaRows"]}
    assert [name for name, r in rows.items() if r["updatedAt"]] == ["updated_at", "changed"]
    assert (rows["updated_at"]["timeFormat"], rows["changed"]["timeFormat"]) == ("ISO8601", "%d/%m/%Y %H:%M")
    assert rows["firstname"]["timeFormat"] is None and rows["age_text"]["timeFormat"] is None  # numbers are no times
    # a schema typed by hand (no previewed values) offers only datetime and date columns
    typed = admin_client.post(reverse("admin:pipelines_pipeline_schema"), {"schema": json.dumps(body["schema"])})
    assert [r["name"] for r in typed.json()["schemaRows"] if r["updatedAt"]] == []


def test_saving_uses_the_service_and_puts_errors_next_to_their_field(admin_client, connection):
    url = reverse("admin:pipelines_pipeline_add")
    resp = admin_client.post(url, editor_post(connection, user_id_column="updated_ts"))
    page = resp.content.decode()
    assert resp.status_code == 200 and not Pipeline.objects.exists()
    assert "has kind datetime instead of int, uuid, json, or string" in row_of(page, "user_id_column")

    resp = admin_client.post(url, editor_post(connection, mapping=json.dumps({"email": "email",
                                                                              "first_name": "nope"})))
    page = resp.content.decode()
    assert "invalid mapping" in page and '"rowErrors": {"first_name":' in page

    resp = admin_client.post(url, editor_post(connection, updated_at_format="ISO8601"))
    assert html.unescape(row_of(resp.content.decode(), "updated_at_format")).count(
        'pipeline cannot specify an update time format (the update time column "updated_ts" is a datetime, which '
        'is read as a time already; a format is only for string and json columns)') == 1

    resp = admin_client.post(url, editor_post(connection, updated_at_column="", incremental="on"))
    assert "incremental requires an update time column" in row_of(resp.content.decode(), "incremental")

    resp = admin_client.post(url, editor_post(connection, name=""))
    assert "name is empty" in row_of(resp.content.decode(), "name")

    # A query the connector would refuse to send (issue 16): refused when saved, next to the query.
    for query, message in [(QUERY + "; DELETE FROM customers", "cannot insert multiple commands"),
                           ("SELECT id, email, firstname, updated_ts FROM customers WHERE "
                            "dblink_exec('dbname=x', 'DELETE FROM customers') IS NULL",
                            "function dblink_exec is not allowed in the query")]:
        resp = admin_client.post(url, editor_post(connection, query=query))
        assert message in row_of(resp.content.decode(), "query") and not Pipeline.objects.exists()

    resp = admin_client.post(url, editor_post(connection, schedule_period="1h"))
    assert resp.status_code == 302
    pipeline = Pipeline.objects.get()
    assert resp["Location"] == reverse("admin:pipelines_pipeline_change", args=[pipeline.id])
    assert pipeline.transformation_mapping == {"email": "email", "first_name": "firstname"}
    assert pipeline.out_schema == {"kind": "object", "properties": support.PROFILE_SCHEMA["properties"][:2]}
    assert pipeline.schedule_period == 60 and pipeline.enabled

    # The change page shows the saved pipeline and saves changes through pipeline_update.
    change = reverse("admin:pipelines_pipeline_change", args=[pipeline.id])
    page = admin_client.get(change).content.decode()
    assert "SELECT id, email, firstname, updated_ts FROM customers" in page
    data = editor_post(connection, name="Renamed", schedule_period="")
    data.pop("connection")
    assert admin_client.post(change, dict(data, _continue="1")).status_code == 302
    pipeline.refresh_from_db()
    assert (pipeline.name, pipeline.schedule_period) == ("Renamed", 0)


def test_check_mapping_reports_each_row(admin_client, connection):
    url = reverse("admin:pipelines_pipeline_check_mapping")
    body = admin_client.post(url, {"connection": str(connection.id), "in_schema": json.dumps(preview_schema(connection)),
                                   "mapping": json.dumps({"email": "email", "first_name": "nope",
                                                          "age": "email +"})}).json()
    assert set(body["errors"]) == {"first_name", "age"} and "nope" in body["errors"]["first_name"]


def test_test_on_preview_rows_with_a_mapping_and_with_functions(admin_client, connection):
    url = reverse("admin:pipelines_pipeline_test")
    data = editor_post(connection)
    body = admin_client.post(url, data).json()
    assert len(body["results"]) == 10 and body["failed"] == 0
    assert body["results"][0] == {"row": 1, "userId": "1", "step": None, "error": None,
                                  "output": {"email": "user1@example.com", "first_name": "First1"},
                                  "values": {"email": "user1@example.com", "first_name": "First1"}}
    # one column per property, as the preview has one per column
    assert body["properties"] == ["email", "first_name"]

    js = ("const transform = (u) => { if (String(u.id) === '3') throw new Error('bad row'); "
          "return {email: u.email.toUpperCase()}; };")
    data = editor_post(connection, transformation="function", function_language="JavaScript", function_source=js,
                       function_out_paths=json.dumps(["email"]))
    body = admin_client.post(url, data).json()
    assert body["failed"] == 1 and body["results"][0]["output"] == {"email": "USER1@EXAMPLE.COM"}
    assert body["results"][2]["step"] == "Transformation" and "bad row" in body["results"][2]["error"]

    python = "def transform(user):\n    return {'email': user['email'] * 100}\n"
    data = editor_post(connection, transformation="function", function_language="Python", function_source=python,
                       function_out_paths=json.dumps(["email"]))
    resp = admin_client.post(url, data)
    body = resp.json()
    if "error" in body:  # Python needs the sandbox of this machine
        assert "not available" in body["error"]
    else:
        assert body["failed"] == 10 and body["results"][0]["step"] == "OutputValidation"

    syntax = admin_client.post(url, dict(data, function_language="JavaScript", function_source="const transform = (")
                               ).json()
    assert "syntax error" in syntax["error"]


def test_test_on_preview_rows_refuses_each_row_as_the_run_does(admin_client, connection):
    """The dry run applies a run's checks through the run's code: a NULL user ID and a NULL update
    time fail at Receive, a throw at Transformation, a too long value at OutputValidation, each with
    the step, user ID and message the run then records for the same row."""
    from tests.pipelines.services import errors_of, run_now

    query = ("SELECT NULLIF(id, 2) AS id, email, firstname, "
             "CASE WHEN id = 3 THEN NULL ELSE updated_ts END AS updated_ts FROM customers ORDER BY customers.id")
    js = ("const transform = (u) => { if (u.firstname === 'First4') throw new Error('bad row'); "
          "return {email: u.firstname === 'First5' ? u.email.repeat(20) : u.email}; };")
    fields = dict(query=query, in_schema=json.dumps(preview_schema(connection, query)), transformation="function",
                  function_language="JavaScript", function_source=js, function_out_paths=json.dumps(["email"]))
    body = admin_client.post(reverse("admin:pipelines_pipeline_test"), editor_post(connection, **fields)).json()
    shown = [(r["step"], r["userId"], r["error"]) for r in body["results"] if r["error"]]
    assert body["failed"] == 4 and len(body["results"]) == 10
    assert [r["stepLabel"] for r in body["results"] if r["error"]] == [
        "Read from the source", "Read from the source", "Transformation", "Output validation"]

    resp = admin_client.post(reverse("admin:pipelines_pipeline_add"), editor_post(connection, **fields))
    assert resp.status_code == 302, resp.content.decode()[-2000:]
    run = run_now(Pipeline.objects.get().id)
    assert run.error == "" and run.passed[6] == 6
    recorded = errors_of(run)
    assert shown == recorded[:4]  # then the run's own note about the row without a user ID
    assert recorded[4:] == [("Finalize", None, "unimported records not deleted because at least one with errors "
                                               "could not be identified")]
    assert shown[0] == ("Receive", None, "user ID value is NULL") and shown[1][:2] == ("Receive", "3")


# --------------------------------------------------------------------------- runs

def test_run_now_run_page_progress_and_cancel(admin_client, connection):
    pipeline = make_pipeline(connection, enabled=False)
    run_url = reverse("admin:pipelines_pipeline_run", args=[pipeline.id])
    resp = admin_client.post(run_url, {"mode": "full"}, follow=True)
    assert "is disabled" in resp.content.decode() and not Run.objects.exists()

    Pipeline.objects.filter(id=pipeline.id).update(enabled=True)
    resp = admin_client.post(run_url, {"mode": "full"})
    run = Run.objects.get()
    assert resp["Location"] == reverse("admin:pipelines_run_change", args=[run.id]) and not run.incremental
    page = admin_client.get(resp["Location"]).content.decode()
    assert "Queued" in page and "Cancel run" in page and 'data-live="1"' in page
    progress_url = reverse("admin:pipelines_run_progress", args=[run.id])
    progress = admin_client.get(progress_url).json()
    assert progress["live"] is True and progress["status"] == "Queued"
    # While a worker runs it, the page follows the counters the worker writes about every second.
    from django.utils import timezone

    Run.objects.filter(id=run.id).update(heartbeat_time=timezone.now(), passed=[6, 5, 0, 0, 5, 4, 3],
                                         failed=[1, 1, 0, 0, 0, 1, 0])
    progress = admin_client.get(progress_url).json()
    assert (progress["status"], progress["rowsRead"], progress["imported"], progress["failedRows"]) == \
        ("Running", 7, 3, 3)
    assert [(s["name"], s["passed"], s["failed"]) for s in progress["steps"]] == [
        ("Receive", 6, 1), ("InputValidation", 5, 1), ("Transformation", 5, 0), ("OutputValidation", 4, 1),
        ("Finalize", 3, 0)]
    Run.objects.filter(id=run.id).update(heartbeat_time=None)

    resp = admin_client.post(run_url, {"mode": "full"}, follow=True)
    assert "is already running" in resp.content.decode()
    admin_client.post(reverse("admin:pipelines_run_cancel", args=[run.id]))
    run.refresh_from_db()
    assert run.end_time is not None and run.error == "run was cancelled"

    admin_client.post(run_url + "?mode=incremental")
    run = Run.objects.filter(end_time__isnull=True).get()
    assert run.incremental
    run_execute(run_id=run.id)
    page = admin_client.get(reverse("admin:pipelines_run_change", args=[run.id])).content.decode()
    assert "Succeeded" in page and 'id="kr-imported">10<' in page and "No row failed." in page
    listing = admin_client.get(reverse("admin:pipelines_run_changelist")).content.decode()
    assert "Cancelled" in listing and "Succeeded" in listing
    pipeline_page = admin_client.get(reverse("admin:pipelines_pipeline_change", args=[pipeline.id])).content.decode()
    assert 'class="kr-chart"' in pipeline_page and pipeline_page.count('class="imported"') == 2


def test_run_page_lists_kept_errors(admin_client, connection):
    pipeline = make_pipeline(connection, transformation={"mapping": {"email": "email",
                                                                     "first_name": "firstname"}})
    run = Run.objects.create(id=123, pipeline=pipeline, incremental=False, start_time=pipeline.created_at,
                             end_time=pipeline.created_at, passed=[10, 10, 0, 0, 8, 8, 8], failed=[0, 0, 0, 0, 2, 0, 0],
                             errors_total=2)
    RunError.objects.create(run=run, seq=1, step=4, user_id="7", message="bad <value>")
    RunError.objects.create(run=run, seq=2, step=4, user_id="9", message="other")
    page = admin_client.get(reverse("admin:pipelines_run_change", args=[run.id])).content.decode()
    assert "bad &lt;value&gt;" in page and "<code>7</code>" in page and "2 rows failed." in page
    assert 'id="kr-failed">2<' in page and "Succeeded with 2 failed rows" in page


def test_a_run_with_failed_rows_says_so_keeps_its_notes_apart_and_shows_a_row_without_user_id(
        admin_client, connection):
    """Two rows fail, one for its NULL user ID: the run "succeeded with 2 failed rows" (on its page,
    the runs list and the pipeline's recent runs), the run's note ("unimported records not deleted")
    is not counted as a third error, and the row without a user ID shows its position in the query's
    result and the values read, so that it can be found in the source."""
    query = ("SELECT CASE WHEN id IN (2, 5) THEN NULL ELSE id END AS id, email, firstname, age FROM customers "
             "ORDER BY customers.id")
    pipeline = make_pipeline(connection, query=query, updated_at_column="", in_schema=preview_schema(connection, query),
                             transformation={"mapping": {"email": "email", "first_name": "firstname", "age": "age"}},
                             out_schema={"kind": "object", "properties": [
                                 p for p in support.PROFILE_SCHEMA["properties"] if p["name"] != "last_name"]})
    from pipelines.services.runs import run_start

    run = run_start(pipeline=pipeline, incremental=False)
    run_execute(run_id=run.id)
    run.refresh_from_db()
    assert run.error == "" and sum(run.failed) == 2 and run.errors_total == 3  # two rows, and the note
    page = admin_client.get(reverse("admin:pipelines_run_change", args=[run.id])).content.decode()
    assert "Succeeded with 2 failed rows<" in page
    assert "2 rows failed." in page  # not "3 errors": the note is apart
    notes = page[page.index('id="kr-notes"'):page.index("Rows that failed")]
    assert "unimported records not deleted because at least one with errors could not be identified" in notes
    errors = page[page.index('id="kr-errors"'):]
    assert "row 2 of the query" in errors
    assert "id = NULL, email = \"user2@example.com\", firstname = \"First2\", age = 22" in html.unescape(errors), errors[:2000]
    assert "row 5 of the query" in errors
    listing = admin_client.get(reverse("admin:pipelines_run_changelist")).content.decode()
    assert "Succeeded with 2 failed rows<" in listing
    recent = admin_client.get(reverse("admin:pipelines_pipeline_change", args=[pipeline.id])).content.decode()
    assert "Succeeded with 2 failed rows<" in recent
    # what the run keeps for the API is unchanged: the row and the note, in order
    assert [(e.step, e.user_id, e.row) for e in run.errors.order_by("seq")] == [
        (0, None, {"position": 2, "values": {"id": None, "email": "user2@example.com", "firstname": "First2",
                                             "age": 22}}),
        (0, None, {"position": 5, "values": {"id": None, "email": "user5@example.com", "firstname": "First5",
                                             "age": 25}}),
        (6, None, None)]


def test_actions_start_runs(admin_client, connection):
    pipeline = make_pipeline(connection)
    resp = admin_client.post(reverse("admin:pipelines_pipeline_changelist"),
                             {"action": "run_full", "_selected_action": [str(pipeline.id)]}, follow=True)
    assert "Started 1 run." in resp.content.decode()
    assert Run.objects.filter(pipeline=pipeline, end_time__isnull=True).count() == 1


def test_chart_draws_a_bar_per_run_and_the_duration_line():
    import datetime as dt

    start = dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc)
    runs = [Run(id=i, pipeline_id=1, incremental=False, start_time=start + dt.timedelta(hours=i),
                end_time=start + dt.timedelta(hours=i, seconds=10 * i), passed=[0] * 6 + [100 * i],
                failed=[0] * 4 + [i % 2, 0, 0], error="" if i != 3 else "boom")
            for i in range(1, 5)]
    svg = runs_chart_svg(runs)
    assert svg.count('class="imported"') == 4 and svg.count('class="failed"') == 2
    assert "<polyline" in svg and "Run 3 (failed, full): 300 imported, 1 failed" in svg
    assert runs_chart_svg([]) == ""


@pytest.mark.parametrize("seconds,shown", [(0, "0 s"), (0.012, "0.012 s"), (0.25, "0.25 s"), (3.04, "3.0 s"),
                                           (75, "1 min 15 s"), (3725, "1 h 02 min")])
def test_durations_read_well_from_milliseconds_to_hours(seconds, shown):
    """Short runs get two significant digits, so a chart's two axis labels never both read "0.0 s"."""
    from pipelines.admin_views import format_duration

    assert format_duration(seconds) == shown


# --------------------------------------------------------------------------- issue 21: schedule, disabled, ticks

def test_the_schedule_shows_the_next_run_and_a_disabled_pipeline_cannot_run_with_a_reason(admin_client, connection):
    import datetime as dt

    from pipelines.services.scheduling import next_due
    from pipelines.services.pipelines import pipeline_set_schedule

    pipeline = make_pipeline(connection)
    pipeline_set_schedule(pipeline=pipeline, period="15m")
    pipeline = Pipeline.objects.get(id=pipeline.id)
    due = next_due(after=dt.datetime.now(dt.timezone.utc), schedule_start=pipeline.schedule_start,
                   schedule_period=15)
    page = html.unescape(admin_client.get(reverse("admin:pipelines_pipeline_change", args=[pipeline.id])).content.decode())
    assert f'Every 15m; next run <time class="kr-local" datetime="{due.isoformat()}">' \
           f'{due:%Y-%m-%d %H:%M} UTC</time>' in page
    listing = admin_client.get(reverse("admin:pipelines_pipeline_changelist")).content.decode()
    assert f'every 15m, next <time class="kr-local" datetime="{due.isoformat()}">{due:%H:%M} UTC</time>' in listing
    assert "admin_console/local_times.js" in listing and "admin_console/local_times.js" in page

    Pipeline.objects.filter(id=pipeline.id).update(enabled=False)
    page = html.unescape(admin_client.get(reverse("admin:pipelines_pipeline_change", args=[pipeline.id])).content.decode())
    assert re.search(r'id="kr-run-full"\s+disabled title="The pipeline is disabled: tick “Enabled” and save to run '
                     r'it.">', page)
    assert re.search(r'id="kr-run-incremental"\s+disabled', page)
    assert "Every 15m, but no scheduled run while the pipeline is disabled." in page
    listing = html.unescape(admin_client.get(reverse("admin:pipelines_pipeline_changelist")).content.decode())
    assert "every 15m <span class=\"kr-muted\">(paused: disabled)</span>" in listing
    assert listing.count("formaction") == 2 and listing.count(" disabled title=\"The pipeline is disabled") == 2
    # the refusal (a form posted anyway) names the pipeline, not its ID
    resp = admin_client.post(reverse("admin:pipelines_pipeline_run", args=[pipeline.id]), {"mode": "full"}, follow=True)
    text = html.unescape(resp.content.decode())
    assert "Pipeline “Customers” could not start: The pipeline is disabled: tick “Enabled” and save to run it." in text
    assert str(pipeline.id) not in text.split("could not start")[1].split("</li>")[0]
    assert not Run.objects.exists()


def test_a_function_test_ticks_the_properties_the_function_returns(admin_client, connection):
    """Nothing ticked: the test derives the ticks from what the function returns, a property
    returned only as null included (the run would refuse it as 'not part of output schema')."""
    url = reverse("admin:pipelines_pipeline_test")
    js = "const transform = (u) => ({email: u.email, first_name: u.firstname, age: null});"
    body = admin_client.post(url, editor_post(connection, transformation="function", function_language="JavaScript",
                                              function_source=js, function_out_paths="[]")).json()
    assert body["failed"] == 0, body["results"][0]
    assert body["outPaths"] == ["email", "first_name", "age"] and body["ticked"] == ["email", "first_name", "age"]
    assert body["properties"] == ["email", "first_name", "age"]
    # ticks the user made stay; only what is missing is added
    body = admin_client.post(url, editor_post(connection, transformation="function", function_language="JavaScript",
                                              function_source=js, function_out_paths='["last_name", "email"]')).json()
    assert body["outPaths"] == ["email", "first_name", "last_name", "age"] and body["ticked"] == ["first_name", "age"]


def test_a_run_refusing_an_unticked_property_says_which_box_to_tick(admin_client, connection):
    js = "const transform = (u) => ({email: u.email, first_name: u.firstname});"
    pipeline = make_pipeline(connection, transformation={"function": {
        "source": js, "language": "JavaScript", "preserveJSON": False,
        "inPaths": ["id", "email", "firstname", "updated_ts"], "outPaths": ["email"]}},
        out_schema={"kind": "object", "properties": support.PROFILE_SCHEMA["properties"][:1]})
    from pipelines.services.runs import run_start

    run = run_start(pipeline=pipeline, incremental=False, enqueue=False)
    run_execute(run_id=run.id)
    page = html.unescape(admin_client.get(reverse("admin:pipelines_run_change", args=[run.id])).content.decode())
    assert ("property «first_name» is not part of output schema; rename or remove it in the transformation function "
            "(or tick “Set by the function” for first_name in the pipeline") in page
    # the API keeps the run's own message
    assert RunError.objects.filter(run=run).first().message.endswith("in the transformation function")


def test_the_editor_knows_the_cursor_a_save_would_reset(admin_client, connection):
    import datetime as dt

    pipeline = make_pipeline(connection, incremental=True)
    Pipeline.objects.filter(id=pipeline.id).update(cursor=dt.datetime(2024, 5, 1, 10, tzinfo=dt.timezone.utc))
    page = admin_client.get(reverse("admin:pipelines_pipeline_change", args=[pipeline.id])).content.decode()
    assert '"cursor": "2024-05-01 10:00:00 UTC"' in page and 'id="kr-cursor-note" hidden' in page
    assert 'id="kr-unsaved-run" hidden' in page


def test_preview_and_test_on_preview_rows_reach_only_allowed_hosts(admin_client, connection, settings):
    """The editor's Preview and "Test on preview rows" go through the services the API uses, so a
    saved connection whose host the allow-list no longer allows is refused before anything connects,
    with the message the API gives (issue 22 item 1)."""
    post = editor_post(connection)
    settings.KRENALIS = {**settings.KRENALIS, "DATABASE_ALLOWED_HOSTS": ["10.0.0.0/8"]}
    preview = admin_client.post(reverse("admin:pipelines_pipeline_preview"),
                                {"connection": str(connection.id), "query": QUERY})
    tested = admin_client.post(reverse("admin:pipelines_pipeline_test"), post)
    for resp in (preview, tested):
        assert resp.status_code == 422, resp.content
        assert "is not allowed" in resp.json()["error"] and "KRENALIS_DATABASE_ALLOWED_HOSTS" in resp.json()["error"]
