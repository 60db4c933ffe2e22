"""Output shapes of the API objects (reference §3, §4, §5.1), in the reference's key order."""
from ..connectors import REGISTRY
from ..models import Connection, Workspace

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
