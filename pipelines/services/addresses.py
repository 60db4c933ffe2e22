"""Which database servers this deployment may reach: the address policy built from the settings
(KRENALIS_DATABASE_ALLOWED_HOSTS and _PORTS) and the product's own databases, and the settings of
a connection pinned to a checked address (pipelines/connectors/network.py does the checking)."""
from django.db import connections

from ..conf import knobs
from ..connectors import ConnectorUnavailable, InvalidSettings
from ..connectors.network import AddressPolicy, OwnDatabase, parse_allowed_hosts, parse_allowed_ports, pin_settings
from ..errors import ServiceUnavailable, Unprocessable

METADATA = "Krenalis' own metadata database"
WAREHOUSE = "the data warehouse of a workspace"


def own_databases(*, warehouses: bool = True, except_workspace: int | None = None) -> tuple[OwnDatabase, ...]:
    """The metadata database (when on PostgreSQL) and, with `warehouses`, every workspace's
    PostgreSQL warehouse but `except_workspace`'s."""
    own = []
    metadata = connections["default"].settings_dict
    if "postgresql" in metadata["ENGINE"]:
        own.append(OwnDatabase(host=metadata.get("HOST") or "", port=int(metadata.get("PORT") or 5432),
                               database=metadata["NAME"], description=METADATA))
    if warehouses:
        from ..models import Workspace

        for workspace in Workspace.objects.filter(warehouse_platform="PostgreSQL").exclude(id=except_workspace):
            warehouse = workspace.warehouse_settings
            own.append(OwnDatabase(host=warehouse["host"], port=warehouse["port"], database=warehouse["database"],
                                   description=WAREHOUSE))
    return tuple(own)


def address_policy(*, warehouses: bool = True, except_workspace: int | None = None) -> AddressPolicy:
    """The allow-list of the settings, and the own databases no connection may name."""
    return AddressPolicy(allowed_hosts=parse_allowed_hosts(knobs.DATABASE_ALLOWED_HOSTS),
                         allowed_ports=parse_allowed_ports(knobs.DATABASE_ALLOWED_PORTS),
                         own_databases=own_databases(warehouses=warehouses, except_workspace=except_workspace))


def pinned(settings: dict, policy: AddressPolicy | None = None, *, refused: str = "") -> dict:
    """`settings` pinned to a checked address: 422 InvalidSettings (its message after `refused`)
    when the policy refuses them, 503 when the host cannot be resolved."""
    try:
        return pin_settings(settings, policy or address_policy())
    except InvalidSettings as exc:
        raise Unprocessable("InvalidSettings", f"{refused}{exc}") from None
    except ConnectorUnavailable as exc:
        raise ServiceUnavailable(str(exc)) from None
