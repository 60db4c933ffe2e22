"""Creating, changing and deleting workspaces; each owns a warehouse initialized at creation."""
import os

from django.db import transaction

from warehouse.backends import PLATFORMS, backend_for
from warehouse.backends.sqlite import SQLiteWarehouse
from warehouse.profile_schema import ProfileSchemaError, check_profile_schema

from ..conf import knobs
from ..connectors import ConnectorUnavailable, InvalidSettings
from ..connectors.network import pin_settings
from ..errors import BadRequest, ServiceUnavailable, Unprocessable
from ..ids import random_id
from ..models import Workspace
from ..types import SchemaError, Type, is_valid_property_path, parse_type, type_to_json
from ..validation import check_text
from .addresses import address_policy
from .identities import clear_deleted_workspace

# The profile schema of a workspace made without one (createworkspace), and the admin form's start.
DEFAULT_PROFILE_SCHEMA = {"kind": "object", "properties": [
    {"name": "email", "type": {"kind": "string", "maxLength": 254}, "readOptional": True, "description": "Email"},
    {"name": "first_name", "type": {"kind": "string", "maxLength": 100}, "readOptional": True,
     "description": "First name"},
    {"name": "last_name", "type": {"kind": "string", "maxLength": 100}, "readOptional": True,
     "description": "Last name"},
]}

DEFAULT_UI_PREFERENCES = {"profile": {"image": "", "firstName": "", "lastName": "", "extra": []}}


def parse_profile_schema(data) -> Type:
    if data is None:
        raise BadRequest("profile schema is invalid")
    try:
        schema = parse_type(data)
    except SchemaError as exc:
        raise BadRequest("profile schema is invalid", cause=str(exc)) from None
    try:
        check_profile_schema(schema)
    except ProfileSchemaError as exc:
        raise BadRequest(str(exc)) from None
    return schema


def check_ui_preferences(preferences) -> dict:
    if preferences is None:
        return DEFAULT_UI_PREFERENCES
    profile = preferences.get("profile") if isinstance(preferences, dict) else None
    if not isinstance(preferences, dict) or set(preferences) - {"profile"} or not isinstance(profile or {}, dict):
        raise BadRequest('UI preferences must be {"profile": {"image", "firstName", "lastName", "extra"}}')
    profile = dict(profile or {})
    unknown = set(profile) - {"image", "firstName", "lastName", "extra"}
    if unknown:
        raise BadRequest(f'UI preferences have an unknown key "{sorted(unknown)[0]}"')
    paths = [profile.get(key) or "" for key in ("image", "firstName", "lastName")]
    extra = profile.get("extra") or []
    if not isinstance(extra, list):
        raise BadRequest("UI preference extra must be an array of property paths")
    for path in paths + extra:
        if not isinstance(path, str) or (path and (not is_valid_property_path(path) or len(path.encode()) > 1024)):
            raise BadRequest(f"UI preference {path!r} is not a valid property path")
    return {"profile": {"image": paths[0], "firstName": paths[1], "lastName": paths[2], "extra": extra}}


def _check_warehouse_location(backend_class, settings: dict) -> None:
    """A warehouse server must be at an allowed host and port, and its database neither the
    metadata database nor another workspace's warehouse; a SQLite warehouse file given by path
    must be inside SQLITE_WAREHOUSE_DIR (else an API key could create files anywhere)."""
    from warehouse.backends.base import invalid_settings

    if "host" in settings and "port" in settings:
        try:
            pin_settings(settings, address_policy())
        except InvalidSettings as exc:
            raise invalid_settings(str(exc)) from None
        except ConnectorUnavailable as exc:
            raise ServiceUnavailable(str(exc)) from None
    if backend_class is SQLiteWarehouse and "path" in settings:
        root = os.path.realpath(knobs.SQLITE_WAREHOUSE_DIR)
        resolved = os.path.realpath(os.path.join(root, settings["path"]))
        if os.path.commonpath([root, resolved]) != root or resolved == root:
            raise invalid_settings("path must be inside the directory of the SQLite warehouses")
        settings["path"] = resolved


def workspace_create(*, name: str, profile_schema, platform: str, mode: str, warehouse_settings,
                     ui_preferences=None) -> Workspace:
    check_text(name, "name", 100)
    schema = parse_profile_schema(profile_schema)
    if platform == "":
        raise BadRequest("warehouse platform is empty")
    if mode not in Workspace.MODES:
        raise BadRequest(f'warehouse mode "{mode}" is not valid')
    preferences = check_ui_preferences(ui_preferences)
    backend_class = PLATFORMS.get(platform)
    if backend_class is None:
        raise Unprocessable("WarehousePlatformNotExist", f'warehouse platform "{platform}" does not exist')
    settings = backend_class.validate_settings(warehouse_settings)
    _check_warehouse_location(backend_class, settings)
    workspace_id = random_id()
    while Workspace.objects.filter(id=workspace_id).exists():
        workspace_id = random_id()
    if backend_class is SQLiteWarehouse and "path" not in settings:
        settings = {"path": SQLiteWarehouse.managed_path(workspace_id), "managed": True}
    backend_for(platform, settings).initialize(schema)
    workspace = Workspace(id=workspace_id, name=name, profile_schema=type_to_json(schema),
                          warehouse_platform=platform, warehouse_mode=mode, ui_preferences=preferences)
    workspace.warehouse_settings = settings
    workspace.save(force_insert=True)
    return workspace


def workspace_update(*, workspace: Workspace, name: str, ui_preferences=None) -> None:
    check_text(name, "name", 100)
    workspace.name = name
    fields = ["name"]
    if ui_preferences is not None:
        workspace.ui_preferences = check_ui_preferences(ui_preferences)
        fields.append("ui_preferences")
    workspace.save(update_fields=fields)


@transaction.atomic
def workspace_delete(*, workspace: Workspace) -> None:
    """Deletes the workspace, its keys, connections and pipelines (live runs stop at their next
    batch, writing nothing more); then a warehouse file the product manages is removed, and a
    warehouse the user owns loses what the workspace imported but keeps its tables
    (services.identities.clear_deleted_workspace)."""
    Workspace.objects.filter(id=workspace.id).delete()  # Model.delete() would set workspace.id to None
    transaction.on_commit(lambda: clear_deleted_workspace(workspace))
