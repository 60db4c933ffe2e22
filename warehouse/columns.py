"""Profile schema → warehouse columns: objects are flattened (`a.b` → `a_b`), one column per leaf.

Pure Python: the SQL types per platform are data, and both backends read them from here.
"""
from dataclasses import dataclass

from pipelines.types import Type, column_name, leaf_paths


@dataclass(frozen=True)
class ProfileColumn:
    path: str        # property path in the profile schema
    name: str        # warehouse column name
    type: Type


def quote_identifier(name: str) -> str:
    """A table or column name quoted for SQL (PostgreSQL and SQLite alike)."""
    return '"' + name.replace('"', '""') + '"'


def profile_columns(profile_schema: Type) -> list[ProfileColumn]:
    return [ProfileColumn(path, column_name(path), prop.type) for path, prop in leaf_paths(profile_schema)]


def postgres_type(t: Type) -> str:
    kind = t.kind
    if kind == "string":
        limit = t.max_length or t.max_bytes
        return f"varchar({limit})" if limit else "varchar"
    if kind == "boolean":
        return "boolean"
    if kind == "int":
        bits = t.bit_size
        if t.unsigned:
            return {8: "smallint", 16: "integer", 24: "integer", 32: "bigint"}.get(bits, "numeric(20,0)")
        return {8: "smallint", 16: "smallint", 24: "integer", 32: "integer"}.get(bits, "bigint")
    if kind == "float":
        return "real" if t.bit_size == 32 else "double precision"
    if kind == "decimal":
        return f"numeric({t.precision},{t.scale or 0})"
    if kind == "year":
        return "smallint"
    if kind == "array":
        return postgres_type(t.element_type) + "[]"
    return {"datetime": "timestamp", "date": "date", "time": "time", "uuid": "uuid", "json": "jsonb",
            "ip": "inet", "map": "jsonb"}[kind]


def sqlite_type(t: Type) -> str:
    """SQLite affinities: exact decimals and times are kept as text, so nothing is rounded."""
    kind = t.kind
    if kind in ("boolean", "int", "year"):
        return "INTEGER"
    if kind == "float":
        return "REAL"
    return "TEXT"
