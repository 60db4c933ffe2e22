"""The admin console in a real browser (Debian's Chromium, headless, driven by Playwright): a data
engineer logs in, creates a connection, writes a query, previews it, fills the input schema, maps
properties, saves, runs the pipeline and watches the run finish, executed by a real Celery worker."""
import re

import pytest
from playwright.sync_api import expect

from pipelines.models import Pipeline, Run
from pipelines.services.workspaces import workspace_create
from tests import support

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]

QUERY = "SELECT id, email, firstname, lastname, age, updated_ts\nFROM customers\nORDER BY id"


@pytest.fixture
def shop(warehouse_db):
    return workspace_create(name="Shop", profile_schema=support.PROFILE_SCHEMA, platform="PostgreSQL",
                            mode="Normal", warehouse_settings={
                                "host": support.PG["host"], "port": support.PG["port"], "username": "postgres",
                                "password": "", "database": warehouse_db, "schema": "public"})


def type_code(page, selector: str, text: str) -> None:
    """Types into a CodeMirror editor as a user does: click, select all, type."""
    page.click(f"{selector} .CodeMirror-lines")
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.type(text)


def create_connection(page, shop, source, shots=None) -> None:
    page.click("#content-main a:text-is('Connections')")
    page.click("a:has-text('Add connection')")
    page.select_option("#id_workspace", str(shop.id))
    page.fill("#id_name", "Shop database")
    page.select_option("#id_connector", "postgresql")
    expect(page.locator(".form-row.field-path")).to_be_hidden()
    page.fill("#id_host", source.settings["host"])
    page.fill("#id_port", str(source.settings["port"]))
    page.fill("#id_username", source.settings["username"])
    page.fill("#id_password", source.settings["password"])
    page.fill("#id_database", source.settings["database"])
    page.fill("#id_schema", "public")
    page.click("#kr-test-connection")
    expect(page.locator("#kr-test-connection-result")).to_contain_text("Connection succeeded")
    # the tests' PostgreSQL user is a superuser: the result says so, as a warning
    expect(page.locator("#kr-test-connection-result .kr-warning")).to_contain_text(
        f'user "{source.settings["username"]}" is a superuser')
    if shots:
        shots(page, "connection")
    page.click("input[name=_save]")
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")


def test_set_up_a_pipeline_run_it_and_watch_it_finish(page, admin_login, shop, pg_source_10, celery_worker, shots):
    admin_login()
    # The product's section comes first on the index, before Django's users and Celery's tasks, and
    # there is no "View site" (the product has no public site).
    sections = page.locator("#content-main .module caption a.section").all_text_contents()
    assert sections[0] == "Krenalis" and "Authentication and Authorization" in sections[1:], sections
    expect(page.locator("#site-name")).to_have_text("Krenalis")
    expect(page.locator("#user-tools a:has-text('View site')")).to_have_count(0)
    shots(page, "home")
    page.click("#content-main a:text-is('Workspaces')")
    page.click("text=Shop")
    expect(page.locator("table.kr-schema")).to_contain_text("first_name")
    shots(page, "workspace")
    page.goto("/admin/pipelines/apikey/add/")
    page.fill("#id_name", "Data team")
    page.click("input[name=_save]")
    plain_key = page.locator("#kr-plain-key")
    expect(plain_key).to_have_value(re.compile(r"^api_\S{30,}$"))
    # The page shows the whole key, once; the screenshot shows only its prefix, as a key should be.
    plain_key.evaluate("input => { input.value = input.value.slice(0, 8) + '•'.repeat(input.value.length - 8); }")
    shots(page, "api-key")
    page.goto("/admin/")
    create_connection(page, shop, pg_source_10, shots)

    # A new pipeline on the connection: write the query and preview it.
    page.click("text=Shop database")
    page.click("text=Add a pipeline on this connection")
    expect(page.locator("#id_connection")).to_have_value(re.compile(r"\d+"))
    crumbs = " ".join(page.locator(".breadcrumbs").text_content().split())
    assert crumbs == "Home › Krenalis › Pipelines › Add pipeline", crumbs
    page.fill("#id_name", "Customers")
    type_code(page, ".field-query", QUERY)
    page.click("#kr-preview")
    expect(page.locator("#kr-preview-rows tbody tr")).to_have_count(10)
    expect(page.locator("#kr-preview-schema")).to_contain_text("updated_ts")
    expect(page.locator("#kr-preview-status")).to_contain_text("10 rows, 6 columns")
    # The derived schema shows each text's length, and offers no first name as an update time.
    schema_rows = page.locator("#kr-preview-schema tbody tr")
    expect(schema_rows.filter(has_text="firstname")).to_contain_text("string(60)")
    expect(schema_rows.filter(has_text="firstname")).not_to_contain_text("update time")
    expect(schema_rows.filter(has_text="updated_ts")).to_contain_text("update time")

    # Fill the input schema from the preview: the choosers offer only the allowed kinds.
    page.click("#kr-use-schema")
    expect(page.locator("#kr-in-schema-table tbody tr")).to_have_count(6)
    expect(page.locator("#id_user_id_column")).to_have_value("id")
    expect(page.locator("#id_updated_at_column")).to_have_value("updated_ts")
    expect(page.locator("#id_incremental")).to_be_checked()  # an update time column: incremental by default
    user_id_options = page.locator("#id_user_id_column option").all_inner_texts()
    assert not any(text.startswith("updated_ts") for text in user_id_options)  # a datetime is no user ID
    updated_at_options = page.locator("#id_updated_at_column option").all_inner_texts()
    assert updated_at_options == ["— none —", "updated_ts (datetime)"], updated_at_options

    # Map the profile properties; a wrong expression is reported on its row as it is typed.
    page.fill('input.kr-expression[data-path="email"]', "email")
    page.fill('input.kr-expression[data-path="first_name"]', "nope")
    expect(page.locator('[data-error-for="first_name"]')).to_contain_text("nope")
    page.fill('input.kr-expression[data-path="first_name"]', "firstname")
    expect(page.locator('[data-error-for="first_name"]')).to_be_hidden()
    page.fill('input.kr-expression[data-path="last_name"]', "lastname")
    page.fill('input.kr-expression[data-path="age"]', "age")
    page.click("#kr-test")
    expect(page.locator("#kr-test-rows tbody tr")).to_have_count(10)
    # one column per property, as the preview has one per column
    assert page.locator("#kr-test-rows thead th").all_text_contents() == [
        "Row", "User ID", "email", "first_name", "last_name", "age"]
    expect(page.locator("#kr-test-rows tbody tr").first.locator("td").nth(2)).to_have_text("user1@example.com")
    page.select_option("#id_schedule_period", "1h")
    shots(page, "pipeline-editor")

    page.click("input[name=_continue]")
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    pipeline = Pipeline.objects.get(name="Customers")
    assert pipeline.transformation_mapping == {"email": "email", "first_name": "firstname", "last_name": "lastname",
                                               "age": "age"}
    assert (pipeline.user_id_column, pipeline.updated_at_column, pipeline.schedule_period) == ("id", "updated_ts", 60)

    # Run it: the run page follows the worker's progress and shows the imported count.
    page.click("#kr-run-full")
    expect(page.locator("#kr-run-status")).to_have_text("Succeeded", timeout=90_000)
    expect(page.locator("#kr-imported")).to_have_text("10")
    expect(page.locator("#kr-rows-read")).to_have_text("10")
    expect(page.locator("#kr-no-errors")).to_be_visible()
    shots(page, "run")
    run = Run.objects.get(pipeline=pipeline)
    assert run.error == "" and run.passed[6] == 10

    # The list starts runs too; the pipeline page charts its runs.
    page.goto("/admin/pipelines/pipeline/")
    expect(page.locator("#result_list")).to_contain_text("10 imported")
    shots(page, "pipelines")
    page.click("#result_list button:has-text('Incremental')")
    expect(page.locator("#kr-run-status")).to_have_text("Succeeded", timeout=90_000)
    expect(page.locator(".kr-facts")).to_contain_text("Incremental run")
    page.goto("/admin/pipelines/run/")
    expect(page.locator("#result_list tbody tr")).to_have_count(2)
    expect(page.locator("#result_list tbody tr").first.locator("td.field-imported")).to_have_text("1")
    last, frame = (page.locator(sel).bounding_box() for sel in ("th.column-failed_rows", "#changelist .results"))
    assert last["x"] + last["width"] <= frame["x"] + frame["width"]  # every column fits a 1360 px screen
    shots(page, "runs")
    page.goto(f"/admin/pipelines/pipeline/{pipeline.id}/change/")
    expect(page.locator("svg.kr-chart rect.imported")).to_have_count(2)
    expect(page.locator(".kr-recent tbody tr")).to_have_count(2)
    shots(page, "pipeline")


def test_function_editor_tests_code_on_preview_rows_and_a_failed_row_is_kept(
        page, admin_login, shop, pg_source_10, celery_worker, shots):
    admin_login()
    create_connection(page, shop, pg_source_10)
    page.goto("/admin/pipelines/pipeline/add/")
    page.fill("#id_name", "Scripted")
    page.select_option("#id_connection", label="Shop database (postgresql)")
    type_code(page, ".field-query", "SELECT id, email, age FROM customers ORDER BY id")
    page.click("#kr-preview")
    expect(page.locator("#kr-preview-rows tbody tr")).to_have_count(10)
    page.click("#kr-use-schema")
    expect(page.locator("#id_user_id_column")).to_have_value("id")
    page.check("input[name=transformation][value=function]")
    expect(page.locator("#kr-function-settings")).to_be_visible()
    type_code(page, ".field-function_source",
              "const transform = (user) => {\n"
              "if (user.age > 28) throw new Error('too old: ' + user.age);\n"
              "return {email: user.email.toUpperCase(), age: user.age};\n")
    page.click("#kr-test")
    expect(page.locator("#kr-test-rows tbody tr")).to_have_count(10)
    expect(page.locator("#kr-test-rows tbody tr").nth(0)).to_contain_text("USER1@EXAMPLE.COM")
    # the step is named as the run page names it
    expect(page.locator("#kr-test-rows tbody tr").nth(9).locator(".kr-step")).to_have_text("Transformation: ")
    expect(page.locator("#kr-test-rows tbody tr").nth(9)).to_contain_text("too old: 30")
    expect(page.locator("#kr-test-status")).to_contain_text("2 with an error")
    # nothing was ticked: the test ticked what the function returns, and says so
    expect(page.locator("#kr-test-status")).to_contain_text("ticked “Set by the function” for email, age")
    expect(page.locator('input.kr-out-path[data-path="email"]')).to_be_checked()
    expect(page.locator('input.kr-out-path[data-path="age"]')).to_be_checked()
    expect(page.locator('input.kr-out-path[data-path="first_name"]')).not_to_be_checked()
    shots(page, "function-editor")

    page.click("input[name=_continue]")
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    page.click("#kr-run-full")
    expect(page.locator("#kr-run-status")).to_have_text("Succeeded with 2 failed rows", timeout=90_000)
    expect(page.locator("#kr-imported")).to_have_text("8")
    expect(page.locator("#kr-failed")).to_have_text("2")
    expect(page.locator("#kr-errors tbody tr")).to_have_count(2)
    expect(page.locator("#kr-errors-count")).to_have_text("2 rows failed.")
    expect(page.locator("#kr-errors")).to_contain_text("too old: 29")
    shots(page, "run-with-errors")


def test_the_api_docs_and_the_admin_run_under_the_content_security_policy(page, admin_login, live_server):
    """Every page says where scripts may come from (this server only, no inline script); the Swagger
    UI, the admin and the API key page work under it (the page fixture fails on anything it blocks)."""
    response = page.goto("/v1/docs")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Krenalis for Django API")
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible()
    admin_login()
    page.goto("/admin/pipelines/apikey/add/")
    page.fill("#id_name", "CSP")
    page.click("input[name=_save]")
    # the button is wired when the page has loaded: a loaded machine may show it earlier than that
    page.wait_for_load_state("load")
    page.click("#kr-copy-key")
    expect(page.locator("#kr-copy-key")).to_have_text("Copied")


def test_long_values_are_cut_and_a_run_with_failed_rows_shows_them_apart_from_its_notes(
        page, admin_login, shop, pg_source_10, celery_worker):
    """A 312-character value does not push the preview's other columns out of sight (it is cut,
    whole on hover); a run whose rows failed for a NULL user ID says "Succeeded with 2 failed rows",
    lists its note apart, and shows where each such row is in the query's result and what it held."""
    from pipelines.services.connections import connection_create
    from pipelines.services.pipelines import PipelineInput, pipeline_create
    from pipelines.services.preview import preview_query

    connection = connection_create(workspace=shop, name="Shop database", role="Source", connector="postgresql",
                                   settings=dict(pg_source_10.settings))
    admin_login()
    page.goto("/admin/pipelines/pipeline/add/")
    page.select_option("#id_connection", label="Shop database (postgresql)")
    type_code(page, ".field-query", "SELECT id, repeat('x', 300) || email AS email, firstname, lastname, age, "
                                    "updated_ts FROM customers ORDER BY id")
    page.click("#kr-preview")
    expect(page.locator("#kr-preview-rows tbody tr")).to_have_count(10)
    box = page.locator("#kr-preview-result .kr-scroll").bounding_box()
    last = page.locator("#kr-preview-rows thead th").last.bounding_box()
    assert last["x"] + last["width"] <= box["x"] + box["width"], (last, box)  # every column is visible
    long_cell = page.locator("#kr-preview-rows tbody tr").first.locator("td").nth(1)
    assert long_cell.get_attribute("title") == "x" * 300 + "user1@example.com"

    query = ("SELECT CASE WHEN id IN (2, 5) THEN NULL ELSE id END AS id, email FROM customers ORDER BY customers.id")
    pipeline = pipeline_create(workspace=shop, connection_id=connection.id, target="User", event_type="",
                               data=PipelineInput(
                                   name="Some without ID", enabled=True, query=query, user_id_column="id",
                                   transformation={"mapping": {"email": "email"}},
                                   in_schema=preview_query(connection=connection, query=query, limit=1)["schema"],
                                   out_schema={"kind": "object", "properties": support.PROFILE_SCHEMA["properties"][:1]}))
    page.goto(f"/admin/pipelines/pipeline/{pipeline.id}/change/")
    page.click("#kr-run-full")
    expect(page.locator("#kr-run-status")).to_have_text("Succeeded with 2 failed rows", timeout=90_000)
    expect(page.locator("#kr-errors-count")).to_have_text("2 rows failed.")
    expect(page.locator("#kr-notes")).to_contain_text("unimported records not deleted")
    expect(page.locator("#kr-errors tbody tr")).to_have_count(2)
    first = page.locator("#kr-errors tbody tr").first
    expect(first).to_contain_text("row 2 of the query")
    expect(first).to_contain_text('id = NULL, email = "user2@example.com"')
    page.goto("/admin/pipelines/run/")
    expect(page.locator("#result_list tbody tr").first).to_contain_text("Succeeded with 2 failed rows")


def test_profiles_a_profile_and_identity_resolution(page, admin_login, shop, pg_source_10, celery_worker, shots):
    """The unified users: the index leads to the profiles, a search by email finds one, its page
    shows its attributes and the identities merged into it (pipeline, connection, source user ID,
    update time); the identity resolution page changes the identifiers' order and resolves now."""
    from pipelines.services import identity_resolution as ir
    from tests.admin.test_people import import_users, resolve

    # (no resolution after the imports: the worker would run one meanwhile)
    ir.identity_resolution_update_settings(workspace=shop, run_on_batch_import=False, identifiers=["email"])
    import_users(shop, pg_source_10, "Shop", "SELECT id, email, firstname, updated_ts FROM customers")
    import_users(shop, pg_source_10, "CRM", "SELECT id + 1000 AS id, email, 'Crm' || id AS firstname, "
                                            "updated_ts + interval '1 hour' AS updated_ts FROM customers")
    resolve(shop)
    admin_login()
    page.click("#content-main a:text-is('Profiles')")
    expect(page.locator("#kr-profiles-total")).to_have_text("10 profiles.")
    expect(page.locator("#kr-latest")).to_contain_text("20 identities regrouped into 10 profiles")
    shots(page, "profiles")
    page.fill("#kr-q", "user3@")
    page.click("#kr-profile-search button")
    expect(page.locator("#kr-profiles tbody tr")).to_have_count(1)
    expect(page.locator("#kr-profiles")).to_contain_text("user3@example.com")
    page.click("#kr-profiles tbody tr a")
    expect(page.locator("#kr-attributes")).to_contain_text("Crm3")
    identities = page.locator("#kr-identities tbody tr")
    expect(identities).to_have_count(2)
    expect(identities.first).to_contain_text("1003")
    expect(identities.first).to_contain_text("CRM DB")
    expect(identities.nth(1)).to_contain_text("Shop")
    shots(page, "profile")

    page.click(".kr-tabs a:text-is('Identity resolution')")
    expect(page.locator("#id_identifier_0")).to_have_value("email")
    page.select_option("#id_identifier_1", "first_name")  # after email: a tie-break that changes nothing here
    page.select_option("#id_source__first_name", label="Shop DB first")
    expect(page.locator("#id_run_on_batch_import")).not_to_be_checked()
    page.check("#id_run_on_batch_import")
    page.click("input[name=_save]")
    expect(page.locator(".messagelist")).to_contain_text("settings were saved")
    expect(page.locator("#id_identifier_1")).to_have_value("first_name")
    expect(page.locator("#id_run_on_batch_import")).to_be_checked()
    before = page.locator("#kr-latest").text_content()
    page.click("#kr-resolve-now")
    expect(page.locator(".messagelist")).to_contain_text("Identity resolution has started")
    for _ in range(60):  # the worker resolves; the page shows the latest resolution when reloaded
        page.reload()
        text = page.locator("#kr-latest").text_content()
        if text != before and "Running" not in text:
            break
        page.wait_for_timeout(1000)
    expect(page.locator("#kr-latest")).to_contain_text("10 profiles")
    shots(page, "identity-resolution")
    page.click(".kr-tabs a:text-is('Profiles')")
    page.fill("#kr-q", "First3")
    page.click("#kr-profile-search button")
    expect(page.locator("#kr-profiles tbody tr")).to_have_count(1)  # the shop, primary source, wins now
    page.click("#kr-profiles tbody tr a")
    expect(page.locator("#kr-attributes")).to_contain_text("First3")


def test_the_editor_clears_a_fixed_refusal_warns_about_unsaved_edits_and_the_cursor_and_shows_the_schedule(
        page, admin_login, shop, pg_source_10):
    """Items 5, 7 and 8 of issue 21: a refused save's banner and red borders go once the expression
    is fixed; "Run now" with unsaved edits asks first (it runs the saved pipeline); a save that
    resets the cursor says so before; the schedule shows its next run in UTC and local time; a
    disabled pipeline's run buttons are off, with the reason."""
    import datetime as dt

    from pipelines.services.connections import connection_create
    from pipelines.services.pipelines import PipelineInput, pipeline_create, pipeline_set_schedule
    from pipelines.services.preview import preview_query

    connection = connection_create(workspace=shop, name="Shop database", role="Source", connector="postgresql",
                                   settings=dict(pg_source_10.settings))
    query = "SELECT id, email, firstname, updated_ts FROM customers ORDER BY id"
    pipeline = pipeline_create(workspace=shop, connection_id=connection.id, target="User", event_type="",
                               data=PipelineInput(
                                   name="Customers", enabled=True, query=query, user_id_column="id",
                                   updated_at_column="updated_ts", incremental=True,
                                   transformation={"mapping": {"email": "email", "first_name": "firstname"}},
                                   in_schema=preview_query(connection=connection, query=query, limit=1)["schema"],
                                   out_schema={"kind": "object", "properties": support.PROFILE_SCHEMA["properties"][:2]}))
    pipeline_set_schedule(pipeline=pipeline, period="15m")
    Pipeline.objects.filter(id=pipeline.id).update(cursor=dt.datetime(2024, 5, 1, 10, tzinfo=dt.timezone.utc))
    admin_login()
    page.goto(f"/admin/pipelines/pipeline/{pipeline.id}/change/")
    expect(page.locator("#kr-next-run")).to_contain_text("Every 15m; next run")
    expect(page.locator("#kr-next-run .kr-local-time")).to_contain_text("UTC)")  # the browser's zone (UTC here)

    # A refused save, then the fix: the banner, the message and the red borders go.
    page.fill('input.kr-expression[data-path="first_name"]', "nope")
    page.click("input[name=_continue]")
    expect(page.locator(".errornote")).to_be_visible()
    expect(page.locator(".kr-mapping-row.errors")).to_have_count(1)
    page.fill('input.kr-expression[data-path="first_name"]', "firstname")
    expect(page.locator(".errornote")).to_have_count(0)
    expect(page.locator(".kr-mapping-row.errors")).to_have_count(0)
    expect(page.locator(".kr-mapping-row .errorlist")).to_have_count(0)
    red = page.locator('input.kr-expression[data-path="email"]').evaluate("e => getComputedStyle(e).borderColor")
    assert red != "rgb(186, 33, 33)", red

    # Unsaved edits: Run now warns, and asks before running the saved pipeline.
    page.goto(f"/admin/pipelines/pipeline/{pipeline.id}/change/")
    expect(page.locator("#kr-unsaved-run")).to_be_hidden()
    expect(page.locator("#kr-cursor-note")).to_be_hidden()
    type_code(page, ".field-query", query + " LIMIT 5")
    expect(page.locator("#kr-unsaved-run")).to_be_visible()
    expect(page.locator("#kr-cursor-note")).to_contain_text("Saving resets the cursor (2024-05-01 10:00:00 UTC)")
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.click("#kr-run-full")
    page.wait_for_timeout(300)
    assert asked and "unsaved changes" in asked[0] and not Run.objects.exists()

    # Disabled: the run buttons are off, with the reason; the list says the schedule is paused.
    page.goto(f"/admin/pipelines/pipeline/{pipeline.id}/change/")
    page.uncheck("#id_enabled")
    page.click("input[name=_continue]")
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    expect(page.locator("#kr-run-full")).to_be_disabled()
    expect(page.locator("#kr-run-incremental")).to_be_disabled()
    expect(page.locator("#kr-cannot-run")).to_have_text("The pipeline is disabled: tick “Enabled” and save to run it.")
    expect(page.locator("#kr-next-run")).to_contain_text("no scheduled run while the pipeline is disabled")
    page.goto("/admin/pipelines/pipeline/")
    expect(page.locator("#result_list")).to_contain_text("(paused: disabled)")
    expect(page.locator("#result_list button:has-text('Run now')")).to_be_disabled()


def test_the_profile_schema_as_a_table_when_creating_a_workspace_and_after(page, admin_login, shop, shots):
    """Issue 21 item 2: a new workspace's schema is a table of properties (the PostgreSQL fields show
    only for PostgreSQL); an existing one's is edited as a table, previewed, then applied."""
    from pipelines.models import Workspace

    admin_login()
    page.goto("/admin/pipelines/workspace/add/")
    expect(page.locator("#id_platform")).to_have_value("SQLite")
    expect(page.locator(".form-row.field-host")).to_be_hidden()
    page.select_option("#id_platform", "PostgreSQL")
    expect(page.locator(".form-row.field-host")).to_be_visible()
    page.select_option("#id_platform", "SQLite")
    expect(page.locator(".form-row.field-database")).to_be_hidden()
    page.fill("#id_name", "Table shop")
    names = page.locator("#kr-schema-table input.kr-prop-name")
    expect(names.first).to_have_value("email")
    page.click("#kr-add-prop")
    row = page.locator("#kr-schema-table tbody tr").last
    row.locator(".kr-prop-name").fill("age")
    row.locator(".kr-prop-kind").select_option("int")
    expect(row.locator(".kr-prop-length")).to_have_attribute("placeholder", "32")
    row.locator(".kr-prop-description").fill("Age in years")
    page.locator("#kr-schema-table tbody tr").filter(
        has=page.locator('input.kr-prop-name[value="last_name"]')).locator(".kr-remove-prop").click()
    shots(page, "workspace-add")
    page.click("input[name=_save]")
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    created = Workspace.objects.get(name="Table shop")
    assert [p["name"] for p in created.profile_schema["properties"]] == ["email", "first_name", "age"]

    page.goto(f"/admin/pipelines/workspace/{shop.id}/profile-schema/")
    first_name = page.locator("#kr-schema-table tbody tr").nth(1)
    expect(first_name.locator(".kr-prop-name")).to_have_value("first_name")
    expect(first_name.locator(".kr-prop-length")).to_have_value("100")
    first_name.locator(".kr-prop-name").fill("given_name")
    page.click("#kr-add-prop")
    added = page.locator("#kr-schema-table tbody tr").last
    added.locator(".kr-prop-name").fill("plan")
    added.locator(".kr-prop-length").fill("20")
    page.click("#kr-schema-preview-button")
    expect(page.locator("#kr-schema-preview .kr-sql")).to_contain_text('ADD COLUMN "plan" varchar(20)')
    expect(page.locator("#kr-schema-preview .kr-sql")).to_contain_text('TO "given_name"')
    assert Workspace.objects.get(id=shop.id).profile_schema["properties"][1]["name"] == "first_name"
    shots(page, "profile-schema")
    page.click("#kr-schema-apply")
    expect(page.locator(".messagelist")).to_contain_text("The profile schema was changed")
    names = [p["name"] for p in Workspace.objects.get(id=shop.id).profile_schema["properties"]]
    assert names == ["email", "given_name", "last_name", "age", "plan"]
