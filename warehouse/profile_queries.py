"""Reading profiles back from the warehouse: the values of profile columns decoded from each
platform's storage into the value model, and the SQL of profile queries (filter conditions, order).

Pure Python: the backends run the SQL (warehouse.backends); identity resolution, which writes the
profiles, is in warehouse.resolution.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from decimal import Decimal

from pipelines.types import RawJSON, Type, dumps_json, loads_json, parse_iso8601

from .columns import ProfileColumn
from .columns import quote_identifier as _q

UTC = timezone.utc


# --------------------------------------------------------------------------- reading values back

def from_json_storage(value, t: Type):
    """A value in its stored JSON form (SQLite arrays and maps, PostgreSQL maps; see
    `warehouse.writer.json_storage_value`) or PostgreSQL's `to_jsonb` form, in the value model."""
    if value is None:
        return None
    kind = t.kind
    if kind == "int":
        return int(value)
    if kind == "year":
        return int(value)
    if kind == "float":
        if isinstance(value, str):
            return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[value]
        return float(value)
    if kind == "decimal":
        return Decimal(value) if not isinstance(value, Decimal) else value
    if kind == "datetime":
        return parse_iso8601(value)
    if kind == "date":
        return date.fromisoformat(value)
    if kind == "time":
        return time.fromisoformat(value)
    if kind == "json":
        return RawJSON(dumps_json(value))
    if kind == "array":
        return [from_json_storage(item, t.element_type) for item in value]
    if kind == "map":
        return {key: from_json_storage(item, t.element_type) for key, item in value.items()}
    return value  # string, boolean, uuid, ip


def postgresql_select(column: ProfileColumn, alias: str = "") -> str:
    """How a profile column is read from PostgreSQL so that `postgresql_value` can decode it."""
    name = alias + _q(column.name)
    kind = column.type.kind
    if kind == "json":
        return f"{name}::text"
    if kind in ("array", "map"):
        return f"to_jsonb({name})::text"
    return name


def postgresql_value(value, t: Type):
    if value is None:
        return None
    kind = t.kind
    if kind in ("json",):
        return RawJSON(value)
    if kind in ("array", "map"):
        return from_json_storage(loads_json(value), t)
    if kind == "int" and isinstance(value, Decimal):
        return int(value)
    if kind == "datetime":
        return value.replace(tzinfo=UTC)
    return value


def sqlite_value(value, t: Type):
    if value is None:
        return None
    kind = t.kind
    if kind == "boolean":
        return bool(value)
    if kind == "int":
        return int(value) if not isinstance(value, bytes) else int(value.decode("ascii"))
    if kind == "float":
        return math.nan if value == "NaN" else float(value)
    if kind == "decimal":
        return Decimal(str(value))
    if kind == "datetime":
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    if kind == "date":
        return date.fromisoformat(value)
    if kind == "time":
        return time.fromisoformat(value)
    if kind == "json":
        return RawJSON(value)
    if kind in ("array", "map"):
        return from_json_storage(loads_json(value), t)
    return value


# --------------------------------------------------------------------------- profile queries

COMPARISONS = {
    "is": "=", "is not": "<>",
    "is less than": "<", "is less than or equal to": "<=", "is greater than": ">", "is greater than or equal to": ">=",
    "is before": "<", "is on or before": "<=", "is after": ">", "is on or after": ">=",
}


@dataclass(frozen=True)
class Condition:
    """One filter condition, already validated: `values` are in the value model of the column's
    type (of its element type for "contains" on arrays)."""

    column: ProfileColumn
    operator: str
    values: tuple = ()


@dataclass(frozen=True)
class ProfileQuery:
    columns: tuple[ProfileColumn, ...]
    conditions: tuple[Condition, ...] = ()
    logical: str = "and"
    order: ProfileColumn | None = None      # None: the profile's `_updated_at`
    descending: bool = False
    first: int = 0
    limit: int = 100


def _pg_param(value, t: Type):
    if t.kind == "datetime":
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def _sqlite_param(value, t: Type):
    from .writer import sqlite_encoder

    if t.kind == "decimal":
        return float(value)
    if t.kind == "boolean":
        return int(value)
    encode = sqlite_encoder(t)
    return value if encode is None else encode(value)


def _sqlite_element_param(value, t: Type):
    """An array element as `json_each` reports it (from its JSON storage form)."""
    from .writer import json_storage_value

    stored = json_storage_value(value, t)
    if isinstance(stored, bool):
        return int(stored)
    if isinstance(stored, Decimal):
        return float(stored)
    return stored


def condition_sql(condition: Condition, platform: str) -> tuple[str, list]:
    """SQL of a condition and its parameters, NULL values never matching (SQL semantics)."""
    pg = platform == "PostgreSQL"
    mark = "%s" if pg else "?"
    column, op, values = condition.column, condition.operator, condition.values
    t = column.type
    kind = t.kind
    expr = _q(column.name)
    param = (lambda v: _pg_param(v, t)) if pg else (lambda v: _sqlite_param(v, t))
    if not pg and kind == "decimal":
        expr = f"CAST({expr} AS REAL)"
    if op in ("is null", "does not exist"):
        return f"{expr} IS NULL", []
    if op in ("is not null", "exists"):
        return f"{expr} IS NOT NULL", []
    if op in ("is true", "is false"):
        truth = op == "is true"
        return f"{expr} = {('true' if truth else 'false') if pg else int(truth)}", []
    if op in COMPARISONS:
        return f"{expr} {COMPARISONS[op]} {mark}", [param(values[0])]
    if op in ("is between", "is not between"):
        negation = "NOT " if op == "is not between" else ""
        return f"{expr} {negation}BETWEEN {mark} AND {mark}", [param(values[0]), param(values[1])]
    if op in ("is one of", "is not one of"):
        negation = "NOT " if op == "is not one of" else ""
        return f"{expr} {negation}IN ({', '.join([mark] * len(values))})", [param(v) for v in values]
    if op in ("is empty", "is not empty"):
        empty = op == "is empty"
        if kind == "string":
            return f"{expr} {'=' if empty else '<>'} ''", []
        if kind == "array":
            size = f"cardinality({expr})" if pg else f"json_array_length({expr})"
            return f"{size} {'=' if empty else '>'} 0", []
        if kind == "map":
            text = f"{expr} = '{{}}'::jsonb" if pg else f"json({expr}) = '{{}}'"
            return (text if empty else f"NOT ({text})"), []
    if op in ("contains", "does not contain"):
        negation = "NOT " if op == "does not contain" else ""
        if kind == "array":
            element = t.element_type
            if pg:
                return f"{negation}({mark} = ANY({expr}))", [_pg_param(values[0], element)]
            return (f"{negation}EXISTS (SELECT 1 FROM json_each({expr}) WHERE json_each.value = ?)",
                    [_sqlite_element_param(values[0], element)])
        if pg:
            return f"{negation}(strpos({expr}, %s) > 0)", [values[0]]
        return f"{negation}(instr({expr}, ?) > 0)", [values[0]]
    if op == "starts with":
        if pg:
            return f"starts_with({expr}, %s)", [values[0]]
        return f"substr({expr}, 1, length(?)) = ?", [values[0], values[0]]
    if op == "ends with":
        if pg:
            return f"right({expr}, length(%s)) = %s", [values[0], values[0]]
        return f"(length(?) = 0 OR substr({expr}, -length(?)) = ?)", [values[0], values[0], values[0]]
    raise ValueError(f"operator {op!r} is not supported for {kind} properties")


def where_sql(query: ProfileQuery, platform: str) -> tuple[str, list]:
    if not query.conditions:
        return "", []
    parts, params = [], []
    for condition in query.conditions:
        sql, condition_params = condition_sql(condition, platform)
        parts.append(f"({sql})")
        params.extend(condition_params)
    joiner = " AND " if query.logical == "and" else " OR "
    return " WHERE " + joiner.join(parts), params


def order_sql(query: ProfileQuery, platform: str) -> str:
    direction = " DESC" if query.descending else ""
    if query.order is None:
        expr = "_updated_at"
    else:
        expr = _q(query.order.name)
        if platform != "PostgreSQL" and query.order.type.kind == "decimal":
            expr = f"CAST({expr} AS REAL)"
    return f" ORDER BY {expr}{direction} NULLS LAST, _kpid{direction}"
