"""Source database connections: validated, tested live, stored with encrypted settings."""
import ipaddress

from django.conf import settings as django_settings

from ..connectors import ConnectorUnavailable, InvalidSettings, get_connector
from ..encryption import encrypt_json
from ..errors import BadRequest, ServiceUnavailable, Unprocessable
from ..ids import create_with_random_id
from ..models import Connection, Workspace
from ..validation import check_text
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
    clean_settings = test_settings(connector, settings)
    return create_with_random_id(Connection, workspace=workspace, name=name, connector=connector, role=role,
                                 settings_encrypted=encrypt_json(clean_settings))


def _allowed_ports(text: str) -> list[tuple[int, int]]:
    ranges = []
    for part in str(text).split(","):
        low, _, high = part.strip().partition("-")
        if low.strip():
            ranges.append((int(low), int(high or low)))
    return ranges


def address_not_allowed(host, port) -> str | None:
    """Why a database at host:port may not be used (settings.KRENALIS DATABASE_ALLOWED_HOSTS and
    DATABASE_ALLOWED_PORTS), or None when it may. Host names are compared, never resolved."""
    allowed_hosts = django_settings.KRENALIS.get("DATABASE_ALLOWED_HOSTS", ["*"])
    if "*" not in allowed_hosts:
        text = str(host).lower()
        try:
            address = ipaddress.ip_address(text.strip("[]"))
        except ValueError:
            address = None
        allowed = False
        for entry in allowed_hosts:
            entry = entry.strip().lower()
            try:
                network = ipaddress.ip_network(entry.strip("[]"), strict=False)
            except ValueError:  # a host name
                allowed = text == entry
            else:
                allowed = address is not None and address.version == network.version and address in network
            if allowed:
                break
        if not allowed:
            return f'host "{host}" is not allowed'
    ranges = _allowed_ports(django_settings.KRENALIS.get("DATABASE_ALLOWED_PORTS", "1-65535"))
    if not any(low <= port <= high for low, high in ranges):
        return f"port {port} is not allowed"
    return None


def connection_refusal(connection: Connection) -> str | None:
    """Why the connection's saved settings may no longer be used (the allowed hosts or ports
    changed since it was saved), or None. Runs and previews ask before connecting."""
    saved = connection.settings
    if "host" not in saved or "port" not in saved:
        return None
    refused = address_not_allowed(saved["host"], saved["port"])
    return f"the connection's settings are no longer allowed: {refused}" if refused else None


def test_settings(connector: str, settings) -> dict:
    """Validates settings (422 InvalidSettings) and opens a connection with them (503 when it fails).
    A host or port outside the allowed ones is invalid, and nothing connects to it."""
    implementation = get_connector(connector)
    try:
        clean = implementation.validate_settings(settings)
        if "host" in clean and "port" in clean:
            refused = address_not_allowed(clean["host"], clean["port"])
            if refused:
                raise InvalidSettings(refused)
        implementation.test_connection(clean)
    except InvalidSettings as exc:
        raise Unprocessable("InvalidSettings", str(exc)) from None
    except ConnectorUnavailable as exc:
        raise ServiceUnavailable(str(exc)) from None
    return clean


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
    """Settings change only through the admin (as in the reference); they are re-tested first."""
    connection.settings = test_settings(connection.connector, settings)
    connection.save(update_fields=["settings_encrypted"])


def connection_delete(*, connection: Connection) -> None:
    """Deletes the connection with its pipelines (live runs stop at their next batch, writing
    nothing more), then the identities imported through it (see services.identities)."""
    workspace, connection_id = connection.workspace, connection.id
    Connection.objects.filter(id=connection_id).delete()  # Model.delete() would set connection.id to None
    remove_identities(workspace, connection_id=connection_id)
