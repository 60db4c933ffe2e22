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
    page.check('input.kr-out-path[data-path="email"]')
    page.check('input.kr-out-path[data-path="age"]')
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
