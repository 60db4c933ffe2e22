"""Output shapes of the API objects (reference §3, §4, §5.1), in the reference's key order."""
from ..connectors import REGISTRY
from ..lookback import format_lookback
from ..models import Connection, Run, Workspace
from ..timeformats.rfc3339 import nullable_rfc3339

SAMPLE_QUERY = "SELECT *\nFROM users\n"


def workspace_json(workspace: Workspace) -> dict:
    return {
        "id": workspace.id,
        "name": workspace.name,
        "profileSchema": workspace.profile_schema,
        "primarySources": workspace.primary_sources,
        "resolveIdentitiesOnBatchImport": workspace.resolve_identities_on_batch_import,
        "identifiers": workspace.identifiers,
        "warehouseMode": workspace.warehouse_mode,
        "uiPreferences": workspace.ui_preferences,
    }


def connector_json(connector) -> dict:
    return {
        "code": connector.code,
        "label": connector.label,
        "type": "Database",
        "categories": ["Database"],
        "asSource": {"targets": ["User"], "hasSettings": True, "sampleQuery": SAMPLE_QUERY,
                     "webhooksPer": "None", "summary": f"Import users from a {connector.label} database"},
        "asDestination": None,
        "hasSheets": False,
        "fileExtension": "",
        "oauth": False,
        "strategies": False,
    }


def connectors_json() -> list[dict]:
    return [connector_json(REGISTRY[code]) for code in sorted(REGISTRY)]


def connection_json(connection: Connection, pipelines: list[dict]) -> dict:
    """Settings are never part of it."""
    return {
        "id": connection.id,
        "name": connection.name,
        "connector": connection.connector,
        "connectorType": Connection.CONNECTOR_TYPE,
        "role": connection.role,
        "strategy": None,
        "sendingMode": None,
        "pipelines": pipelines,
    }


def run_json(run: Run) -> dict:
    """Its times with 0 or 6 fractional digits, as the reference writes them."""
    live = run.end_time is None
    return {
        "id": run.id,
        "pipeline": run.pipeline_id,
        "incremental": run.incremental,
        "startTime": nullable_rfc3339(run.start_time),
        "endTime": nullable_rfc3339(run.end_time),
        "passed": [0] * 7 if live else list(run.passed),
        "failed": [0] * 7 if live else list(run.failed),
        "error": run.error,
    } | (_lookback_json(run) if run.lookback else {})


def _lookback_json(run: Run) -> dict:
    """Only for a run with a look-back window, so that the run object is the reference's otherwise."""
    live = run.end_time is None
    return {"lookback": {
        "window": format_lookback(run.lookback),
        "reread": 0 if live else run.reread,
        "cursorHeld": False if live else run.cursor_held,
        "note": run.in_flight_note,
    }}


def identity_json(item: dict) -> dict:
    return {"userId": item["userId"], "connection": item["connection"], "pipeline": item["pipeline"],
            "updatedAt": nullable_rfc3339(item["updatedAt"])}
