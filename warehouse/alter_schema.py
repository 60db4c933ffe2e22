"""Profile schema changes: the difference between two profile schemas as column operations, and
the SQL that applies them to `krenalis_identities`, `krenalis_profiles` and the `profiles` view.

`rePaths` maps a property path of the new schema to the path it had in the old one (a rename),
or to null (a new property, even if one had that path before). Renames stay at one object level:
`address.street` may become `address.line1`, not `street`. A renamed object renames every leaf
under it; a leaf whose type changed, renamed or not, is dropped and added again (its values are
lost). Everything else is matched by path: same path and type = kept, otherwise dropped/added.

Pure Python, except for the statement lists (strings) per platform.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from pipelines.types import Type, is_valid_property_path, leaf_paths, property_by_path, column_name
from pipelines.types.paths import PathNotExistError

from .columns import ProfileColumn, postgres_type, profile_columns, sqlite_type
from .columns import quote_identifier as _q
from .resolution import profiles_view_sql

TABLES = ("krenalis_identities", "krenalis_profiles")


class SchemaChangeError(ValueError):
    """An invalid `rePaths` (400)."""


@dataclass
class SchemaChange:
    drops: list[str] = field(default_factory=list)                  # column names
    renames: list[tuple[str, str]] = field(default_factory=list)    # (old column, new column)
    adds: list[ProfileColumn] = field(default_factory=list)
    renamed_paths: dict[str, str] = field(default_factory=dict)     # old leaf path -> new leaf path
    dropped_paths: set[str] = field(default_factory=set)            # old leaf paths whose values go

    @property
    def empty(self) -> bool:
        return not (self.drops or self.renames or self.adds)

    def new_path(self, old_path: str) -> str | None:
        """Where a property path of the old schema is in the new one (None: dropped). Object paths
        follow their leaves."""
        if old_path in self.renamed_paths:
            return self.renamed_paths[old_path]
        if old_path in self.dropped_paths:
            return None
        prefix = old_path + "."
        for old, new in self.renamed_paths.items():
            if old.startswith(prefix):
                return new[: len(new) - (len(old) - len(old_path))]
        return old_path


def _parent(path: str) -> str:
    return path.rpartition(".")[0]


def _lookup(schema: Type, path: str):
    try:
        return property_by_path(schema, path)
    except PathNotExistError:
        return None


def plan_schema_change(old: Type, new: Type, re_paths: dict | None) -> SchemaChange:
    re_paths = re_paths or {}
    if not isinstance(re_paths, dict):
        raise SchemaChangeError("rePaths must be an object")
    sources: dict[str, str | None] = {}
    used: set[str] = set()
    for new_path, old_path in re_paths.items():
        if not is_valid_property_path(new_path):
            raise SchemaChangeError(f'rePaths key "{new_path}" is not a valid property path')
        new_property = _lookup(new, new_path)
        if new_property is None:
            raise SchemaChangeError(f'rePaths key "{new_path}" is not a property of the new profile schema')
        if old_path is None:
            sources[new_path] = None
            continue
        if not isinstance(old_path, str) or not is_valid_property_path(old_path):
            raise SchemaChangeError(f'rePaths value of "{new_path}" is not a valid property path')
        old_property = _lookup(old, old_path)
        if old_property is None:
            raise SchemaChangeError(f'rePaths value "{old_path}" is not a property of the current profile schema')
        if (old_property.type.kind == "object") != (new_property.type.kind == "object"):
            raise SchemaChangeError(f'property "{old_path}" cannot be renamed to "{new_path}": only an object can '
                                    "take the place of an object")
        if old_path in used:
            raise SchemaChangeError(f'property "{old_path}" is renamed more than once')
        used.add(old_path)
        sources[new_path] = old_path
    for new_path, old_path in sources.items():
        # The same object level: the new parent is the old parent, or what it was renamed to.
        parent = _parent(new_path)
        if old_path is not None and (_source_of(parent, sources) if parent else "") != _parent(old_path):
            raise SchemaChangeError(f'property "{old_path}" cannot be renamed to "{new_path}": a property can only '
                                    "be renamed within the same object")

    old_leaves = {path: prop.type for path, prop in leaf_paths(old)}
    change = SchemaChange()
    claimed: set[str] = set()
    for path, prop in leaf_paths(new):
        source = _source_of(path, sources)
        if source is not None and old_leaves.get(source) == prop.type and source not in claimed:
            claimed.add(source)
            if source != path:
                change.renamed_paths[source] = path
                change.renames.append((column_name(source), column_name(path)))
            continue
        change.adds.append(ProfileColumn(path, column_name(path), prop.type))
    for path in old_leaves:
        if path not in claimed:
            change.dropped_paths.add(path)
            change.drops.append(column_name(path))
    return change


def _source_of(path: str, sources: dict[str, str | None]) -> str | None:
    """The old path of a new leaf: through the deepest rePaths entry above it, else the same path."""
    names = path.split(".")
    for depth in range(len(names), 0, -1):
        prefix = ".".join(names[:depth])
        if prefix in sources:
            old = sources[prefix]
            if old is None:
                return None
            return ".".join([old, *names[depth:]])
    return path


def alter_statements(platform: str, change: SchemaChange, new_schema: Type) -> list[str]:
    """The statements, in order, that take the warehouse to `new_schema` (one transaction)."""
    if change.empty:
        return []
    columns = profile_columns(new_schema)
    column_type = postgres_type if platform == "PostgreSQL" else sqlite_type
    statements = ["DROP VIEW IF EXISTS profiles"]
    for table in TABLES:
        if platform == "PostgreSQL":
            if change.drops:
                statements.append(f"ALTER TABLE {table} " + ", ".join(f"DROP COLUMN {_q(c)}" for c in change.drops))
        else:
            statements.extend(f"ALTER TABLE {table} DROP COLUMN {_q(c)}" for c in change.drops)
        # Through temporary names, so that swaps and case-only renames never collide.
        for n, (old, _) in enumerate(change.renames):
            statements.append(f"ALTER TABLE {table} RENAME COLUMN {_q(old)} TO {_q(f'_krenalis_rename_{n}')}")
        for n, (_, new) in enumerate(change.renames):
            statements.append(f"ALTER TABLE {table} RENAME COLUMN {_q(f'_krenalis_rename_{n}')} TO {_q(new)}")
        if platform == "PostgreSQL":
            if change.adds:
                statements.append(f"ALTER TABLE {table} " + ", ".join(
                    f"ADD COLUMN {_q(c.name)} {column_type(c.type)}" for c in change.adds))
        else:
            statements.extend(f"ALTER TABLE {table} ADD COLUMN {_q(c.name)} {column_type(c.type)}"
                              for c in change.adds)
    statements.append(profiles_view_sql(columns))
    return statements
