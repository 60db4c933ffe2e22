"""Source database connections: validated, tested live, stored with encrypted settings."""
from ..connectors import ConnectorUnavailable, InvalidSettings, get_connector
from ..encryption import encrypt_json
from ..errors import BadRequest, ServiceUnavailable, Unprocessable
from ..ids import create_with_random_id
from ..models import Connection, Workspace
from ..validation import check_text
from .addresses import pinned
from .identities import remove_identities

ROLES = ("Source", "Destination")
STRATEGIES = ("Conversion", "Fusion", "Isolation", "Preservation")
SENDING_MODES = ("Client", "Server", "ClientAndServer")


def connection_create(*, workspace: Workspace, name: str, role: str | None, connector: str,
                      strategy: str | None = None, sending_mode: str | None = None,
                      linked_connections=None, settings=None, auth_token: str = "") -> Connection:
    """Checks in the reference's order (§5.2), then tests the connection before saving it."""
    if role is None or role == "":
        raise BadRequest("role is required")
    if role not in ROLES:
        raise BadRequest(f'role "{role}" is not valid')
    if connector == "":
        raise BadRequest("connector code is empty")
    check_text(name, "name", 100)
    if strategy is not None and strategy not in STRATEGIES:
        raise BadRequest(f'strategy "{strategy}" is not valid')
    if strategy is not None and role == "Destination":
        raise BadRequest("destination connections cannot have a strategy")
    if sending_mode is not None and sending_mode not in SENDING_MODES:
        raise BadRequest(f'sending mode "{sending_mode}" is not valid')
    implementation = get_connector(connector)
    if implementation is None:
        raise Unprocessable("ConnectorNotExist", f'connector "{connector}" does not exist')
    if linked_connections is not None:
        raise BadRequest(f'connector "{connector}", used as {role.lower()}, does not support events')
    if strategy is not None:
        raise BadRequest("database connections cannot have a strategy")
    if sending_mode is not None and role == "Source":
        raise BadRequest("source connections cannot have a sending mode")
    if auth_token:
        raise BadRequest(f"connector {connector} does not support authorization")
    if role == "Destination":
        raise BadRequest(f"connector {connector} can only be used as a source")
    if settings is None:
        raise BadRequest(f"settings must be provided because connector {connector} has source settings")
    clean_settings, _warnings = test_settings(connector, settings)
    return create_with_random_id(Connection, workspace=workspace, name=name, connector=connector, role=role,
                                 settings_encrypted=encrypt_json(clean_settings))


def connection_source_settings(connection: Connection) -> dict:
    """The saved settings pinned to a checked address, for a preview or a run: 422 when the allowed
    hosts (or the own databases) no longer let them in, 503 when the host cannot be resolved."""
    return pinned(connection.settings, refused="the connection's settings are no longer allowed: ")


def test_settings(connector: str, settings, *, saved: Connection | None = None) -> tuple[dict, list[str]]:
    """Validates settings (422 InvalidSettings) and opens a connection with them (503 when it fails).
    A host, address or port outside the allowed ones, or one of the product's own databases, is
    invalid, and nothing connects to it. New settings of a `saved` connection may leave the password
    empty to mean the stored one (settings_with_stored_password). Returns the clean settings and the
    warnings about the login (a superuser, a user that can write tables)."""
    implementation = get_connector(connector)
    if saved is not None and isinstance(settings, dict):
        settings = settings_with_stored_password(saved, settings)
    try:
        clean = implementation.validate_settings(settings)
    except InvalidSettings as exc:
        raise Unprocessable("InvalidSettings", str(exc)) from None
    try:
        warnings = implementation.test_connection(pinned(clean))
    except ConnectorUnavailable as exc:
        raise ServiceUnavailable(str(exc)) from None
    return clean, warnings


def connection_test(*, connector: str, settings) -> list[str]:
    """Tests settings without saving anything (POST /v1/connections/test): the warnings about the
    login, with the errors of connection_create for the connector and its settings."""
    if connector == "":
        raise BadRequest("connector code is empty")
    if get_connector(connector) is None:
        raise Unprocessable("ConnectorNotExist", f'connector "{connector}" does not exist')
    if settings is None:
        raise BadRequest(f"settings must be provided because connector {connector} has source settings")
    return test_settings(connector, settings)[1]


# The settings a stored password was saved for: it is sent nowhere else.
PASSWORD_BOUND_TO = ("host", "port", "username", "database")


def settings_with_stored_password(connection: Connection, settings: dict) -> dict:
    """Settings whose empty password means "the stored one" (the admin never shows it back): it is
    filled in only while the host, port, user and database are those it was saved for, so that a
    changed host never receives it; a change of any of them needs the password typed again."""
    stored = connection.settings
    if settings.get("password") != "" or not stored.get("password"):
        return settings
    changed = [key for key in PASSWORD_BOUND_TO if key in stored and settings.get(key) != stored[key]]
    if changed:
        names = {"username": "user"}
        what = ", ".join(names.get(key, key) for key in changed)
        raise Unprocessable("InvalidSettings", f"password is required again: the {what} changed, and a stored "
                                               "password is only sent to the host, port, user and database it "
                                               "was saved for")
    return {**settings, "password": stored["password"]}


def connection_rename(*, connection: Connection, name: str, strategy: str | None = None,
                      sending_mode: str | None = None) -> None:
    check_text(name, "name", 100)
    if strategy is not None:
        if strategy not in STRATEGIES:
            raise BadRequest(f'strategy "{strategy}" is not valid')
        raise BadRequest("database connections cannot have a strategy")
    if sending_mode is not None:
        if sending_mode not in SENDING_MODES:
            raise BadRequest(f'sending mode "{sending_mode}" is not valid')
        raise BadRequest("source connections cannot have a sending mode")
    connection.name = name
    connection.save(update_fields=["name"])


def connection_update_settings(*, connection: Connection, settings) -> None:
    """Settings change only through the admin (as in the reference); changed ones are re-tested
    first. An empty password keeps the stored one only where it may go (settings_with_stored_password)."""
    implementation = get_connector(connection.connector)
    if isinstance(settings, dict):
        settings = settings_with_stored_password(connection, settings)
        try:
            if implementation.validate_settings(settings) == implementation.validate_settings(connection.settings):
                return
        except InvalidSettings:
            pass  # test_settings says why
    connection.settings, _warnings = test_settings(connection.connector, settings)
    connection.save(update_fields=["settings_encrypted"])


def connection_delete(*, connection: Connection) -> None:
    """Deletes the connection with its pipelines (live runs stop at their next batch, writing
    nothing more), then the identities imported through it (see services.identities)."""
    workspace, connection_id = connection.workspace, connection.id
    Connection.objects.filter(id=connection_id).delete()  # Model.delete() would set connection.id to None
    remove_identities(workspace, connection_id=connection_id)
