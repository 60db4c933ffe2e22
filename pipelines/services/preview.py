"""Query preview ("test the query", reference §6): rows, the derived schema and issues.

Each value is checked as a run checks it (the column's derived type, through the same normalizer)
before it is encoded: a value a run would reject (bytes that are not UTF-8, a TIME of 30 hours, a
date of no calendar...) is left out of its row, and an issue says which row and why. No value of
any type a driver returns makes the preview fail."""
from django.conf import settings

from ..connectors import ConnectorUnavailable, get_connector
from ..errors import BadRequest, ServiceUnavailable, Unprocessable
from ..models import Connection
from ..placeholders import PlaceholderError, replace_placeholders, with_updated_at_hint
from ..types import NormalizeError, Property, dumps_json, encode_value, make_normalizer, object_type, type_to_json
from ..validation import check_text
from .connections import connection_refusal

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
    refused = connection_refusal(connection)
    if refused:
        raise Unprocessable("InvalidSettings", refused)
    connector = get_connector(connection.connector)
    rows, value_issues = [], []
    try:
        with connector.query(connection.settings, sql, timeout_seconds=settings.KRENALIS["SOURCE_STATEMENT_TIMEOUT"],
                             batch_size=max(limit, 1)) as result:
            columns = result.schema.columns
            properties = [Property(name=c.name, type=c.type, nullable=c.nullable) for c in columns]
            encoders = [_value_encoder(p) for p in properties]
            if limit:
                for batch in result:
                    for values in batch:
                        rows.append(_preview_row(len(rows) + 1, properties, encoders, values, value_issues))
                        if len(rows) == limit:
                            break
                    if len(rows) == limit:
                        break
            issues = list(result.schema.issues) + value_issues
    except ConnectorUnavailable as exc:
        raise ServiceUnavailable(with_updated_at_hint(query, exc)) from None
    schema = None
    if columns:
        schema = type_to_json(object_type(*properties))
    else:
        rows = []
    return {"rows": rows, "schema": schema, "issues": issues or None}


def _value_encoder(prop: Property):
    """A function giving the API form of one driver value of `prop`, as a run would read it; it
    raises NormalizeError for a value a run rejects."""
    normalize, kind = make_normalizer(prop, prop.name), prop.type

    def encode(value):
        encoded = encode_value(normalize(value), kind)
        dumps_json(encoded)  # the response can hold it
        return encoded

    return encode


def _preview_row(number: int, properties, encoders, values, issues: list[str]) -> dict:
    row = {}
    for prop, encode, value in zip(properties, encoders, values):
        try:
            row[prop.name] = encode(value)
        except NormalizeError as exc:
            issues.append(f"Row {number}: {exc}, so the value is not shown; a run that reads this column "
                          f"fails the row.")
        except (ValueError, TypeError, OverflowError, RecursionError) as exc:
            issues.append(f'Row {number}: the value of column "{prop.name}" cannot be shown '
                          f"({exc.__class__.__name__}).")
    return row
