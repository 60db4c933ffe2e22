"""The console's pages of the unified users, through Django's test client: the profiles of a
workspace (searched by any identifier), one profile with its attributes and identities (pipeline,
connection, source user ID, update time), and identity resolution (settings in priority order,
"resolve after each import", primary sources, "Resolve now", the latest resolution)."""
import html
import re

import pytest
from django.urls import reverse

from pipelines.models import Workspace
from pipelines.services import identity_resolution as ir
from pipelines.services.connections import connection_create
from pipelines.services.pipelines import PipelineInput, pipeline_create
from pipelines.services.preview import preview_query
from pipelines.services.runs import run_execute, run_start
from tests import support

pytestmark = pytest.mark.django_db


@pytest.fixture
def ws(workspace):
    return Workspace.objects.get(id=workspace.id)


def import_users(ws, source, name, query):
    connection = connection_create(workspace=ws, name=f"{name} DB", role="Source", connector="postgresql",
                                   settings=dict(source.settings))
    schema = preview_query(connection=connection, query=query, limit=1)["schema"]
    pipeline = pipeline_create(workspace=ws, connection_id=connection.id, target="User", event_type="",
                               data=PipelineInput(name=name, enabled=True, query=query, user_id_column="id",
                                                  updated_at_column="updated_ts", in_schema=schema,
                                                  transformation={"mapping": {"email": "email",
                                                                              "first_name": "firstname"}},
                                                  out_schema={"kind": "object",
                                                              "properties": support.PROFILE_SCHEMA["properties"][:2]}))
    run = run_start(pipeline=pipeline, incremental=False, enqueue=False)
    run_execute(run_id=run.id)
    return connection, pipeline


def resolve(ws):
    operation = ir.start_resolution_now(ws.id)
    ir.identity_resolution_execute(workspace_id=ws.id, operation_id=operation)
    return Workspace.objects.get(id=ws.id)


@pytest.fixture
def people(ws, pg_source):
    """Ten shop customers, and the same ten in a CRM under other IDs and first names: with "email"
    as identifier, ten profiles of two identities each."""
    shop = import_users(ws, pg_source, "Shop", "SELECT id, email, firstname, updated_ts FROM customers")
    crm = import_users(ws, pg_source, "CRM", "SELECT id + 1000 AS id, email, 'Crm' || id AS firstname, "
                                             "updated_ts + interval '1 hour' AS updated_ts FROM customers")
    ir.identity_resolution_update_settings(workspace=ws, run_on_batch_import=True, identifiers=["email"])
    return resolve(ws), shop, crm


def test_the_index_lists_profiles_with_the_product_and_the_workspace_links_to_them(admin_client, ws):
    index = admin_client.get(reverse("admin:index")).content.decode()
    assert f'href="{reverse("admin:pipelines_profiles")}">Profiles</a>' in index
    assert admin_client.get(reverse("admin:pipelines_profiles")).url == reverse(
        "admin:pipelines_workspace_profiles", args=[ws.id])
    page = admin_client.get(reverse("admin:pipelines_workspace_change", args=[ws.id])).content.decode()
    assert reverse("admin:pipelines_workspace_resolution", args=[ws.id]) in page


def test_profiles_are_listed_and_found_by_an_identifier(admin_client, people):
    ws, _, _ = people
    url = reverse("admin:pipelines_workspace_profiles", args=[ws.id])
    page = html.unescape(admin_client.get(url).content.decode())
    assert "10 profiles." in page and page.count('href="/admin/pipelines/workspace/') >= 10
    # the latest resolution: when, and what it touched
    assert re.search(r"Full</span>\s+started \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC, ended \d{4}", page)
    assert "20 identities regrouped into 10 profiles" in page
    assert re.search(r"<td>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC</td></tr>", page)  # each profile's update time
    found = html.unescape(admin_client.get(url, {"q": "user7@"}).content.decode())
    assert "1 profile match “user7@”." in found and "user7@example.com" in found
    assert "user8@example.com" not in found
    assert "0 profiles match" in admin_client.get(url, {"q": "nobody"}).content.decode()


def test_a_profile_shows_its_attributes_and_identities_with_their_pipeline_and_connection(admin_client, people):
    ws, (shop_connection, shop), (crm_connection, crm) = people
    listing = admin_client.get(reverse("admin:pipelines_workspace_profiles", args=[ws.id]), {"q": "user3@"})
    link = re.search(r'href="(/admin/pipelines/workspace/\d+/profiles/[0-9a-f-]{36}/)"', listing.content.decode())
    page = html.unescape(admin_client.get(link.group(1)).content.decode())
    attributes = page[page.index('id="kr-attributes"'):page.index('id="kr-identities"')]
    assert "<code>email</code>" in attributes and "user3@example.com" in attributes
    assert "Crm3" in attributes  # the most recent identity's first name (the CRM's is an hour later)
    assert "not set" in attributes  # last_name: no pipeline sets it
    identities = page[page.index('id="kr-identities"'):]
    assert "Identities (2)" in page
    rows = re.findall(r"<tr><td><code>(\d+)</code></td>\s*<td><a href=\"([^\"]+)\">([^<]+)</a></td>\s*"
                      r"<td><a href=\"([^\"]+)\">([^<]+)</a></td>\s*<td>([^<]+)</td>", identities)
    assert [(r[0], r[2], r[4]) for r in rows] == [("1003", "CRM", "CRM DB"), ("3", "Shop", "Shop DB")]
    assert rows[0][1] == reverse("admin:pipelines_pipeline_change", args=[crm.id])
    assert rows[1][3] == reverse("admin:pipelines_connection_change", args=[shop_connection.id])
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", rows[0][5])
    missing = admin_client.get(reverse("admin:pipelines_workspace_profile",
                                       args=[ws.id, "00000000-0000-4000-8000-000000000000"]))
    assert missing.status_code == 404


def test_identity_resolution_settings_are_saved_through_the_service(admin_client, people):
    ws, (shop_connection, _), _ = people
    url = reverse("admin:pipelines_workspace_resolution", args=[ws.id])
    page = admin_client.get(url).content.decode()
    assert 'name="identifier_0"' in page and '<option value="email" selected>' in page
    # first_name before email, no resolution after imports, the shop is the primary source of first_name
    resp = admin_client.post(url, {"identifier_0": "first_name", "identifier_1": "email",
                                   "source__first_name": str(shop_connection.id), "_save": "Save"})
    assert resp.status_code == 302
    ws = Workspace.objects.get(id=ws.id)
    assert ws.identifiers == ["first_name", "email"] and ws.resolve_identities_on_batch_import is False
    assert ws.primary_sources == {"first_name": shop_connection.id}
    # age is an int: it can be an identifier; a property that cannot be one is not offered
    page = admin_client.get(url).content.decode()
    assert '<option value="age">age (int(32))</option>' in page
    refused = admin_client.post(url, {"identifier_0": "nope", "_save": "Save"})
    assert refused.status_code == 200 and "Select a valid choice" in refused.content.decode()
    assert Workspace.objects.get(id=ws.id).identifiers == ["first_name", "email"]

    # Resolve now: the primary source's first names win
    resp = admin_client.post(url, {"_resolve": "1"})
    assert resp.status_code == 302
    ws = Workspace.objects.get(id=ws.id)
    assert ws.ir_id is not None  # started (the worker executes it)
    busy = admin_client.post(url, {"_resolve": "1"}, follow=True).content.decode()
    assert "could not start: identity resolution is already in execution" in busy
    ir.identity_resolution_execute(workspace_id=ws.id, operation_id=ws.ir_id)
    found = html.unescape(admin_client.get(reverse("admin:pipelines_workspace_profiles", args=[ws.id]),
                                           {"q": "First3"}).content.decode())
    assert "1 profile match “First3”." in found


def test_who_may_only_view_sees_the_pages_but_changes_nothing(client, django_user_model, people):
    from django.contrib.auth.models import Permission

    ws, _, _ = people
    viewer = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_workspace"))
    client.force_login(viewer)
    url = reverse("admin:pipelines_workspace_resolution", args=[ws.id])
    page = client.get(url).content.decode()
    assert 'id="kr-resolve-now"' not in page and 'value="Save"' not in page
    assert client.post(url, {"_resolve": "1"}).status_code == 403
    assert client.get(reverse("admin:pipelines_workspace_profiles", args=[ws.id])).status_code == 200


# --------------------------------------------------------------------------- the profile schema as a table

def table_post(rows, action):
    """The schema page's post: one list per column, as the table's inputs send them."""
    data = {f"prop_{c}": [row.get(c, "") for row in rows]
            for c in ("name", "kind", "length", "description", "original", "original_json")}
    data[action] = "1"
    return data


def current_rows(admin_client, ws):
    from pipelines.admin_profiles import schema_table_rows

    return schema_table_rows(Workspace.objects.get(id=ws.id).profile_schema)


def test_the_profile_schema_is_edited_as_a_table_previewed_then_applied(admin_client, people):
    ws, (shop_connection, shop), _ = people
    ir.identity_resolution_update_settings(workspace=ws, run_on_batch_import=True, identifiers=["email"])
    Workspace.objects.filter(id=ws.id).update(primary_sources={"first_name": shop_connection.id})
    url = reverse("admin:pipelines_workspace_schema", args=[ws.id])
    page = html.unescape(admin_client.get(url).content.decode())
    assert 'name="prop_name" value="email"' in page and 'name="prop_length" value="254"' in page
    assert 'name="prop_description" value="First name"' in page

    rows = current_rows(admin_client, ws)
    rows[1]["name"] = "given_name"                                 # rename first_name
    rows = [r for r in rows if r["name"] != "last_name"]           # drop last_name
    rows.append({"name": "plan", "kind": "string", "length": "20", "description": "Subscription plan"})
    rows.append({"name": "", "kind": "string"})                    # a blank row is ignored
    before = Workspace.objects.get(id=ws.id).profile_schema
    preview = html.unescape(admin_client.post(url, table_post(rows, "_preview")).content.decode())
    statements = preview[preview.index('class="kr-sql"'):preview.index("</pre>")]
    assert 'RENAME COLUMN "first_name" TO' in statements and 'TO "given_name"' in statements
    assert 'DROP COLUMN "last_name"' in statements and 'ADD COLUMN "plan"' in statements
    # the pipelines that map first_name no longer match: the preview says so before anything happens
    assert "Shop: in the output schema" in preview and "CRM: in the output schema" in preview
    assert 'name="_apply"' in preview and 'name="prop_name" value="given_name"' in preview  # the edits stay
    assert Workspace.objects.get(id=ws.id).profile_schema == before  # a preview changes nothing

    assert admin_client.post(url, table_post(rows, "_apply")).status_code == 302
    ws = Workspace.objects.get(id=ws.id)
    assert [p["name"] for p in ws.profile_schema["properties"]] == ["email", "given_name", "age", "plan"]
    assert ws.profile_schema["properties"][3] == {"name": "plan", "type": {"kind": "string", "maxLength": 20},
                                                  "readOptional": True, "description": "Subscription plan"}
    assert ws.primary_sources == {"given_name": shop_connection.id}  # renamed with its property
    # the renamed column kept its values
    found = html.unescape(admin_client.get(reverse("admin:pipelines_workspace_profiles", args=[ws.id]),
                                           {"q": "user3@"}).content.decode())
    assert "<th>given_name</th>" in found and ("First3" in found or "Crm3" in found)


def test_a_wrong_length_or_name_in_the_table_is_refused_and_changes_nothing(admin_client, ws):
    url = reverse("admin:pipelines_workspace_schema", args=[ws.id])
    before = Workspace.objects.get(id=ws.id).profile_schema
    rows = current_rows(admin_client, ws) + [{"name": "plan", "kind": "string", "length": "twenty"}]
    page = html.unescape(admin_client.post(url, table_post(rows, "_apply")).content.decode())
    assert "the length of “plan” must be a whole number, not “twenty”" in page
    rows[-1] = {"name": "bad name", "kind": "string", "length": "20"}
    page = html.unescape(admin_client.post(url, table_post(rows, "_apply")).content.decode())
    assert 'id="kr-schema-error"' in page and "bad name" in page
    assert Workspace.objects.get(id=ws.id).profile_schema == before


def test_a_workspace_is_created_with_its_schema_as_a_table(admin_client):
    from pipelines.services.workspaces import DEFAULT_PROFILE_SCHEMA

    page = html.unescape(admin_client.get(reverse("admin:pipelines_workspace_add")).content.decode())
    assert 'id="kr-schema-table"' in page and 'name="prop_name" value="email"' in page
    assert "cannot change" not in page and 'name="profile_schema_json"' not in page
    from pipelines.admin_profiles import schema_table_rows

    rows = schema_table_rows(DEFAULT_PROFILE_SCHEMA) + [{"name": "age", "kind": "int", "length": ""}]
    data = {"name": "Table shop", "platform": "SQLite", **table_post(rows, "_save")}
    assert admin_client.post(reverse("admin:pipelines_workspace_add"), data).status_code == 302
    created = Workspace.objects.get(name="Table shop")
    assert created.profile_schema["properties"][-1] == {"name": "age", "type": {"kind": "int", "bitSize": 32},
                                                        "readOptional": True}
    refused = admin_client.post(reverse("admin:pipelines_workspace_add"),
                                {"name": "Bad", "platform": "SQLite", **table_post([{"name": "x y", "kind": "string"}],
                                                                                   "_save")})
    assert refused.status_code == 200 and "x y" in html.unescape(refused.content.decode())
    assert not Workspace.objects.filter(name="Bad").exists()
