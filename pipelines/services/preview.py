"""Query preview ("test the query", reference §6): rows, the derived schema and issues."""
from django.conf import settings

from ..connectors import ConnectorUnavailable, get_connector
from ..errors import BadRequest, ServiceUnavailable, Unprocessable
from ..models import Connection
from ..placeholders import PlaceholderError, replace_placeholders
from ..types import Property, encode_value, object_type, type_to_json
from ..validation import check_text
from .connections import connection_source_settings

MAX_PREVIEW_QUERY_RUNES = 16_777_215
MAX_PREVIEW_ROWS = 100


def preview_query(*, connection: Connection, query: str, limit: int) -> dict:
    check_text(query, "query", MAX_PREVIEW_QUERY_RUNES)
    if not 0 <= limit <= MAX_PREVIEW_ROWS:
        raise BadRequest(f"limit {limit} is not valid")
    try:
        sql = replace_placeholders(query, {"updated_at": "NULL", "limit": str(limit)})
    except PlaceholderError as exc:
        raise Unprocessable("InvalidPlaceholder", str(exc)) from None
    source_settings = connection_source_settings(connection)
    connector = get_connector(connection.connector)
    rows = []
    try:
        with connector.query(source_settings, sql, timeout_seconds=settings.KRENALIS["SOURCE_STATEMENT_TIMEOUT"],
                             batch_size=max(limit, 1)) as result:
            columns = result.schema.columns
            if limit:
                for batch in result:
                    for values in batch:
                        rows.append({c.name: encode_value(v, c.type) for c, v in zip(columns, values)})
                        if len(rows) == limit:
                            break
                    if len(rows) == limit:
                        break
            issues = list(result.schema.issues)
    except ConnectorUnavailable as exc:
        raise ServiceUnavailable(str(exc)) from None
    schema = None
    if columns:
        schema = type_to_json(object_type(*(Property(name=c.name, type=c.type, nullable=c.nullable)
                                            for c in columns)))
    else:
        rows = []
    return {"rows": rows, "schema": schema, "issues": issues or None}
