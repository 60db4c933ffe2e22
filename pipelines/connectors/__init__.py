"""Database source connectors (pure Python, no Django).

    from pipelines.connectors import get_connector, InvalidSettings, ConnectorUnavailable

    connector = get_connector("postgresql")          # None for an unknown code
    settings = connector.validate_settings(body)     # InvalidSettings → 422 InvalidSettings
    warnings = connector.test_connection(settings)   # ConnectorUnavailable → 503; warnings about the login
                                                     # (QueryFailed, its subclass: the query is at fault)
    with connector.query(settings, sql, timeout_seconds=30, max_rows=20) as result:
        result.schema.columns, result.schema.issues  # Column(name, type, nullable), [str]
        for batch in result:                         # lists of tuples, in schema.columns order
            ...
    connector.sql_literal(cursor_value, column_type) # for ${updated_at}

    control = QueryControl()                         # another thread: control.interrupt("why")
    with connector.query(settings, sql, timeout_seconds=30, control=control) as result: ...
"""

from __future__ import annotations

from .base import (Column, Connector, ConnectorUnavailable, InvalidSettings, QueryControl, QueryFailed,
                   QueryInterrupted, QueryResult, QuerySchema)
from .mysql import MySQLConnector
from .postgresql import PostgreSQLConnector
from .sqlite import SQLiteConnector

__all__ = [
    "REGISTRY", "get_connector", "Connector", "Column", "QuerySchema", "QueryResult", "InvalidSettings",
    "ConnectorUnavailable", "QueryControl", "QueryFailed", "QueryInterrupted", "PostgreSQLConnector",
    "MySQLConnector", "SQLiteConnector",
]

REGISTRY: dict[str, Connector] = {
    "postgresql": PostgreSQLConnector(),
    "mysql": MySQLConnector(),
    "sqlite": SQLiteConnector(),
}


def get_connector(code: str) -> Connector | None:
    return REGISTRY.get(code)
