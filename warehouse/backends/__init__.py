"""Warehouse backends, one per platform. `backend_for(platform, settings)` is the only entry."""
from .base import WarehouseBackend
from .postgresql import PostgreSQLWarehouse
from .sqlite import SQLiteWarehouse

PLATFORMS: dict[str, type[WarehouseBackend]] = {
    "PostgreSQL": PostgreSQLWarehouse,
    "SQLite": SQLiteWarehouse,
}


def backend_for(platform: str, settings: dict) -> WarehouseBackend:
    return PLATFORMS[platform](settings)
