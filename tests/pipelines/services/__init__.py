"""Helpers shared by the run tests (engine, runs service, runs API): a workspace whose profile
schema has a column for every kind of the `customers` table, pipelines created through the API,
runs executed synchronously in the test process, and the warehouse read back with psycopg2."""
import copy

from pipelines.models import Pipeline, Run
from pipelines.services.runs import run_execute, run_start
from tests import support

RICH_PROFILE_SCHEMA = {"kind": "object", "properties": [
    *copy.deepcopy(support.PROFILE_SCHEMA["properties"]),
    {"name": "customer_id", "type": {"kind": "int", "bitSize": 64}, "readOptional": True},
    {"name": "updated_text", "type": {"kind": "string"}, "readOptional": True},
    {"name": "seen_at", "type": {"kind": "datetime"}, "readOptional": True},
    {"name": "attrs", "type": {"kind": "json"}, "readOptional": True},
]}

CUSTOMERS = "SELECT id, firstname, lastname, email, updated_at, updated_ts, age, attrs FROM customers"
MAPPING = {"customer_id": "id", "first_name": "firstname", "last_name": "lastname", "email": "email",
           "updated_text": "updated_at", "seen_at": "updated_ts", "age": "age", "attrs": "attrs"}


def create_workspace(api, warehouse_db, profile_schema=None) -> support.WorkspaceRef:
    resp = api.post("/v1/workspaces", support.workspace_body("Runs", warehouse_db,
                                                             profile_schema or RICH_PROFILE_SCHEMA))
    assert resp.status_code == 200, resp.content
    workspace_id = resp.json()["id"]
    return support.WorkspaceRef(workspace_id, warehouse_db, api.scoped(workspace_id))


def create_connection(workspace: support.WorkspaceRef, source: support.Source) -> int:
    resp = workspace.api.post("/v1/connections", support.connection_body(source))
    assert resp.status_code == 200, resp.content
    return resp.json()["id"]


def query_schema(workspace: support.WorkspaceRef, connection_id: int, query: str) -> dict:
    """The schema of `query` as the preview endpoint reports it (placeholders as in preview)."""
    resp = workspace.api.post(f"/v1/connections/{connection_id}/query", {"query": query, "limit": 0})
    assert resp.status_code == 200, resp.content
    return resp.json()["schema"]


def pipeline_body(workspace, connection_id, *, query=CUSTOMERS, mapping=None, user_id="id", updated_at="updated_ts",
                  updated_at_format="", incremental=False, in_schema=None, name="Customers") -> dict:
    """A pipeline body whose inSchema is what the query returns, and whose outSchema is the profile
    schema restricted to the mapped properties."""
    mapping = dict(MAPPING if mapping is None else mapping)
    if in_schema is None:
        in_schema = query_schema(workspace, connection_id, query)
    profile = workspace.api.get("/v1/profiles/schema").json()
    out_schema = {"kind": "object", "properties": [p for p in profile["properties"] if p["name"] in mapping]}
    return {"name": name, "connection": connection_id, "target": "User", "enabled": True, "query": query,
            "userIDColumn": user_id, "updatedAtColumn": updated_at, "updatedAtFormat": updated_at_format,
            "incremental": incremental, "transformation": {"mapping": mapping},
            "inSchema": in_schema, "outSchema": out_schema}


def create_pipeline(workspace, connection_id, **options) -> int:
    resp = workspace.api.post("/v1/pipelines", pipeline_body(workspace, connection_id, **options))
    assert resp.status_code == 200, resp.content
    return resp.json()["id"]


def run_now(pipeline_id: int, incremental: bool | None = None) -> Run:
    """Starts a run with the API's checks and executes it here, to its end."""
    run = run_start(pipeline=Pipeline.objects.select_related("workspace").get(id=pipeline_id),
                    incremental=incremental, enqueue=False)
    run_execute(run_id=run.id)
    return Run.objects.get(id=run.id)


def counts(run: Run) -> tuple[list[int], list[int]]:
    return list(run.passed), list(run.failed)


def errors_of(run: Run) -> list[tuple[str, str | None, str]]:
    from pipelines.models import RunError

    steps = Run.STEPS
    return [(steps[e.step], e.user_id, e.message) for e in RunError.objects.filter(run=run).order_by("seq")]


def identities(workspace: support.WorkspaceRef, pipeline_id: int | None = None,
               columns: str = "first_name") -> dict:
    """{identity id: row of `columns`} in the warehouse (one value when one column is asked)."""
    conn = support.pg_connect(workspace.warehouse_db)
    try:
        with conn.cursor() as cur:
            where = "" if pipeline_id is None else f"WHERE _pipeline = {int(pipeline_id)}"
            cur.execute(f"SELECT _identity_id, {columns} FROM krenalis_identities {where}")
            rows = cur.fetchall()
    finally:
        conn.close()
    single = "," not in columns
    return {row[0]: (row[1] if single else row[1:]) for row in rows}


def cursor_of(pipeline_id: int):
    return Pipeline.objects.get(id=pipeline_id).cursor
